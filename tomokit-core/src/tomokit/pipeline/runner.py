"""Run a validated pipeline and write its results to one HDF5 file.

Steps run in order; each gets its named inputs and a seed derived from the pipeline
seed and its position (or its own ``seed``). Volumes (3-D stacks, DXchange/NXtomo
scans) are opened lazily and streamed: a per-slice component is mapped over them a
block of slices at a time through the executor (memory bounded by the block size, not
the volume), model-based components get one block as a batch, and a reconstructor gets
a scan's sinograms row by row.

Every finished step is checkpointed, atomically, in a work folder beside the output
(``.OUT.partial.d/``) under a content hash of its inputs (file contents), params, seed
and component version. Results are written to a hidden temporary file and renamed only
when the run is complete, so an interrupted run never leaves a file that looks
finished; ``resume=True`` reuses checkpoints and the steps of an earlier results file
whose hashes match, and recomputes the rest.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import (
    Distortion,
    Observer,
    Reconstructor,
    Scorer,
    Segmenter,
    Sinogram,
    SliceMapper,
    SuperResolver,
)
from tomokit.errors import InvalidInputError, RunError, TomokitError
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep

__all__ = ["RunSummary", "StepRecord", "read_results", "run_pipeline", "step_seed"]

RESULTS_FORMAT = "tomokit-results/1"
HASH_ATTR = "tomokit_hash"
#: Streamed step values up to this size are also returned in ``RunSummary.values``.
SUMMARY_LIMIT = 256 * 2**20

ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass
class StepRecord:
    """What one step did: its component, seed, wall time, and whether it was reused or
    streamed (``slices`` counts the slices or rows streamed)."""

    id: str
    kind: str
    name: str
    seed: int
    seconds: float
    summary: str = ""
    reused: bool = False
    streamed: bool = False
    slices: int = 0


@dataclass
class RunSummary:
    """The outcome of a run: where results went and a record per step."""

    output: Path
    steps: list[StepRecord] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    executor: str = ""

    @property
    def reused(self) -> list[str]:
        """Ids of the steps taken from an earlier run."""
        return [s.id for s in self.steps if s.reused]


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



def _is_scan(path: Path) -> bool:
    """Whether an HDF5 file is a raw DXchange or NXtomo scan (flats to normalise by)."""
    from tomokit.io._hdf5 import HDF5Format
    from tomokit.io._tomo import _nx_entry

    if not any(path.name.lower().endswith(e) for e in HDF5Format.extensions) or not path.is_file():
        return False
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return "exchange/data_white" in h5 or _nx_entry(h5) is not None
    except OSError:
        return False


def _open_input(pipeline: LoadedPipeline, name: str) -> Any:
    """A pipeline input: a lazy reader for volumes and scans, an array or Sinogram else."""
    from tomokit import io
    from tomokit.io._views import MappedReader, to_float32

    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    fmt = getattr(spec, "format", None)
    if spec.angles is None:
        if fmt in ("dxchange", "nxtomo") or (fmt is None and spec.dataset is None
                                            and _is_scan(path)):
            return io.open_scan(path, layout=fmt or "auto",
                                nan_policy=getattr(spec, "nan_policy", None) or "raise")
        reader = io.open_volume(path, dataset=spec.dataset, format=fmt)
        if reader.ndim == 3 and not reader.single and len(reader) > 0:
            if reader.dtype.kind == "f":
                return reader
            return MappedReader(
                reader, functools.partial(to_float32, normalize=spec.normalize), np.float32
            )
        reader.close()
    return _read_input(pipeline, name)


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



# ---------------------------------------------------------------------------- hashes
_FILE_HASHES: dict[tuple[str, tuple[int, ...]], str] = {}


def _file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (a folder: of its files' names and bytes), cached by
    the file's identity so a run hashes each input once."""
    from tomokit.executors._base import file_stamp

    key = (str(path.resolve()), file_stamp(path))
    cached = _FILE_HASHES.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    digest = h.hexdigest()
    _FILE_HASHES[key] = digest
    return digest


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _input_hash(pipeline: LoadedPipeline, name: str) -> str:
    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    if not path.exists():
        raise InvalidInputError(f"input {name!r}: {path}: no such file")
    return _digest({"content": _file_hash(path), "spec": spec.model_dump(exclude={"path"})})


