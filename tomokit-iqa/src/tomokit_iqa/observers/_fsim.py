"""FSIM and FSIMc (Zhang et al. 2011), as the authors' MATLAB ``FeatureSIM.m``.

Phase congruency is Kovesi's ``phasecong2`` as embedded in ``FeatureSIM.m``: log-Gabor
filters over 4 scales (smallest wavelength 6, factor 2, sigma_f 0.55) and 4 orientations
(angular spread ratio 1.2), a Butterworth low-pass (cutoff 0.45, order 15), noise
compensation with k = 2 and the empirical 1/1.7 rescaling. Everything is done in the
Fourier domain on whole stacks at once.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import ClassVar

import numpy as np
import scipy.fft as sfft
from pydantic import Field

from tomokit import Params
from tomokit_iqa.observers._base import (
    FRObserver,
    FRParams,
    Scaling,
    auto_downsample_factor,
    gradient_magnitude,
    rgb_to_grey,
    similarity,
)

__all__ = ["FSIM", "phase_congruency"]

_NSCALE = 4
_NORIENT = 4
_MIN_WAVELENGTH = 6.0
_MULT = 2.0
_SIGMA_ONF = 0.55
_DTHETA_ON_SIGMA = 1.2
_K = 2.0
_EPSILON = 1e-4  # phasecong2's guard against division by zero

# Scharr kernel of FeatureSIM.m: dx = [3 0 -3; 10 0 -10; 3 0 -3] / 16 (and dy = dx').
_SCHARR = (3.0 / 16.0, 10.0 / 16.0, 3.0 / 16.0)


def _normalised_grid(n: int) -> np.ndarray:
    """phasecong2's ``xrange``: +/-0.5 normalised frequencies for odd and even sizes."""
    if n % 2:
        return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
    return np.arange(-n / 2, n / 2) / n


