"""Threshold and clustering segmenters: Otsu, multi-Otsu, fuzzy c-means, k-means.

Why: D-LinkNet must beat something a user could do without training, and every
segmenter, learned or not, must give probabilities so that its uncertainty map means the
same thing. All four work on grey values alone (one feature per pixel), fit one model to
the whole input (a volume gets one set of thresholds, not one per slice) and order their
classes by increasing mean intensity, so class 0 is the darkest phase for every method.

Soft memberships:

* ``otsu``: a logistic of ``(x - t) / width`` around Otsu's threshold ``t``. With
  ``width = None`` it is ``sigma_w**2 / (mu_1 - mu_0)``: the posterior of two
  equal-variance Gaussian classes with Otsu's class means and pooled within-class
  variance, whose decision boundary is ``t``.
* ``multi_otsu``: the ordinal form of the same, ``P(class >= j) = logistic((x - t_j) /
  w_j)`` with ``w_j = sigma_w**2 / (mu_j - mu_{j-1})``; ``p_j = P(>= j) - P(>= j+1)``.
* ``fuzzy_cmeans``: the fuzzy memberships themselves (Bezdek's FCM, fuzzifier ``m``).
* ``kmeans``: a softmax of ``-d**2 / (2 T sigma_w**2)`` over the distances ``d`` to the
  centres, i.e. the posterior of equal-variance Gaussians at the k-means centres
  (``T`` = ``temperature``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, Segmenter
from tomokit.components import Execution

__all__ = [
    "FuzzyCMeans",
    "KMeans",
    "MultiOtsu",
    "Otsu",
    "fuzzy_cmeans",
    "ordinal_logistic",
]


def _sample(stack: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """The grey values a model is fitted on: all of them, or a seeded random subset."""
    flat = stack.reshape(-1).astype(np.float64)
    if flat.size <= max_samples:
        return flat
    idx = np.random.default_rng(seed).choice(flat.size, size=max_samples, replace=False)
    return flat[idx]


def _pooled_variance(x: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Within-class variance pooled over ``k`` classes (floored so widths stay positive)."""
    var = 0.0
    for c in range(k):
        sel = x[labels == c]
        if sel.size:
            var += float(np.sum((sel - sel.mean()) ** 2))
    spread = float(np.ptp(x)) if x.size else 0.0
    return max(var / max(x.size, 1), (1e-6 * spread) ** 2, 1e-30)


