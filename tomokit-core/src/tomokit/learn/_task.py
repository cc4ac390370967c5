"""Training as a pipeline step (task ``train``) and as one call shared with the CLI.

Why one function: ``tomokit train``, the ``train`` task and Python all train the same
way, so a model trained anywhere has the same sidecar and the same resume behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, ValidationError, model_validator

from tomokit.components import Params, Task
from tomokit.errors import InvalidInputError
from tomokit.learn._files import ModelFile
from tomokit.learn._params import TrainReport

__all__ = ["ComponentRef", "TrainTask", "TrainTaskParams", "default_checkpoint_dir",
           "train_component"]


class ComponentRef(Params):
    """Which component to train: kind, name and its (run-time) params."""

    kind: str = Field(description="Component kind, e.g. scorer or segmenter.")
    name: str = Field(description="Registered component name.")
    params: dict[str, Any] = Field(default_factory=dict, description="The component's params.")


def default_checkpoint_dir(output: str | os.PathLike[str]) -> Path:
    """Where training of ``output`` keeps its per-epoch checkpoint: ``.NAME.partial.d``."""
    out = Path(output)
    return out.with_name(f".{out.name}.partial.d")


def _component_class(kind: str, name: str) -> type[Any]:
    from tomokit.api import component_class
    from tomokit.learn._component import KerasComponent

    cls = component_class(kind, name)
    if not issubclass(cls, KerasComponent):
        raise InvalidInputError(
            f"{kind} {name!r} is not trainable (not a tomokit.learn.KerasComponent)"
        )
    return cls


def train_component(
    kind: str,
    name: str,
    data: Any,
    *,
    output: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    train: Mapping[str, Any] | None = None,
    validation: Any = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> tuple[ModelFile, TrainReport]:
    """Train component ``kind``/``name`` on ``data`` and save it to ``output``.

    The per-epoch checkpoint (default :func:`default_checkpoint_dir`) survives an
    interruption, so calling again with the same arguments resumes; it is removed once
    the model is saved. ``output`` may not be one of the inputs.
    """
    from tomokit.api import format_validation_error

    out = Path(output)
    if out.suffix != ".keras":
        raise InvalidInputError(f"output {out}: the model file name must end in .keras")
    for label, src in (("data", data), ("validation", validation)):
        if isinstance(src, (str, os.PathLike)) and Path(src).exists() and out.exists() and \
                Path(src).resolve() == out.resolve():
            raise InvalidInputError(f"output {out} is the {label} file; choose another name")
    cls = _component_class(kind, name)
    try:
        component = cls(dict(params or {}))
    except ValidationError as exc:
        raise InvalidInputError(
            f"{kind} {name!r}: invalid params: {format_validation_error(exc)}") from None
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir(out)
    report = component.fit(data, validation=validation, train=dict(train or {}),
                           checkpoint_dir=ckpt, progress=progress)
    model = component.save(out)
    from tomokit.learn._training import Checkpoint

    Checkpoint(ckpt).clear()
    return model, report


class TrainTaskParams(Params):
    """Params of the ``train`` task."""

    component: ComponentRef = Field(description="The learned component to train.")
    train: dict[str, Any] = Field(
        default_factory=dict, description="Training recipe: the component's TrainParams."
    )
    data: str | None = Field(
        None, description="Training dataset (HDF5); or give the step an input 'data'."
    )
    validation: str | None = Field(
        None, description="Validation dataset (HDF5); none: split data by source."
    )
    output: str | None = Field(
        None, description="Model file to write (.keras); none: in the run's work folder."
    )

    @model_validator(mode="after")
    def _check_component(self) -> TrainTaskParams:
        cls = _component_class(self.component.kind, self.component.name)
        try:
            cls.Params.model_validate(self.component.params)
            cls.TrainParams.model_validate(self.train)
        except ValidationError as exc:
            from tomokit.api import format_validation_error

            raise ValueError(format_validation_error(exc)) from None
        if self.output is not None and not self.output.endswith(".keras"):
            raise ValueError("output must end in .keras")
        return self


class TrainTask(Task):
    """Train a learned component on a dataset and output the model file."""

    name: ClassVar[str] = "train"
    summary: ClassVar[str] = "Train a learned component (tomokit.learn) and write its model file"
    Params: ClassVar[type[Params]] = TrainTaskParams
    input_names: ClassVar[tuple[str, ...]] = ("data", "validation")
    optional_inputs: ClassVar[tuple[str, ...]] = ("data", "validation")
    outputs: ClassVar[tuple[str, ...]] = ("model",)
    thread_safe: ClassVar[bool] = False
    #: Folder for a model without an explicit ``output`` (the runner sets it per run).
    workdir: Path | None = None
    #: Folder that relative paths in params are relative to (the pipeline file's).
    base_dir: Path | None = None

    @classmethod
    def referenced_files(cls, params: Any, base_dir: Path) -> list[Path]:
        """The dataset files, hashed by content for ``--resume``."""
        assert isinstance(params, TrainTaskParams)
        return [base_dir / f for f in (params.data, params.validation)
                if f is not None and (base_dir / f).is_file()]

    @classmethod
    def code_dependencies(cls, params: Any) -> list[type]:
        """The trained component's class: editing its code retrains."""
        assert isinstance(params, TrainTaskParams)
        return [_component_class(params.component.kind, params.component.name)]

    def _path(self, value: str) -> Path:
        return Path(self.base_dir or ".") / value

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        p = self.params
        assert isinstance(p, TrainTaskParams)
        data = inputs.get("data") or (self._path(p.data) if p.data else None)
        if data is None:
            raise InvalidInputError("train: give params.data (a dataset file) or an input 'data'")
        validation = inputs.get("validation") or (
            self._path(p.validation) if p.validation else None)
        if p.output is not None:
            output = self._path(p.output)
        elif self.workdir is not None:
            output = Path(self.workdir) / f"{p.component.kind}-{p.component.name}.keras"
        else:
            raise InvalidInputError("train: set params.output (a .keras file) for the model")
        model, _ = train_component(
            p.component.kind, p.component.name, _as_data(data), output=output,
            params=p.component.params, train=p.train, validation=_as_data(validation),
        )
        return {"model": model}


def _as_data(value: Any) -> Any:
    """A path, a ``TrainData``, a ``ModelFile``-like path object or a dict of arrays."""
    from tomokit.learn._data import TrainData

    if value is None or isinstance(value, (TrainData, str, os.PathLike)):
        return value
    if isinstance(value, Mapping):
        arrays = {k: np.asarray(v) for k, v in value.items() if k != "sources"}
        return TrainData.from_arrays(sources=value.get("sources"), **arrays)
    raise InvalidInputError(
        f"train data: expected a dataset path or named arrays, got {type(value).__name__}"
    )
