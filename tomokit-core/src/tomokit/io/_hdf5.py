"""HDF5 datasets through h5py: read lazily by slice, written chunked and compressed."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import Format, VolumeReader, VolumeWriter, where

__all__ = ["HDF5Format", "HDF5Reader", "dataset_paths", "open_h5"]

DEFAULT_DATASETS = ("/exchange/data", "/data")


def open_h5(path: Path) -> Any:
    """Open an HDF5 file read-only, turning h5py's errors into one clear message."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    if path.is_dir():
        raise InvalidInputError(f"{path}: is a folder, expected an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "truncated file" in str(exc):
            raise InvalidInputError(
                f"{path}: cannot be read as HDF5: truncated or corrupt file (shorter than "
                "its header says; an interrupted copy or download?)"
            ) from None
        raise InvalidInputError(
            f"{path}: cannot be read as HDF5 (truncated or corrupt file?): {exc}"
        ) from None


def dataset_paths(h5: Any) -> list[str]:
    """Every dataset path in the file, absolute, in visiting order."""
    import h5py

    out: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            out.append("/" + name)

    h5.visititems(visit)
    return out


def missing_dataset(path: Path, dataset: str, available: list[str]) -> InvalidInputError:
    """The error for a dataset path that is not in the file, with close matches."""
    norm = "/" + dataset.strip("/")
    close = difflib.get_close_matches(norm, available, n=3, cutoff=0.5)
    base = norm.rsplit("/", 1)[-1]
    close += [p for p in available if p.rsplit("/", 1)[-1] == base and p not in close]
    msg = f"{path}: no dataset {dataset!r}"
    if close:
        msg += f"; did you mean {' or '.join(repr(c) for c in close[:3])}?"
    elif available:
        msg += f"; datasets in the file: {', '.join(available[:12])}"
        if len(available) > 12:
            msg += f" (and {len(available) - 12} more)"
    else:
        msg += "; the file holds no datasets"
    return InvalidInputError(msg)


def get_dataset(h5: Any, path: Path, dataset: str | None) -> tuple[Any, str]:
    """The dataset named ``dataset`` (or the obvious one when ``None``) and its path."""
    import h5py

    available = dataset_paths(h5)
    if dataset is None:
        if len(available) == 1:
            dataset = available[0]
        else:
            found = [d for d in DEFAULT_DATASETS if d in available]
            if not found:
                listing = ", ".join(available[:12]) or "none"
                raise InvalidInputError(
                    f"{path}: holds {len(available)} datasets ({listing}); name the one to "
                    "read: 'dataset:' on a pipeline input, --dataset on the command line, "
                    "dataset= in Python"
                )
            dataset = found[0]
    norm = "/" + dataset.strip("/")
    obj = h5.get(norm)
    if obj is None:
        raise missing_dataset(path, dataset, available)
    if not isinstance(obj, h5py.Dataset):
        inside = [p for p in available if p.startswith(norm.rstrip("/") + "/")]
        raise InvalidInputError(
            f"{path}: {dataset!r} is a group, not a dataset"
            + (f"; datasets inside it: {', '.join(inside[:8])}" if inside else "")
        )
    return obj, norm


def read_dataset(ds: Any, key: Any, path: Path, dataset: str | None) -> np.ndarray:
    """``ds[key]`` with h5py's low-level errors (bad chunks, truncation) made clear."""
    try:
        return np.asarray(ds[key])
    except (OSError, RuntimeError) as exc:
        raise InvalidInputError(
            f"{where(path, dataset)}: cannot read data (corrupt or truncated file?): {exc}"
        ) from None


def _reopen(path: str, dataset: str | None) -> HDF5Reader:
    return HDF5Format().open(Path(path), dataset=dataset)


class HDF5Reader(VolumeReader):
    """One HDF5 dataset, slices along its first axis (a 2-D dataset is one slice)."""

    format_name = "hdf5"

    def __init__(self, path: Path, dataset: str | None) -> None:
        h5 = open_h5(path)
        try:
            ds, name = get_dataset(h5, path, dataset)
            if ds.ndim < 2:
                shape: tuple[int, ...] = (1, *ds.shape)
                single = True
            elif ds.ndim == 2:
                shape, single = (1, *ds.shape), True
            else:
                shape, single = tuple(ds.shape), False
            dtype = ds.dtype
            if dtype.kind not in "biufc":
                raise InvalidInputError(
                    f"{where(path, name)}: holds {dtype} values, expected numbers"
                )
        except Exception:
            h5.close()
            raise
        self._h5 = h5
        self._ds = ds
        self._nd = ds.ndim
        super().__init__(path, name, shape, dtype, single=single)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        if self._nd <= 2:
            return read_dataset(self._ds, (), self.path, self.dataset)[None]
        return read_dataset(self._ds, np.s_[start:stop], self.path, self.dataset)

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._ds.attrs)

    def _close(self) -> None:
        self._h5.close()

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path), self.dataset))


