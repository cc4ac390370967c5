"""Scalar metrics every package shares: correlation (PLCC, SROCC, KRCC), errors (MAE, MSE,
RMSE, PSNR) and overlap (F1, IoU).

Functions take array-likes, validate them (same shape, finite, non-empty) and return
floats. ``mask`` restricts image metrics to a region (for example a reconstruction circle).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from tomokit.errors import InvalidInputError

__all__ = [
    "boundary_f1",
    "circle_mask",
    "confusion_matrix",
    "f1_per_class",
    "f1_score",
    "iou",
    "iou_per_class",
    "krcc",
    "label_boundaries",
    "logistic_fit",
    "mae",
    "mean_f1",
    "mean_iou",
    "mse",
    "plcc",
    "psnr",
    "rmse",
    "srocc",
]


def _pair(
    a: Any, b: Any, names: tuple[str, str] = ("a", "b"), *, check_finite: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Check two arrays (same shape, non-empty, numeric, finite) without copying them.

    ``check_finite=False`` leaves finiteness to the caller (see :func:`_mean_error`)."""
    x = np.asarray(a)
    y = np.asarray(b)
    if x.shape != y.shape:
        raise InvalidInputError(f"{names[0]} shape {x.shape} and {names[1]} shape {y.shape} differ")
    if x.size == 0:
        raise InvalidInputError(f"{names[0]} and {names[1]} are empty")
    for name, arr in zip(names, (x, y), strict=True):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(
            arr
        ):
            raise InvalidInputError(f"{name}: expected real numbers, got dtype {arr.dtype}")
        if check_finite and np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise InvalidInputError(f"{name}: {bad} non-finite value(s)")
    return x, y


#: Elements per pass of :func:`_difference`: their float64 differences (1 MiB) stay in
#: the CPU cache between the subtraction and the reduction, so memory is read once.
_PASS = 1 << 17
#: Length of the dot products that sum squares: BLAS runs dots this short on the calling
#: thread (no BLAS threads competing with the executor's under load).
_ROW = 4096
#: Dtypes whose difference single precision holds exactly enough (8/16-bit integers
#: exactly; float16/32 rounded once, as the inputs are).
_SINGLE = frozenset(np.dtype(t) for t in ("float32", "float16", "uint8", "int8", "uint16",
                                          "int16", "bool"))


def _sum_squares(d: np.ndarray) -> float:
    """``sum(d * d)`` of a 1-D float64 array by BLAS dot products of ``_ROW`` elements."""
    k = len(d) - len(d) % _ROW
    rows = d[:k].reshape(-1, _ROW)
    row_dots = np.vecdot(rows, rows) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", rows, rows)
    tail = d[k:]
    return float(np.add.reduce(row_dots)) + float(np.dot(tail, tail))


def _difference(x: np.ndarray, y: np.ndarray, square: bool) -> float:
    """``sum((x - y)^2)`` or ``sum(|x - y|)`` of two 1-D arrays in one fused pass.

    Each pass subtracts :data:`_PASS` elements (in single precision for 8/16-bit and
    float16/32 input, as fast SIMD loops; else in double), widens them to float64 and
    reduces them while they are in cache, accumulating in float64. NaN or Inf in an input
    makes the sum non-finite (as does overflow, which the caller handles); no separate
    finiteness pass is made."""
    n = len(x)
    m = min(n, _PASS)
    single = np.empty(m, np.float32) if x.dtype in _SINGLE and y.dtype in _SINGLE else None
    wide = np.empty(m, np.float64)
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # judged on the sum by the caller
        for a in range(0, n, _PASS):
            b = min(a + _PASS, n)
            d = wide[: b - a]
            if single is None:
                np.subtract(x[a:b], y[a:b], out=d, dtype=np.float64)
            else:
                np.subtract(x[a:b], y[a:b], out=single[: b - a], dtype=np.float32)
                np.copyto(d, single[: b - a])
            total += _sum_squares(d) if square else float(np.add.reduce(np.abs(d, out=d)))
    return total


