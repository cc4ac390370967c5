"""Scoring a segmentation against ground truth, with class matching for unsupervised ones.

Why matching: threshold and clustering segmenters number their classes dark to bright,
while a phantom numbers its phases in its own order (an electrode's carbon binder, label
2, is darker than its active material, label 1). Before scoring, such predictions are
relabelled by the one-to-one assignment of predicted to true classes that maximises the
pixels in agreement (Hungarian method on the confusion matrix). A trained network's
classes are the phases it was trained on and are scored as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

from tomokit import InvalidInputError, metrics

__all__ = [
    "align_labels",
    "boundary_band",
    "boundary_uncertainty_ratio",
    "distorted",
    "distortion_scores",
    "score_segmentation",
]


def align_labels(
    pred: np.ndarray, truth: np.ndarray, *, n_classes: int | None = None
) -> tuple[np.ndarray, dict[int, int]]:
    """Relabel ``pred`` to best match ``truth``; returns ``(relabelled, {pred: truth})``."""
    from scipy.optimize import linear_sum_assignment

    m = metrics.confusion_matrix(pred, truth, n_classes=n_classes)
    rows, cols = linear_sum_assignment(-m.T)  # rows: predicted class, cols: true class
    mapping = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    lut = np.arange(m.shape[0], dtype=np.int64)
    for r, c in mapping.items():
        lut[r] = c
    return lut[np.asarray(pred, dtype=np.int64)].astype(np.uint8), mapping


def score_segmentation(
    pred: Any, truth: Any, *, n_classes: int, tolerance: float = 2.0
) -> dict[str, Any]:
    """F1 and IoU per class and averaged, boundary F1 and the confusion matrix."""
    p = np.asarray(pred)
    t = np.asarray(truth)
    if t.size and int(t.max()) >= n_classes:
        raise InvalidInputError(
            f"truth: has class {int(t.max())}, but the segmenter gives {n_classes} classes "
            f"(0..{n_classes - 1}); segment with as many classes as the truth has"
        )
    f1 = metrics.f1_per_class(p, t, n_classes=n_classes)
    iou = metrics.iou_per_class(p, t, n_classes=n_classes)
    return {
        "f1": f1,
        "iou": iou,
        "mean_f1": float(np.nanmean(f1)),
        "mean_iou": float(np.nanmean(iou)),
        "boundary_f1": metrics.boundary_f1(p, t, tolerance=tolerance),
        "confusion": metrics.confusion_matrix(p, t, n_classes=n_classes),
        "accuracy": float(np.mean(p == t)),
    }


def boundary_band(labels: Any, px: int = 2) -> np.ndarray:
    """Pixels within ``px`` pixels (city-block, in-plane) of a phase boundary."""
    from scipy.ndimage import binary_dilation, generate_binary_structure

    edge = metrics.label_boundaries(labels)
    if px <= 0:
        return edge
    st = generate_binary_structure(2, 1)
    if edge.ndim == 3:
        st = st[None]
    return np.asarray(binary_dilation(edge, structure=st, iterations=px))


def boundary_uncertainty_ratio(uncertainty: Any, labels: Any, px: int = 2) -> float:
    """Mean uncertainty within ``px`` of a true boundary over the mean elsewhere.

    The issue's check that a segmenter is unsure where it should be (>= 3 for D-LinkNet
    on a held-out phantom); ``inf`` when the bulk is perfectly certain."""
    u = np.asarray(uncertainty, dtype=np.float64)
    band = boundary_band(labels, px)
    if u.shape != band.shape:
        raise InvalidInputError(f"uncertainty shape {u.shape} and labels shape {band.shape} differ")
    if band.all() or not band.any():
        raise InvalidInputError("labels: need both boundary and bulk pixels")
    bulk = float(u[~band].mean())
    near = float(u[band].mean())
    return float("inf") if bulk == 0 else near / bulk


def distorted(
    images: np.ndarray, distortion: str | None, level: int, *, seed: int = 0
) -> np.ndarray:
    """``(N, H, W)`` slices normalised, distorted at ``level`` (TIQA) and renormalised.

    What the D-LinkNet recipe does to its validation images
    (:func:`tomokit_seg.dlinknet.distort_for_training`), with one generator per slice
    seeded by ``(seed, level, slice)``, so every segmenter sees the same inputs and a
    level is the same whatever other levels are computed."""
    from tomokit_seg.dlinknet import distort_for_training

    stack = np.asarray(images, dtype=np.float32)
    if stack.ndim != 3:
        raise InvalidInputError(f"images: expected (N, H, W), got shape {stack.shape}")
    salt = 0 if distortion is None else sum(map(ord, distortion))
    return np.stack([
        distort_for_training(im, distortion, level, np.random.default_rng([seed, salt, level, i]))
        for i, im in enumerate(stack)
    ]).astype(np.float32)


def distortion_scores(
    segmenters: Mapping[str, Any],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    distortions: Iterable[str] = ("noise", "blur", "ring"),
    levels: Iterable[int] = range(6),
    n_classes: int = 2,
    trained: Collection[str] = ("dlinknet",),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """F1 of each segmenter on each slice, per distortion type and level.

    Every slice of ``images`` (``(N, H, W)``, with ``labels`` its truth) is distorted by
    :func:`distorted` and segmented on its own (a grey-value baseline fits each slice).
    Segmenters not named in ``trained`` are relabelled by :func:`align_labels` first.
    Level 0 is the undistorted slice, computed once and listed under every type.
    Returns one row per ``(distortion, level)``: ``{"distortion", "level", "scores":
    {name: {"mean_f1", "f1": [per class], "per_image": [mean F1 of each slice]}}}``, the
    F1 being the mean over the phases present (:func:`tomokit.metrics.mean_f1`) and
    ``f1`` the per-class F1 of all slices' pixels pooled."""
    truth = np.asarray(labels)
    stack = np.asarray(images, dtype=np.float32)
    if stack.ndim != 3:
        raise InvalidInputError(f"images: expected (N, H, W), got shape {stack.shape}")
    if truth.shape != stack.shape:
        raise InvalidInputError(f"labels: shape {truth.shape} differs from the images' {stack.shape}")
    rows: list[dict[str, Any]] = []
    cache: dict[str, dict[str, Any]] | None = None
    for dist in distortions:
        for level in levels:
            if level == 0 and cache is not None:
                rows.append({"distortion": dist, "level": 0, "scores": cache})
                continue
            x = distorted(stack, dist if level > 0 else None, int(level), seed=seed)
            scores: dict[str, Any] = {}
            for name, seg in segmenters.items():
                preds = []
                for im, t in zip(x, truth, strict=True):
                    pred = np.asarray(seg.segment(im))
                    if name not in trained:
                        pred, _ = align_labels(pred, t, n_classes=n_classes)
                    preds.append(pred)
                per = [metrics.mean_f1(p, t, n_classes=n_classes)
                       for p, t in zip(preds, truth, strict=True)]
                scores[name] = {
                    "mean_f1": float(np.mean(per)),
                    "f1": [float(v) for v in
                           metrics.f1_per_class(np.stack(preds), truth, n_classes=n_classes)],
                    "per_image": [float(v) for v in per],
                }
            if level == 0:
                cache = scores
            rows.append({"distortion": dist, "level": int(level), "scores": scores})
    return rows
