"""Run a validated pipeline and write its results to one HDF5 file.

Steps run in order; each gets its named inputs and a seed derived from the pipeline
seed and its position (or its own ``seed``). Volumes (3-D stacks, DXchange/NXtomo
scans) are opened lazily and streamed: a per-slice component is mapped over them a
block of slices at a time through the executor (memory bounded by the block size, not
the volume), model-based components get one block as a batch, and a reconstructor gets
a scan's sinograms row by row.

Every finished step is checkpointed, atomically, in a work folder beside the output
(``.OUT.partial.d/``) under a hash of its inputs (file fingerprints, and with
``--resume`` their full content too), params, seed and component code. Results are written to a hidden temporary file and renamed only
when the run is complete, so an interrupted run never leaves a file that looks
finished; ``resume=True`` reuses checkpoints and the steps of an earlier results file
whose hashes match, and recomputes the rest.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

import numpy as np

from tomokit.components import (
    SliceMapper,
)
from tomokit.errors import InvalidInputError, RunError, TomokitError
from tomokit.pipeline._hashing import input_fingerprints, seed_of, step_hashes, step_seed
from tomokit.pipeline._inputs import open_input
from tomokit.pipeline._memory import check_run_memory
from tomokit.pipeline._refs import split_ref
from tomokit.pipeline._results import (
    CONTENT_ATTR,
    HASH_ATTR,
    RESULTS_FORMAT,
    component_distribution,
    read_results,
    versions,
    write_value,
)
from tomokit.pipeline._sections import sections
from tomokit.pipeline._streaming import (
    STORE_ATTR,
    StreamContext,
    checkpoint_store,
    copy_store_value,
    describe_value,
    is_lazy,
    lazy_parts,
    load_checkpoint,
    materialize,
    stores_dir,
    stream_section,
    stream_step,
)
from tomokit.pipeline._values import checkpoint_path, models_dir, step_inputs, step_params
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep

__all__ = ["RunSummary", "StepRecord", "read_results", "run_pipeline", "step_seed"]



SUMMARY_LIMIT = 256 * 2**20
_P = ParamSpec("_P")



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



def _temporary_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial-{os.getpid()}")



def _work_dir(output: Path) -> Path:
    """Checkpoints of finished steps; its name starts like the temporary file's."""
    return output.with_name(f".{output.name}.partial.d")



Stored = tuple[str | None, str | None]  # (fingerprint-keyed hash, content hash)


def _stored(attrs: Any) -> Stored:
    quick, content = attrs.get(HASH_ATTR), attrs.get(CONTENT_ATTR)
    return (str(quick) if quick is not None else None,
            str(content) if content is not None else None)


