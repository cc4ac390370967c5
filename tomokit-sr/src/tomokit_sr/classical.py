"""Classical super-resolvers: interpolation and guided (edge-aware) upsampling.

Pixel convention everywhere: a low-resolution pixel is the mean over its ``factor x
factor`` footprint (a pencil beam ``factor`` pixels wide, as ``chemical_pair`` makes it),
so high-resolution pixel ``j`` samples low-resolution coordinate ``(j + 0.5) / f - 0.5``
(half-pixel centres, scipy's ``grid_mode=True``).

Channels are independent for every method here: interpolation is linear per channel,
the guided filter fits one local linear model per channel (He et al. define it per
channel of the input), and the joint bilateral weights depend only on the guide, so they
are computed once per block of channels and shared.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field
from scipy import ndimage

from tomokit import Params
from tomokit_sr._base import SRBase, SRParams, normalize_guide

__all__ = [
    "Bicubic",
    "Bilinear",
    "GuidedFilter",
    "JointBilateral",
    "Nearest",
    "block_mean",
    "interpolate",
]


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """``(H, W[, C])`` -> ``(H/f, W/f[, C])`` by means over ``f x f`` blocks (the forward model)."""
    arr = np.asarray(image, dtype=np.float32)
    h, w = arr.shape[:2]
    hh, ww = h // factor, w // factor
    arr = arr[: hh * factor, : ww * factor]
    shape = (hh, factor, ww, factor, *arr.shape[2:])
    return arr.reshape(shape).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def interpolate(low: np.ndarray, factor: int, order: int) -> np.ndarray:
    """``(h, w, c)`` -> ``(f h, f w, c)`` by spline interpolation of ``order`` per channel.

    ``scipy.ndimage.zoom(order=order, grid_mode=True, mode="nearest")``: the same as
    ``skimage.transform.resize(order=order, mode="edge", anti_aliasing=False)``
    (tested). Order 3 is scipy's cubic B-spline interpolation (what scikit-image calls
    bicubic), not Keys' cubic convolution used by MATLAB's ``imresize``.
    """
    h, w, c = low.shape
    out = np.empty((factor * h, factor * w, c), dtype=np.float32)
    for k in range(c):
        out[..., k] = ndimage.zoom(
            np.asarray(low[..., k], dtype=np.float64), factor, order=order,
            grid_mode=True, mode="nearest",
        )
    return out


class Nearest(SRBase):
    """Each low-resolution pixel repeated ``factor x factor`` times (pixel replication)."""

    summary: ClassVar[str] = "Nearest-neighbour upscaling (pixel replication), x2/x4/x8"
    min_size: ClassVar[int] = 1

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        f = self.factor
        return np.repeat(np.repeat(low, f, axis=0), f, axis=1).astype(np.float32)


class Bilinear(SRBase):
    """Bilinear interpolation (scipy/scikit-image order 1, edges replicated)."""

    summary: ClassVar[str] = "Bilinear interpolation, x2/x4/x8"

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        return interpolate(low, self.factor, 1)


class Bicubic(SRBase):
    """Cubic B-spline interpolation (scipy/scikit-image order 3, edges replicated)."""

    summary: ClassVar[str] = "Bicubic (cubic spline, scikit-image order 3) interpolation, x2/x4/x8"
    min_size: ClassVar[int] = 4

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        return interpolate(low, self.factor, 3)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2r+1)^2`` window of the pixels inside the image (He's box filter
    divided by the in-image count ``N``), per channel of ``(h, w, c)``."""
    size = (2 * radius + 1, 2 * radius + 1, 1)
    num = ndimage.uniform_filter(image, size=size, mode="constant", cval=0.0)
    ones = np.ones((*image.shape[:2], 1), dtype=image.dtype)
    den = ndimage.uniform_filter(ones, size=size, mode="constant", cval=0.0)
    return num / den


class GuidedFilterParams(SRParams):
    radius: int = Field(
        1, ge=1, le=32, description="Window radius in low-resolution pixels ((2r+1)^2 window)."
    )
    eps: float = Field(
        1e-2, gt=0, description="Regularisation of the local linear fit, in (guide range)^2."
    )


