"""Run a validated pipeline and write its results to one HDF5 file.

Steps run in order; each gets its named inputs and a seed derived from the pipeline
seed and its position (or its own ``seed``). Per-slice work goes through ``mapper``
(see :func:`tomokit.components.map_slices`), which is where executors plug in. Results
are written to a hidden temporary file beside the output and renamed only when the run
is complete, so an interrupted run never leaves a file that looks finished.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import Sinogram, SliceMapper
from tomokit.errors import InvalidInputError, RunError, TomokitError
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep

__all__ = ["RunSummary", "StepRecord", "read_results", "run_pipeline", "step_seed"]

RESULTS_FORMAT = "tomokit-results/1"


@dataclass
class StepRecord:
    """What one step did: its component, seed and wall time."""

    id: str
    kind: str
    name: str
    seed: int
    seconds: float
    summary: str = ""


@dataclass
class RunSummary:
    """The outcome of a run: where results went and a record per step."""

    output: Path
    steps: list[StepRecord] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def step_seed(pipeline_seed: int, index: int) -> int:
    """The default seed of step ``index``: independent streams from one pipeline seed."""
    return int(np.random.SeedSequence([pipeline_seed, index]).generate_state(1, np.uint64)[0] >> 1)


def _read_input(pipeline: LoadedPipeline, name: str) -> Any:
    from tomokit import io

    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    array = io.read_array(path, dataset=spec.dataset)
    if spec.normalize and np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    elif np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        array = array.astype(np.float32)
    if spec.angles is None:
        return array
    if array.ndim != 2:
        raise InvalidInputError(
            f"input {name!r}: a sinogram must be 2-D (angles x detectors), got shape {array.shape}"
        )
    if spec.angles in ("uniform-180", "uniform-360"):
        span = np.pi if spec.angles == "uniform-180" else 2 * np.pi
        angles = np.linspace(0, span, array.shape[0], endpoint=False)
    else:
        angles = io.read_array(path, dataset=spec.angles)
    return Sinogram(data=array, angles=angles)


def _lookup(ref: str, values: Mapping[str, Any]) -> Any:
    base, _, key = ref.partition(".")
    value = values[base]
    if isinstance(value, Mapping):
        if not key:
            if "image" in value:
                return value["image"]
            raise RunError(
                f"{base!r} has several outputs ({', '.join(value)}); refer to one as '{base}.KEY'"
            )
        if key not in value:
            raise RunError(f"{base!r} has no output {key!r}; it has {', '.join(value)}")
        return value[key]
    if key:
        raise RunError(f"{base!r} has a single output; refer to it as {base!r}, not {ref!r}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, Sinogram):
        return f"sinogram {value.data.shape}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in value.items()) + "}"
    arr = np.asarray(value)
    if arr.ndim == 0 and np.issubdtype(arr.dtype, np.number):
        return f"{float(arr):.6g}"
    if arr.ndim == 1 and arr.size <= 8 and np.issubdtype(arr.dtype, np.number):
        return "[" + ", ".join(f"{float(v):.4g}" for v in arr) + "]"
    if arr.dtype.kind in "US" and arr.ndim == 0:
        return str(arr)
    return f"{arr.dtype} array {arr.shape}"


def _write(group: Any, name: str, value: Any) -> None:
    """Write one step output (array, number, string, Sinogram or dict of them)."""
    if value is None:
        return
    if isinstance(value, Sinogram):
        sub = group.create_group(name)
        sub.attrs["tomokit_type"] = "sinogram"
        sub.create_dataset("data", data=value.data, compression="gzip")
        sub.create_dataset("angles", data=value.angles)
        sub.attrs["detector_spacing"] = value.detector_spacing
        sub.attrs["center_offset"] = value.center_offset
        sub.attrs["geometry"] = value.geometry
        return
    if isinstance(value, Mapping):
        sub = group.create_group(name)
        for key, item in value.items():
            _write(sub, str(key), item)
        return
    if isinstance(value, str):
        group.create_dataset(name, data=value)
        return
    arr = np.asarray(value)
    if arr.dtype == object:
        raise RunError(f"output {name!r} of type {type(value).__name__} cannot be saved to HDF5")
    if arr.dtype.kind == "U":
        arr = arr.astype(object)
        import h5py

        group.create_dataset(name, data=arr, dtype=h5py.string_dtype())
        return
    big = arr.size >= 4096
    group.create_dataset(name, data=arr, compression="gzip" if big else None, chunks=True if big else None)


def _versions(steps: list[ResolvedStep]) -> dict[str, str]:
    versions = {"tomokit-core": _dist_version("tomokit-core")}
    for step in steps:
        dist = _component_distribution(step)
        if dist:
            versions[dist] = _dist_version(dist)
    return versions


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _component_distribution(step: ResolvedStep) -> str:
    from tomokit.registry import get_registry

    if step.cls.kind and step.name:
        try:
            return get_registry().get_spec(step.kind, step.name).distribution
        except TomokitError:  # a class registered in-process under another registry
            return ""
    return ""


def _temporary_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial-{os.getpid()}")


def run_pipeline(
    pipeline: LoadedPipeline,
    output: str | Path,
    *,
    mapper: SliceMapper | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> RunSummary:
    """Run every step of ``pipeline`` and write the results to ``output`` (HDF5).

    ``mapper`` maps per-slice calls over volumes (default: serial). ``on_step`` is called
    after each step. Raises :class:`~tomokit.errors.InvalidInputError` for unreadable
    inputs or an output that would overwrite an input, and
    :class:`~tomokit.errors.RunError` when a step fails; nothing is left at ``output``
    then.
    """
    import h5py

    out = Path(output)
    input_paths = {(pipeline.base_dir / s.path).resolve() for s in pipeline.inputs.values()}
    if out.resolve() in input_paths or out.resolve() == Path(pipeline.file).resolve():
        raise InvalidInputError(f"output {out} is one of the pipeline's inputs; choose another path")
    if out.exists() and out.is_dir():
        raise InvalidInputError(f"output {out} is a directory; give a file name ending in .h5")
    out.parent.mkdir(parents=True, exist_ok=True)

    values: dict[str, Any] = {}
    for name in pipeline.inputs:
        values[name] = _read_input(pipeline, name)

    summary = RunSummary(output=out)
    wanted = {o.split(".", 1)[0] for o in pipeline.outputs}
    tmp = _temporary_path(out)
    started = _dt.datetime.now(_dt.UTC)
    try:
        with h5py.File(tmp, "w") as h5:
            steps_group = h5.create_group("steps")
            for step in pipeline.steps:
                seed = step.seed if step.seed is not None else step_seed(
                    pipeline.model.seed, step.index
                )
                inputs = {key: _lookup(ref, values) for key, ref in step.inputs.items()}
                component = step.cls(step.params)
                t0 = time.perf_counter()
                try:
                    result = component.run_step(
                        inputs, rng=np.random.default_rng(seed), mapper=mapper
                    )
                except TomokitError as exc:
                    raise RunError(f"step {step.id!r} ({step.kind} {step.name!r}) failed: {exc}") from exc
                except Exception as exc:
                    raise RunError(
                        f"step {step.id!r} ({step.kind} {step.name!r}) failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                seconds = time.perf_counter() - t0
                values[step.id] = result
                record = StepRecord(step.id, step.kind, step.name, seed, seconds, _describe(result))
                summary.steps.append(record)
                if step.id in wanted:
                    _write(steps_group, step.id, result)
                    node = steps_group[step.id]
                    node.attrs["kind"] = step.kind
                    node.attrs["component"] = step.name
                    node.attrs["params"] = json.dumps(step.params.model_dump(mode="json"))
                    node.attrs["seed"] = seed
                    node.attrs["seconds"] = seconds
                    node.attrs["distribution"] = _component_distribution(step)
                    summary.values[step.id] = result
                if on_step is not None:
                    on_step(record)
            h5.attrs["format"] = RESULTS_FORMAT
            h5.attrs["pipeline"] = pipeline.text
            h5.attrs["pipeline_file"] = str(pipeline.file)
            h5.attrs["seed"] = pipeline.model.seed
            h5.attrs["versions"] = json.dumps(_versions(pipeline.steps))
            h5.attrs["started_utc"] = started.isoformat()
            h5.attrs["finished_utc"] = _dt.datetime.now(_dt.UTC).isoformat()
            h5.attrs["step_order"] = json.dumps([s.id for s in pipeline.steps])
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return summary


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results file back: ``{step_id: value}`` (dicts for groups, Sinograms rebuilt)."""
    import h5py

    def convert(node: Any) -> Any:
        if isinstance(node, h5py.Group):
            if node.attrs.get("tomokit_type") == "sinogram":
                return Sinogram(
                    data=node["data"][()],
                    angles=node["angles"][()],
                    detector_spacing=float(node.attrs["detector_spacing"]),
                    center_offset=float(node.attrs["center_offset"]),
                )
            return {k: convert(v) for k, v in node.items()}
        value = node[()]
        return value.decode() if isinstance(value, bytes) else value

    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"results file not found: {p}")
    with h5py.File(p, "r") as h5:
        if h5.attrs.get("format") != RESULTS_FORMAT:
            raise InvalidInputError(f"{p} is not a tomokit results file")
        return {k: convert(v) for k, v in h5["steps"].items()}
