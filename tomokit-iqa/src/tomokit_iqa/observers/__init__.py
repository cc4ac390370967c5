"""Full-reference image-quality observers that reproduce the authors' MATLAB code.

``SSIM`` and ``MSSSIM`` (Wang et al.), ``FSIM`` (Zhang et al.; FSIMc for RGB),
``GMSD`` (Xue et al.), ``MDSI`` (Nafchi et al.), and ``PSNR``/``MSE`` from
:mod:`tomokit.metrics`. Each is a :class:`tomokit.Observer`: ``compare(reference,
distorted)`` returns a float for 2-D images and one value per slice for ``(N, H, W)``
batches, computed in one vectorised pass. ``data_range`` is explicit (None: the integer
dtype's maximum).
"""

from __future__ import annotations

from tomokit_iqa.observers._base import FRObserver, FRParams
from tomokit_iqa.observers._error import MSE, PSNR
from tomokit_iqa.observers._fsim import FSIM, phase_congruency
from tomokit_iqa.observers._gradient import GMSD, MDSI
from tomokit_iqa.observers._ssim import MSSSIM, SSIM

__all__ = [
    "FSIM",
    "GMSD",
    "MDSI",
    "MSE",
    "MSSSIM",
    "PSNR",
    "SSIM",
    "FRObserver",
    "FRParams",
    "phase_congruency",
]
