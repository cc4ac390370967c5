"""The memory a run will need, estimated before it starts.

A run that cannot fit should fail in a second with the estimate in the message, not
after minutes of work with a bare ``MemoryError`` (or a SIGABRT inside a native
library). The estimate adds what is known before any data are read: what each step's
params say it will hold (:meth:`tomokit.components.Component.memory_estimate`; results
of in-memory steps stay in memory for later steps, so they add up), the executor's
block budget when a volume is streamed (at most four times the inputs' size on disk),
and the worker processes of a local Dask cluster. Unknown parts count as zero, so the
check refuses only what surely cannot fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tomokit.io._resources import available_memory, human_bytes

if TYPE_CHECKING:
    from tomokit.pipeline.load import LoadedPipeline

__all__ = ["DASK_WORKER_BYTES", "check_run_memory", "run_memory_estimate"]

#: What one Dask worker process holds before it computes anything (interpreter, numpy,
#: dask.distributed), measured at about 150-200 MiB; rounded up.
DASK_WORKER_BYTES = 256 * 2**20


def run_memory_estimate(pipeline: LoadedPipeline) -> list[tuple[str, int]]:
    """The known parts of a run's peak memory, ``(what, bytes)``, biggest first."""
    from tomokit.executors import default_workers

    parts: list[tuple[str, int]] = []
    for step in pipeline.steps:
        if step.param_refs:  # its params come from another step's result
            continue
        nbytes = step.cls.memory_estimate(step.params)
        if nbytes:
            parts.append((f"step {step.id!r} ({step.kind} {step.name})", int(nbytes)))
    ex = pipeline.model.executor
    on_disk = sum(_bytes_on_disk(pipeline.base_dir / spec.path)
                  for spec in pipeline.inputs.values())
    if on_disk:  # blocks in flight: at most the budget, and no more than the data give
        parts.append(("streaming blocks (executor block_memory)",
                      min(int(ex.block_memory), 4 * on_disk)))
    if ex.kind == "dask" and ex.address is None:
        workers = ex.workers or default_workers()
        parts.append((f"{workers} Dask worker processes", workers * DASK_WORKER_BYTES))
    return sorted(parts, key=lambda p: -p[1])


def _bytes_on_disk(path: Path) -> int:
    """Size of an input file, or of the files in an input folder (TIFF stack, Zarr)."""
    try:
        if path.is_dir():
            return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        return path.stat().st_size
    except OSError:
        return 0  # a missing input is reported when it is opened


def check_run_memory(pipeline: LoadedPipeline) -> None:
    """Refuse a run whose estimate exceeds the memory this process may still use."""
    from tomokit.errors import InvalidInputError

    parts = run_memory_estimate(pipeline)
    total = sum(n for _, n in parts)
    avail = available_memory()
    if avail is None or total <= avail:
        return
    shown = "; ".join(f"{what}: {human_bytes(n)}" for what, n in parts[:4])
    more = f"; and {len(parts) - 4} more" if len(parts) > 4 else ""
    raise InvalidInputError(
        f"{pipeline.file}: this run needs about {human_bytes(total)} of memory ({shown}{more}), "
        f"but only {human_bytes(avail)} is available; use fewer or smaller images per "
        "step, a smaller block_memory or fewer workers, or a bigger machine"
    )