def _step_hashes(pipeline: LoadedPipeline) -> dict[str, str]:
    """A content hash per step: component (and its version), params, seed, and the
    hashes of what it reads, so a change anywhere upstream changes it."""
    known: dict[str, str] = {n: _input_hash(pipeline, n) for n in pipeline.inputs}
    out: dict[str, str] = {}
    for step in pipeline.steps:
        refs = {}
        for key, ref in step.inputs.items():
            base, _, sub = ref.partition(".")
            refs[key] = f"{known.get(base, base)}.{sub}"
        dist = _component_distribution(step)
        out[step.id] = known[step.id] = _digest({
            "kind": step.kind,
            "name": step.name,
            "class": f"{step.cls.__module__}:{step.cls.__qualname__}",
            "distribution": dist,
            "version": _dist_version(dist) if dist else "",
            "component_version": str(getattr(step.cls, "version", "")),
            "params": step.params.model_dump(mode="json"),
            "seed": _seed_of(pipeline, step),
            "inputs": refs,
        })
    return out


def _seed_of(pipeline: LoadedPipeline, step: ResolvedStep) -> int:
    return step.seed if step.seed is not None else step_seed(pipeline.model.seed, step.index)



# ---------------------------------------------------------------------- lazy values
def _is_lazy(value: Any) -> bool:
    from tomokit.io import VolumeReader

    return isinstance(value, VolumeReader)


def _materialize(value: Any) -> Any:
    """An in-memory value for components that need the whole array."""
    from tomokit.io import TomoScanReader

    if isinstance(value, TomoScanReader):
        data = value.read(slice(None))
        if len(value) == 1:
            return Sinogram(data=data[0], angles=value.angles)
        return data
    if _is_lazy(value):
        return value.read_all()
    return value


def _describe_value(value: Any) -> str:
    from tomokit.io import TomoScanReader

    if isinstance(value, TomoScanReader):
        return f"scan: {value.shape[0]} sinograms of {value.shape[1:]} (streamed)"
    if _is_lazy(value):
        return f"{value.dtype} volume {value.shape} (streamed)"
    return _describe(value)


def _load_checkpoint(path: Path, node: str) -> Any:
    """A value written by :func:`_write` (or a streamed volume) back: 3-D numeric
    datasets lazily, everything else in memory."""
    import h5py

    from tomokit import io

    with h5py.File(path, "r") as h5:
        if node not in h5:
            return None
        obj = h5[node]
        lazy = isinstance(obj, h5py.Dataset) and obj.ndim == 3 and obj.dtype.kind in "biuf"
        if not lazy:
            return _convert(obj)
    return io.open_volume(path, dataset=node)


class _VolumeSink:
    """Collects a streamed step's slices into a checkpoint volume created on the first
    block (when the output slice shape and dtype are known)."""

    def __init__(self, path: Path, n: int, attrs: dict[str, Any]) -> None:
        self.path, self.n, self.attrs = path, n, attrs
        self.writer: Any = None

    def __call__(self, start: int, results: list[Any]) -> None:
        from tomokit import io

        block = np.stack([np.asarray(r) for r in results])
        if self.writer is None:
            self.writer = io.create_volume(
                self.path, (self.n, *block.shape[1:]), block.dtype, dataset="/value",
                overwrite=True, attrs=self.attrs,
            )
        self.writer.write(start, block)

    def commit(self) -> None:
        if self.writer is not None:
            self.writer.commit()

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()



# ------------------------------------------------------------------------- streaming
def _apply_distortion(component: Distortion, seeds: np.ndarray, item: tuple[int, Any]) -> Any:
    index, image = item
    return component.apply(image, None, np.random.default_rng(int(seeds[index])))


def _compare_pair(component: Observer, pair: np.ndarray) -> float:
    return float(component.compare(pair[0], pair[1]))