def _checkpoint_hash(path: Path) -> Stored:
    """The hashes a checkpoint was stamped with; none when the Zarr store it names (a
    streamed volume) is missing, so that step is computed again."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            store = h5.attrs.get(STORE_ATTR)
            if store is not None and not (path.parent / str(store) / "zarr.json").is_file():
                return (None, None)
            return _stored(h5.attrs)
    except OSError:
        return (None, None)



def _previous_results(out: Path) -> dict[str, Stored]:
    """``{step_id: hashes}`` of the steps saved in an earlier complete results file."""
    import h5py

    if not out.is_file():
        return {}
    try:
        with h5py.File(out, "r") as h5:
            if h5.attrs.get("format") != RESULTS_FORMAT or "steps" not in h5:
                return {}
            return {k: _stored(v.attrs) for k, v in h5["steps"].items()
                    if HASH_ATTR in v.attrs}
    except OSError:
        return {}



def _save_checkpoint(path: Path, value: Any, stamp: dict[str, str]) -> None:
    import h5py

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update(stamp)
            write_value(h5, "value", value)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise



def _needed(pipeline: LoadedPipeline, reusable: set[str]) -> set[str]:
    """Inputs and steps whose values the steps to compute (all but the reusable) read."""
    need: set[str] = set()
    for step in pipeline.steps:
        if step.id not in reusable:
            need |= {split_ref(ref)[0] for ref in step.references()}
    return need



def _executor_label(executor: Any) -> str:
    cfg = executor.config
    where = f" at {cfg.address}" if cfg.address else ""
    return f"{cfg.kind}{where}, {executor.workers} worker(s)"



def _holding_output_lock(fn: Callable[Concatenate[LoadedPipeline, str | Path, _P], RunSummary]
                         ) -> Callable[Concatenate[LoadedPipeline, str | Path, _P], RunSummary]:
    """Run ``fn`` with its output folder made and its output locked, so that a second
    run writing the same output (CLI or Python) fails at once."""

    @functools.wraps(fn)
    def locked(pipeline: LoadedPipeline, output: str | Path, /, *args: _P.args,
               **kwargs: _P.kwargs) -> RunSummary:
        from tomokit.io._guard import output_lock

        try:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"output {output}: cannot create its folder: "
                                    f"{exc.strerror or exc}") from None
        with output_lock(output):
            return fn(pipeline, output, *args, **kwargs)

    return locked


@_holding_output_lock
def run_pipeline(
    pipeline: LoadedPipeline,
    output: str | Path,
    *,
    mapper: SliceMapper | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    executor: Any = None,
    resume: bool = False,
    progress: ProgressFactory | None = None,
    fuse: bool = True,
) -> RunSummary:
    """Run every step of ``pipeline`` and write the results to ``output`` (HDF5).

    ``executor`` (a :class:`tomokit.executors.Executor`; default: one built from the
    pipeline's ``executor:`` section) runs per-slice work and streams volumes;
    ``mapper`` overrides the executor's ``map`` for in-memory work. ``resume`` reuses
    steps whose hash (by input fingerprints, or else by content) matches a checkpoint
    of an interrupted run or a step of an earlier results file at ``output``. With
    ``fuse`` (default) consecutive per-slice steps over a volume run as one section,
    writing only the last step's result (see :mod:`tomokit.pipeline._sections`).
    ``on_step`` is called after each step; ``progress(step_id, total)`` returns a
    callback advanced by the slices done. The output is locked for the run: a second
    run writing it fails at once. Raises :class:`~tomokit.errors.InvalidInputError` for
    unreadable inputs, an output that would overwrite an input or is locked, and
    :class:`~tomokit.errors.RunError` when a step fails; nothing is left at ``output``
    then.
    """
    from tomokit.executors import get_executor

    out = Path(output)
    input_paths = {(pipeline.base_dir / s.path).resolve() for s in pipeline.inputs.values()}
    if out.resolve() in input_paths or out.resolve() == Path(pipeline.file).resolve():
        raise InvalidInputError(f"output {out} is one of the pipeline's inputs; choose another path")
    if out.exists() and out.is_dir():
        raise InvalidInputError(f"output {out} is a directory; give a file name ending in .h5")
    check_run_memory(pipeline)
    out.parent.mkdir(parents=True, exist_ok=True)

    hashes = step_hashes(pipeline)  # inputs by fingerprint: no extra pass over the data
    content = step_hashes(pipeline, content=True) if resume else {}
    stamps = {sid: {HASH_ATTR: h, **({CONTENT_ATTR: content[sid]} if content else {})}
              for sid, h in hashes.items()}

    def matches(sid: str, stored: Stored) -> bool:
        """Unchanged: the same fingerprints, or else the same content."""
        return stored[0] == hashes.get(sid) or (
            stored[1] is not None and stored[1] == content.get(sid))

    work = _work_dir(out)
    wanted = pipeline.output_steps()
    sources: dict[str, tuple[Path, str]] = {}  # step id -> (file, node) holding its value
    if resume:
        for sid, stored in _previous_results(out).items():
            if sid in hashes and matches(sid, stored):
                sources[sid] = (out, f"steps/{sid}")
        if work.is_dir():
            for step in pipeline.steps:
                ckpt = checkpoint_path(work, step.id)
                if ckpt.is_file() and matches(step.id, _checkpoint_hash(ckpt)):
                    sources[step.id] = (ckpt, "value")
    elif work.exists():
        shutil.rmtree(work)
        shutil.rmtree(stores_dir(checkpoint_path(work, "x")), ignore_errors=True)  # their data
    needed = _needed(pipeline, set(sources))
    fused = sections(pipeline, wanted) if fuse else {}
    in_section = {s.id for chain in fused.values() for s in chain[1:]}

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
                    values[name] = open_input(pipeline, name)
                    if is_lazy(values[name]):
                        opened.append(values[name])
            for step in pipeline.steps:
                seed = seed_of(pipeline, step)
                if step.id in in_section:
                    continue  # run with the first step of its section
                chain = fused.get(step.id)
                if chain is not None and chain[-1].id not in sources:
                    records, result = _run_section(pipeline, chain, values, ex, step_mapper,
                                                   work, stamps, progress,
                                                   output=chain[-1].id in wanted)
                    tail = chain[-1].id
                    values[tail] = result
                    opened.extend(lazy_parts(result))
                    sources[tail] = (checkpoint_path(work, tail), "value")
                    for record in records:
                        summary.steps.append(record)
                        if on_step is not None:
                            on_step(record)
                    continue
                if chain is not None:  # the section's last step is reusable: all of it is
                    for member in chain[:-1]:
                        record = StepRecord(member.id, member.kind, member.name,
                                            seed_of(pipeline, member), 0.0,
                                            f"reused with section ending at {chain[-1].id}",
                                            reused=True)
                        summary.steps.append(record)
                        if on_step is not None:
                            on_step(record)
                    step = chain[-1]
                    seed = seed_of(pipeline, step)
                if step.id in sources:
                    record = StepRecord(step.id, step.kind, step.name, seed, 0.0,
                                        "reused (unchanged)", reused=True)
                    if step.id in needed:
                        file, node = sources[step.id]
                        values[step.id] = load_checkpoint(file, node)
                        opened.extend(lazy_parts(values[step.id]))
                        record.summary = f"reused: {describe_value(values[step.id])}"
                    if progress is not None:
                        progress(step.id, 0)
                else:
                    record, result = _run_step(pipeline, step, seed, values, ex, step_mapper,
                                               work, stamps[step.id], progress,
                                               output=step.id in wanted)
                    values[step.id] = result
                    opened.extend(lazy_parts(result))
                    sources[step.id] = (checkpoint_path(work, step.id), "value")
                summary.steps.append(record)
                if on_step is not None:
                    on_step(record)
            for sid in sorted(wanted):
                if sid not in values and sid in sources:  # reused, never needed in memory
                    values[sid] = load_checkpoint(*sources[sid])
                    opened.extend(lazy_parts(values[sid]))
                if sid in values:
                    summary.values[sid] = _summary_value(values[sid])
            for reader in opened:  # checkpoints are read no more; the results take them
                reader.close()
            opened.clear()
            _write_results(pipeline, tmp, summary, sources, stamps, wanted, started, work)
        os.replace(tmp, out)
        shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        tmp.unlink(missing_ok=True)  # finished steps' checkpoints stay for --resume
        raise
    return summary



def _summary_value(value: Any) -> Any:
    if isinstance(value, dict) and lazy_parts(value):
        return {k: _summary_value(v) for k, v in value.items()}
    if is_lazy(value):
        nbytes = int(np.prod(value.shape, dtype=np.int64)) * value.dtype.itemsize
        return value.read_all() if nbytes <= SUMMARY_LIMIT else describe_value(value)
    return value



def _run_step(pipeline: LoadedPipeline, step: ResolvedStep, seed: int, values: dict[str, Any],
              ex: Any, mapper: SliceMapper, work: Path, stamp: dict[str, str],
              progress: ProgressFactory | None, *, output: bool = False
              ) -> tuple[StepRecord, Any]:
    inputs = step_inputs(step, values, {s.id: s.cls for s in pipeline.steps})
    lazy = [v for v in inputs.values() if is_lazy(v)]
    total = max((len(v) for v in lazy), default=1)
    advance = progress(step.id, total) if progress is not None else (lambda n: None)
    checkpoint = checkpoint_path(work, step.id)
    component = step.cls(step_params(step, values))
    if hasattr(component, "workdir"):  # a component that writes files (a trained model)
        component.workdir = models_dir(work, step.id)
    if hasattr(component, "base_dir"):  # relative paths in its params
        component.base_dir = pipeline.base_dir
    ctx = StreamContext(ex, advance, checkpoint, stamp, output=output)
    t0 = time.perf_counter()
    try:
        rng = np.random.default_rng(seed)
        streamed, result = stream_step(component, inputs, rng, ctx)
        if not streamed:
            inputs = {k: materialize(v) for k, v in inputs.items()}
            result = component.run_step(inputs, rng=rng, mapper=mapper)
            advance(total)
    except TomokitError as exc:
        raise RunError(f"step {step.id!r} ({step.kind} {step.name!r}) failed: {exc}") from exc
    except Exception as exc:
        raise RunError(
            f"step {step.id!r} ({step.kind} {step.name!r}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not lazy_parts(result):  # a streamed result is already in its checkpoint
        _save_checkpoint(checkpoint, result, stamp)
    seconds = time.perf_counter() - t0
    record = StepRecord(step.id, step.kind, step.name, seed, seconds, describe_value(result),
                        streamed=bool(ctx.slices), slices=ctx.slices)
    return record, result



def _run_section(pipeline: LoadedPipeline, chain: list[ResolvedStep], values: dict[str, Any],
                 ex: Any, mapper: SliceMapper, work: Path, stamps: dict[str, dict[str, str]],
                 progress: ProgressFactory | None, *, output: bool = False
                 ) -> tuple[list[StepRecord], Any]:
    """A section: streamed in one pass when its input is a volume, else step by step."""
    head, tail = chain[0], chain[-1]
    source = step_inputs(head, values, {s.id: s.cls for s in pipeline.steps})
    reader = next(iter(source.values()))
    if not is_lazy(reader):
        records = []
        for step in chain:
            record, values[step.id] = _run_step(pipeline, step, seed_of(pipeline, step), values,
                                                ex, mapper, work, stamps[step.id], progress,
                                                output=output and step is tail)
            records.append(record)
        return records, values[tail.id]
    advance = progress(tail.id, len(reader)) if progress is not None else (lambda n: None)
    for step in chain[:-1]:
        if progress is not None:
            progress(step.id, 0)
    ctx = StreamContext(ex, advance, checkpoint_path(work, tail.id), stamps[tail.id],
                        output=output)
    components = [step.cls(step.params) for step in chain]
    keys = [next(iter(step.inputs)) for step in chain]
    rngs = [np.random.default_rng(seed_of(pipeline, step)) for step in chain]
    t0 = time.perf_counter()
    try:
        result = stream_section(components, keys, rngs, reader, ctx)
    except TomokitError as exc:
        raise RunError(f"section {head.id!r}..{tail.id!r} failed: {exc}") from exc
    except Exception as exc:
        raise RunError(f"section {head.id!r}..{tail.id!r} failed: "
                       f"{type(exc).__name__}: {exc}") from exc
    seconds = time.perf_counter() - t0
    ids = " -> ".join(s.id for s in chain)
    records = [StepRecord(s.id, s.kind, s.name, seed_of(pipeline, s), 0.0,
                          f"fused into section {ids} (not written)", streamed=True,
                          slices=ctx.slices) for s in chain[:-1]]
    records.append(StepRecord(tail.id, tail.kind, tail.name, seed_of(pipeline, tail), seconds,
                              describe_value(result), streamed=True, slices=ctx.slices))
    return records, result


def _largest_checkpoint(sources: dict[str, tuple[Path, str]], wanted: set[str],
                        work: Path) -> str | None:
    """The wanted step with the biggest checkpoint of this run (at least 1 MiB)."""
    own = [sid for sid in wanted if sid in sources and sources[sid][0].parent == work
           and sources[sid][0].is_file()]
    best = max(own, key=lambda sid: sources[sid][0].stat().st_size, default=None)
    return best if best is not None and sources[best][0].stat().st_size >= 2**20 else None


def _write_results(pipeline: LoadedPipeline, tmp: Path, summary: RunSummary,
                   sources: dict[str, tuple[Path, str]], stamps: dict[str, dict[str, str]],
                   wanted: set[str], started: _dt.datetime, work: Path) -> None:
    """The results file: each wanted step copied from its checkpoint, with provenance.

    The biggest checkpoint of this run becomes the results file itself (renamed, its
    value moved under ``/steps``), so the largest output is written once, not twice."""
    import h5py

    records = {r.id: r for r in summary.steps}
    base = _largest_checkpoint(sources, wanted, work)
    if base is not None:
        os.replace(sources[base][0], tmp)
        with h5py.File(tmp, "a") as h5:
            for key in list(h5.attrs):
                del h5.attrs[key]
            h5.create_group("steps")
            h5.move(sources[base][1], f"steps/{base}")
        sources[base] = (tmp, f"steps/{base}")
    with h5py.File(tmp, "a" if base is not None else "w") as h5:
        steps_group = h5["steps"] if base is not None else h5.create_group("steps")
        for step in pipeline.steps:
            if step.id not in wanted or step.id not in sources:
                continue
            file, node = sources[step.id]
            if step.id != base and node == "value" and checkpoint_store(file) is not None:
                copy_store_value(file, steps_group, step.id)  # streamed: from its Zarr store
            elif step.id != base:
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
            target.attrs["seed"] = seed_of(pipeline, step)
            target.attrs["seconds"] = old_seconds if reused or rec is None else rec.seconds
            target.attrs["distribution"] = component_distribution(step)
            target.attrs.update(stamps[step.id])
            target.attrs["reused"] = reused
        h5.attrs["format"] = RESULTS_FORMAT
        h5.attrs["pipeline"] = pipeline.text
        h5.attrs["pipeline_file"] = str(pipeline.file)
        h5.attrs["seed"] = pipeline.model.seed
        h5.attrs["versions"] = json.dumps(versions(pipeline.steps))
        h5.attrs["started_utc"] = started.isoformat()
        h5.attrs["finished_utc"] = _dt.datetime.now(_dt.UTC).isoformat()
        h5.attrs["step_order"] = json.dumps([s.id for s in pipeline.steps])
        h5.attrs["step_hashes"] = json.dumps({k: v[HASH_ATTR] for k, v in stamps.items()})
        h5.attrs["inputs"] = json.dumps(input_fingerprints(pipeline))
        h5.attrs["executor"] = summary.executor
    # the streamed values are in the results now; their stores go with the checkpoints
    shutil.rmtree(stores_dir(checkpoint_path(work, "x")), ignore_errors=True)

