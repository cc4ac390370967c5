"""The executor interface: an ordered ``map`` and a bounded-memory ``map_blocks``."""

from __future__ import annotations

import abc
import collections
import itertools
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import Any, Self

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.executors._config import ExecutorConfig, default_workers
from tomokit.io._base import VolumeReader, VolumeWriter

__all__ = ["BlockSink", "DirectSink", "Executor", "RegionWriter"]

BlockSink = Callable[[int, list[Any]], None]
#: A picklable ``(start, results) -> None`` that stores results where they are computed.
RegionWriter = Callable[[int, list[Any]], None]


class DirectSink(abc.ABC):
    """A sink whose storage workers can write themselves (a Zarr store): the first
    results come to the client (:meth:`open` learns their shapes and dtypes and returns
    a picklable region writer, or ``None`` to keep results travelling to ``__call__``),
    the rest are written by the tasks that computed them."""

    #: Whether :meth:`open` will return a region writer (results then exist once, in
    #: the task that computed them: blocks are sized for that).
    direct: bool = True

    @abc.abstractmethod
    def open(self, start: int, results: list[Any]) -> RegionWriter | None:
        """Store ``results`` (slices from ``start``) and return the workers' writer."""

    @abc.abstractmethod
    def __call__(self, start: int, results: list[Any]) -> None:
        """Store results that came back to the client."""

# Readers opened by tasks in worker processes, by their pickled "reopen" recipe and the
# file's identity (so a rewritten file is reopened), so that a worker opens a file once
# rather than once per task. Few are kept: each holds a file handle.
_READERS: collections.OrderedDict[tuple[bytes, tuple[int, ...]], VolumeReader] = (
    collections.OrderedDict()
)
_READERS_LOCK = threading.Lock()
_READERS_KEPT = 8