def _reconstruct_row(component: Reconstructor, angles: np.ndarray, data: np.ndarray) -> Any:
    return component.reconstruct(Sinogram(data=data, angles=angles))


def _overrides(component: Any, base: type) -> bool:
    return type(component).run_step is not base.run_step  # type: ignore[attr-defined]


class _Context:
    """What a streamed step needs: the executor, block sizes, progress, checkpoint."""

    def __init__(self, executor: Any, advance: Callable[[int], None], checkpoint: Path,
                 attrs: dict[str, Any]) -> None:
        self.executor = executor
        self.advance = advance
        self.checkpoint = checkpoint
        self.attrs = attrs
        self.slices = 0

    def to_volume(self, fn: Callable[[Any], Any], reader: Any, *, indexed: bool = False) -> Any:
        from tomokit import io

        sink = _VolumeSink(self.checkpoint, len(reader), self.attrs)
        try:
            self.executor.map_blocks(fn, reader, sink=sink, indexed=indexed,
                                     progress=self._count)
        except BaseException:
            sink.discard()
            raise
        sink.commit()
        return io.open_volume(self.checkpoint, dataset="/value")

    def to_list(self, fn: Callable[[Any], Any], reader: Any) -> list[Any]:
        out = self.executor.map_blocks(fn, reader, progress=self._count)
        assert out is not None
        return out

    def _count(self, n: int) -> None:
        self.slices += n
        self.advance(n)


def _stream(component: Any, inputs: dict[str, Any], rng: np.random.Generator,
            ctx: _Context) -> tuple[bool, Any]:
    """Run ``component`` on lazy volume inputs block by block; ``(False, None)`` when it
    cannot be streamed (the caller then materialises the inputs)."""
    from tomokit.io import TomoScanReader
    from tomokit.io._views import ZipReader

    lazy = {k: v for k, v in inputs.items() if _is_lazy(v)}
    if not lazy:
        return False, None
    scans = [v for v in lazy.values() if isinstance(v, TomoScanReader)]
    if isinstance(component, Reconstructor) and isinstance(inputs.get("sinogram"), TomoScanReader):
        scan = inputs["sinogram"]
        fn = functools.partial(_reconstruct_row, component, scan.angles)
        return True, ctx.to_volume(fn, scan)
    if scans:
        return False, None
    if (isinstance(component, Distortion) and component.domain == "image"
            and not _overrides(component, Distortion) and "image" in lazy):
        reader = lazy["image"]
        seeds = rng.integers(0, 2**63 - 1, size=len(reader))  # as Distortion.run_step
        fn = functools.partial(_apply_distortion, component, seeds)
        return True, ctx.to_volume(fn, reader, indexed=True)
    if (isinstance(component, Observer) and not _overrides(component, Observer)
            and set(lazy) == {"reference", "distorted"}):
        ref, dist = lazy["reference"], lazy["distorted"]
        if ref.shape != dist.shape:
            raise InvalidInputError(
                f"reference shape {ref.shape} and distorted shape {dist.shape} differ"
            )
        pairs = ZipReader([ref, dist])  # borrows the two readers, does not close them
        values = ctx.to_list(functools.partial(_compare_pair, component), pairs)
        return True, np.asarray(values, dtype=np.float64)
    if isinstance(component, Scorer | Segmenter | SuperResolver) or (
        isinstance(component, Observer) and set(lazy) == {"reference", "distorted"}
    ):  # model-based or vectorised: one block of slices is one batch
        return True, _stream_batches(component, inputs, lazy, rng, ctx)
    return False, None


