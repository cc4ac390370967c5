"""What a step receives: its inputs looked up among earlier values (collections as
``{label: value}``), its params with ``{from: ...}`` references filled in, and where
its checkpoint lives."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from tomokit.components import Params
from tomokit.errors import RunError
from tomokit.pipeline._refs import candidate_label, resolve_ref, split_ref
from tomokit.pipeline.load import ResolvedStep

__all__ = ["checkpoint_path", "models_dir", "param_value", "step_inputs", "step_params"]


def _default_output(ref: str, values: Mapping[str, Any], classes: Mapping[str, Any]) -> str | None:
    cls = classes.get(split_ref(ref)[0])
    outputs = getattr(cls, "outputs", ()) if cls is not None else ()
    return outputs[0] if outputs else None


def step_inputs(step: ResolvedStep, values: Mapping[str, Any],
                classes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The step's named inputs; a collection input is a dict ``{candidate label: value}``."""
    classes = classes or {}
    out: dict[str, Any] = {}
    for key, ref in step.inputs.items():
        if isinstance(ref, list):
            out[key] = {candidate_label(r): resolve_ref(r, values, _default_output(r, values, classes))
                        for r in ref}
        else:
            out[key] = resolve_ref(ref, values, _default_output(ref, values, classes))
    return out


def param_value(value: Any) -> Any:
    """A step result as a param value: numbers and strings as Python scalars, paths
    (a model file) as strings; anything else as it is, for the Params model to judge."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size <= 64:
        return value.tolist()
    return value


def step_params(step: ResolvedStep, values: Mapping[str, Any]) -> Params:
    """``step.params``, or with its param references filled in and validated again."""
    if not step.param_refs:
        return step.params
    filled = dict(step.raw_params)
    for key, ref in step.param_refs.items():
        filled[key] = param_value(resolve_ref(ref, values))
    try:
        return step.cls.Params.model_validate(filled)
    except ValidationError as exc:
        errs = "; ".join(
            f"param {'.'.join(map(str, e['loc'])) or 'params'} "
            f"(from {step.param_refs.get(str(e['loc'][0]) if e['loc'] else '', 'the file')}): "
            f"{e['msg']}"
            for e in exc.errors()
        )
        raise RunError(f"step {step.id!r} ({step.kind} {step.name!r}): {errs}") from None


_SAFE = re.compile(r"[^A-Za-z0-9_.=,:+-]")


def checkpoint_path(work: Path, step_id: str) -> Path:
    """The checkpoint file of a step: its id made file-safe (a candidate's label may
    hold any character), with a short hash so two ids never share a file."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", step_id):
        return work / f"{step_id}.h5"
    safe = _SAFE.sub("_", step_id)[:80]
    digest = hashlib.sha256(step_id.encode()).hexdigest()[:10]
    return work / f"{safe}-{digest}.h5"


def models_dir(work: Path, step_id: str) -> Path:
    """Where a step writes the files it makes (a trained model): beside the results,
    ``OUT.models/STEP/``, kept after the run (the results file also embeds models)."""
    name = work.name.removeprefix(".").removesuffix(".partial.d")
    out = work.with_name(f"{Path(name).stem}.models") / checkpoint_path(work, step_id).stem
    out.mkdir(parents=True, exist_ok=True)
    return out
