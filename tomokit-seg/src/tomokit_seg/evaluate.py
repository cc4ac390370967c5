"""Scoring a segmentation against ground truth, with class matching for unsupervised ones.

Why matching: threshold and clustering segmenters number their classes dark to bright,
while a phantom numbers its phases in its own order (an electrode's carbon binder, label
2, is darker than its active material, label 1). Before scoring, such predictions are
relabelled by the one-to-one assignment of predicted to true classes that maximises the
pixels in agreement (Hungarian method on the confusion matrix). A trained network's
classes are the phases it was trained on and are scored as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tomokit import InvalidInputError, metrics

__all__ = ["align_labels", "boundary_band", "boundary_uncertainty_ratio", "score_segmentation"]


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
