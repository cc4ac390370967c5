"""Zarr v3 stores: volumes that many workers write at once, chunk by chunk.

Why Zarr for intermediate volumes and checkpoints: in a Zarr v3 store every chunk is
its own file, so threads and worker processes write their slices concurrently with no
global lock (HDF5 serialises every access in a process behind h5py's lock, and two
processes cannot write one HDF5 file at all). Chunks are one slice each, so two tasks
never share a chunk. Checkpoints are uncompressed by default (filtered float slices
gain under 20 % from lz4/gzip at 30-100x the write time); ``codec="blosc-lz4"`` is the
fast codec where the data do compress (masks, labels).

A store is written to a hidden sibling folder and renamed into place on commit, so a
store at its final path is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import Format, VolumeReader, VolumeWriter, where

__all__ = ["CODECS", "ZarrFormat", "ZarrReader", "ZarrRegion", "array_paths", "is_zarr_store"]

CODECS = ("none", "blosc-lz4")


def _zarr() -> Any:
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise InvalidInputError(f"the zarr format needs zarr>=3: pip install zarr ({exc})") from None
    return zarr


def is_zarr_store(path: Path) -> bool:
    """A folder holding Zarr v3 metadata (``zarr.json``)."""
    return Path(path).is_dir() and (Path(path) / "zarr.json").is_file()


def _compressors(codec: str | None) -> Any:
    if codec in (None, "none"):
        return None
    if codec == "blosc-lz4":
        from zarr.codecs import BloscCodec

        return BloscCodec(cname="lz4", clevel=1, shuffle="shuffle")
    raise InvalidInputError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")


def array_paths(path: Path) -> list[str]:
    """Paths of every array in a store (``""`` for a store that is one array), sorted."""
    out: list[str] = []
    root = Path(path)
    for meta in sorted(root.rglob("zarr.json")):
        try:
            node = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if node.get("node_type") == "array":
            rel = meta.parent.relative_to(root).as_posix()
            out.append("" if rel == "." else rel)
    return out


def _open_array(path: Path, dataset: str | None, mode: str = "r") -> tuple[Any, str]:
    zarr = _zarr()
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder")
    if not is_zarr_store(path):
        raise InvalidInputError(f"{path}: not a Zarr v3 store (no zarr.json)")
    available = array_paths(path)
    name = (dataset or "").strip("/")
    if dataset is None:
        if len(available) != 1:
            raise InvalidInputError(
                f"{path}: holds {len(available)} arrays ({', '.join(available[:12]) or 'none'}); "
                "pass dataset= to choose one"
            )
        name = available[0]
    if name not in available:
        raise InvalidInputError(
            f"{where(path, dataset)}: no such array"
            + (f"; arrays in the store: {', '.join(a or '/' for a in available[:12])}"
               if available else "")
        )
    try:
        arr = zarr.open_array(store=str(path / name) if name else str(path), mode=mode,
                              zarr_format=3)
    except Exception as exc:  # zarr raises many kinds for bad metadata
        raise InvalidInputError(f"{where(path, dataset)}: cannot be opened as Zarr: {exc}") from None
    return arr, name


class _Direct:
    """Slice chunks read and written as plain files, bypassing zarr's machinery.

    Valid only for the layout this module writes for checkpoints: a regular grid of one
    chunk per slice, the default chunk keys, and the single ``bytes`` codec (no
    compression), where the Zarr v3 spec makes a chunk file exactly the slice's bytes
    in the stated byte order. Measured on 1024^2 float32 slices: 4-5 ms per slice
    written this way against 16-29 ms through zarr's (single) event loop, and the file
    calls release the GIL, so threads truly write side by side."""

    def __init__(self, arr: Any) -> None:
        from zarr.codecs import BytesCodec

        meta = arr.metadata
        store = arr.store_path.store
        ok = (
            arr.ndim >= 3
            and getattr(meta, "zarr_format", 3) == 3
            and len(meta.codecs) == 1 and isinstance(meta.codecs[0], BytesCodec)
            and tuple(meta.chunk_grid.chunk_shape) == (1, *arr.shape[1:])
            and hasattr(store, "root")
        )
        if not ok:
            raise ValueError("not the one-slice-per-chunk, uncompressed layout")
        endian = meta.codecs[0].endian
        order = "<" if endian is None or str(getattr(endian, "value", endian)) == "little" else ">"
        self.file_dtype = np.dtype(arr.dtype).newbyteorder(order)
        self.dtype = np.dtype(arr.dtype)
        self.slice_shape = tuple(arr.shape[1:])
        base = Path(str(store.root))
        if arr.store_path.path:
            base = base / arr.store_path.path
        self.base = base
        self.zeros = (0,) * (arr.ndim - 1)
        self.encode = meta.encode_chunk_key
        self.fill = meta.fill_value

    @classmethod
    def of(cls, arr: Any) -> _Direct | None:
        try:
            return cls(arr)
        except (ValueError, AttributeError, TypeError, ImportError):
            return None

    def chunk(self, i: int) -> Path:
        return self.base / self.encode((i, *self.zeros))

    def write(self, i: int, data: np.ndarray) -> None:
        path = self.chunk(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = np.ascontiguousarray(data, dtype=self.file_dtype)
        with open(path, "wb") as f:
            f.write(buf.data.cast("B"))

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.slice_shape), dtype=self.file_dtype)
        want = out[0].nbytes if len(out) else 0
        for k, i in enumerate(range(start, stop)):
            try:
                with open(self.chunk(i), "rb") as f:
                    got = f.readinto(out[k].data.cast("B"))
            except FileNotFoundError:  # never written: the fill value, as zarr gives
                out[k] = self.fill
                continue
            if got != want:
                raise InvalidInputError(
                    f"{self.chunk(i)}: chunk holds {got} bytes, expected {want} (truncated?)"
                )
        return out.astype(self.dtype, copy=False)


def _reopen(path: str, dataset: str | None) -> ZarrReader:
    return ZarrReader(Path(path), dataset)


class ZarrReader(VolumeReader):
    """One array of a Zarr v3 store, slices along its first axis. Reads take no lock:
    each chunk is its own file, so threads read (and decode) side by side."""

    format_name = "zarr"
    locked_reads = False

    def __init__(self, path: Path, dataset: str | None) -> None:
        arr, name = _open_array(Path(path), dataset)
        if arr.ndim == 0:
            raise InvalidInputError(f"{where(path, dataset)}: is a scalar, expected an array")
        if np.dtype(arr.dtype).kind not in "biufc":
            raise InvalidInputError(f"{where(path, name)}: holds {arr.dtype} values, expected numbers")
        single = arr.ndim <= 2
        shape = (1, *arr.shape) if single else tuple(arr.shape)
        self._arr = arr
        self._nd = arr.ndim
        self._direct = _Direct.of(arr)
        super().__init__(path, name or None, shape, arr.dtype, single=single)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        if self._direct is not None:
            return self._direct.read(start, stop)
        try:
            if self._nd <= 2:
                return np.asarray(self._arr[...])[None]
            return np.asarray(self._arr[start:stop])
        except Exception as exc:
            raise InvalidInputError(
                f"{where(self.path, self.dataset)}: cannot read data (corrupt store?): {exc}"
            ) from None

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._arr.attrs)

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path), self.dataset))


# Arrays opened for writing by region writers in this process, by store path and array.
_WRITE_ARRAYS: dict[tuple[str, str], Any] = {}
_WRITE_LOCK = threading.Lock()


class ZarrRegion:
    """Writes slices straight into a store being built: what a worker (thread or
    process) calls with the slices it computed, so results never travel back to the
    client. Picklable (travels as the store's absolute path and array name)."""

    def __init__(self, store: Path, name: str, shape: tuple[int, ...]) -> None:
        self.store = str(Path(store).absolute())
        self.name = name
        self.shape = tuple(shape)

    def _array(self) -> Any:
        return self._handles()[0]

    def _handles(self) -> tuple[Any, _Direct | None]:
        key = (self.store, self.name)
        with _WRITE_LOCK:
            arr = _WRITE_ARRAYS.get(key)
            if arr is None:
                zarr = _zarr()
                target = os.path.join(self.store, self.name) if self.name else self.store
                opened = zarr.open_array(store=target, mode="r+", zarr_format=3)
                arr = (opened, _Direct.of(opened))
                if len(_WRITE_ARRAYS) > 32:
                    _WRITE_ARRAYS.clear()
                _WRITE_ARRAYS[key] = arr
            return arr  # type: ignore[no-any-return]

    def write(self, start: int, data: np.ndarray) -> None:
        """Store ``data`` as slices ``start:start+len(data)``."""
        arr = np.asarray(data)
        if arr.shape[1:] != self.shape[1:] or start < 0 or start + len(arr) > self.shape[0]:
            raise InvalidInputError(
                f"{self.store}: block of shape {arr.shape} at slice {start} does not fit "
                f"an array of shape {self.shape}"
            )
        opened, direct = self._handles()
        if direct is None:
            opened[start:start + len(arr)] = arr
            return
        for k, one in enumerate(arr):
            direct.write(start + k, one)

    def __call__(self, start: int, results: list[Any]) -> None:
        self.write(start, np.stack([np.asarray(r) for r in results]))

    def __repr__(self) -> str:
        return f"<ZarrRegion {self.store}:{self.name or '/'} shape={self.shape}>"


def forget_arrays(store: Path) -> None:
    """Drop the cached write handles of ``store`` (before it is renamed or removed)."""
    prefix = str(Path(store).absolute())
    with _WRITE_LOCK:
        for key in [k for k in _WRITE_ARRAYS if k[0] == prefix]:
            del _WRITE_ARRAYS[key]


def create_store(tmp: Path, arrays: dict[str, tuple[tuple[int, ...], Any]], *,
                 codec: str | None = None, attrs: dict[str, Any] | None = None) -> None:
    """A new store at ``tmp`` holding empty ``arrays`` (``name: (shape, dtype)``, name
    ``""`` for a store that is one array), chunked one slice per chunk."""
    zarr = _zarr()
    compressors = _compressors(codec)
    if tmp.exists():
        shutil.rmtree(tmp)

    def make(store: str, shape: tuple[int, ...], dtype: Any) -> Any:
        chunks = (1, *shape[1:]) if len(shape) >= 3 else tuple(max(1, s) for s in shape)
        return zarr.create_array(store=store, shape=shape, chunks=chunks, dtype=np.dtype(dtype),
                                 compressors=compressors, fill_value=0, zarr_format=3,
                                 overwrite=True)

    if list(arrays) == [""]:
        shape, dtype = arrays[""]
        arr = make(str(tmp), shape, dtype)
        arr.attrs.update(attrs or {})
        return
    root = zarr.open_group(store=str(tmp), mode="w", zarr_format=3)
    root.attrs.update(attrs or {})
    for name, (shape, dtype) in arrays.items():
        parts = name.strip("/").split("/")
        group = root
        for part in parts[:-1]:
            group = group.require_group(part)
        make(str(tmp / name.strip("/")), shape, dtype)
    return


def commit_store(tmp: Path, path: Path) -> None:
    """Rename the finished store ``tmp`` to ``path`` (replacing an older store there)."""
    forget_arrays(tmp)
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


def discard_store(tmp: Path) -> None:
    forget_arrays(tmp)
    shutil.rmtree(tmp, ignore_errors=True)


class _ZarrWriter(VolumeWriter):
    def __init__(self, path: Path, tmp: Path, dataset: str | None, shape: tuple[int, ...],
                 dtype: Any, **options: Any) -> None:
        super().__init__(path, tmp, dataset, shape, dtype)
        attrs = options.pop("attrs", None) or {}
        codec = options.pop("codec", options.pop("compression", None))
        if options:
            raise InvalidInputError(f"unknown Zarr write option(s): {', '.join(sorted(options))}")
        self.name = (dataset or "").strip("/")
        create_store(self.tmp, {self.name: (self.shape, self.dtype)}, codec=codec, attrs=attrs)
        self._region = ZarrRegion(self.tmp, self.name, self.shape)

    def region(self) -> ZarrRegion:
        return self._region

    def _write(self, start: int, data: np.ndarray) -> None:
        self._region.write(start, data)

    def write(self, start: int, data: np.ndarray) -> None:
        # no writer-wide lock: slices live in their own chunks
        arr = np.asarray(data).astype(self.dtype, copy=False)
        self._region.write(start, arr)

    def _finish(self) -> None:
        forget_arrays(self.tmp)

    def commit(self) -> Path:
        if not self.done:
            self.done = True
            commit_store(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        if not self.done:
            self.done = True
            discard_store(self.tmp)


class ZarrFormat(Format):
    """Zarr v3 stores (``.zarr`` folders); ``dataset`` selects an array inside a group."""

    name: ClassVar[str] = "zarr"
    extensions: ClassVar[tuple[str, ...]] = (".zarr",)
    can_write: ClassVar[bool] = True
    folders: ClassVar[bool] = True

    @classmethod
    def sniff(cls, path: Path) -> bool:
        return is_zarr_store(path)

    def open(self, path: Path, *, dataset: str | None = None) -> ZarrReader:
        return ZarrReader(Path(path), dataset)

    def write(self, path: Path, array: np.ndarray, *, dataset: str | None = None,
              **options: Any) -> None:
        arr = np.asarray(array)
        writer = _ZarrWriter(path, path, dataset, arr.shape if arr.ndim else (1,), arr.dtype,
                             **options)
        if arr.ndim >= 3:
            writer.write(0, arr)
        else:
            writer._region._array()[...] = arr
        forget_arrays(path)

    def create(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any, *,
               dataset: str | None = None, **options: Any) -> VolumeWriter:
        return _ZarrWriter(path, tmp, dataset, shape, dtype, **options)
