"""The reader/writer interfaces every data format implements.

A :class:`Format` opens a file as a :class:`VolumeReader`: a stack of slices along the
first axis whose ``shape`` and ``dtype`` come from the file's metadata, so that a
volume of tens of GB is read one block of slices at a time. A 2-D image is a stack of
one slice (``single`` is true) so that the same code walks images and volumes.
"""

from __future__ import annotations

import abc
import contextlib
import os
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np

from tomokit.errors import InvalidInputError

__all__ = ["Block", "Format", "VolumeReader", "VolumeWriter"]

IndexLike = int | slice | Sequence[int] | np.ndarray


def where(path: Path | str, dataset: str | None = None) -> str:
    """``file`` or ``file:dataset`` for messages."""
    return f"{path}:{dataset}" if dataset else str(path)


class Block(NamedTuple):
    """A block of consecutive slices: ``data[i]`` is slice ``start + i``."""

    start: int
    data: np.ndarray

    @property
    def stop(self) -> int:
        return self.start + len(self.data)


# Paths currently open for reading: writers refuse them, so an output never replaces
# an input that is still being streamed.
_OPEN_LOCK = threading.Lock()
_OPEN_READERS: weakref.WeakSet[VolumeReader] = weakref.WeakSet()


def open_paths() -> set[Path]:
    with _OPEN_LOCK:
        return {r.path.resolve() for r in _OPEN_READERS if not r.closed}


