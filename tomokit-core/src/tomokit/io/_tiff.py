"""TIFF stacks through tifffile: a multi-page file, or a folder of one file per slice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import Format, VolumeReader, VolumeWriter

__all__ = ["TiffFolderReader", "TiffFormat", "TiffReader"]

TIFF_EXTENSIONS = (".tif", ".tiff")


def _natural_key(name: str) -> list[Any]:
    """``slice_2.tif`` before ``slice_10.tif``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _open_tiff(path: Path) -> Any:
    import tifffile

    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    try:
        return tifffile.TiffFile(path)
    except Exception as exc:  # tifffile raises several kinds for damaged files
        raise InvalidInputError(f"{path}: cannot be read as TIFF (corrupt file?): {exc}") from None


def _reopen(path: str) -> VolumeReader:
    return TiffFormat().open(Path(path))


class TiffReader(VolumeReader):
    """A multi-page TIFF: each page is a slice (an RGB page is one ``(H, W, 3)`` slice)."""

    format_name = "tiff"

    def __init__(self, path: Path) -> None:
        tif = _open_tiff(path)
        try:
            if not tif.series:
                raise InvalidInputError(f"{path}: cannot be read as TIFF: the file holds no images (corrupt?)")
            series = tif.series[0]
            shapes = [tuple(s.shape) for s in tif.series]
            if len(set(shapes)) > 1:
                raise InvalidInputError(
                    f"{path}: holds {len(shapes)} image series of different shapes "
                    f"({', '.join(map(str, shapes[:4]))}{', ...' if len(shapes) > 4 else ''}); "
                    "a stack needs slices of one shape: split the file, or save each "
                    "image on its own"
                )
            page_shape = tuple(series.keyframe.shape)
            natural = tuple(series.shape)
            n = int(np.prod(natural)) // max(int(np.prod(page_shape)), 1)
            single = natural == page_shape
            self._npages = len(series.pages) if series.pages is not None else n
            dtype = series.dtype
        except InvalidInputError:
            tif.close()
            raise
        except Exception as exc:
            tif.close()
            raise InvalidInputError(f"{path}: cannot be read as TIFF: {exc}") from None
        self._tif = tif
        self._natural = natural
        self._contiguous = self._npages != n  # one page holding several slices
        super().__init__(path, None, (n, *page_shape), dtype, single=single)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        try:
            if self._contiguous:
                arr = self._tif.series[0].asarray()
                return np.array(arr.reshape(self.shape)[start:stop])
            arr = self._tif.asarray(key=range(start, stop), series=0)
        except Exception as exc:
            raise InvalidInputError(f"{self.path}: cannot read pages {start}..{stop - 1}: {exc}") from None
        return np.asarray(arr).reshape((stop - start, *self.slice_shape))

    def read_all(self) -> np.ndarray:
        return self.read(slice(None)).reshape(self._natural)

    def _close(self) -> None:
        self._tif.close()

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path),))


class TiffFolderReader(VolumeReader):
    """A folder of TIFF files, one slice each, in natural name order (``2`` before ``10``)."""

    format_name = "tiff"

    def __init__(self, path: Path) -> None:
        path = Path(path).absolute()  # the slices are read later, maybe from another folder
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in TIFF_EXTENSIONS and p.is_file()),
            key=lambda p: _natural_key(p.name),
        )
        if not files:
            raise InvalidInputError(f"{path}: folder holds no .tif/.tiff files")
        shape0: tuple[int, ...] | None = None
        dtype0: Any = None
        for f in files:
            tif = _open_tiff(f)
            try:
                page = tif.series[0] if tif.series else None
                if page is None:
                    raise InvalidInputError(f"{f}: cannot be read as TIFF: the file holds no images (corrupt?)")
                shape, dtype = tuple(page.shape), page.dtype
            finally:
                tif.close()
            if shape0 is None:
                shape0, dtype0 = shape, dtype
            elif shape != shape0 or dtype != dtype0:
                raise InvalidInputError(
                    f"{path}: TIFF folder mixes image sizes or types: {files[0].name} is "
                    f"{shape0} {dtype0} but {f.name} is {shape} {dtype}; every slice must match"
                )
        assert shape0 is not None
        self.files = files
        super().__init__(path, None, (len(files), *shape0), dtype0)

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        import tifffile

        out = np.empty((stop - start, *self.slice_shape), dtype=self.dtype)
        for k, f in enumerate(self.files[start:stop]):
            try:
                out[k] = tifffile.imread(f)
            except Exception as exc:
                raise InvalidInputError(f"{f}: cannot be read as TIFF: {exc}") from None
        return out

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path),))


class _TiffWriter(VolumeWriter):
    """Writes into a memory-mapped, uncompressed TIFF so blocks may come in any order."""

    def __init__(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any) -> None:
        import tifffile

        super().__init__(path, tmp, None, shape, dtype)
        self._map = tifffile.memmap(tmp, shape=shape, dtype=dtype, photometric="minisblack")

    def _write(self, start: int, data: np.ndarray) -> None:
        self._map[start:start + len(data)] = data

    def _finish(self) -> None:
        self._map.flush()
        del self._map


class TiffFormat(Format):
    """TIFF: a multi-page file or a folder of single-slice files (read), one file (write)."""

    name: ClassVar[str] = "tiff"
    extensions: ClassVar[tuple[str, ...]] = TIFF_EXTENSIONS
    can_write: ClassVar[bool] = True

    @classmethod
    def sniff(cls, path: Path) -> bool:
        return path.is_dir() and any(p.suffix.lower() in TIFF_EXTENSIONS for p in path.iterdir())

    def open(self, path: Path, *, dataset: str | None = None) -> VolumeReader:
        path = Path(path)
        if dataset is not None:
            raise InvalidInputError(f"{path}: TIFF files have no datasets; drop dataset={dataset!r}")
        if path.is_dir():
            return TiffFolderReader(path)
        return TiffReader(path)

    def write(self, path: Path, array: np.ndarray, *, dataset: str | None = None,
              **options: Any) -> None:
        import tifffile

        arr = np.asarray(array)
        if dataset is not None:
            raise InvalidInputError(f"{path}: TIFF files have no datasets; drop dataset={dataset!r}")
        rgb = arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.dtype == np.uint8
        photometric = options.pop("photometric", "rgb" if rgb else "minisblack")
        tifffile.imwrite(path, arr, photometric=photometric, **options)

    def create(self, path: Path, tmp: Path, shape: tuple[int, ...], dtype: Any, *,
               dataset: str | None = None, **options: Any) -> VolumeWriter:
        if options:
            raise InvalidInputError(f"unknown TIFF write option(s): {', '.join(sorted(options))}")
        return _TiffWriter(path, tmp, shape, dtype)
