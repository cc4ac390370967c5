"""Contiguous HDF5 datasets that many workers write at once, by file offset.

Why: h5py serialises every access in a process behind one lock, and two processes
cannot open one HDF5 file for writing, so an HDF5 file written through h5py is written
by one client. A *contiguous* dataset whose space is allocated when it is created has a
fixed byte offset in the file; slice ``i`` then lies at ``offset + i * slice_nbytes``,
and any thread or process can ``pwrite`` its slices there with no HDF5 call at all. The
file stays an ordinary HDF5 file (h5py reads it back), so a checkpoint written this way
can become a results file by a rename instead of a copy. No fill value is written: the
space is allocated, not zeroed (a sparse file until the slices arrive).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError

__all__ = ["ContiguousRegion", "contiguous_dtype", "create_contiguous"]


def contiguous_dtype(dtype: Any) -> bool:
    """Whether values of ``dtype`` can be written as raw bytes into an HDF5 dataset:
    booleans, integers and floats (HDF5 stores them as the same bytes)."""
    return np.dtype(dtype).kind in "biuf"


def create_contiguous(path: Path, arrays: Mapping[str, tuple[tuple[int, ...], Any]],
                      attrs: Mapping[str, Any]) -> dict[str, ContiguousRegion]:
    """Create HDF5 file ``path`` with one allocated, contiguous dataset per entry of
    ``arrays`` (node -> (shape, dtype)) and root attributes ``attrs``; the regions that
    write into them."""
    import h5py

    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    regions: dict[str, ContiguousRegion] = {}
    with h5py.File(path, "w") as h5:
        for key, value in attrs.items():
            h5.attrs[key] = value
        for node, (shape, dtype) in arrays.items():
            dt = np.dtype(dtype).newbyteorder("=")
            if not contiguous_dtype(dt):
                raise InvalidInputError(f"{path}: cannot write {dt} slices by offset")
            dset = h5.create_dataset(node, shape=shape, dtype=dt, dcpl=dcpl, fill_time="never")
            offset = dset.id.get_offset()
            if offset is None:  # pragma: no cover - allocated early, so always placed
                raise InvalidInputError(f"{path}: HDF5 did not place dataset {node!r}")
            regions[node] = ContiguousRegion(path, int(offset), tuple(shape), dt)
    return regions


class ContiguousRegion:
    """Writes slices into one contiguous dataset of a file made by
    :func:`create_contiguous`: what a worker calls with the slices it computed.
    Picklable (travels as the file's absolute path, offset, shape and dtype)."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, ...], dtype: Any) -> None:
        self.path = str(Path(path).absolute())
        self.offset = offset
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.slice_nbytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def write(self, start: int, data: np.ndarray) -> None:
        """Store ``data`` as slices ``start:start+len(data)``."""
        arr = np.ascontiguousarray(data, dtype=self.dtype)
        if arr.shape[1:] != self.shape[1:] or start < 0 or start + len(arr) > self.shape[0]:
            raise InvalidInputError(
                f"{self.path}: block of shape {arr.shape} at slice {start} does not fit "
                f"an array of shape {self.shape}"
            )
        view = memoryview(arr.reshape(-1).view(np.uint8).data)
        where = self.offset + start * self.slice_nbytes
        fd = os.open(self.path, os.O_WRONLY)
        try:
            done = 0
            while done < len(view):  # pwrite may write less than asked
                done += os.pwrite(fd, view[done:], where + done)
        finally:
            os.close(fd)
