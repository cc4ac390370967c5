"""Filters: pre- and post-processing meant to improve an image or a sinogram.

Image domain (``domain = "image"``; a volume is filtered slice by slice): ``median``,
``gaussian``, ``bilateral``, ``nl_means``, ``tv_denoise``, ``unsharp_mask``, ``clahe``,
``equalize_hist``, ``ring_removal_polar``. Sinogram domain (``domain = "sinogram"``;
rows are angles): ``stripe_sorting``, ``stripe_fitting``, ``stripe_wavelet_fft``.
:func:`ring_amplitude` and :func:`stripe_amplitude` measure what a ring filter left.

Importing this package imports neither scikit-image nor algotom; they load when a
filter runs.
"""

from __future__ import annotations

from tomokit_recon.filters._image import (
    CLAHE,
    Bilateral,
    EqualizeHist,
    Gaussian,
    Median,
    NLMeans,
    TVDenoise,
    UnsharpMask,
)
from tomokit_recon.filters._rings import (
    RingRemovalPolar,
    StripeFitting,
    StripeSorting,
    StripeWaveletFFT,
    radial_profile,
    ring_amplitude,
    stripe_amplitude,
)

__all__ = [
    "CLAHE",
    "Bilateral",
    "EqualizeHist",
    "Gaussian",
    "Median",
    "NLMeans",
    "RingRemovalPolar",
    "StripeFitting",
    "StripeSorting",
    "StripeWaveletFFT",
    "TVDenoise",
    "UnsharpMask",
    "radial_profile",
    "ring_amplitude",
    "stripe_amplitude",
]
