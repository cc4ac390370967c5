"""A figure like Fig. 6 of the TIQA paper: image, uncertainty map, IoU map, F1 per distortion.

Top rows: one held-out acquired phantom of each family (electrode, jelly roll; the first
slice of each in the held-out set of benchmarks/segmentation_table.py) at TIQA noise
level ``--level``: the distorted slice, D-LinkNet's uncertainty (normalised entropy),
D-LinkNet's IoU map of the solid phase and Otsu's. Bottom row: the mean F1 of every
segmenter against the level of each distortion, read from the table's JSON (both
families). Writes ``docs/images/segmentation_fig6.png``. Run after the table::

    nice .venv/bin/python benchmarks/segmentation_figure.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from segmentation_table import DISTORTIONS, FAMILIES, SEGMENTERS, test_data  # noqa: E402

STYLE: dict[str, str] = {"dlinknet": "-o", "otsu": "--s", "multi_otsu": ":^",
                         "fuzzy_cmeans": "-.v", "kmeans": "--d"}


def panels(model: Path | None, table: dict[str, Any], workdir: Path, level: int) -> dict[str, Any]:
    """Per family: the distorted slice, truth, dlinknet and otsu outputs (arrays)."""
    import tomokit
    from tomokit_seg.evaluate import align_labels, distorted

    data = test_data(workdir, count=int(table["data"]["per_family"]), size=int(table["data"]["size"]))
    net = (tomokit.load("segmenter", "dlinknet", classes=2) if model is None
           else tomokit.load("segmenter", "dlinknet", model=str(model), classes=2))
    otsu = tomokit.load("segmenter", "otsu")
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for fam in FAMILIES:
        images, labels = data[fam]
        x = distorted(images[:1], "noise", level)[0]
        d = net.run_step({"images": x}, rng=rng)
        o, _ = align_labels(otsu.segment(x), labels[0], n_classes=2)
        out[fam] = {"image": x, "truth": labels[0], "dlinknet": d["labels"],
                    "uncertainty": d["uncertainty"], "otsu": o}
    return out


def draw(maps: dict[str, Any], table: dict[str, Any], level: int, path: Path) -> Path:
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from tomokit import metrics
    from tomokit_seg.maps import IOU_CLASSES, IOU_COLOURS, iou_map

    fams = list(maps)
    fig = Figure(figsize=(13, 3.6 * len(fams) + 3.4), dpi=100, layout="constrained")
    grid = fig.add_gridspec(len(fams) + 1, 12)
    cmap = ListedColormap(IOU_COLOURS)
    for i, fam in enumerate(fams):
        m = maps[fam]
        cells: list[tuple[np.ndarray, Any, str]] = [
            (m["image"], "gray", f"{fam.replace('_', ' ')}, noise level {level}"),
            (m["uncertainty"], "magma", "D-LinkNet uncertainty"),
            (iou_map(m["dlinknet"], m["truth"]), cmap,
             f"D-LinkNet, F1 {metrics.mean_f1(m['dlinknet'], m['truth'], n_classes=2):.3f}"),
            (iou_map(m["otsu"], m["truth"]), cmap,
             f"Otsu, F1 {metrics.mean_f1(m['otsu'], m['truth'], n_classes=2):.3f}"),
        ]
        for j, (arr, cm, title) in enumerate(cells):
            ax = fig.add_subplot(grid[i, 3 * j:3 * j + 3])
            kw: dict[str, Any] = ({"vmin": -0.5, "vmax": 3.5} if cm is cmap else
                                  {"vmin": 0.0, "vmax": 1.0} if cm == "magma" else {})
            im = ax.imshow(arr, cmap=cm, interpolation="nearest", **kw)
            ax.set_title(title, fontsize=10)
            ax.set_axis_off()
            if cm == "magma":
                fig.colorbar(im, ax=ax, location="bottom", shrink=0.8, pad=0.02,
                             label="normalised entropy")
    fig.legend(handles=[Patch(facecolor=c, edgecolor="black", label=n)
                        for n, c in zip(IOU_CLASSES, IOU_COLOURS, strict=True)],
               loc="outside upper center", ncol=4, frameon=False, title="IoU map (solid phase)")
    rows = table["all"]["rows"]
    for k, dist in enumerate(DISTORTIONS):
        ax = fig.add_subplot(grid[len(fams), 4 * k:4 * k + 4])
        sel = [r for r in rows if r["distortion"] == dist]
        for name in SEGMENTERS:
            ax.plot([r["level"] for r in sel], [r["scores"][name]["mean_f1"] for r in sel],
                    STYLE[name], label=name, markersize=4)
        ax.set_xlabel(f"{dist} level")
        ax.set_ylabel("mean F1")
        ax.set_ylim(0.4, 1.0)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="D-LinkNet file (default: shipped).")
    ap.add_argument("--table", type=Path,
                    default=ROOT / "benchmarks" / "results" / "segmentation_table.json")
    ap.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "results" / "segmentation")
    ap.add_argument("--level", type=int, default=3, help="Noise level of the maps.")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "segmentation_fig6.png")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    table = json.loads(args.table.read_text())
    out = draw(panels(args.model, table, args.workdir, args.level), table, args.level, args.out)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