def _stream_batches(component: Any, inputs: dict[str, Any], lazy: dict[str, Any],
                    rng: np.random.Generator, ctx: _Context) -> Any:
    """Model-based components: one block of slices is one batch."""
    first = next(iter(lazy.values()))
    n = len(first)
    for key, reader in lazy.items():
        if len(reader) != n:
            raise InvalidInputError(
                f"input {key!r} has {len(reader)} slices, {next(iter(lazy))!r} has {n}"
            )
    per_block = max(ctx.executor.block_slices(first), 1)
    sink = _VolumeSink(ctx.checkpoint, n, ctx.attrs)
    flat: list[np.ndarray] = []
    try:
        for start in range(0, n, per_block):
            stop = min(n, start + per_block)
            batch = dict(inputs)
            for key, reader in lazy.items():
                batch[key] = reader.read(slice(start, stop))
            out = np.asarray(component.run_step(batch, rng=rng, mapper=ctx.executor.map))
            if out.ndim <= 1:
                flat.append(np.atleast_1d(out))
            else:
                sink(start, list(out))
            ctx._count(stop - start)
    except BaseException:
        sink.discard()
        raise
    if flat:
        return np.concatenate(flat)
    sink.commit()
    from tomokit import io

    return io.open_volume(ctx.checkpoint, dataset="/value")



# ------------------------------------------------------------------------------ run
def _temporary_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial-{os.getpid()}")


def _work_dir(output: Path) -> Path:
    """Checkpoints of finished steps; its name starts like the temporary file's."""
    return output.with_name(f".{output.name}.partial.d")


def _checkpoint_hash(path: Path) -> str | None:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            value = h5.attrs.get(HASH_ATTR)
    except OSError:
        return None
    return str(value) if value is not None else None


def _previous_results(out: Path) -> dict[str, str]:
    """``{step_id: hash}`` of the steps saved in an earlier complete results file."""
    import h5py

    if not out.is_file():
        return {}
    try:
        with h5py.File(out, "r") as h5:
            if h5.attrs.get("format") != RESULTS_FORMAT or "steps" not in h5:
                return {}
            return {k: str(v.attrs[HASH_ATTR]) for k, v in h5["steps"].items()
                    if HASH_ATTR in v.attrs}
    except OSError:
        return {}


def _save_checkpoint(path: Path, value: Any, digest: str) -> None:
    import h5py

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs[HASH_ATTR] = digest
            _write(h5, "value", value)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _needed(pipeline: LoadedPipeline, reusable: set[str]) -> set[str]:
    """Inputs and steps whose values the steps to compute (all but the reusable) read."""
    need: set[str] = set()
    for step in pipeline.steps:
        if step.id not in reusable:
            need |= {ref.split(".", 1)[0] for ref in step.inputs.values()}
    return need


def _executor_label(executor: Any) -> str:
    cfg = executor.config
    where = f" at {cfg.address}" if cfg.address else ""
    return f"{cfg.kind}{where}, {executor.workers} worker(s)"


