"""The default executor: a thread pool in this process.

Threads share memory (no copies of slices) and run in parallel wherever the work
releases the GIL, as NumPy, SciPy, scikit-image and ASTRA do in their heavy loops.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tomokit.executors._base import Executor, RegionWriter, run_chunk
from tomokit.io._base import VolumeReader

__all__ = ["LocalExecutor"]


class LocalExecutor(Executor):
    """``workers`` threads (default: every core this process may use)."""

    kind = "local"

    def _start(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tomokit")

    def _close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if self.workers == 1:
            return [fn(x) for x in items]
        futures = [self._pool.submit(fn, x) for x in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _submit_chunk(self, source: VolumeReader, start: int, stop: int,
                      fn: Callable[[Any], Any], indexed: bool,
                      out: RegionWriter | None = None) -> Future[list[Any] | int]:
        return self._pool.submit(run_chunk, source, start, stop, fn, indexed, out)

    def _wait(self, handles: list[Any]) -> list[Any]:
        return [h.result() for h in handles]

    def _cancel(self, handles: list[Any]) -> None:
        for h in handles:
            h.cancel()