def _masked(x: np.ndarray, y: np.ndarray, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    if mask is None:
        return x.ravel(), y.ravel()
    m = np.asarray(mask, dtype=bool)
    m = np.broadcast_to(m, x.shape) if m.shape != x.shape else m
    if not m.any():
        raise InvalidInputError("mask selects no pixels")
    return x[m], y[m]


def circle_mask(shape: tuple[int, int], radius: float | None = None) -> np.ndarray:
    """Boolean mask of the reconstruction circle (inscribed in ``shape`` by default)."""
    h, w = shape
    r = (min(h, w) / 2.0) if radius is None else radius
    yy, xx = np.mgrid[:h, :w]
    return ((yy - (h - 1) / 2.0) ** 2 + (xx - (w - 1) / 2.0) ** 2) <= r * r


def _mean_error(reference: Any, test: Any, mask: Any, square: bool) -> float:
    """Mean of ``|x - y|`` or ``(x - y)^2`` in one pass over the data (:func:`_difference`).

    Finiteness is judged on the result: NaN or Inf in an input always makes it
    non-finite, and only then are the inputs scanned to name and count the bad values.
    Finite inputs whose float64 sum overflows are recomputed scaled by their largest
    difference (the mean itself may still be finite)."""
    x, y = _masked(*_pair(reference, test, ("reference", "test"), check_finite=False), mask)
    value = _difference(x, y, square) / len(x)
    if not np.isfinite(value):
        _pair(x, y, ("reference", "test"))  # raises, naming the non-finite values
        with np.errstate(over="ignore"):
            d = np.abs(np.subtract(x, y, dtype=np.float64))
            top = float(d.max())
            if not np.isfinite(top):
                return float("inf")
            d /= top
            value = float(np.mean(d * d if square else d)) * top
            value = value * top if square else value  # in this order: top^2 may overflow
    return value


def mae(reference: Any, test: Any, *, mask: Any = None) -> float:
    """Mean absolute error."""
    return _mean_error(reference, test, mask, square=False)


def mse(reference: Any, test: Any, *, mask: Any = None) -> float:
    """Mean squared error."""
    return _mean_error(reference, test, mask, square=True)


def rmse(reference: Any, test: Any, *, mask: Any = None) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(reference, test, mask=mask)))