class GuidedFilter(SRBase):
    """Fast guided filter (He & Sun 2015) used for joint upsampling.

    The local linear model ``q = a I + b`` of the guided filter (He, Sun & Tang 2010) is
    fitted at low resolution between the guide's block means and the chemical map, the
    coefficients are averaged over the window, bilinearly upsampled, and applied to the
    full-resolution guide: edges come from the guide, values from the chemical map. The
    output is linear in the chemical map (a constant stays that constant; scaling the
    input scales the output). The guide is scaled to [0, 1] first, so ``eps`` is in
    units of that range squared.
    """

    summary: ClassVar[str] = "Fast guided filter upsampling with the absorption image as guide (He et al.)"
    Params: ClassVar[type[Params]] = GuidedFilterParams
    uses_guide: ClassVar[bool] = True

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        assert guide is not None
        p = self.params
        assert isinstance(p, GuidedFilterParams)
        f = self.factor
        g = normalize_guide(guide).astype(np.float64)  # (H, W, 1|c)
        g_low = block_mean(g, f).astype(np.float64)
        x = low.astype(np.float64)
        r = p.radius
        mean_i = _box(g_low, r)
        mean_p = _box(x, r)
        cov_ip = _box(g_low * x, r) - mean_i * mean_p
        var_i = _box(g_low * g_low, r) - mean_i * mean_i
        a = cov_ip / (np.maximum(var_i, 0.0) + p.eps)
        b = mean_p - a * mean_i
        a_up = interpolate(_box(a, r), f, 1)
        b_up = interpolate(_box(b, r), f, 1)
        return (a_up * g + b_up).astype(np.float32)


class JointBilateralParams(SRParams):
    sigma_spatial: float = Field(
        1.5, gt=0, le=16, description="Spatial Gaussian width in low-resolution pixels."
    )
    sigma_range: float = Field(
        0.01, gt=0, description="Range Gaussian width on the guide scaled to [0, 1]."
    )
    radius: int | None = Field(
        None, ge=1, le=32,
        description="Neighbourhood radius in low-resolution pixels (default ceil(2 sigma_spatial)).",
    )


class JointBilateral(SRBase):
    """Joint bilateral upsampling (Kopf, Cohen, Lischinski & Uyttendaele 2007).

    ``S(p) = sum_q S_low(q) f(|p_low - q|) g(|I(p) - I_q|) / k_p`` over the low-resolution
    neighbours ``q`` of the (fractional) low-resolution position ``p_low`` of each output
    pixel; ``f`` and ``g`` are Gaussians, ``I`` the guide scaled to [0, 1] and ``I_q`` the
    guide's mean over the footprint of ``q`` (Kopf et al. take the guide at ``q``'s
    position; the footprint mean matches how the low-resolution map was measured). A
    normalised weighted mean, so a constant stays constant and values never leave the
    range of the neighbourhood.
    """

    summary: ClassVar[str] = "Joint bilateral upsampling with the absorption image as guide (Kopf et al. 2007)"
    Params: ClassVar[type[Params]] = JointBilateralParams
    uses_guide: ClassVar[bool] = True
    min_size: ClassVar[int] = 1

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        assert guide is not None
        p = self.params
        assert isinstance(p, JointBilateralParams)
        f = self.factor
        h, w, c = low.shape
        g = normalize_guide(guide).astype(np.float64)  # (H, W, 1|c)
        g_low = block_mean(g, f).astype(np.float64)
        rad = p.radius if p.radius is not None else int(np.ceil(2 * p.sigma_spatial))
        ys = (np.arange(f * h) + 0.5) / f - 0.5
        xs = (np.arange(f * w) + 0.5) / f - 0.5
        by = np.clip(np.floor(ys + 0.5).astype(int), 0, h - 1)
        bx = np.clip(np.floor(xs + 0.5).astype(int), 0, w - 1)
        offsets = [(dy, dx) for dy in range(-rad, rad + 1) for dx in range(-rad, rad + 1)]
        inv_s = 1.0 / (2 * p.sigma_spatial**2)
        inv_r = 1.0 / (2 * p.sigma_range**2)

        def neighbour(dy: int, dx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            qy, qx = by + dy, bx + dx
            vy, vx = (qy >= 0) & (qy < h), (qx >= 0) & (qx < w)
            qy, qx = np.clip(qy, 0, h - 1), np.clip(qx, 0, w - 1)
            # spatial exponent (inf outside the image) and range exponent
            sy = np.where(vy, (ys - qy) ** 2 * inv_s, np.inf)
            sx = np.where(vx, (xs - qx) ** 2 * inv_s, np.inf)
            expo = sy[:, None, None] + sx[None, :, None]
            expo = expo + (g - g_low[qy][:, qx]) ** 2 * inv_r
            return expo, qy, qx

        # pass 1: the smallest exponent per pixel, so the weights never all underflow
        best = np.full(g.shape, np.inf)
        for dy, dx in offsets:
            best = np.minimum(best, neighbour(dy, dx)[0])
        num = np.zeros((f * h, f * w, c))
        den = np.zeros(g.shape)
        for dy, dx in offsets:
            expo, qy, qx = neighbour(dy, dx)
            wgt = np.exp(-(expo - best))
            num += wgt * low[qy][:, qx].astype(np.float64)
            den += wgt
        return (num / den).astype(np.float32)