@lru_cache(maxsize=8)
def _filters(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-Gabor filters ``(O, S, rows, cols)`` (zero frequency at the corner) and the
    noise-model constants per orientation: ``EM_n`` and the sums over ``ifft2(filter)``.

    They depend only on the image size, so they are cached.
    """
    x, y = np.meshgrid(_normalised_grid(cols), _normalised_grid(rows))
    radius = np.sqrt(x * x + y * y)
    theta = np.arctan2(-y, x)
    radius = np.fft.ifftshift(radius)
    theta = np.fft.ifftshift(theta)
    radius[0, 0] = 1.0
    sintheta, costheta = np.sin(theta), np.cos(theta)
    # Butterworth low-pass on the unshifted radius grid, then shifted (lowpassfilter.m)
    lp = np.fft.ifftshift(1.0 / (1.0 + (np.sqrt(x * x + y * y) / 0.45) ** (2 * 15)))
    log_gabor = np.empty((_NSCALE, rows, cols))
    for s in range(_NSCALE):
        fo = 1.0 / (_MIN_WAVELENGTH * _MULT**s)
        lg = np.exp(-(np.log(radius / fo) ** 2) / (2.0 * math.log(_SIGMA_ONF) ** 2)) * lp
        lg[0, 0] = 0.0
        log_gabor[s] = lg
    theta_sigma = math.pi / _NORIENT / _DTHETA_ON_SIGMA
    filters = np.empty((_NORIENT, _NSCALE, rows, cols))
    noise = np.empty((_NORIENT, 3))
    for o in range(_NORIENT):
        angl = o * math.pi / _NORIENT
        ds = sintheta * math.cos(angl) - costheta * math.sin(angl)
        dc = costheta * math.cos(angl) + sintheta * math.sin(angl)
        dtheta = np.abs(np.arctan2(ds, dc))
        spread = np.exp(-(dtheta**2) / (2.0 * theta_sigma**2))
        filters[o] = log_gabor * spread
        ifft_filt = np.real(sfft.ifft2(filters[o])) * math.sqrt(rows * cols)
        sum_an2 = float(np.sum(ifft_filt**2))
        sum_aiaj = 0.0
        for si in range(_NSCALE - 1):
            sum_aiaj += float(np.sum(ifft_filt[si] * ifft_filt[si + 1 :].sum(axis=0)))
        em_n = float(np.sum(filters[o, 0] ** 2))
        noise[o] = (em_n, sum_an2, sum_aiaj)
    filters.setflags(write=False)
    noise.setflags(write=False)
    return filters, noise


@lru_cache(maxsize=8)
def _filters_as(rows: int, cols: int, dtype: str) -> np.ndarray:
    out = _filters(rows, cols)[0].astype(dtype)
    out.setflags(write=False)
    return out


def phase_congruency(images: np.ndarray) -> np.ndarray:
    """Phase congruency maps of a stack ``(N, H, W)`` (``phasecong2`` of FeatureSIM.m).

    float32 input is processed in single precision (complex64 FFTs), anything else in
    double precision.
    """
    n, rows, cols = images.shape
    dtype = np.float32 if images.dtype == np.float32 else np.float64
    images = images.astype(dtype, copy=False)
    noise = _filters(rows, cols)[1]
    filters = _filters_as(rows, cols, np.dtype(dtype).name)
    image_fft = sfft.fft2(images, workers=-1)  # (N, H, W)
    energy_all = np.zeros((n, rows, cols), dtype=dtype)
    an_all = np.zeros((n, rows, cols), dtype=dtype)
    for o in range(_NORIENT):
        eo = sfft.ifft2(image_fft[:, None] * filters[o][None], workers=-1)  # (N, S, H, W)
        even, odd = eo.real, eo.imag
        an = np.abs(eo)
        sum_e = even.sum(axis=1)
        sum_o = odd.sum(axis=1)
        x_energy = np.sqrt(sum_e**2 + sum_o**2) + _EPSILON
        mean_e = (sum_e / x_energy)[:, None]
        mean_o = (sum_o / x_energy)[:, None]
        energy = np.sum(even * mean_e + odd * mean_o - np.abs(even * mean_o - odd * mean_e), axis=1)
        # noise compensation from the smallest scale's response
        median_e2n = np.median((an[:, 0] ** 2).reshape(n, -1), axis=1)
        mean_e2n = -median_e2n / math.log(0.5)
        em_n, sum_an2, sum_aiaj = noise[o]
        noise_power = mean_e2n / em_n
        est_noise_energy2 = 2.0 * noise_power * sum_an2 + 4.0 * noise_power * sum_aiaj
        tau = np.sqrt(est_noise_energy2 / 2.0)
        est_noise_energy = tau * math.sqrt(math.pi / 2.0)
        est_noise_sigma = np.sqrt((2.0 - math.pi / 2.0) * tau**2)
        threshold = (est_noise_energy + _K * est_noise_sigma) / 1.7
        energy_all += np.maximum(energy - threshold[:, None, None].astype(dtype), 0.0)
        an_all += an.sum(axis=1)
    # MATLAB divides as is (0/0 = NaN on a constant image); a machine-epsilon guard keeps
    # featureless images finite without changing any other value measurably.
    eps = np.finfo(dtype).eps
    return (energy_all + eps) / (an_all + eps)


class FSIMParams(FRParams):
    """Parameters of :class:`FSIM`."""

    color: bool = Field(
        False,
        description=(
            "Inputs are RGB, shape (H, W, 3) or (N, H, W, 3): compute FSIMc, which adds the "
            "I and Q chromatic similarity (YIQ; T3 = T4 = 200, lambda = 0.03). "
            "False: grey images, FSIM."
        ),
    )


class FSIM(FRObserver):
    """Feature similarity index (FSIM; FSIMc for RGB), as the authors' ``FeatureSIM.m``.

    Down-sampling by f = max(1, round(min(H, W) / 256)) (f x f average, zero border, every
    f-th pixel), phase congruency (PC) and Scharr gradient magnitude (GM) of both images,
    ``S = S_PC(T1 = 0.85) * S_G(T2 = 160)`` weighted by ``max(PC_r, PC_d)``. With
    ``color=True`` the inputs are RGB: Y = 0.299 R + 0.587 G + 0.114 B is the luminance
    and FSIMc multiplies by ``real((S_I S_Q) ** 0.03)``. Constants are for [0, 255]
    images; inputs are rescaled from ``data_range``. Higher is better; 1 for identical
    images.

    Reference: L. Zhang, L. Zhang, X. Mou, D. Zhang, "FSIM: a feature similarity index for
    image quality assessment", IEEE TIP 20(8), 2011.
    """

    Params: ClassVar[type[Params]] = FSIMParams
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    scale: ClassVar[float] = 255.0
    min_size: ClassVar[int] = 2

    T1: ClassVar[float] = 0.85
    T2: ClassVar[float] = 160.0
    T3: ClassVar[float] = 200.0
    T4: ClassVar[float] = 200.0
    LAMBDA: ClassVar[float] = 0.03

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        params = self.params
        assert isinstance(params, FSIMParams)
        n = ref.shape[0]
        chroma = None
        if params.color:
            # down-sampling is linear, so it commutes with the RGB -> YIQ conversion that
            # FeatureSIM.m does first (to rounding): the raw RGB is reduced first
            f = auto_downsample_factor(ref.shape[:-1])
            pair = np.stack(
                [scaling.downsample(a, f, padding="zeros", axes=(-3, -2)) for a in (ref, dist)]
            )
            r, g, b = pair[..., 0], pair[..., 1], pair[..., 2]
            lum = rgb_to_grey(pair)
            chroma = (0.596 * r - 0.274 * g - 0.322 * b, 0.211 * r - 0.523 * g + 0.312 * b)
        else:
            f = auto_downsample_factor(ref.shape)
            lum = np.stack([scaling.downsample(a, f, padding="zeros") for a in (ref, dist)])
        h, w = lum.shape[-2:]
        pc = phase_congruency(lum.reshape(2 * n, h, w)).reshape(2, n, h, w)
        gm = gradient_magnitude(lum, _SCHARR)
        pc_m = np.maximum(pc[0], pc[1])
        sim = similarity(gm[0], gm[1], self.T2) * similarity(pc[0], pc[1], self.T1) * pc_m
        if chroma is not None:
            s_iq = similarity(chroma[0][0], chroma[0][1], self.T3) * similarity(
                chroma[1][0], chroma[1][1], self.T4
            )
            if np.any(s_iq < 0):
                sim = sim * np.real(np.power(s_iq.astype(np.complex128), self.LAMBDA))
            else:
                sim = sim * s_iq**self.LAMBDA
        num = sim.sum(axis=(-2, -1), dtype=np.float64)
        return num / pc_m.sum(axis=(-2, -1), dtype=np.float64)