def psnr(reference: Any, test: Any, *, data_range: float, mask: Any = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``; ``inf`` if equal."""
    if not data_range > 0:
        raise InvalidInputError(f"data_range must be > 0, got {data_range}")
    err = mse(reference, test, mask=mask)
    if err == 0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / err))


def _ranked_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _pair(x, y, ("scores", "labels"))
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    if a.size < 2:
        raise InvalidInputError("correlation needs at least 2 values")
    return a, b


def _nan_if_constant(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.ptp(a) == 0 or np.ptp(b) == 0)


def plcc(scores: Any, labels: Any, *, fit: Literal["none", "logistic4", "logistic5"] = "none") -> float:
    """Pearson linear correlation, optionally after the VQEG logistic mapping of scores.

    With ``fit="logistic4"`` or ``"logistic5"`` the scores are first mapped onto the labels
    by :func:`logistic_fit`, as is standard in IQA evaluation (VQEG, 2000).
    """
    a, b = _ranked_pair(scores, labels)
    if fit != "none":
        a = logistic_fit(a, b, params=4 if fit == "logistic4" else 5)(a)
    if _nan_if_constant(a, b):
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def srocc(scores: Any, labels: Any) -> float:
    """Spearman rank-order correlation (ties get average ranks)."""
    from scipy.stats import spearmanr

    a, b = _ranked_pair(scores, labels)
    if _nan_if_constant(a, b):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def krcc(scores: Any, labels: Any) -> float:
    """Kendall rank correlation (tau-b)."""
    from scipy.stats import kendalltau

    a, b = _ranked_pair(scores, labels)
    if _nan_if_constant(a, b):
        return float("nan")
    return float(kendalltau(a, b).statistic)


def logistic_fit(scores: Any, labels: Any, *, params: Literal[4, 5] = 5) -> Any:
    """Fit the VQEG logistic mapping of ``scores`` onto ``labels`` and return it as a function.

    With no more points than parameters, or when the fit does not converge, a straight
    line is fitted instead (PLCC is then the plain Pearson correlation). 5 parameters: ``b1 (1/2 - 1/(1 + exp(b2 (x - b3)))) + b4 x + b5`` (Sheikh et al. 2006);
    4 parameters: ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``.
    """
    from scipy.optimize import curve_fit

    x, y = _ranked_pair(scores, labels)

    def f5(t: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
        z = np.clip(b2 * (t - b3), -500, 500)
        return np.asarray(b1 * (0.5 - 1.0 / (1.0 + np.exp(z))) + b4 * t + b5)

    def f4(t: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
        z = np.clip(-(t - b3) / (abs(b4) + 1e-12), -500, 500)
        return np.asarray((b1 - b2) / (1.0 + np.exp(z)) + b2)

    sx = float(np.std(x)) or 1.0
    if params == 5:
        p0 = [float(np.ptp(y)) or 1.0, 1.0 / sx, float(np.mean(x)), 0.0, float(np.mean(y))]
        func: Any = f5
    else:
        p0 = [float(np.max(y)), float(np.min(y)), float(np.mean(x)), sx]
        func = f4
    def linear() -> Any:
        slope, intercept = np.polyfit(x, y, 1)
        return lambda t: slope * np.asarray(t, dtype=np.float64) + intercept

    if x.size <= len(p0):  # fewer points than parameters: the logistic is not determined
        return linear()
    try:
        popt, _ = curve_fit(func, x, y, p0=p0, maxfev=20000)
    except (RuntimeError, ValueError, TypeError):  # no convergence: fall back to a line
        return linear()
    return lambda t: func(np.asarray(t, dtype=np.float64), *popt)


def _binary_pair(pred: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred)
    t = np.asarray(truth)
    if p.shape != t.shape:
        raise InvalidInputError(f"prediction shape {p.shape} and truth shape {t.shape} differ")
    if p.size == 0:
        raise InvalidInputError("prediction and truth are empty")
    return p, t


def iou(pred: Any, truth: Any, *, label: int = 1) -> float:
    """Intersection over union of the pixels labelled ``label``; 1.0 when both are empty."""
    p, t = _binary_pair(pred, truth)
    a, b = p == label, t == label
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def f1_score(pred: Any, truth: Any, *, label: int = 1) -> float:
    """F1 (Dice) score of the pixels labelled ``label``; 1.0 when both are empty."""
    p, t = _binary_pair(pred, truth)
    a, b = p == label, t == label
    denom = np.count_nonzero(a) + np.count_nonzero(b)
    return 1.0 if denom == 0 else float(2 * np.count_nonzero(a & b) / denom)


# --- multi-class segmentation scores ------------------------------------------------------
# Why here: every package that segments (tomokit-seg, tomokit-phantom's checks, benchmarks)
# must score labels the same way. Rows of the confusion matrix are the truth, columns the
# prediction (the scikit-learn convention), so per-class scores read off it directly.


def _label_pair(pred: Any, truth: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Check two label maps (same shape, non-negative integers) and the class count."""
    p, t = _binary_pair(pred, truth)
    for name, arr in (("prediction", p), ("truth", t)):
        if arr.dtype == np.bool_:
            continue
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise InvalidInputError(f"{name}: expected integer labels, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating) and not (
            np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        ):
            raise InvalidInputError(
                f"{name}: labels must be integers (class indices), got non-integer values"
            )
        if arr.min() < 0:
            raise InvalidInputError(f"{name}: labels must be >= 0, got {arr.min()}")
    p = p.astype(np.int64, copy=False)
    t = t.astype(np.int64, copy=False)
    top = int(max(p.max(), t.max())) + 1
    if n_classes is None:
        n_classes = max(top, 2)
    elif n_classes < 1:
        raise InvalidInputError(f"n_classes: expected >= 1, got {n_classes}")
    elif top > n_classes:
        raise InvalidInputError(
            f"n_classes: labels go up to {top - 1}, more than n_classes={n_classes} allows"
        )
    return p, t, int(n_classes)


def confusion_matrix(pred: Any, truth: Any, *, n_classes: int | None = None) -> np.ndarray:
    """``(C, C)`` pixel counts: ``m[i, j]`` = pixels of true class ``i`` predicted as ``j``.

    ``n_classes`` defaults to the largest label + 1 (at least 2)."""
    p, t, c = _label_pair(pred, truth, n_classes)
    counts = np.bincount((t * c + p).ravel(), minlength=c * c)
    return counts.reshape(c, c).astype(np.int64)


def _per_class(
    pred: Any, truth: Any, n_classes: int | None, empty: float, iou_form: bool
) -> np.ndarray:
    m = confusion_matrix(pred, truth, n_classes=n_classes).astype(np.float64)
    tp = np.diag(m)
    fp = m.sum(axis=0) - tp
    fn = m.sum(axis=1) - tp
    denom = tp + fp + fn if iou_form else 2 * tp + fp + fn
    num = tp if iou_form else 2 * tp
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, num / np.where(denom > 0, denom, 1), empty)
    return out


