"""Evaluate quality scores against labels: PLCC, SROCC, KRCC and RMSE, overall and per
distortion type, with an optional VQEG logistic mapping, a JSON report and a PNG figure.

The correlations come from :mod:`tomokit.metrics`. With ``fit="logistic4"`` or
``"logistic5"`` the scores are first mapped onto the labels by the standard logistic
function (VQEG 2000; Sheikh et al. 2006), fitted separately for every evaluated subset;
PLCC and RMSE are then computed on the mapped scores. SROCC and KRCC are rank statistics
and do not depend on the mapping.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, Task

__all__ = ["REPORT_FORMAT", "Evaluate", "evaluate", "plot_evaluation", "select_rows",
           "write_report"]

#: ``format`` of the JSON report (so a later run may replace it without --overwrite).
REPORT_FORMAT = "tomokit-iqa-evaluation/1"

Fit = Literal["none", "logistic4", "logistic5"]
Metric = Literal["plcc", "srocc", "krcc", "rmse"]
METRICS: tuple[Metric, ...] = ("plcc", "srocc", "krcc", "rmse")


def _vector(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InvalidInputError(f"{name}: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64).ravel()
    if arr.size < 2:
        raise InvalidInputError(f"{name}: need at least 2 values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(
            f"{name}: {int(np.count_nonzero(~np.isfinite(arr)))} non-finite value(s); "
            "drop them (for example the PSNR of undistorted images) before evaluating"
        )
    return arr


def _logistic(scores: np.ndarray, labels: np.ndarray, nparams: int) -> Any:
    """The fitted logistic mapping (``tomokit.metrics.logistic_fit``), quietly."""
    import warnings

    from scipy.optimize import OptimizeWarning

    from tomokit import metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        return metrics.logistic_fit(scores, labels, params=nparams)  # type: ignore[arg-type]


def _subset(scores: np.ndarray, labels: np.ndarray, fit: Fit) -> dict[str, Any]:
    from tomokit import metrics

    n = int(scores.size)
    out: dict[str, Any] = {"n": n, "fit": fit}
    if n < 2:
        out.update({m: float("nan") for m in METRICS})
        return out
    mapped = scores
    nparams = {"none": 0, "logistic4": 4, "logistic5": 5}[fit]
    if fit != "none" and n <= nparams:
        out["fit"] = "none"  # too few points to fit the logistic: report the raw scores
        out["note"] = f"{n} values are too few for a {nparams}-parameter logistic fit"
        fit = "none"
    if fit != "none" and np.ptp(scores) > 0:
        mapped = _logistic(scores, labels, nparams)(scores)
    out["plcc"] = metrics.plcc(mapped, labels)
    out["srocc"] = metrics.srocc(scores, labels)
    out["krcc"] = metrics.krcc(scores, labels)
    out["rmse"] = metrics.rmse(labels, mapped)
    return out


def evaluate(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[float] | np.ndarray,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    fit: Fit = "none",
) -> dict[str, Any]:
    """PLCC, SROCC, KRCC and RMSE of ``scores`` against ``labels``, overall and per group.

    ``groups`` (for example the distortion type of each row) splits the rows; the result is
    ``{"overall": {...}, "groups": {name: {...}}, "fit": fit}``, each entry with ``n``.
    Metrics of a subset whose scores or labels are constant are NaN.
    """
    if fit not in ("none", "logistic4", "logistic5"):
        raise InvalidInputError(f"fit: expected none, logistic4 or logistic5, got {fit!r}")
    s = _vector(scores, "scores")
    y = _vector(labels, "labels")
    if s.shape != y.shape:
        raise InvalidInputError(f"scores ({s.size} values) and labels ({y.size}) differ in length")
    report: dict[str, Any] = {"fit": fit, "overall": _subset(s, y, fit), "groups": {}}
    if groups is not None:
        g = _group_names(groups, s.size)
        for name in dict.fromkeys(g.tolist()):
            sel = g == name
            report["groups"][str(name)] = _subset(s[sel], y[sel], fit)
    return report


def _group_names(groups: Any, n: int) -> np.ndarray:
    g = np.asarray(groups)
    if g.dtype.kind in "SO":
        g = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in g.ravel()])
    g = g.ravel()
    if g.size != n:
        raise InvalidInputError(f"groups: expected one group per score ({n}), got {g.size}")
    return g


def _json_ready(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def select_rows(
    scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None, *,
    drop_nonfinite: bool = True, keep_reference: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The rows an evaluation uses, the same for the command and the task: finite
    scores and labels (with ``drop_nonfinite``), and without the undistorted reference
    rows (group ``reference``, level 0) unless ``keep_reference``."""
    keep = np.ones(scores.shape, dtype=bool)
    if drop_nonfinite:
        keep &= np.isfinite(scores) & np.isfinite(labels)
    if groups is not None and not keep_reference:
        keep &= np.asarray(groups).astype(str) != "reference"
    return scores[keep], labels[keep], None if groups is None else np.asarray(groups)[keep]


