"""Training data: named arrays of equal length, with a source id per row.

Why an object of its own: the project's datasets (IQA datasets from
``tomokit-iqa``'s dataset task, phantom datasets from ``tomokit-phantom``) are HDF5
files far larger than memory, and one reference image yields many rows (distortions,
levels, crops). ``TrainData`` opens a file lazily, reads only the rows a batch needs,
splits training from validation by *source* so crops of one reference never land on
both sides, and summarises itself (with the file's content hash) for the model sidecar.
It pickles without its open file handle, for Dask workers.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError

__all__ = ["TrainData"]

_SOURCE_KEYS = ("source_id", "source")


class TrainData:
    """Named row-aligned arrays (in memory or in an HDF5 file) and a source id per row."""

    def __init__(
        self,
        arrays: Mapping[str, Any] | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        sources: Sequence[Any] | np.ndarray | None = None,
        rows: np.ndarray | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._arrays = dict(arrays or {})
        self.path = Path(path) if path is not None else None
        self._file: Any = None
        self._lock = threading.RLock()
        self.attrs: dict[str, Any] = dict(attrs or {})
        self._shapes: dict[str, tuple[tuple[int, ...], str]] = {}
        total = self._scan()
        self.rows = np.arange(total) if rows is None else np.asarray(rows, dtype=np.int64)
        if sources is None:
            sources = self._default_sources(total)
        src = np.asarray(sources).astype(str)
        if len(src) != total:
            raise InvalidInputError(
                f"sources: expected one source id per row ({total}), got {len(src)}"
            )
        self._all_sources = src

    # ---------------------------------------------------------------- building
    @classmethod
    def from_arrays(cls, *, sources: Sequence[Any] | None = None, **arrays: Any) -> TrainData:
        """In-memory data: ``TrainData.from_arrays(x=noisy, y=clean, sources=ids)``."""
        if not arrays:
            raise InvalidInputError("TrainData.from_arrays: give at least one named array")
        return cls({k: np.asarray(v) for k, v in arrays.items()}, sources=sources)

    @classmethod
    def from_hdf5(
        cls,
        path: str | os.PathLike[str],
        *,
        names: Sequence[str] | None = None,
        source: str | None = None,
    ) -> TrainData:
        """An HDF5 dataset file, opened lazily: every dataset whose first axis has the
        row count (``images``, ``labels``, ``score``, ``observers/ssim``...) is an array;
        the source id per row comes from ``source`` or, by default, ``source_id`` or
        ``source`` (IQA datasets), else each row is its own source (phantom datasets,
        whose samples are independent)."""
        import h5py

        p = Path(path).expanduser()
        if not p.is_file():
            raise InvalidInputError(f"data {p}: no such file")
        try:
            fh = h5py.File(p, "r")
        except OSError as exc:
            raise InvalidInputError(f"data {p}: not an HDF5 file ({exc})") from None
        with fh:
            attrs = {k: _attr(v) for k, v in fh.attrs.items()}
            found: dict[str, Any] = {}

            def visit(name: str, obj: Any) -> None:  # returning a value would stop the walk
                if isinstance(obj, h5py.Dataset) and obj.ndim >= 1:
                    found[name] = obj

            fh.visititems(visit)
            if not found:
                raise InvalidInputError(f"data {p}: no datasets in the file")
            n = max(ds.shape[0] for ds in found.values())
            keep = sorted(k for k, ds in found.items() if ds.shape[0] == n)
            if names is not None:
                missing = [k for k in names if k not in keep]
                if missing:
                    raise InvalidInputError(
                        f"data {p}: no row-aligned dataset(s) {missing}; it has {keep}"
                    )
                keep = list(dict.fromkeys([*names]))
            key = source or next((k for k in _SOURCE_KEYS if k in found and found[k].shape[0] == n), None)
            if source is not None and source not in found:
                raise InvalidInputError(f"data {p}: source dataset {source!r} not found")
            sources = None
            if key is not None:
                raw = found[key][()]
                sources = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in raw])
        return cls({k: _Lazy(k) for k in keep}, path=p, sources=sources, attrs=attrs)

    def _scan(self) -> int:
        lengths = {}
        for name, arr in self._arrays.items():
            if isinstance(arr, _Lazy):
                continue
            lengths[name] = len(arr)
            self._shapes[name] = (tuple(arr.shape[1:]), str(arr.dtype))
        if self.path is not None:
            f = self._h5()
            for name, arr in self._arrays.items():
                if isinstance(arr, _Lazy):
                    ds = f[name]
                    lengths[name] = ds.shape[0]
                    self._shapes[name] = (tuple(ds.shape[1:]), str(ds.dtype))
        if len(set(lengths.values())) > 1:
            raise InvalidInputError(f"TrainData: arrays differ in length: {lengths}")
        return next(iter(lengths.values()), 0)

    def _default_sources(self, total: int) -> np.ndarray:
        for key in _SOURCE_KEYS:
            if key in self._arrays and self.path is None:
                return np.asarray(self._arrays[key]).astype(str)
        return np.arange(total).astype(str)

    def _h5(self) -> Any:
        with self._lock:
            if self._file is None:
                import h5py

                assert self.path is not None
                self._file = h5py.File(self.path, "r")
            return self._file

    def close(self) -> None:
        """Close the HDF5 file (it reopens on the next read)."""
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(Exception):
                    self._file.close()
                self._file = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        return list(self._arrays)

    @property
    def sources(self) -> np.ndarray:
        """The source id of each row of this (sub)set."""
        return self._all_sources[self.rows]

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of one row of array ``name``."""
        self._check_name(name)
        return self._shapes[name][0]

    def dtype(self, name: str) -> np.dtype[Any]:
        self._check_name(name)
        return np.dtype(self._shapes[name][1]) if self._shapes[name][1] != "object" else np.dtype(object)

    def _check_name(self, name: str) -> None:
        if name not in self._arrays:
            raise InvalidInputError(f"data has no array {name!r}; it has {self.names}")

    def read(self, name: str, index: Sequence[int] | np.ndarray | slice | None = None) -> np.ndarray:
        """Rows ``index`` (positions in this subset, any order) of array ``name``; only
        those rows are read from the file."""
        self._check_name(name)
        pos = np.arange(len(self)) if index is None else np.arange(len(self))[index]
        rows = self.rows[np.atleast_1d(pos)]
        arr = self._arrays[name]
        if not isinstance(arr, _Lazy):
            return np.asarray(arr[rows])
        unique, inverse = np.unique(rows, return_inverse=True)
        with self._lock:
            ds = self._h5()[name]
            block = ds[unique] if len(unique) else ds[0:0]
        if block.dtype.kind in "OS":
            block = np.array([v.decode() if isinstance(v, bytes) else v for v in block])
        return block[inverse]

    def __getitem__(self, name: str) -> np.ndarray:
        """All rows of array ``name`` (in memory; use :meth:`batches` for large data)."""
        return self.read(name)

    def subset(self, positions: Sequence[int] | np.ndarray) -> TrainData:
        """The rows at ``positions`` of this set (a view sharing the file)."""
        new = object.__new__(TrainData)
        new.__dict__.update(self.__getstate__())
        new._lock = threading.RLock()
        new.rows = self.rows[np.asarray(positions, dtype=np.int64)]
        return new

    def batches(
        self,
        batch_size: int,
        *,
        names: Sequence[str] | None = None,
        rng: np.random.Generator | int | None = None,
        shuffle: bool = True,
        drop_remainder: bool = False,
    ) -> Iterator[dict[str, np.ndarray]]:
        """Batches ``{name: rows}`` of ``batch_size`` rows, shuffled by ``rng`` (one pass)."""
        if batch_size < 1:
            raise InvalidInputError(f"batch_size: expected >= 1, got {batch_size}")
        order = np.arange(len(self))
        if shuffle:
            np.random.default_rng(rng).shuffle(order)
        keys = list(names or self.names)
        stop = len(order) - (len(order) % batch_size if drop_remainder else 0)
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) == 0:
                break
            yield {k: self.read(k, idx) for k in keys}

    def split(self, validation_fraction: float, *, seed: int = 0) -> tuple[TrainData, TrainData]:
        """``(train, validation)`` split by source: a share ``validation_fraction`` of the
        distinct sources (at least one when the fraction is > 0 and there are two or more)
        goes to validation with all its rows."""
        if not 0 <= validation_fraction < 1:
            raise InvalidInputError(
                f"validation_fraction: expected 0 <= f < 1, got {validation_fraction}"
            )
        sources = self.sources
        unique = np.unique(sources)
        n_val = round(validation_fraction * len(unique))
        if validation_fraction > 0 and len(unique) >= 2:
            n_val = min(max(n_val, 1), len(unique) - 1)
        else:
            n_val = 0
        picked = np.random.default_rng(seed).permutation(len(unique))[:n_val]
        held = np.isin(sources, unique[picked])
        return self.subset(np.flatnonzero(~held)), self.subset(np.flatnonzero(held))

    def summary(self) -> dict[str, Any]:
        """What the model sidecar records: file, content hash, rows, sources, arrays."""
        out: dict[str, Any] = {
            "rows": len(self),
            "sources": len(np.unique(self.sources)),
            "arrays": {k: {"shape": list(self._shapes[k][0]), "dtype": self._shapes[k][1]}
                       for k in self.names},
        }
        if self.path is not None:
            from tomokit.learn._files import file_sha256

            out["path"] = str(self.path)
            out["sha256"] = _cached_sha(self.path, file_sha256)
            if "format" in self.attrs:
                out["format"] = str(self.attrs["format"])
        else:
            import hashlib

            h = hashlib.sha256()
            for k in sorted(self.names):
                block = self.read(k)
                h.update(k.encode())
                h.update(np.ascontiguousarray(block).tobytes() if block.dtype != object
                         else repr(block.tolist()).encode())
            h.update(self.sources.astype(str).tobytes())
            out["sha256"] = h.hexdigest()
        return out

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        return f"TrainData({len(self)} rows, {self.names}, {where})"


class _Lazy:
    """Marks an array that lives in the HDF5 file under ``name``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


_SHA: dict[tuple[str, int, int], str] = {}


def _cached_sha(path: Path, fn: Any) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA:
        _SHA[key] = fn(path)
    return _SHA[key]
