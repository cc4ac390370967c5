"""Gradient-based indices: GMSD (Xue et al. 2014) and MDSI (Nafchi et al. 2016).

Both follow the authors' MATLAB code: ``conv2(..., 'same')`` (zero border) for the
average down-sampling and the Prewitt gradients, constants defined for [0, 255] images
(inputs are rescaled from ``data_range`` to 255 first).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import Params
from tomokit_iqa.observers._base import (
    FRObserver,
    FRParams,
    Scaling,
    auto_downsample_factor,
    gradient_magnitude,
    similarity,
)

__all__ = ["GMSD", "MDSI", "prewitt_magnitude"]

_PREWITT = (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0)


def prewitt_magnitude(x: np.ndarray) -> np.ndarray:
    """Gradient magnitude with the Prewitt kernels ``[1 0 -1; 1 0 -1; 1 0 -1] / 3`` and
    their transpose, zero border (MATLAB ``conv2(X, dx, 'same')``) over the last two axes."""
    return gradient_magnitude(x, _PREWITT)


class GMSD(FRObserver):
    """Gradient magnitude similarity deviation, as the authors' MATLAB ``GMSD.m``.

    2x2 average then every second pixel, Prewitt gradient magnitudes (divided by 3), the
    similarity map ``(2 m_r m_d + c) / (m_r^2 + m_d^2 + c)`` with c = 170 for [0, 255]
    images, and its standard deviation (``std2``, ddof=1). Lower is better; 0 for
    identical images.

    Reference: W. Xue, L. Zhang, X. Mou, A. C. Bovik, "Gradient magnitude similarity
    deviation: a highly efficient perceptual image quality index", IEEE TIP 23(2), 2014.
    """

    Params: ClassVar[type[Params]] = FRParams
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    scale: ClassVar[float] = 255.0
    min_size: ClassVar[int] = 3
    #: Stability constant for [0, 255] images (GMSD.m ``T = 170``).
    c: ClassVar[float] = 170.0

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        both = np.stack([scaling.downsample(a, 2, padding="zeros") for a in (ref, dist)])
        g_ref, g_dist = prewitt_magnitude(both)
        gms = similarity(g_ref, g_dist, self.c)
        return gms.reshape(len(gms), -1).std(axis=1, ddof=1, dtype=np.float64)


# RGB -> L, H, M of MDSI.m (luminance and two chromatic opponent channels).
_RGB_TO_LHM = np.array(
    [
        [0.2989, 0.5870, 0.1140],
        [0.30, 0.04, -0.35],
        [0.34, -0.60, 0.17],
    ]
)


class MDSIParams(FRParams):
    """Parameters of :class:`MDSI`."""

    combination: Literal["sum", "mult"] = Field(
        "sum",
        description=(
            "How gradient and chromaticity similarity are combined: 'sum' "
            "(0.6 GS + 0.4 CS) or 'mult' (GS^0.2 * CS^0.1), as MDSI.m's combMethod."
        ),
    )
    color: bool = Field(
        False,
        description=(
            "Inputs are RGB, shape (H, W, 3) or (N, H, W, 3). False: grey images, which "
            "are used as R = G = B (MDSI.m needs three channels)."
        ),
    )


class MDSI(FRObserver):
    """Mean deviation similarity index, as the authors' MATLAB ``MDSI.m``.

    Average down-sampling by f = max(1, round(min(H, W) / 256)) (zero border), luminance
    L = 0.2989 R + 0.587 G + 0.114 B and chromatic H, M channels; gradient similarity of
    reference, distorted and their fused average (c1 = 140, c2 = 55), chromaticity
    similarity (c3 = 550), combined by 'sum' or 'mult'; the score is the mean absolute
    deviation of GCS^0.25 (complex where GCS < 0, as in MATLAB) raised to 0.25. Grey input
    is used as R = G = B, as piq does. Lower is better; 0 for identical images.

    Reference: H. Z. Nafchi, A. Shahkolaei, R. Hedjam, M. Cheriet, "Mean deviation
    similarity index: efficient and reliable full-reference image quality evaluator",
    IEEE Access 4, 2016.
    """

    Params: ClassVar[type[Params]] = MDSIParams
    higher_is_better: ClassVar[bool] = False
    #: With GCS in [-1, 1.6], |GCS^(1/4)| <= 1.6^(1/4), so the deviation^(1/4) is at most
    #: (2 * 1.6^(1/4))^(1/4) ~ 1.22; natural images score well below 1.
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.23)
    scale: ClassVar[float] = 255.0
    min_size: ClassVar[int] = 1

    c1: ClassVar[float] = 140.0
    c2: ClassVar[float] = 55.0
    c3: ClassVar[float] = 550.0

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        params = self.params
        assert isinstance(params, MDSIParams)
        # double precision: the 4th-root pooling amplifies rounding errors
        scaling = replace(scaling, dtype=np.float64)
        if params.color:
            f = auto_downsample_factor(ref.shape[:-1])
            pair = np.stack(
                [scaling.downsample(a, f, padding="zeros", axes=(-3, -2)) for a in (ref, dist)]
            )  # (2, N, h, w, 3)
            lhm = np.moveaxis(pair @ _RGB_TO_LHM.T, -1, 0)  # (3, 2, N, h, w)
            lum, hue, mag = lhm
        else:
            f = auto_downsample_factor(ref.shape)
            lum = np.stack([scaling.downsample(a, f, padding="zeros") for a in (ref, dist)])
            w = _RGB_TO_LHM.sum(axis=1)
            lum, hue, mag = w[0] * lum, w[1] * lum, w[2] * lum
        fused = 0.5 * (lum[0] + lum[1])
        g_ref, g_dist, g_fused = prewitt_magnitude(np.stack([lum[0], lum[1], fused]))
        gs = (
            similarity(g_ref, g_dist, self.c1)
            + similarity(g_dist, g_fused, self.c2)
            - similarity(g_ref, g_fused, self.c2)
        )
        # grouped so that identical inputs give exactly 1 (the 4th-root pooling below
        # would turn a rounding error of 1e-16 into a score of 1e-4)
        cs = (2.0 * (hue[0] * hue[1] + mag[0] * mag[1]) + self.c3) / (
            (hue[0] * hue[0] + mag[0] * mag[0]) + (hue[1] * hue[1] + mag[1] * mag[1]) + self.c3
        )
        if params.combination == "sum":
            gcs: np.ndarray = 0.6 * gs + 0.4 * cs
        else:
            gcs = _power(gs, 0.2) * _power(cs, 0.1)
        gq = _power(gcs, 0.25).reshape(gcs.shape[0], -1)
        mean = gq.mean(axis=1, keepdims=True, dtype=np.result_type(gq.dtype, np.float64))
        dev = np.abs(gq - mean).mean(axis=1, dtype=np.float64)
        return dev**0.25


def _power(x: np.ndarray, p: float) -> np.ndarray:
    """``x .^ p`` as MATLAB computes it: the principal complex root where ``x < 0``."""
    if np.iscomplexobj(x) or np.any(x < 0):
        return np.power(x.astype(np.result_type(x.dtype, np.complex64)), p)
    return np.power(x, p)