def write_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``report`` as JSON (NaN becomes ``null``), atomically; check the path with
    :func:`tomokit.io._guard.check_output` first."""
    report = {"format": REPORT_FORMAT, **report}
    p = Path(path)
    tmp = p.with_name(f".{p.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(_json_ready(report), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def plot_evaluation(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[float] | np.ndarray,
    path: str | Path,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    fit: Fit = "none",
    score_name: str = "predicted score",
    label_name: str = "label",
) -> Path:
    """Scatter plots of scores against labels, one panel per group, saved as PNG.

    With a logistic ``fit`` the fitted curve of each panel is drawn; the panel title gives
    its PLCC and SROCC.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    s = _vector(scores, "scores")
    y = _vector(labels, "labels")
    if s.shape != y.shape:
        raise InvalidInputError(f"scores ({s.size} values) and labels ({y.size}) differ in length")
    report = evaluate(s, y, groups=groups, fit=fit)
    if groups is None:
        panels = [("all", np.ones(s.size, dtype=bool))]
    else:
        g = _group_names(groups, s.size)
        panels = [(str(n), g == n) for n in dict.fromkeys(g.tolist())]
    entries = report["groups"] if groups is not None else {"all": report["overall"]}
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.6 * rows), squeeze=False)
    for ax, (name, sel) in zip(axes.ravel(), panels, strict=False):
        ax.scatter(s[sel], y[sel], s=12, alpha=0.7)
        entry = entries[name]
        if entry["fit"] != "none" and sel.sum() > 1 and np.ptp(s[sel]) > 0:
            nparams = 4 if entry["fit"] == "logistic4" else 5
            f = _logistic(s[sel], y[sel], nparams)
            xs = np.linspace(s[sel].min(), s[sel].max(), 200)
            ax.plot(xs, f(xs), color="black", lw=1)
        ax.set_title(f"{name}: PLCC {entry['plcc']:.3f}, SROCC {entry['srocc']:.3f}", fontsize=9)
        ax.set_xlabel(score_name)
        ax.set_ylabel(label_name)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    p = Path(path)
    tmp = p.with_name(f".{p.name}.partial-{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=100, format="png", metadata={"Software": "tomokit"})
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return p


class Evaluate(Task):
    """Pipeline task: PLCC/SROCC/KRCC/RMSE of ``scores`` against ``labels``.

    ``groups`` (optional, for example a dataset's ``distortion``) adds per-group figures.
    Outputs the chosen ``metrics`` and ``n`` overall, the same per group of at least two
    rows as ``<metric>_<group>`` and ``n_<group>``, and with ``include_report`` the whole
    result as JSON text (``report``). Rows whose score or label is not finite (the PSNR of
    an undistorted image) are left out when ``drop_nonfinite`` is set.
    """

    input_names: ClassVar[tuple[str, ...]] = ("scores", "labels", "groups")
    optional_inputs: ClassVar[tuple[str, ...]] = ("groups",)

    class Params(Params):
        fit: Fit = Field("none", description="Logistic mapping before PLCC/RMSE.")
        drop_nonfinite: bool = Field(
            True, description="Leave out rows whose score or label is NaN or infinite."
        )
        metrics: tuple[Metric, ...] = Field(
            METRICS, min_length=1, description="Figures to output (all are in the report)."
        )
        include_report: bool = Field(False, description="Also output the report as JSON text.")
        keep_reference: bool = Field(
            False, description="Keep the undistorted reference rows (group 'reference'); "
            "dropped by default, as by the iqa-evaluate command."
        )

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        for key in ("scores", "labels"):
            if key not in inputs:
                raise InvalidInputError(f"iqa_evaluate: input {key!r} is required")
        p: Any = self.params
        scores = np.asarray(inputs["scores"], dtype=np.float64).ravel()
        labels = np.asarray(inputs["labels"], dtype=np.float64).ravel()
        groups = inputs.get("groups")
        if scores.shape != labels.shape:
            raise InvalidInputError(
                f"scores ({scores.size} values) and labels ({labels.size}) differ in length"
            )
        g = None if groups is None else _group_names(groups, scores.size)
        scores, labels, g = select_rows(scores, labels, g, drop_nonfinite=p.drop_nonfinite,
                                        keep_reference=p.keep_reference)
        report = evaluate(scores, labels, groups=g, fit=p.fit)
        out: dict[str, Any] = {m: report["overall"][m] for m in p.metrics}
        out["n"] = report["overall"]["n"]
        for name, entry in report["groups"].items():
            if entry["n"] < 2:
                continue
            for m in (*p.metrics, "n"):
                out[f"{m}_{name}"] = entry[m]
        if p.include_report:
            out["report"] = json.dumps(_json_ready(report))
        return out
