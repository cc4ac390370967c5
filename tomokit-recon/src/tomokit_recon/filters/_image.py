"""Image-domain filters: denoising, sharpening and contrast, thin wrappers of scipy and
scikit-image.

Why wrappers and not new code: these are the reference implementations of the field;
a filter here only fixes what a pipeline needs and the libraries leave open: one
validated ``Params`` model, float32 out, the input never modified, and parameters in
units of an explicit ``data_range`` where the method has an intensity scale (so the same
``sigma_color: 0.05`` means 5 % of the grey-value range whether the image is in [0, 1]
or in 1/cm).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import Filter, Params
from tomokit.components import check_image

__all__ = [
    "CLAHE",
    "Bilateral",
    "EqualizeHist",
    "Gaussian",
    "Median",
    "NLMeans",
    "TVDenoise",
    "UnsharpMask",
    "as_float32_image",
]

NdMode = Literal["reflect", "nearest", "mirror", "wrap"]


def as_float32_image(image: object, name: str = "image") -> np.ndarray:
    """The validated 2-D image as a float32 array (a copy only when the dtype differs)."""
    return check_image(image, name=name, ndim=(2,)).astype(np.float32, copy=False)


def _range_field(default: float = 1.0) -> float:
    return Field(  # type: ignore[no-any-return]
        default, gt=0, description="Grey-value range of the images (they lie in [0, data_range] "
        "or [data_min, data_min + data_range]); intensity parameters are fractions of it."
    )


class MedianParams(Params):
    size: int = Field(3, ge=1, le=99, description="Side of the square window in pixels.")
    mode: NdMode = Field("reflect", description="How the border is extended (scipy.ndimage).")


class Median(Filter):
    """Median filter (``scipy.ndimage.median_filter``): removes impulse noise and zingers,
    keeps edges better than a mean."""

    summary: ClassVar[str] = "Median filter (scipy.ndimage), square window"
    Params = MedianParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from scipy.ndimage import median_filter

        p = self.params
        assert isinstance(p, MedianParams)
        img = as_float32_image(image)
        return median_filter(img, size=p.size, mode=p.mode).astype(np.float32, copy=False)


class GaussianParams(Params):
    sigma: float = Field(1.0, gt=0, le=100, description="Standard deviation in pixels.")
    truncate: float = Field(4.0, gt=0, le=10, description="Kernel radius in standard deviations.")
    mode: NdMode = Field("reflect", description="How the border is extended (scipy.ndimage).")


class Gaussian(Filter):
    """Gaussian smoothing (``scipy.ndimage.gaussian_filter``): the baseline denoiser every
    other one is compared with."""

    summary: ClassVar[str] = "Gaussian smoothing (scipy.ndimage)"
    Params = GaussianParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        p = self.params
        assert isinstance(p, GaussianParams)
        img = as_float32_image(image)
        out = gaussian_filter(img, sigma=p.sigma, truncate=p.truncate, mode=p.mode)
        return np.asarray(out, dtype=np.float32)


class BilateralParams(Params):
    sigma_color: float = Field(
        0.05, gt=0, le=1, description="Grey-value standard deviation, as a fraction of data_range."
    )
    sigma_spatial: float = Field(1.5, gt=0, le=50, description="Spatial standard deviation, px.")
    win_size: int | None = Field(
        None, ge=3, le=101, description="Window side in px; default max(5, 2 ceil(3 sigma_spatial) + 1)."
    )
    bins: int = Field(10000, ge=16, le=1_000_000, description="Grey-value bins of the lookup table.")
    mode: Literal["edge", "symmetric", "reflect", "wrap"] = Field(
        "edge", description="How the border is extended (scikit-image)."
    )
    data_range: float = _range_field()


class Bilateral(Filter):
    """Bilateral filter (``skimage.restoration.denoise_bilateral``): averages neighbours
    that are close in space and in grey value, so edges between phases survive."""

    summary: ClassVar[str] = "Bilateral filter (scikit-image), edge-preserving smoothing"
    Params = BilateralParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_bilateral

        p = self.params
        assert isinstance(p, BilateralParams)
        img = as_float32_image(image)
        out = denoise_bilateral(
            img,
            win_size=p.win_size,
            sigma_color=p.sigma_color * p.data_range,
            sigma_spatial=p.sigma_spatial,
            bins=p.bins,
            mode=p.mode,
        )
        return np.asarray(out, dtype=np.float32)


class NLMeansParams(Params):
    h: float = Field(
        0.05, gt=0, le=1, description="Patch-distance cut-off, as a fraction of data_range "
        "(scikit-image suggests about 0.8 x the noise sigma with fast_mode)."
    )
    patch_size: int = Field(5, ge=1, le=31, description="Patch side in px.")
    patch_distance: int = Field(6, ge=1, le=50, description="Search radius in px.")
    fast_mode: bool = Field(True, description="scikit-image's fast (uniform-weight) variant.")
    sigma: float = Field(
        0.0, ge=0, le=1, description="Known noise standard deviation as a fraction of "
        "data_range (subtracted from patch distances); 0: not used."
    )
    data_range: float = _range_field()


class NLMeans(Filter):
    """Non-local means (``skimage.restoration.denoise_nl_means``): averages pixels whose
    surrounding patches look alike, wherever they are in the search window."""

    summary: ClassVar[str] = "Non-local means denoising (scikit-image)"
    Params = NLMeansParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_nl_means

        p = self.params
        assert isinstance(p, NLMeansParams)
        img = as_float32_image(image)
        out = denoise_nl_means(
            img,
            patch_size=p.patch_size,
            patch_distance=p.patch_distance,
            h=p.h * p.data_range,
            fast_mode=p.fast_mode,
            sigma=p.sigma * p.data_range,
            preserve_range=True,
        )
        return np.asarray(out, dtype=np.float32)


class TVDenoiseParams(Params):
    weight: float = Field(
        0.1, gt=0, le=10, description="Denoising weight (1/lambda), as a fraction of "
        "data_range: larger removes more noise and more texture."
    )
    eps: float = Field(2e-4, gt=0, le=0.1, description="Relative energy change that stops it.")
    max_num_iter: int = Field(200, ge=1, le=10000, description="Iteration limit.")
    data_range: float = _range_field()


class TVDenoise(Filter):
    """Total-variation denoising, Chambolle's projection algorithm
    (``skimage.restoration.denoise_tv_chambolle``): piecewise-constant results, the
    natural prior for phase-separated materials."""

    summary: ClassVar[str] = "Total-variation denoising, Chambolle (scikit-image)"
    Params = TVDenoiseParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_tv_chambolle

        p = self.params
        assert isinstance(p, TVDenoiseParams)
        img = as_float32_image(image)
        out = denoise_tv_chambolle(
            img, weight=p.weight * p.data_range, eps=p.eps, max_num_iter=p.max_num_iter
        )
        return np.asarray(out, dtype=np.float32)


class UnsharpMaskParams(Params):
    radius: float = Field(1.0, gt=0, le=50, description="Gaussian sigma of the blur, px.")
    amount: float = Field(1.0, ge=0, le=20, description="Gain of the detail added back.")


class UnsharpMask(Filter):
    """Unsharp masking (``skimage.filters.unsharp_mask``, range preserved, no clipping):
    ``image + amount (image - blurred)`` sharpens edges blurred by the detector or FBP
    filter. Linear, so it needs no data_range."""

    summary: ClassVar[str] = "Unsharp mask sharpening (scikit-image)"
    Params = UnsharpMaskParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from skimage.filters import unsharp_mask

        p = self.params
        assert isinstance(p, UnsharpMaskParams)
        img = as_float32_image(image)
        out = unsharp_mask(img, radius=p.radius, amount=p.amount, preserve_range=True)
        return np.asarray(out, dtype=np.float32)


class _WindowParams(Params):
    data_min: float = Field(0.0, description="Lower end of the grey-value window.")
    data_range: float = _range_field()


def _to_unit(img: np.ndarray, p: _WindowParams) -> np.ndarray:
    """Map ``[data_min, data_min + data_range]`` onto [0, 1], clipping outside values."""
    return np.clip((img.astype(np.float64) - p.data_min) / p.data_range, 0.0, 1.0)


def _from_unit(unit: np.ndarray, p: _WindowParams) -> np.ndarray:
    return (p.data_min + p.data_range * np.asarray(unit, dtype=np.float64)).astype(np.float32)


class CLAHEParams(_WindowParams):
    kernel_size: int | None = Field(
        None, ge=2, le=4096, description="Tile side in px; default 1/8 of each image side."
    )
    clip_limit: float = Field(
        0.01, gt=0, le=1, description="Contrast limit (fraction of a tile's pixels per bin)."
    )
    nbins: int = Field(256, ge=2, le=65536, description="Histogram bins.")


class CLAHE(Filter):
    """Contrast-limited adaptive histogram equalisation
    (``skimage.exposure.equalize_adapthist``). The window ``[data_min, data_min +
    data_range]`` is mapped to [0, 1] (values outside are clipped), equalised, and mapped
    back, so the result stays in the image's units."""

    summary: ClassVar[str] = "Contrast-limited adaptive histogram equalisation (scikit-image)"
    Params = CLAHEParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from skimage.exposure import equalize_adapthist

        p = self.params
        assert isinstance(p, CLAHEParams)
        unit = _to_unit(as_float32_image(image), p)
        out = equalize_adapthist(unit, kernel_size=p.kernel_size, clip_limit=p.clip_limit,
                                 nbins=p.nbins)
        return _from_unit(out, p)


class EqualizeHistParams(_WindowParams):
    nbins: int = Field(256, ge=2, le=65536, description="Histogram bins.")


class EqualizeHist(Filter):
    """Global histogram equalisation (``skimage.exposure.equalize_hist``): every grey value
    becomes its cumulative frequency, mapped onto ``[data_min, data_min + data_range]``."""

    summary: ClassVar[str] = "Global histogram equalisation (scikit-image)"
    Params = EqualizeHistParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from skimage.exposure import equalize_hist

        p = self.params
        assert isinstance(p, EqualizeHistParams)
        unit = _to_unit(as_float32_image(image), p)
        return _from_unit(equalize_hist(unit, nbins=p.nbins), p)
