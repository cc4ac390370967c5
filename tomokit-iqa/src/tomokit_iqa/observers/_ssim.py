"""SSIM (Wang et al. 2004) and MS-SSIM (Wang et al. 2003), as the authors' MATLAB code.

``ssim.m`` (the 2009 version with automatic down-sampling) and ``msssim.m`` by Zhou Wang:
an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, statistics over the 'valid'
region only, and the mean of the SSIM map.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np
from pydantic import Field
from scipy import ndimage

from tomokit import Params
from tomokit_iqa.observers._base import (
    FRObserver,
    FRParams,
    Scaling,
    auto_downsample_factor,
    matlab_downsample,
)

__all__ = ["MSSSIM", "SSIM"]

_WINDOW = 11
_SIGMA = 1.5
_K1 = 0.01
_K2 = 0.03
#: MS-SSIM scale weights (Wang, Simoncelli & Bovik 2003, Table 1).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@lru_cache(maxsize=4)
def _gaussian_1d(size: int = _WINDOW, sigma: float = _SIGMA) -> np.ndarray:
    """1-D factor of ``fspecial('gaussian', size, sigma)`` (which is separable)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _valid_filter(stack: np.ndarray) -> np.ndarray:
    """``filter2(window, X, 'valid')`` over the last two axes of ``stack``: the separable
    Gaussian, rows first (the contiguous axis, where scipy's filter is fastest)."""
    g = _gaussian_1d()
    h = _WINDOW // 2
    out = ndimage.correlate1d(stack, g, axis=-1, mode="nearest")[..., h:-h]
    return ndimage.correlate1d(out, g, axis=-2, mode="nearest")[..., h:-h, :]


def ssim_maps(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice mean SSIM and mean contrast-structure (cs) of stacks ``(N, H, W)``.

    float32 stacks stay in single precision (the map means then differ from double
    precision by ~1e-7, measured on natural and tomography images); the means are
    accumulated in float64. Everything is done in place on one moment stack.
    """
    dtype = np.float32 if x.dtype == np.float32 and y.dtype == np.float32 else np.float64
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    stack = np.empty((5, *x.shape), dtype=dtype)
    stack[0], stack[1] = x, y
    np.multiply(x, x, out=stack[2])
    np.multiply(y, y, out=stack[3])
    np.multiply(x, y, out=stack[4])
    # one filtering pass over the five moment images
    mu_x, mu_y, sxx, syy, sxy = _valid_filter(stack)
    mu_xy = mu_x * mu_y
    mu_x *= mu_x
    mu_y *= mu_y
    sxx -= mu_x
    syy -= mu_y
    sxy -= mu_xy
    # cs = (2 sxy + c2) / (sxx + syy + c2)
    sxy *= 2.0
    sxy += c2
    sxx += syy
    sxx += c2
    cs = np.divide(sxy, sxx, out=sxy)
    # luminance = (2 mu_x mu_y + c1) / (mu_x^2 + mu_y^2 + c1)
    mu_xy *= 2.0
    mu_xy += c1
    mu_x += mu_y
    mu_x += c1
    ssim = np.divide(mu_xy, mu_x, out=mu_xy)
    ssim *= cs
    axes = (-2, -1)
    return ssim.mean(axis=axes, dtype=np.float64), cs.mean(axis=axes, dtype=np.float64)


class SSIMParams(FRParams):
    """Parameters of :class:`SSIM`."""

    downsample: bool = Field(
        True,
        description=(
            "Apply ssim.m's automatic down-sampling: an f x f average filter (symmetric "
            "border) then every f-th pixel, f = max(1, round(min(H, W) / 256)). Switch it off "
            "to compare at full resolution."
        ),
    )
    color: bool = Field(
        False,
        description=(
            "Inputs are RGB, shape (H, W, 3) or (N, H, W, 3): SSIM of each channel, "
            "averaged (as piq and scikit-image's channel_axis do). False: grey images."
        ),
    )


class SSIM(FRObserver):
    """Structural similarity index, exactly as Wang's MATLAB ``ssim.m``.

    Down-sampling by f = max(1, round(min(H, W) / 256)) (``downsample=False`` switches it
    off), then the mean of the SSIM map over the 'valid' region of the 11x11 Gaussian
    window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = ``data_range``. With ``color=True`` the
    inputs are RGB and the channel SSIMs are averaged.

    Reference: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
    assessment: from error visibility to structural similarity", IEEE TIP 13(4), 2004.
    Higher is better; 1 for identical images.
    """

    Params: ClassVar[type[Params]] = SSIMParams
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    scale: ClassVar[float] = 255.0
    min_size: ClassVar[int] = _WINDOW

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        params = self.params
        assert isinstance(params, SSIMParams)
        if params.color:  # channels become slices; averaged at the end
            n = ref.shape[0]
            ref = np.moveaxis(ref, -1, 1).reshape(-1, *ref.shape[1:3])
            dist = np.moveaxis(dist, -1, 1).reshape(-1, *dist.shape[1:3])
            return self._grey(ref, dist, scaling, params).reshape(n, 3).mean(axis=1)
        return self._grey(ref, dist, scaling, params)

    def _grey(
        self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling, params: SSIMParams
    ) -> np.ndarray:
        f = auto_downsample_factor(ref.shape) if params.downsample else 1
        x = scaling.downsample(ref, f, padding="symmetric")
        y = scaling.downsample(dist, f, padding="symmetric")
        return ssim_maps(x, y, self.scale)[0]


class MSSSIM(FRObserver):
    """Multi-scale SSIM over 5 scales, as Wang's MATLAB ``msssim.m``.

    At each scale the SSIM statistics use the same 11x11 Gaussian window; between scales the
    images are averaged over 2x2 (symmetric border) and every second pixel kept. The index
    is ``prod(cs_j ** w_j, j < 5) * ssim_5 ** w_5`` with weights 0.0448, 0.2856, 0.3001,
    0.2363, 0.1333. Negative cs/ssim terms (possible for anti-correlated images, where
    MATLAB returns a complex number) are clipped to 0, as piq does, so the index is in
    [0, 1]. No automatic down-sampling (msssim.m has none). Images need at least 161 px
    per side (11 px at the coarsest scale).

    Reference: Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural similarity
    for image quality assessment", Asilomar Conference on Signals, Systems and Computers,
    2003. Higher is better.
    """

    Params: ClassVar[type[Params]] = FRParams
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    scale: ClassVar[float] = 255.0
    min_size: ClassVar[int] = 161
    bytes_per_pixel: ClassVar[int] = 96  # full-resolution moment stacks

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        weights = np.asarray(MS_SSIM_WEIGHTS)
        x, y = scaling.convert(ref), scaling.convert(dist)
        terms = []
        for level in range(len(weights)):
            if level:
                x = matlab_downsample(x, 2, padding="symmetric")
                y = matlab_downsample(y, 2, padding="symmetric")
            ssim, cs = ssim_maps(x, y, self.scale)
            terms.append(ssim if level == len(weights) - 1 else cs)
        values = np.maximum(np.stack(terms), 0.0)
        return np.prod(values ** weights[:, None], axis=0)