def run_pipeline(
    pipeline: LoadedPipeline,
    output: str | Path,
    *,
    mapper: SliceMapper | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    executor: Any = None,
    resume: bool = False,
    progress: ProgressFactory | None = None,
) -> RunSummary:
    """Run every step of ``pipeline`` and write the results to ``output`` (HDF5).

    ``executor`` (a :class:`tomokit.executors.Executor`; default: one built from the
    pipeline's ``executor:`` section) runs per-slice work and streams volumes;
    ``mapper`` overrides the executor's ``map`` for in-memory work. ``resume`` reuses
    steps whose content hash matches a checkpoint of an interrupted run or a step of an
    earlier results file at ``output``. ``on_step`` is called after each step;
    ``progress(step_id, total)`` returns a callback advanced by the slices done.
    Raises :class:`~tomokit.errors.InvalidInputError` for unreadable inputs or an output
    that would overwrite an input, and :class:`~tomokit.errors.RunError` when a step
    fails; nothing is left at ``output`` then.
    """
    from tomokit.executors import get_executor

    out = Path(output)
    input_paths = {(pipeline.base_dir / s.path).resolve() for s in pipeline.inputs.values()}
    if out.resolve() in input_paths or out.resolve() == Path(pipeline.file).resolve():
        raise InvalidInputError(f"output {out} is one of the pipeline's inputs; choose another path")
    if out.exists() and out.is_dir():
        raise InvalidInputError(f"output {out} is a directory; give a file name ending in .h5")
    out.parent.mkdir(parents=True, exist_ok=True)

    hashes = _step_hashes(pipeline)
    work = _work_dir(out)
    wanted = {o.split(".", 1)[0] for o in pipeline.outputs}
    sources: dict[str, tuple[Path, str]] = {}  # step id -> (file, node) holding its value
    if resume:
        for sid, digest in _previous_results(out).items():
            if hashes.get(sid) == digest:
                sources[sid] = (out, f"steps/{sid}")
        if work.is_dir():
            for step in pipeline.steps:
                ckpt = work / f"{step.id}.h5"
                if ckpt.is_file() and _checkpoint_hash(ckpt) == hashes[step.id]:
                    sources[step.id] = (ckpt, "value")
    elif work.exists():
        shutil.rmtree(work)
    needed = _needed(pipeline, set(sources))

    summary = RunSummary(output=out)
    tmp = _temporary_path(out)
    started = _dt.datetime.now(_dt.UTC)
    own_executor = executor is None
    ex = executor if executor is not None else get_executor(pipeline.model.executor)
    try:
        with ExitStack() as stack:
            if own_executor:
                stack.enter_context(ex)
            summary.executor = _executor_label(ex)
            step_mapper = mapper or ex.map
            work.mkdir(exist_ok=True)
            values: dict[str, Any] = {}
            opened: list[Any] = []
            stack.callback(lambda: [v.close() for v in opened])
            for name in pipeline.inputs:
                if name in needed:
                    values[name] = _open_input(pipeline, name)
                    if _is_lazy(values[name]):
                        opened.append(values[name])
            for step in pipeline.steps:
                seed = _seed_of(pipeline, step)
                if step.id in sources:
                    record = StepRecord(step.id, step.kind, step.name, seed, 0.0,
                                        "reused (unchanged)", reused=True)
                    if step.id in needed:
                        file, node = sources[step.id]
                        values[step.id] = _load_checkpoint(file, node)
                        if _is_lazy(values[step.id]):
                            opened.append(values[step.id])
                        record.summary = f"reused: {_describe_value(values[step.id])}"
                    if progress is not None:
                        progress(step.id, 0)
                else:
                    record, result = _run_step(pipeline, step, seed, values, ex, step_mapper,
                                               work, hashes[step.id], progress)
                    values[step.id] = result
                    if _is_lazy(result):
                        opened.append(result)
                    sources[step.id] = (work / f"{step.id}.h5", "value")
                summary.steps.append(record)
                if on_step is not None:
                    on_step(record)
            _write_results(pipeline, tmp, summary, sources, hashes, wanted, started)
            for sid in sorted(wanted):
                if sid not in values and sid in sources:  # reused, never needed in memory
                    values[sid] = _load_checkpoint(*sources[sid])
                    if _is_lazy(values[sid]):
                        opened.append(values[sid])
                if sid in values:
                    summary.values[sid] = _summary_value(values[sid])
        os.replace(tmp, out)
        shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if not resume:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return summary


def _summary_value(value: Any) -> Any:
    if _is_lazy(value):
        nbytes = int(np.prod(value.shape, dtype=np.int64)) * value.dtype.itemsize
        return value.read_all() if nbytes <= SUMMARY_LIMIT else _describe_value(value)
    return value