class _HDF5Writer(VolumeWriter):
    def __init__(self, path: Path, tmp: Path, dataset: str, shape: tuple[int, ...], dtype: Any,
                 **options: Any) -> None:
        import h5py

        super().__init__(path, tmp, dataset, shape, dtype)
        attrs = options.pop("attrs", None) or {}
        self._h5 = h5py.File(tmp, "w")
        for key, value in attrs.items():
            self._h5.attrs[key] = value
        self._ds = self._h5.create_dataset(
            dataset, shape=shape, dtype=dtype, **_storage(shape, np.dtype(dtype), options)
        )

    def _write(self, start: int, data: np.ndarray) -> None:
        self._ds[start:start + len(data)] = data

    def _finish(self) -> None:
        self._h5.close()


def _storage(shape: tuple[int, ...], dtype: np.dtype, options: dict[str, Any]) -> dict[str, Any]:
    """Chunking by slice and gzip compression unless the caller says otherwise."""
    opts = dict(options)
    compression = opts.pop("compression", "gzip")
    out: dict[str, Any] = {}
    if len(shape) >= 2 and int(np.prod(shape)) > 0:
        chunks = (1, *shape[1:]) if len(shape) >= 3 else tuple(shape)
        out["chunks"] = opts.pop("chunks", chunks)
        if compression is not None:
            out["compression"] = compression
            out["compression_opts"] = opts.pop(
                "compression_opts", 4 if compression == "gzip" else None
            )
            out["shuffle"] = opts.pop("shuffle", dtype.itemsize > 1)
    if opts:
        raise InvalidInputError(f"unknown HDF5 write option(s): {', '.join(sorted(opts))}")
    return out


class HDF5Format(Format):
    """HDF5 files (``.h5``, ``.hdf5``, ``.hdf``, ``.nxs``); ``dataset`` selects the array."""

    name: ClassVar[str] = "hdf5"
    extensions: ClassVar[tuple[str, ...]] = (".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".cxi")
    can_write: ClassVar[bool] = True

    def open(self, path: Path, *, dataset: str | None = None) -> HDF5Reader:
        return HDF5Reader(Path(path), dataset)

    def read(self, path: Path, *, dataset: str | None = None) -> np.ndarray:
        with HDF5Reader(Path(path), dataset) as reader:
            return read_dataset(reader._ds, (), reader.path, reader.dataset)

    def write(self, path: Path, array: np.ndarray, *, dataset: str | None = None,
              **options: Any) -> None:
        import h5py

        arr = np.asarray(array)
        with h5py.File(path, "w") as h5:
            h5.create_dataset(dataset or "/data", data=arr, **_storage(arr.shape, arr.dtype, options))

    def create(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any, *,
               dataset: str | None = None, **options: Any) -> VolumeWriter:
        return _HDF5Writer(path, tmp, dataset or "/data", shape, dtype, **options)