def _logistic(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def ordinal_logistic(
    x: np.ndarray, thresholds: np.ndarray, widths: np.ndarray
) -> np.ndarray:
    """Class probabilities ``(..., k)`` of an ordinal logistic model at ``x``.

    ``P(class >= j) = logistic((x - t_j) / w_j)`` for thresholds ``t_1 < ... < t_{k-1}``;
    differences are clipped at 0 (widths may differ) and renormalised."""
    z = (x[..., None].astype(np.float64) - thresholds) / widths
    above = _logistic(z)  # (..., k-1), P(class >= j)
    ones = np.ones((*x.shape, 1))
    zeros = np.zeros((*x.shape, 1))
    cum = np.concatenate([ones, above, zeros], axis=-1)
    p = np.clip(cum[..., :-1] - cum[..., 1:], 0.0, None)
    p /= np.maximum(p.sum(axis=-1, keepdims=True), 1e-30)
    return p.astype(np.float32)


class _FitParams(Params):
    max_samples: int = Field(
        200_000, ge=100,
        description="Grey values the model is fitted on (a seeded random subset of the input).",
    )
    seed: int = Field(0, ge=0, description="Seed of the subset and of any random initialisation.")


class _GreySegmenter(Segmenter):
    """Shared checks: one model for the whole input, classes dark to bright."""

    execution: ClassVar[Execution] = "whole"
    #: Unsupervised: class indices follow intensity, not a trained phase list.
    unsupervised: ClassVar[bool] = True

    @property
    def n_classes(self) -> int:
        return int(getattr(self.params, "classes", 2))

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        stack = np.asarray(images)
        if stack.ndim != 3:
            raise InvalidInputError(f"images: expected (N, H, W), got shape {stack.shape}")
        p: Any = self.params
        x = _sample(stack, p.max_samples, p.seed)
        if np.ptp(x) == 0:  # a constant image is all one (the darkest) class
            out = np.zeros((*stack.shape, self.n_classes), np.float32)
            out[..., 0] = 1.0
            return out
        return self._proba(stack, x)

    def _proba(self, stack: np.ndarray, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Otsu(_GreySegmenter):
    """Two phases split at Otsu's threshold, with a logistic soft membership."""

    summary: ClassVar[str] = "Otsu threshold, two phases, logistic soft membership"

    class Params(_FitParams):
        width: float | None = Field(
            None, gt=0,
            description="Logistic width in grey-value units; None: sigma_w^2 / (mu_1 - "
            "mu_0), the equal-variance Gaussian posterior at Otsu's class means.",
        )
        nbins: int = Field(256, ge=2, description="Histogram bins of Otsu's method.")

    def _proba(self, stack: np.ndarray, x: np.ndarray) -> np.ndarray:
        from skimage.filters import threshold_otsu

        p: Any = self.params
        t = float(threshold_otsu(x, nbins=p.nbins))
        labels = (x > t).astype(np.int64)
        width = p.width
        if width is None:
            gap = max(float(x[labels == 1].mean() - x[labels == 0].mean()), 1e-30)
            width = _pooled_variance(x, labels, 2) / gap
        p1 = _logistic((stack.astype(np.float64) - t) / width).astype(np.float32)
        return np.stack([1.0 - p1, p1], axis=-1)


class MultiOtsu(_GreySegmenter):
    """``classes`` phases split at multi-Otsu thresholds, ordinal-logistic memberships."""

    summary: ClassVar[str] = "Multi-Otsu thresholds, k phases, ordinal logistic soft membership"

    class Params(_FitParams):
        classes: int = Field(3, ge=2, le=6, description="Number of phases k.")
        width_scale: float = Field(
            1.0, gt=0,
            description="Multiplies the automatic widths sigma_w^2 / (mu_j - mu_{j-1}).",
        )
        nbins: int = Field(256, ge=8, description="Histogram bins of multi-Otsu.")

    def _proba(self, stack: np.ndarray, x: np.ndarray) -> np.ndarray:
        from skimage.filters import threshold_multiotsu

        p: Any = self.params
        try:
            t = np.asarray(threshold_multiotsu(x, classes=p.classes, nbins=p.nbins), np.float64)
        except ValueError as exc:  # too few distinct grey values for k classes
            raise InvalidInputError(f"images: multi-Otsu with {p.classes} classes: {exc}") from None
        labels = np.digitize(x, t)
        means = np.array(
            [x[labels == c].mean() if np.any(labels == c) else np.nan for c in range(p.classes)]
        )
        gaps = np.diff(means)
        gaps = np.where(np.isfinite(gaps) & (gaps > 0), gaps, float(np.ptp(x)) / p.classes)
        widths = p.width_scale * _pooled_variance(x, labels, p.classes) / gaps
        return ordinal_logistic(stack, t, widths)


def fuzzy_cmeans(
    x: np.ndarray,
    k: int,
    *,
    m: float = 2.0,
    max_iter: int = 300,
    tol: float = 1e-6,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Fuzzy c-means (Bezdek 1981) on 1-D values ``x``; returns ``k`` sorted centres.

    Alternates memberships ``u_ci = 1 / sum_j (d_ci / d_ji)^(2/(m-1))`` and centres
    ``v_c = sum_i u_ci^m x_i / sum_i u_ci^m`` from random initial memberships until the
    centres move less than ``tol`` times the data range."""
    gen = np.random.default_rng(rng)
    x = np.asarray(x, dtype=np.float64).ravel()
    u = gen.random((k, x.size))
    u /= u.sum(axis=0, keepdims=True)
    spread = float(np.ptp(x)) or 1.0
    centres = np.zeros(k)
    for _ in range(max_iter):
        um = u**m
        new = um @ x / np.maximum(um.sum(axis=1), 1e-300)
        u = fcm_memberships(x, new, m)
        moved = float(np.max(np.abs(new - centres)))
        centres = new
        if moved < tol * spread:
            break
    return np.sort(centres)


def fcm_memberships(x: np.ndarray, centres: np.ndarray, m: float) -> np.ndarray:
    """FCM memberships ``(k, ...)`` of values ``x`` for ``centres`` (a pixel on a centre
    belongs to it fully)."""
    d = np.abs(x[None].astype(np.float64) - centres.reshape((-1,) + (1,) * x.ndim))
    d = np.maximum(d, 1e-12 * (float(np.ptp(centres)) or 1.0))
    inv = d ** (-2.0 / (m - 1.0))
    return inv / inv.sum(axis=0, keepdims=True)


class FuzzyCMeans(_GreySegmenter):
    """``classes`` fuzzy clusters of grey values; the memberships are the probabilities."""

    summary: ClassVar[str] = "Fuzzy c-means on grey values, k clusters, memberships as probabilities"

    class Params(_FitParams):
        classes: int = Field(3, ge=2, le=10, description="Number of clusters k.")
        m: float = Field(2.0, gt=1.0, le=10.0, description="Fuzzifier (1 < m; 2 is usual).")
        max_iter: int = Field(300, ge=1, description="Iteration limit.")
        tol: float = Field(1e-6, gt=0, description="Stop when centres move less (x data range).")

    def _proba(self, stack: np.ndarray, x: np.ndarray) -> np.ndarray:
        p: Any = self.params
        centres = fuzzy_cmeans(x, p.classes, m=p.m, max_iter=p.max_iter, tol=p.tol, rng=p.seed)
        u = fcm_memberships(stack, centres, p.m)
        return np.moveaxis(u, 0, -1).astype(np.float32)


class KMeans(_GreySegmenter):
    """``classes`` k-means clusters of grey values, soft-assigned by distance."""

    summary: ClassVar[str] = "k-means on grey values, k clusters, soft assignment by distance"

    class Params(_FitParams):
        classes: int = Field(3, ge=2, le=10, description="Number of clusters k.")
        temperature: float = Field(
            1.0, gt=0,
            description="Softness T of the assignment exp(-d^2 / (2 T sigma_w^2)).",
        )
        n_init: int = Field(4, ge=1, description="k-means++ restarts; the lowest inertia wins.")

    def _proba(self, stack: np.ndarray, x: np.ndarray) -> np.ndarray:
        import warnings

        from scipy.cluster.vq import kmeans2

        p: Any = self.params
        seeds = np.random.SeedSequence(p.seed).generate_state(p.n_init)
        best: tuple[float, np.ndarray] | None = None
        data = x[:, None]
        for s in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "one of the clusters is empty": retried
                centres, labels = kmeans2(data, p.classes, minit="++", seed=int(s), iter=50)
            inertia = float(np.sum((x - centres[labels, 0]) ** 2))
            if len(np.unique(labels)) == p.classes and (best is None or inertia < best[0]):
                best = (inertia, centres[:, 0])
        if best is None:
            raise InvalidInputError(
                f"images: k-means found fewer than {p.classes} distinct clusters; lower classes"
            )
        centres = np.sort(best[1])
        labels = np.argmin(np.abs(x[:, None] - centres), axis=1)
        var = _pooled_variance(x, labels, p.classes)
        d2 = (stack[..., None].astype(np.float64) - centres) ** 2
        logits = -d2 / (2.0 * p.temperature * var)
        logits -= logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
