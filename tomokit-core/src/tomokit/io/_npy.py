"""NumPy ``.npy`` files, memory-mapped so slices are read on demand."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import Format, VolumeReader, VolumeWriter

__all__ = ["NpyFormat", "NpyReader"]


def _reopen(path: str) -> VolumeReader:
    return NpyFormat().open(Path(path))


class NpyReader(VolumeReader):
    """A ``.npy`` array, memory-mapped; a 2-D array is one slice."""

    format_name = "npy"

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise InvalidInputError(f"{path}: no such file")
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:
            raise InvalidInputError(f"{path}: cannot be read as .npy (corrupt file?): {exc}") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biufc":
            raise InvalidInputError(f"{path}: expected a numeric array")
        self._arr = arr
        single = arr.ndim <= 2
        shape = (1, *arr.shape) if single else arr.shape
        super().__init__(path, None, shape, arr.dtype, single=single)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        if self.single:
            return np.array(self._arr)[None]
        return np.array(self._arr[start:stop])

    def _close(self) -> None:
        mm = getattr(self._arr, "_mmap", None)
        del self._arr
        if mm is not None:
            with contextlib.suppress(Exception):  # a view the caller holds keeps it
                mm.close()

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path),))


class _NpyWriter(VolumeWriter):
    def __init__(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any) -> None:
        super().__init__(path, tmp, None, shape, dtype)
        self._map = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)

    def _write(self, start: int, data: np.ndarray) -> None:
        self._map[start:start + len(data)] = data

    def _finish(self) -> None:
        self._map.flush()
        del self._map


class NpyFormat(Format):
    """NumPy ``.npy`` files (no pickled objects)."""

    name: ClassVar[str] = "npy"
    extensions: ClassVar[tuple[str, ...]] = (".npy",)
    can_write: ClassVar[bool] = True

    def open(self, path: Path, *, dataset: str | None = None) -> VolumeReader:
        path = Path(path)
        if dataset is not None:
            raise InvalidInputError(f"{path}: .npy files have no datasets; drop dataset={dataset!r}")
        return NpyReader(path)

    def write(self, path: Path, array: np.ndarray, *, dataset: str | None = None,
              **options: Any) -> None:
        if dataset is not None or options:
            raise InvalidInputError(f"{path}: .npy takes no dataset or options")
        with open(path, "wb") as fh:
            np.save(fh, np.asarray(array), allow_pickle=False)

    def create(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any, *,
               dataset: str | None = None, **options: Any) -> VolumeWriter:
        if dataset is not None or options:
            raise InvalidInputError(f"{path}: .npy takes no dataset or options")
        return _NpyWriter(path, tmp, shape, dtype)
