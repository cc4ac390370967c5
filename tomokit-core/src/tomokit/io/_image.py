"""Ordinary image files (PNG, BMP, GIF, JPEG) through imageio: one slice, or GIF frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import Format, VolumeReader

__all__ = ["ImageFormat", "ImageReader"]


def _reopen(path: str) -> VolumeReader:
    return ImageFormat().open(Path(path))


class ImageReader(VolumeReader):
    """An image file; grey images are ``(H, W)``, colour ones keep ``(H, W, 3)``."""

    format_name = "image"

    def __init__(self, path: Path) -> None:
        import imageio.v3 as iio

        if not path.exists():
            raise InvalidInputError(f"{path}: no such file")
        try:
            props = iio.improps(path)
        except Exception:
            # imageio's message suggests installing other plugins: never the fix for a
            # file that is not an image at all
            raise InvalidInputError(
                f"{path}: cannot be read as an image (not a valid {path.suffix or 'image'} "
                "file: corrupt, truncated or another format)"
            ) from None
        shape = tuple(props.shape)
        if props.n_images is not None and props.is_batch:
            frames = shape[0]
            if frames == 1:  # a one-frame GIF is a plain image
                stack, single = shape, True
            else:
                stack, single = shape, False
        else:
            stack, single = (1, *shape), True
        self._cache: np.ndarray | None = None
        super().__init__(path, None, stack, props.dtype, single=single)

    def _load(self) -> np.ndarray:
        import imageio.v3 as iio

        if self._cache is None:
            try:
                arr = np.asarray(iio.imread(self.path))
            except Exception as exc:
                raise InvalidInputError(f"{self.path}: cannot be read as an image: {exc}") from None
            self._cache = arr.reshape(self.shape)
        return self._cache

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        # Image files are small and cannot be read in parts: read once, keep it.
        return np.array(self._load()[start:stop])

    def _close(self) -> None:
        self._cache = None

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path),))


class ImageFormat(Format):
    """PNG, BMP, GIF and JPEG files; PNG is written (8 or 16-bit, grey or RGB/RGBA)."""

    name: ClassVar[str] = "image"
    extensions: ClassVar[tuple[str, ...]] = (".png", ".bmp", ".gif", ".jpg", ".jpeg")
    can_write: ClassVar[bool] = True

    def open(self, path: Path, *, dataset: str | None = None) -> VolumeReader:
        path = Path(path)
        if dataset is not None:
            raise InvalidInputError(f"{path}: image files have no datasets; drop dataset={dataset!r}")
        return ImageReader(path)

    def write(self, path: Path, array: np.ndarray, *, dataset: str | None = None,
              **options: Any) -> None:
        import imageio.v3 as iio

        arr = np.asarray(array)
        suffix = path.suffix.lower()
        if suffix != ".png":
            raise InvalidInputError(
                f"{path}: only PNG images are written; use .png, .tif or .h5"
            )
        if dataset is not None:
            raise InvalidInputError(f"{path}: image files have no datasets; drop dataset={dataset!r}")
        if arr.dtype not in (np.uint8, np.uint16):
            raise InvalidInputError(
                f"{path}: PNG stores 8 or 16-bit integers, got {arr.dtype}; convert the array "
                "(for example (image * 255).round().astype('uint8')) or write .tif or .h5 to "
                "keep the values"
            )
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (3, 4))):
            raise InvalidInputError(
                f"{path}: PNG holds one (H, W) or (H, W, 3|4) image, got shape {arr.shape}; "
                "write a stack to .tif or .h5"
            )
        iio.imwrite(path, arr, extension=".png", **options)