class VolumeReader(abc.ABC):
    """A stack of slices read lazily from one file (or folder).

    ``shape`` is ``(n_slices, *slice_shape)`` and ``dtype`` is the stored type, both
    known without reading pixels. ``read(i)`` gives one slice, ``read(a:b)`` a block;
    ``iter_blocks(n)`` walks the stack ``n`` slices at a time. Use it as a context
    manager (or call :meth:`close`). Readers pickle as "reopen this file", so a Dask
    worker reads the slices it needs itself instead of receiving them over the network.
    ``path`` is made absolute when the reader opens: a worker started in another folder
    (every worker on a cluster) reopens the same file, not one relative to its own folder.
    """

    format_name: ClassVar[str] = ""
    #: Whether ``_read_range`` runs under the reader's lock (file handles are rarely
    #: thread-safe); a reader that locks only its file access sets this False so that
    #: threads overlap their computing.
    locked_reads: ClassVar[bool] = True

    def __init__(self, path: Path, dataset: str | None, shape: tuple[int, ...], dtype: Any,
                 *, single: bool = False) -> None:
        # absolute now, while the working folder is the one the path was given in
        self.path = Path(path).absolute()
        self.dataset = dataset
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.single = single
        self.closed = False
        self._lock = threading.RLock()
        with _OPEN_LOCK:
            _OPEN_READERS.add(self)

    # -- subclass API -------------------------------------------------------------
    @abc.abstractmethod
    def _read_range(self, start: int, stop: int) -> np.ndarray:
        """Return slices ``start:stop`` (``stop > start``) as a new array."""

    def _close(self) -> None:  # noqa: B027 - optional hook, most readers hold a handle
        """Release file handles."""

    @abc.abstractmethod
    def _reopen_args(self) -> tuple[Any, ...]:
        """``(callable, args)`` that reopen this reader in another process."""

    # -- public API -----------------------------------------------------------------
    @property
    def slice_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def slice_nbytes(self) -> int:
        return int(np.prod(self.slice_shape, dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {where(self.path, self.dataset)} shape={self.shape} "
                f"dtype={self.dtype}>")

    def read(self, index: IndexLike = slice(None)) -> np.ndarray:
        """Slice ``index`` (an int gives one slice, a slice or index list gives a stack)."""
        if self.closed:
            raise InvalidInputError(f"{where(self.path, self.dataset)}: reader is closed")
        n = len(self)
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if not -n <= i < n:
                raise InvalidInputError(
                    f"{where(self.path, self.dataset)}: slice {i} out of range for {n} slices"
                )
            i %= n
            return self._read_locked(i, i + 1)[0]
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                if stop <= start:
                    return np.empty((0, *self.slice_shape), dtype=self.dtype)
                return self._read_locked(start, stop)
            idx = np.arange(start, stop, step)
        else:
            idx = np.asarray(index)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            idx = idx.astype(np.int64)
            if idx.size and (idx.min() < -n or idx.max() >= n):
                raise InvalidInputError(
                    f"{where(self.path, self.dataset)}: index out of range for {n} slices"
                )
            idx %= max(n, 1)
        out = np.empty((len(idx), *self.slice_shape), dtype=self.dtype)
        for k, i in enumerate(idx.tolist()):
            out[k] = self.read(i)
        return out

    def _read_locked(self, start: int, stop: int) -> np.ndarray:
        if not self.locked_reads:
            return self._read_range(start, stop)
        with self._lock:
            return self._read_range(start, stop)

    def iter_blocks(self, block_slices: int, *, start: int = 0,
                    stop: int | None = None) -> Iterator[Block]:
        """Yield :class:`Block` s of at most ``block_slices`` consecutive slices."""
        if block_slices < 1:
            raise InvalidInputError(f"block_slices must be >= 1, got {block_slices}")
        stop = len(self) if stop is None else min(stop, len(self))
        for a in range(start, stop, block_slices):
            b = min(a + block_slices, stop)
            yield Block(a, self.read(slice(a, b)))

    def read_all(self) -> np.ndarray:
        """The whole array in its natural shape (a 2-D image stays 2-D)."""
        arr = self.read(slice(None))
        return arr[0] if self.single else arr

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with self._lock:
                self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        return self._reopen_args()


class VolumeWriter(abc.ABC):
    """Writes a stack of known shape block by block to a temporary file; :meth:`commit`
    renames it into place, so a crash never leaves a half-written file at ``path``.
    Leaving the ``with`` block without an exception commits; with one, it discards."""

    def __init__(self, path: Path, tmp: Path, dataset: str | None, shape: tuple[int, ...],
                 dtype: Any) -> None:
        self.path = Path(path)
        self.tmp = Path(tmp)
        self.dataset = dataset
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.done = False
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _write(self, start: int, data: np.ndarray) -> None:
        """Store ``data`` as slices ``start:start+len(data)``."""

    @abc.abstractmethod
    def _finish(self) -> None:
        """Flush and close the temporary file."""

    def write(self, start: int, data: np.ndarray) -> None:
        """Write a block of slices starting at slice ``start``."""
        arr = np.asarray(data)
        if arr.shape[1:] != self.shape[1:] or start < 0 or start + len(arr) > self.shape[0]:
            raise InvalidInputError(
                f"{where(self.path, self.dataset)}: block of shape {arr.shape} at slice {start} "
                f"does not fit a volume of shape {self.shape}"
            )
        with self._lock:
            self._write(start, arr.astype(self.dtype, copy=False))

    def region(self) -> Any:
        """A picklable ``write(start, data)`` / ``(start, results)`` callable that workers
        use to store their slices themselves, concurrently, or ``None`` when only this
        writer may write (HDF5: one process, behind h5py's lock)."""
        return None

    def commit(self) -> Path:
        if not self.done:
            self.done = True
            self._finish()
            os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        if not self.done:
            self.done = True
            try:
                self._finish()
            finally:
                self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


class Format(abc.ABC):
    """A data format: how to open (and maybe write) files of some kinds.

    Plugins register subclasses through the ``tomokit_formats`` hook with a
    :class:`~tomokit.specs.FormatSpec` naming the class; ``extensions`` (lower case,
    with the dot) are matched against file names, and :meth:`sniff` claims folders or
    files whose name says nothing.
    """

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    can_write: ClassVar[bool] = False
    #: Whether a file of this format is a folder (a Zarr store) that overwriting replaces.
    folders: ClassVar[bool] = False

    @classmethod
    def sniff(cls, path: Path) -> bool:
        """Whether this format reads ``path`` although no extension matched."""
        return False

    @abc.abstractmethod
    def open(self, path: Path, *, dataset: str | None = None) -> VolumeReader:
        """Open ``path`` (and ``dataset`` inside it, where the format has datasets)."""

    def read(self, path: Path, *, dataset: str | None = None) -> np.ndarray:
        """The whole array in its natural shape."""
        with self.open(path, dataset=dataset) as reader:
            return reader.read_all()

    def write(self, path: Path, array: np.ndarray, *, dataset: str | None = None,
              **options: Any) -> None:
        """Write ``array`` to the (temporary) ``path``; the caller renames it into place."""
        raise InvalidInputError(f"{path}: the {self.name} format cannot be written")

    def create(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any, *,
               dataset: str | None = None, **options: Any) -> VolumeWriter:
        """A :class:`VolumeWriter` for a stack of ``shape`` written block by block."""
        raise InvalidInputError(f"{path}: the {self.name} format cannot be written block by block")


def temporary_sibling(path: Path) -> Path:
    """A unique name next to ``path`` with the same suffix (so writers pick the format)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
