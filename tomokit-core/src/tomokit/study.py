"""Study tasks: how segmentation accuracy and a quality score relate across candidates.

The IQA-segmentation study (the TIQA paper's Table 3) scores each distorted candidate's
segmentation against its ground truth (:class:`SegmentationScores`) and correlates those
figures with a quality score per distortion type (:class:`Correlation`). They are tasks
of their own, not part of ``tomokit choose``, because any sweep can use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from tomokit.components import Params, Task
from tomokit.errors import InvalidInputError

__all__ = ["Correlation", "SegmentationScores"]


class SegmentationScoresParams(Params):
    """How a segmentation is compared with its ground truth."""

    truth_groups: list[list[int]] | None = Field(
        None, description="Merge truth labels into classes first: [[0, 2], [1]] makes labels 0 "
        "and 2 class 0 and label 1 class 1 (for a two-phase segmenter on a many-phase phantom).",
    )
    pred_groups: list[list[int]] | None = Field(
        None, description="Merge predicted classes the same way (a 3-phase network scored "
        "on 2 classes).",
    )
    align: bool = Field(
        True, description="Match the predicted classes to the truth's one to one (Hungarian "
        "method on the confusion matrix of the whole stack) before scoring; unsupervised "
        "segmenters number classes by intensity, phantoms in their own order.",
    )


def _merge(labels: np.ndarray, groups: list[list[int]] | None, what: str) -> np.ndarray:
    """``labels`` with each group of labels merged into its class (the group's index)."""
    if groups is None:
        return labels
    lut = np.full(int(labels.max(initial=0)) + 1, -1, dtype=np.int64)
    for k, group in enumerate(groups):
        for label in group:
            if 0 <= label < lut.size:
                lut[label] = k
    merged = lut[labels]
    if np.any(merged < 0):
        missing = sorted(set(np.unique(labels[merged < 0]).tolist()))
        raise InvalidInputError(f"segmentation_scores: {what} labels {missing} are in no "
                                f"{'truth' if what == 'truth' else 'pred'}_groups entry")
    return merged


class SegmentationScores(Task):
    """Per-slice F1 and IoU (macro means over the truth's classes) of ``labels``
    against ``truth``; outputs ``f1``, ``iou`` (one value per slice) and ``aligned`` (the
    labels after class matching, for IoU maps)."""

    name: ClassVar[str] = "segmentation_scores"
    summary: ClassVar[str] = "Per-slice F1 and IoU of a segmentation against its ground truth"
    Params: ClassVar[type[Params]] = SegmentationScoresParams
    input_names: ClassVar[tuple[str, ...]] = ("labels", "truth")
    outputs: ClassVar[tuple[str, ...]] = ("f1", "iou", "aligned")

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        from scipy.optimize import linear_sum_assignment

        from tomokit import metrics

        p = self.params
        assert isinstance(p, SegmentationScoresParams)
        pred = np.asarray(inputs["labels"])
        truth = np.asarray(inputs["truth"])
        if pred.shape != truth.shape:
            raise InvalidInputError(f"segmentation_scores: labels {pred.shape} and truth "
                                    f"{truth.shape} differ in shape")
        for name, arr in (("labels", pred), ("truth", truth)):
            if arr.dtype.kind not in "biu" or (arr.size and arr.min() < 0):
                raise InvalidInputError(f"segmentation_scores: {name} must be integer labels >= 0")
        truth = _merge(truth.astype(np.int64), p.truth_groups, "truth")
        pred = _merge(pred.astype(np.int64), p.pred_groups, "labels")
        n = int(max(pred.max(initial=0), truth.max(initial=0))) + 1
        if p.align:
            conf = metrics.confusion_matrix(pred, truth, n_classes=n)  # rows: truth
            rows, cols = linear_sum_assignment(-conf.T)  # predicted class -> true class
            lut2 = np.arange(n, dtype=np.int64)
            lut2[rows] = cols
            pred = lut2[pred]
        stack_p = pred if pred.ndim == 3 else pred[None]
        stack_t = truth if truth.ndim == 3 else truth[None]
        f1 = np.array([metrics.mean_f1(a, b, n_classes=n) for a, b in zip(stack_p, stack_t,
                                                                          strict=True)])
        iou = np.array([metrics.mean_iou(a, b, n_classes=n) for a, b in zip(stack_p, stack_t,
                                                                           strict=True)])
        return {"f1": f1, "iou": iou, "aligned": pred.astype(np.uint8)}


class CorrelationParams(Params):
    """How candidates are grouped."""

    group_by: str = Field(
        "component", pattern="^(component|none)$",
        description="'component': one group per swept component (the label's part before "
        "':', e.g. noise, blur, ring); 'none': all candidates together.",
    )


class Correlation(Task):
    """SROCC and PLCC between two per-candidate values (a quality score and a
    segmentation F1), pooled over the slices of every candidate, per group.

    Inputs ``x`` and ``y`` take every candidate (``score[*]``, ``f1[*]``), matched by
    label; each holds one value per slice. Outputs ``srocc``, ``plcc`` and ``n`` over all
    points, ``srocc_<group>``, ``plcc_<group>``, ``n_<group>`` per group, and ``points`` (a
    table: candidate, group, slice, x, y)."""

    name: ClassVar[str] = "correlation"
    summary: ClassVar[str] = "SROCC/PLCC between two values of sweep candidates, per group"
    Params: ClassVar[type[Params]] = CorrelationParams
    input_names: ClassVar[tuple[str, ...]] = ("x", "y")
    collection_inputs: ClassVar[tuple[str, ...]] = ("x", "y")

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        from tomokit import metrics

        p = self.params
        assert isinstance(p, CorrelationParams)
        xs, ys = inputs["x"], inputs["y"]
        if not isinstance(xs, Mapping) or not isinstance(ys, Mapping) or set(xs) != set(ys):
            raise InvalidInputError("correlation: 'x' and 'y' must hold the same candidates")
        rows = []
        for label in xs:
            x = np.atleast_1d(np.asarray(xs[label], dtype=np.float64)).ravel()
            y = np.atleast_1d(np.asarray(ys[label], dtype=np.float64)).ravel()
            if x.shape != y.shape:
                raise InvalidInputError(f"correlation: candidate {label!r} has {x.size} x and "
                                        f"{y.size} y values")
            head, sep, _ = label.partition(":")
            group = head if sep and p.group_by == "component" and "=" not in head else "all"
            rows += [(label, group, k, float(a), float(b))
                     for k, (a, b) in enumerate(zip(x, y, strict=True))]
        width = max(len(r[0].encode()) for r in rows)
        gwidth = max(len(r[1].encode()) for r in rows)
        table = np.array([(r[0].encode(), r[1].encode(), *r[2:]) for r in rows],
                         dtype=[("candidate", f"S{width}"), ("group", f"S{gwidth}"),
                                ("slice", "i4"), ("x", "f8"), ("y", "f8")])
        out: dict[str, Any] = {"points": table}

        def figures(sel: np.ndarray) -> tuple[float, float, int]:
            a, b = table["x"][sel], table["y"][sel]
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() < 3:
                return float("nan"), float("nan"), int(ok.sum())
            return (float(metrics.srocc(a[ok], b[ok])), float(metrics.plcc(a[ok], b[ok])),
                    int(ok.sum()))

        out["srocc"], out["plcc"], out["n"] = figures(np.ones(len(table), dtype=bool))
        for group in dict.fromkeys(r[1] for r in rows):
            if group == "all":
                continue
            sel = table["group"] == group.encode()
            out[f"srocc_{group}"], out[f"plcc_{group}"], out[f"n_{group}"] = figures(sel)
        return out
