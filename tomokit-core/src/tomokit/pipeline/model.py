"""Pydantic models of a pipeline file (``extra="forbid"`` everywhere).

These models check structure and types only; :mod:`tomokit.pipeline.load` checks
meaning (components exist, params valid, references resolvable) with line numbers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tomokit.components import KINDS
from tomokit.executors import ExecutorConfig

__all__ = ["InputSpec", "PipelineModel", "StepModel", "SweepEntry"]

_ID = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    """A pipeline input read from a file."""

    path: str = Field(description="File to read, relative to the pipeline file.")
    dataset: str | None = Field(
        None, description="Dataset path inside an HDF5 file (for example /exchange/data)."
    )
    normalize: bool = Field(
        False,
        description="Divide integer images by their dtype's maximum, giving floats in [0, 1].",
    )
    format: str | None = Field(
        None,
        description="Format name (see `tomokit.io.formats()`); default: from the file suffix "
        "and contents.",
    )
    nan_policy: Literal["raise", "repair"] = Field(
        "raise",
        description="NaN/Inf in a tomography scan: 'raise' reports them with a count; "
        "'repair' replaces each by the median of its neighbours in the sinogram.",
    )
    angles: str | None = Field(
        None,
        description=(
            "Makes the input a sinogram: an HDF5 dataset path with the angles (radians) "
            "in the same file, or 'uniform-180' / 'uniform-360' for evenly spaced angles."
        ),
    )
    color: Literal["refuse", "luma"] = Field(
        "refuse",
        description="A colour (RGB, RGBA, palette) image: 'refuse' (the default) reports it; "
        "'luma' converts it to grey (ITU-R BT.601 weights, alpha dropped).",
    )


class _ComponentKeys(_Strict):
    """The ``<kind>: <name>`` keys shared by a step and a sweep entry."""

    distortion: str | None = Field(None, description="Name of a distortion component.")
    filter: str | None = Field(None, description="Name of a pre-processing filter.")
    projector: str | None = Field(None, description="Name of a projector (image -> sinogram).")
    observer: str | None = Field(None, description="Name of a full-reference observer.")
    scorer: str | None = Field(None, description="Name of a no-reference scorer.")
    segmenter: str | None = Field(None, description="Name of a segmenter.")
    reconstructor: str | None = Field(None, description="Name of a reconstructor.")
    super_resolver: str | None = Field(None, description="Name of a super-resolver.")
    phantom: str | None = Field(None, description="Name of a phantom generator.")
    task: str | None = Field(None, description="Name of a task (dataset, training, evaluation).")

    def component(self) -> tuple[str, str] | None:
        """``(kind, name)`` when exactly one kind key is set."""
        found = [(k, getattr(self, k)) for k in KINDS if getattr(self, k) is not None]
        return found[0] if len(found) == 1 else None

    def kinds_set(self) -> list[str]:
        return [k for k in KINDS if getattr(self, k) is not None]


class SweepEntry(_ComponentKeys):
    """One component of a multi-component sweep, with its own grid and fixed params."""

    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Param values to try: every combination is a candidate."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Params every candidate shares.")


class StepModel(_ComponentKeys):
    """One step: exactly one ``<kind>: <name>`` key (or a ``sweep`` over several), its
    params and its inputs."""

    id: str = Field(pattern=_ID, description="Unique step id; later steps refer to it.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The component's params; a value `{from: step.key}` takes an earlier "
        "step's result.",
    )
    sweep: dict[str, list[Any]] | list[SweepEntry] | None = Field(
        None,
        description=(
            "Candidates: a grid `{param: [values]}` over this step's component, or a list of "
            "components each with its own `grid`. Each combination is a candidate "
            "`id[param=value]`; later steps refer to one, or map over all with `id[*]`."
        ),
    )
    inputs: dict[str, str | list[str]] | list[str] = Field(
        default_factory=dict,
        description=(
            "The component's inputs by name (or in order): pipeline input names, earlier "
            "step ids, 'step_id.key' for steps with several outputs, 'step[*]' for every "
            "candidate of a sweep (a list for inputs that take several)."
        ),
    )
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Seed of this step (default: derived)."
    )


class PipelineModel(_Strict):
    """A tomokit pipeline file."""

    version: Literal[1] = Field(1, description="Pipeline file format version.")
    name: str | None = Field(None, description="A short name for the results.")
    description: str | None = Field(None, description="What this pipeline is for.")
    seed: int = Field(
        0, ge=0, le=2**63 - 1, description="Seed from which every step's seed is derived."
    )
    inputs: dict[str, InputSpec | str] = Field(
        default_factory=dict, description="Named inputs: a path, or a mapping with options."
    )
    steps: list[StepModel] = Field(min_length=1, description="Steps, run in order.")
    outputs: list[str] | None = Field(
        None, description="Step ids whose results are saved (default: every step)."
    )
    executor: ExecutorConfig = Field(
        default_factory=lambda: ExecutorConfig(), description="Where per-slice work runs."
    )

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        import re

        for name in value:
            if not re.match(_ID, str(name)):
                raise ValueError(f"input name {name!r} must be an identifier (letters, digits, _)")
        return value
