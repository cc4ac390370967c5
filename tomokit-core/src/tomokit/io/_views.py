"""Readers built on readers: a per-block conversion, and several volumes side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import VolumeReader

__all__ = ["MappedReader", "ZipReader", "to_float32"]


def to_float32(block: np.ndarray, *, normalize: bool = False) -> np.ndarray:
    """Integer/bool slices as float32, divided by the dtype's maximum with ``normalize``
    (the pipeline's ``normalize: true``); float slices unchanged."""
    if np.issubdtype(block.dtype, np.complexfloating):
        raise InvalidInputError(
            f"complex ({block.dtype}) data: the imaginary part would be dropped; take the "
            "real part or the magnitude first"
        )
    if normalize and np.issubdtype(block.dtype, np.integer):
        info = np.iinfo(block.dtype)  # [min, max] -> [0, 1], signed types included
        if info.min == 0:
            return block.astype(np.float32) / np.float32(info.max)
        return ((block.astype(np.float64) - info.min) / (float(info.max) - info.min)
                ).astype(np.float32)
    if np.issubdtype(block.dtype, np.integer) or block.dtype == np.bool_:
        return block.astype(np.float32)
    return block


class MappedReader(VolumeReader):
    """``base`` with ``fn`` applied to every block read (``fn`` keeps the slice shape;
    it must be picklable, e.g. a ``functools.partial`` of a module-level function)."""

    def __init__(self, base: VolumeReader, fn: Callable[[np.ndarray], np.ndarray],
                 dtype: Any) -> None:
        self.base = base
        self.fn = fn
        super().__init__(base.path, base.dataset, base.shape, dtype, single=base.single)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.fn(self.base.read(slice(start, stop))), dtype=self.dtype)

    def _close(self) -> None:
        self.base.close()

    def _reopen_args(self) -> tuple[Any, ...]:
        return (MappedReader, (self.base, self.fn, self.dtype))


class ZipReader(VolumeReader):
    """Volumes of equal length and slice shape read together: slice ``i`` is
    ``stack([r[i] for r in readers])`` (e.g. reference and distorted for an observer).
    The readers are borrowed: closing this one closes them only with ``owns=True``."""

    def __init__(self, readers: Sequence[VolumeReader], *, owns: bool = False) -> None:
        if not readers:
            raise InvalidInputError("ZipReader needs at least one reader")
        first = readers[0]
        for r in readers[1:]:
            if r.shape != first.shape:
                raise InvalidInputError(
                    f"volumes of shape {first.shape} ({first.path}) and {r.shape} ({r.path}) "
                    "cannot be read side by side"
                )
        self.readers = list(readers)
        self.owns = owns
        dtype = np.result_type(*[r.dtype for r in readers])
        shape = (first.shape[0], len(readers), *first.shape[1:])
        super().__init__(first.path, first.dataset, shape, dtype)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        return np.stack([r.read(slice(start, stop)) for r in self.readers], axis=1).astype(
            self.dtype, copy=False
        )

    def _close(self) -> None:
        if self.owns:
            for r in self.readers:
                r.close()

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen_zip, (self.readers,))


def _reopen_zip(readers: list[VolumeReader]) -> ZipReader:
    return ZipReader(readers, owns=True)