def f1_per_class(
    pred: Any, truth: Any, *, n_classes: int | None = None, empty: float = np.nan
) -> np.ndarray:
    """Per-class F1 (Dice) scores, shape ``(C,)``.

    A class absent from both prediction and truth gets ``empty`` (NaN by default, so
    :func:`numpy.nanmean` averages over the classes present; the binary :func:`f1_score`
    returns 1.0 in that case)."""
    return _per_class(pred, truth, n_classes, empty, iou_form=False)


def iou_per_class(
    pred: Any, truth: Any, *, n_classes: int | None = None, empty: float = np.nan
) -> np.ndarray:
    """Per-class intersection over union (Jaccard), shape ``(C,)``; ``empty`` as in
    :func:`f1_per_class`."""
    return _per_class(pred, truth, n_classes, empty, iou_form=True)


def mean_f1(pred: Any, truth: Any, *, n_classes: int | None = None) -> float:
    """Macro-averaged F1 over the classes present in prediction or truth."""
    return float(np.nanmean(f1_per_class(pred, truth, n_classes=n_classes)))


def mean_iou(pred: Any, truth: Any, *, n_classes: int | None = None) -> float:
    """Macro-averaged IoU (mIoU) over the classes present in prediction or truth."""
    return float(np.nanmean(iou_per_class(pred, truth, n_classes=n_classes)))


def label_boundaries(labels: Any, *, label: int | None = None) -> np.ndarray:
    """Boolean map of boundary pixels of a 2-D label map (or of each slice of a stack).

    A pixel is on a boundary when a 4-neighbour in its slice has another label (with
    ``label`` set: when it belongs to that class and a 4-neighbour does not)."""
    lab = np.asarray(labels)
    if lab.ndim not in (2, 3):
        raise InvalidInputError(f"labels: expected a 2-D map or a stack, got shape {lab.shape}")
    if label is not None:
        lab = lab == label
    edge = np.zeros(lab.shape, dtype=bool)
    for axis in (-1, -2):
        diff = np.diff(lab, axis=axis) != 0
        lo = [slice(None)] * lab.ndim
        hi = [slice(None)] * lab.ndim
        lo[axis] = slice(None, -1)
        hi[axis] = slice(1, None)
        edge[tuple(lo)] |= diff
        edge[tuple(hi)] |= diff
    if label is not None:
        edge &= lab
    return edge


def boundary_f1(
    pred: Any, truth: Any, *, tolerance: float = 2.0, label: int | None = None
) -> float:
    """Boundary F1 (BF score, Csurka et al. 2013) with a ``tolerance`` in pixels.

    Precision: share of predicted boundary pixels within ``tolerance`` of a true boundary
    pixel; recall the converse; BF = 2PR / (P + R). Boundaries are taken in-plane (a
    stack is scored slice by slice, counts pooled). ``label`` scores one class's outline;
    by default every change of label counts. 1.0 when neither has a boundary, 0.0 when
    only one has."""
    from scipy.ndimage import distance_transform_edt

    p, t, _ = _label_pair(pred, truth, None)
    if p.ndim not in (2, 3):
        raise InvalidInputError(f"labels: expected a 2-D map or a stack, got shape {p.shape}")
    if not tolerance >= 0:
        raise InvalidInputError(f"tolerance: expected >= 0 pixels, got {tolerance}")
    bp = label_boundaries(p, label=label)
    bt = label_boundaries(t, label=label)
    if p.ndim == 2:
        bp, bt = bp[None], bt[None]
    hit_p = hit_t = n_p = n_t = 0
    for sp, st in zip(bp, bt, strict=True):
        n_p += int(sp.sum())
        n_t += int(st.sum())
        if sp.any() and st.any():
            hit_p += int(np.count_nonzero(distance_transform_edt(~st)[sp] <= tolerance))
            hit_t += int(np.count_nonzero(distance_transform_edt(~sp)[st] <= tolerance))
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    precision, recall = hit_p / n_p, hit_t / n_t
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))