def _run_step(pipeline: LoadedPipeline, step: ResolvedStep, seed: int, values: dict[str, Any],
              ex: Any, mapper: SliceMapper, work: Path, digest: str,
              progress: ProgressFactory | None) -> tuple[StepRecord, Any]:
    inputs = {key: _lookup(ref, values) for key, ref in step.inputs.items()}
    lazy = [v for v in inputs.values() if _is_lazy(v)]
    total = max((len(v) for v in lazy), default=1)
    advance = progress(step.id, total) if progress is not None else (lambda n: None)
    checkpoint = work / f"{step.id}.h5"
    component = step.cls(step.params)
    ctx = _Context(ex, advance, checkpoint, {HASH_ATTR: digest})
    t0 = time.perf_counter()
    try:
        rng = np.random.default_rng(seed)
        streamed, result = _stream(component, inputs, rng, ctx)
        if not streamed:
            inputs = {k: _materialize(v) for k, v in inputs.items()}
            result = component.run_step(inputs, rng=rng, mapper=mapper)
            advance(total)
    except TomokitError as exc:
        raise RunError(f"step {step.id!r} ({step.kind} {step.name!r}) failed: {exc}") from exc
    except Exception as exc:
        raise RunError(
            f"step {step.id!r} ({step.kind} {step.name!r}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not _is_lazy(result):
        _save_checkpoint(checkpoint, result, digest)
    seconds = time.perf_counter() - t0
    record = StepRecord(step.id, step.kind, step.name, seed, seconds, _describe_value(result),
                        streamed=bool(ctx.slices), slices=ctx.slices)
    return record, result


def _write_results(pipeline: LoadedPipeline, tmp: Path, summary: RunSummary,
                   sources: dict[str, tuple[Path, str]], hashes: dict[str, str],
                   wanted: set[str], started: _dt.datetime) -> None:
    """The results file: each wanted step copied from its checkpoint, with provenance."""
    import h5py

    records = {r.id: r for r in summary.steps}
    with h5py.File(tmp, "w") as h5:
        steps_group = h5.create_group("steps")
        for step in pipeline.steps:
            if step.id not in wanted or step.id not in sources:
                continue
            file, node = sources[step.id]
            with h5py.File(file, "r") as src:
                if node not in src:  # a step that returned None
                    continue
                src.copy(src[node], steps_group, name=step.id)
            target = steps_group[step.id]
            rec = records.get(step.id)
            reused = rec.reused if rec is not None else True
            old_seconds = target.attrs.get("seconds", 0.0)
            for key in list(target.attrs):
                if key not in ("tomokit_type", "detector_spacing", "center_offset", "geometry"):
                    del target.attrs[key]
            target.attrs["kind"] = step.kind
            target.attrs["component"] = step.name
            target.attrs["params"] = json.dumps(step.params.model_dump(mode="json"))
            target.attrs["seed"] = _seed_of(pipeline, step)
            target.attrs["seconds"] = old_seconds if reused or rec is None else rec.seconds
            target.attrs["distribution"] = _component_distribution(step)
            target.attrs[HASH_ATTR] = hashes[step.id]
            target.attrs["reused"] = reused
        h5.attrs["format"] = RESULTS_FORMAT
        h5.attrs["pipeline"] = pipeline.text
        h5.attrs["pipeline_file"] = str(pipeline.file)
        h5.attrs["seed"] = pipeline.model.seed
        h5.attrs["versions"] = json.dumps(_versions(pipeline.steps))
        h5.attrs["started_utc"] = started.isoformat()
        h5.attrs["finished_utc"] = _dt.datetime.now(_dt.UTC).isoformat()
        h5.attrs["step_order"] = json.dumps([s.id for s in pipeline.steps])
        h5.attrs["step_hashes"] = json.dumps(hashes)
        h5.attrs["executor"] = summary.executor


def _convert(node: Any) -> Any:
    """An HDF5 node written by :func:`_write` back as a value."""
    import h5py

    if isinstance(node, h5py.Group):
        if node.attrs.get("tomokit_type") == "sinogram":
            return Sinogram(
                data=node["data"][()],
                angles=node["angles"][()],
                detector_spacing=float(node.attrs["detector_spacing"]),
                center_offset=float(node.attrs["center_offset"]),
            )
        return {k: _convert(v) for k, v in node.items()}
    value = node[()]
    return value.decode() if isinstance(value, bytes) else value


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results file back: ``{step_id: value}`` (dicts for groups, Sinograms rebuilt)."""
    import h5py

    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"results file not found: {p}")
    with h5py.File(p, "r") as h5:
        if h5.attrs.get("format") != RESULTS_FORMAT:
            raise InvalidInputError(f"{p} is not a tomokit results file")
        return {k: _convert(v) for k, v in h5["steps"].items()}
