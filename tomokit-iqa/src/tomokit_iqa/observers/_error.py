"""PSNR and MSE observers: thin wrappers of :mod:`tomokit.metrics`, one value per slice.

Both are one fused pass over the pixels (:func:`tomokit.metrics.mse`: differences
widened to float64 and reduced while in cache): the separate NaN/Inf scan others make is
skipped, since a non-finite input makes the error non-finite; only then are the inputs
scanned to name the bad one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from tomokit import InvalidInputError, Params, metrics
from tomokit_iqa.observers._base import FRObserver, FRParams, Scaling, _validate_one

__all__ = ["MSE", "PSNR"]


def _per_slice(ref: np.ndarray, dist: np.ndarray, fn: Callable[[np.ndarray, np.ndarray], float]
               ) -> np.ndarray:
    """``fn`` of each slice pair; a non-finite input is reported by its observer name."""
    try:
        return np.array([fn(r, d) for r, d in zip(ref, dist, strict=True)])
    except InvalidInputError:
        _validate_one(ref, "reference")  # raise naming the input that holds NaN/Inf
        _validate_one(dist, "distorted")
        raise


class PSNR(FRObserver):
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``
    (:func:`tomokit.metrics.psnr`); ``inf`` for identical images. Higher is better."""

    Params: ClassVar[type[Params]] = FRParams
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    scale: ClassVar[float] = 1.0  # unused: metrics.psnr takes the raw input and data range
    checks_finite: ClassVar[bool] = False  # found by the one pass of metrics.mse

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        data_range = scaling.data_range
        return _per_slice(ref, dist, lambda r, d: metrics.psnr(r, d, data_range=data_range))


class MSE(FRObserver):
    """Mean squared error (:func:`tomokit.metrics.mse`) in the units of the input.

    ``data_range`` is not used for the value: the error is reported on the input's own
    scale, as :func:`tomokit.metrics.mse` does. Lower is better; 0 for identical images.
    """

    Params: ClassVar[type[Params]] = FRParams
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))
    scale: ClassVar[float] = 1.0  # unused: MSE is in the input's units
    checks_finite: ClassVar[bool] = False  # found by the one pass of metrics.mse

    def _data_range(self, ref: np.ndarray, dist: np.ndarray) -> float:
        return 1.0  # no rescaling: MSE is in the input's units

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        return _per_slice(ref, dist, metrics.mse)
