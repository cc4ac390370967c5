"""Shared helpers of the phantom generators: argument checks, random numbers, samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from tomokit import InvalidInputError, PhantomSample

__all__ = [
    "MIN_SIZE",
    "as_rng",
    "check_shape",
    "make_sample",
    "resolve_attenuation",
    "smooth_noise",
    "top_k_mask",
]

#: Smallest image side every generator supports.
MIN_SIZE = 16


def check_shape(shape: Any) -> tuple[int, int]:
    """Return ``shape`` as two ints, or raise naming what to pass."""
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"shape: expected two integers (height, width), got {shape!r}"
        ) from None
    if len(dims) != 2:
        raise InvalidInputError(f"shape: expected (height, width), got {shape!r}")
    if min(dims) < MIN_SIZE:
        raise InvalidInputError(
            f"shape: each side must be at least {MIN_SIZE} pixels, got {dims}"
        )
    if dims[0] * dims[1] > 16384 * 16384:
        raise InvalidInputError(f"shape: {dims} is too large (at most 16384 x 16384)")
    return dims  # type: ignore[return-value]


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A generator from a seed, a generator (used as is) or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise InvalidInputError(
        f"rng: expected a numpy Generator, an integer seed or None, got {type(rng).__name__}"
    )


def resolve_attenuation(
    given: Sequence[float] | None, defaults: Sequence[float], phases: Sequence[str]
) -> np.ndarray:
    """Per-phase attenuation (1/cm) as float32: ``given`` if set, else ``defaults``."""
    values = defaults if given is None else given
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or len(arr) != len(phases):
        raise InvalidInputError(
            f"attenuation: expected one value per phase ({len(phases)}: "
            f"{', '.join(phases)}), got {list(np.atleast_1d(arr))}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidInputError(
            f"attenuation: values must be finite and >= 0 (1/cm), got {arr.tolist()}"
        )
    return arr.astype(np.float32)


def make_sample(
    labels: np.ndarray,
    phases: Sequence[str],
    attenuation: np.ndarray,
    *,
    maps: dict[str, np.ndarray] | None = None,
    info: dict[str, Any] | None = None,
) -> PhantomSample:
    """Build a sample whose image is exactly ``attenuation[labels]`` (absorption, 1/cm)."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    image = np.asarray(attenuation, dtype=np.float32)[labels]
    meta = {"attenuation": [float(a) for a in attenuation], "attenuation_unit": "1/cm"}
    meta.update(info or {})
    return PhantomSample(
        image=image, labels=labels, phases=tuple(phases), maps=dict(maps or {}), info=meta
    )


def smooth_noise(
    shape: tuple[int, int], sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ``sigma`` px.

    Large ``sigma`` is done on a coarser grid and interpolated back, so the cost stays
    about that of one pass over the image whatever the correlation length.
    """
    sigma = max(float(sigma), 0.0)
    step = max(1, int(sigma // 3))
    coarse = (max(2, -(-shape[0] // step) + 2), max(2, -(-shape[1] // step) + 2))
    field = rng.standard_normal(coarse, dtype=np.float32)
    if sigma > 0:
        field = ndimage.gaussian_filter(field, sigma / step, mode="wrap", truncate=3.0)
    if step > 1:
        field = ndimage.zoom(field, step, order=1, grid_mode=False)
    field = field[: shape[0], : shape[1]]
    std = float(field.std())
    field = field - float(field.mean())
    if std > 0:
        field = field / std
    return np.ascontiguousarray(field, dtype=np.float32)


def top_k_mask(score: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` candidate pixels with the highest ``score`` (exact count)."""
    out = np.zeros(score.shape, dtype=bool)
    idx = np.flatnonzero(candidates)
    k = int(min(max(k, 0), idx.size))
    if k == 0:
        return out
    if k == idx.size:
        out.flat[idx] = True
        return out
    vals = score.ravel()[idx]
    pick = np.argpartition(-vals, k - 1)[:k]
    out.flat[idx[pick]] = True
    return out
