"""IoU maps and uncertainty maps as arrays and as PNG figures.

Why: a score says how much a segmentation is wrong, a map says where. The IoU map
colours every pixel as true positive, false positive, false negative or true negative for
one phase (the paper's Fig. 6); the uncertainty map shows the normalised entropy of the
class probabilities, which is high where the segmenter hesitates (phase boundaries,
noise), so one can check that its mistakes lie where it said it was unsure.

matplotlib is imported inside the writers, with its object API (no pyplot state), so the
writers are safe to call from worker threads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tomokit import InvalidInputError

__all__ = [
    "IOU_CLASSES",
    "IOU_COLOURS",
    "iou_map",
    "write_iou_map",
    "write_uncertainty_map",
]

#: Codes of :func:`iou_map`, in order.
IOU_CLASSES: tuple[str, ...] = ("true negative", "true positive", "false positive", "false negative")
#: Colours of the codes (colour-blind safe: grey, blue, orange, magenta).
IOU_COLOURS: tuple[str, ...] = ("#d9d9d9", "#0072b2", "#e69f00", "#cc79a7")


def _labels(arr: Any, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 2:
        raise InvalidInputError(f"{name}: expected a 2-D label map, got shape {a.shape}")
    if np.issubdtype(a.dtype, np.floating) and not np.all(a == np.round(a)):
        raise InvalidInputError(f"{name}: labels must be integers, got non-integer values")
    return a.astype(np.int64)


def iou_map(pred: Any, truth: Any, *, label: int = 1) -> np.ndarray:
    """Per-pixel code for phase ``label``: 0 TN, 1 TP, 2 FP, 3 FN (see :data:`IOU_CLASSES`)."""
    p = _labels(pred, "prediction") == label
    t = _labels(truth, "truth") == label
    if p.shape != t.shape:
        raise InvalidInputError(f"prediction shape {p.shape} and truth shape {t.shape} differ")
    out = np.zeros(p.shape, np.uint8)
    out[p & t] = 1
    out[p & ~t] = 2
    out[~p & t] = 3
    return out


def _figure(shape: tuple[int, int], extra_width: float) -> Any:
    from matplotlib.figure import Figure

    h, w = shape
    scale = 6.0 / max(h, w)
    return Figure(figsize=(w * scale + extra_width, h * scale + 0.6), dpi=100)


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    if not out.parent.exists():
        raise InvalidInputError(f"{out}: folder {out.parent} does not exist")
    fig.savefig(out, format="png", bbox_inches="tight")
    return out


def write_iou_map(
    path: str | os.PathLike[str],
    pred: Any,
    truth: Any,
    *,
    label: int = 1,
    title: str | None = None,
) -> Path:
    """Write the IoU map of phase ``label`` as a PNG with a legend (and the IoU in the title)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    codes = iou_map(pred, truth, label=label)
    counts = np.bincount(codes.ravel(), minlength=4)
    union = counts[1] + counts[2] + counts[3]
    score = 1.0 if union == 0 else counts[1] / union
    fig = _figure(codes.shape, 2.6)
    ax = fig.add_subplot()
    ax.imshow(codes, cmap=ListedColormap(IOU_COLOURS), vmin=-0.5, vmax=3.5,
              interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title or f"phase {label}: IoU {score:.3f}")
    handles = [
        Patch(facecolor=c, edgecolor="black", label=f"{name} ({n / codes.size:.1%})")
        for name, c, n in zip(IOU_CLASSES, IOU_COLOURS, counts, strict=True)
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _save(fig, path)


def write_uncertainty_map(
    path: str | os.PathLike[str],
    uncertainty: Any,
    *,
    title: str = "uncertainty (normalised entropy)",
) -> Path:
    """Write a 2-D uncertainty map (0 certain .. 1 uniform) as a PNG with a colour bar."""
    u = np.asarray(uncertainty, dtype=np.float32)
    if u.ndim != 2:
        raise InvalidInputError(f"uncertainty: expected a 2-D map, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise InvalidInputError("uncertainty: contains non-finite values")
    fig = _figure(u.shape, 1.4)
    ax = fig.add_subplot()
    im = ax.imshow(u, cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="H / log C")
    return _save(fig, path)
