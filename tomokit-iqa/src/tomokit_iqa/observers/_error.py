"""PSNR and MSE observers: thin wrappers of :mod:`tomokit.metrics`, one value per slice."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tomokit import Params, metrics
from tomokit_iqa.observers._base import FRObserver, FRParams, Scaling

__all__ = ["MSE", "PSNR"]


class PSNR(FRObserver):
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``
    (:func:`tomokit.metrics.psnr`); ``inf`` for identical images. Higher is better."""

    Params: ClassVar[type[Params]] = FRParams
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    scale: ClassVar[float] = 1.0  # unused: metrics.psnr takes the raw input and data range

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        pairs = zip(ref, dist, strict=True)
        return np.array([metrics.psnr(r, d, data_range=scaling.data_range) for r, d in pairs])


class MSE(FRObserver):
    """Mean squared error (:func:`tomokit.metrics.mse`) in the units of the input.

    ``data_range`` is not used for the value: the error is reported on the input's own
    scale, as :func:`tomokit.metrics.mse` does. Lower is better; 0 for identical images.
    """

    Params: ClassVar[type[Params]] = FRParams
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    scale: ClassVar[float] = 1.0  # unused: MSE is in the input's units

    def _data_range(self, ref: np.ndarray, dist: np.ndarray) -> float:
        return 1.0  # no rescaling: MSE is in the input's units

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        return np.array([metrics.mse(r, d) for r, d in zip(ref, dist, strict=True)])