def file_stamp(path: os.PathLike[str] | str) -> tuple[int, ...]:
    """What identifies one version of a file: inode, size, modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _worker_reader(recipe: bytes, stamp: tuple[int, ...]) -> VolumeReader:
    key = (recipe, stamp)
    with _READERS_LOCK:
        reader = _READERS.get(key)
        if reader is None or reader.closed:
            reader = pickle.loads(recipe)
            _READERS[key] = reader
            while len(_READERS) > _READERS_KEPT:
                _, old = _READERS.popitem(last=False)
                old.close()
        _READERS.move_to_end(key)
        return reader


def run_chunk(source: VolumeReader | tuple[bytes, tuple[int, ...]], start: int, stop: int,
              fn: Callable[[Any], Any], indexed: bool = False,
              out: RegionWriter | None = None) -> list[Any] | int:
    """Read slices ``start:stop`` and apply ``fn`` to each (to ``(index, slice)`` when
    ``indexed``): one task of ``map_blocks``. ``source`` is a reader, or in another
    process its pickled recipe and file stamp. With ``out`` (a region writer) each
    result is stored by this task as soon as it is computed and only the count of
    slices comes back, so results never travel to the client."""
    reader = source if isinstance(source, VolumeReader) else _worker_reader(*source)
    data = reader.read(slice(start, stop))
    if out is None:
        if indexed:
            return [fn((start + k, s)) for k, s in enumerate(data)]
        return [fn(s) for s in data]
    for k, s in enumerate(data):
        out(start + k, [fn((start + k, s)) if indexed else fn(s)])
    return len(data)


def _split(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """``start:stop`` cut into at most ``parts`` near-equal consecutive ranges."""
    parts = max(1, min(parts, stop - start))
    edges = np.linspace(start, stop, parts + 1).round().astype(int)
    return [(a, b) for a, b in itertools.pairwise(edges.tolist()) if b > a]


class Executor(abc.ABC):
    """Runs per-slice work. Use as a context manager; ``map`` is the runner's ``mapper``.

    Results come back in input order and are identical whatever the executor, worker
    count or block size, since every slice goes through the same function alone.
    """

    kind: str = ""
    #: How many copies of a block's results exist at once (2 where they travel from a
    #: worker process to this one), for sizing blocks from ``block_memory``.
    result_copies: int = 1

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._start()
                self._started = True

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._started = False
                self._close()

    @property
    def workers(self) -> int:
        """How many slices are processed at once."""
        return self.config.workers or default_workers()

    # -- subclass API -----------------------------------------------------------------
    @abc.abstractmethod
    def _start(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]: ...

    @abc.abstractmethod
    def _submit_chunk(self, source: VolumeReader, start: int, stop: int,
                      fn: Callable[[Any], Any], indexed: bool,
                      out: RegionWriter | None = None) -> Any:
        """Start :func:`run_chunk` on ``source[start:stop]``; return a handle."""

    @abc.abstractmethod
    def _wait(self, handles: list[Any]) -> list[Any]:
        """The results of ``handles``, in order (raising the first task's error)."""

    def _cancel(self, handles: list[Any]) -> None:  # noqa: B027 - optional
        """Drop handles that are no longer wanted after a failure."""

    # -- public API -------------------------------------------------------------------
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[fn(x) for x in items]``, run in parallel, in order."""
        self.start()
        items = list(items)
        if not items:
            return []
        return self._map(fn, items)

    __call__ = map

    def block_slices(self, reader: VolumeReader, *, out_nbytes: int | None = None,
                     direct: bool = False) -> int:
        """Slices per block for ``reader`` under this executor's memory budget; with
        ``direct`` (tasks store their own results) results exist once, wherever they run."""
        return self.config.slices_per_block(reader.slice_nbytes, out_nbytes,
                                            out_copies=1 if direct else self.result_copies)

    def map_blocks(
        self,
        fn: Callable[[Any], Any],
        reader: VolumeReader,
        *,
        sink: BlockSink | VolumeWriter | None = None,
        block_slices: int | None = None,
        start: int = 0,
        stop: int | None = None,
        progress: Callable[[int], None] | None = None,
        indexed: bool = False,
    ) -> list[Any] | None:
        """Apply ``fn`` to every slice of ``reader``, streaming a block of slices at a time.

        Workers read their own slices (a Dask worker reopens the file), at most two
        blocks are in flight, and each finished block goes to ``sink(start, results)``
        (or a :class:`~tomokit.io.VolumeWriter`) in order, so memory is bounded by the
        block size, not the volume. Without ``sink`` the results are returned as a list.
        Where the sink lets workers write (a writer whose :meth:`region` is not ``None``,
        a :class:`DirectSink`), each task stores its own results, concurrently, and only
        counts come back: the client neither receives nor writes the slices.
        ``progress(n)`` is called with the count of slices each finished block held.
        With ``indexed`` ``fn`` gets ``(slice_index, slice)``, e.g. to pick a per-slice seed.
        """
        self.start()
        stop = len(reader) if stop is None else min(stop, len(reader))
        if not 0 <= start <= stop:
            raise InvalidInputError(f"map_blocks: bad slice range {start}:{stop}")
        region: RegionWriter | None = None
        if isinstance(sink, VolumeWriter):
            writer = sink
            region = writer.region()

            def write(first: int, results: list[Any]) -> None:
                writer.write(first, np.stack(results))

            sink_fn: BlockSink | None = write
        else:
            sink_fn = sink
        direct = region is not None or (isinstance(sink, DirectSink) and sink.direct)
        per_block = block_slices or self.block_slices(reader, direct=direct)
        if per_block < 1:
            raise InvalidInputError(f"block_slices must be >= 1, got {per_block}")
        first_slice = start  # where the blocks start (the same cuts with or without a probe)
        carried = 0  # slices done before the first block, counted with it
        if isinstance(sink, DirectSink) and start < stop:
            # one slice first, through the client, to learn the results' shapes
            probe = self._wait([self._submit_chunk(reader, start, start + 1, fn, indexed)])[0]
            region = sink.open(start, probe)
            carried = len(probe)
            start += 1
        collected: list[Any] = []
        pending: collections.deque[tuple[int, list[Any]]] = collections.deque()

        def finish_one() -> None:
            nonlocal carried
            first, handles = pending.popleft()
            try:
                parts = self._wait(handles)
            except BaseException:
                for _, later in pending:
                    self._cancel(later)
                pending.clear()
                raise
            if region is not None:  # the tasks stored their results; counts came back
                done = sum(parts)
            else:
                results = [r for part in parts for r in part]
                if sink_fn is None:
                    collected.extend(results)
                else:
                    sink_fn(first, results)
                done = len(results)
            if progress is not None:
                progress(done + carried)
            carried = 0

        for a in range(first_slice, stop, per_block):
            b = min(a + per_block, stop)
            a = max(a, start)
            if a >= b:
                continue
            handles = [self._submit_chunk(reader, x, y, fn, indexed, region)
                       for x, y in _split(a, b, self.workers)]
            pending.append((a, handles))
            if len(pending) >= 2:  # keep one block computing while the previous is stored
                finish_one()
        while pending:
            finish_one()
        if carried and progress is not None:  # a volume of one slice: only the probe
            progress(carried)
        return collected if sink_fn is None else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} workers={self.workers}>"
