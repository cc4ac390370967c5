"""F1 of the shipped D-LinkNet against the grey-value baselines, per distortion and level.

Held-out acquired phantoms (tomokit-phantom electrode and jelly roll, projected, degraded
and FBP-reconstructed; dataset seeds ``SEEDS[...]["test"]`` of
benchmarks/segmentation_train.py, checked disjoint from the training and validation
samples) get every TIQA distortion (noise, blur, ring) at levels 0..5
(:func:`tomokit_seg.evaluate.distortion_scores`). Each slice is segmented on its own by
``dlinknet`` (the shipped model or ``--model``) and by ``otsu``, ``multi_otsu``,
``fuzzy_cmeans`` and ``kmeans`` with 2 classes; the baselines' classes are matched to the
truth (Hungarian) first, which can only help them. The score is the F1 averaged over
the two phases (:func:`tomokit.metrics.mean_f1`, as in the model's sidecar), then over
slices. Labels are the shipped model's two phases (solid against the rest, see
``tomokit_seg.phases``).

Second part, the bundled real battery slice (``tomokit_iqa.recipes.references.
battery_slice``, 1024 x 1024): a careful multi-Otsu of the clean slice is the reference
(the bundled file has only two grey levels, 0 and 255, so its two-class multi-Otsu is
exact), and each segmenter is scored against it on the clean slice and with TIQA noise
levels 1..5 added.

Writes ``benchmarks/results/segmentation_table.json`` and ``.md`` (the tables of
docs/segmentation.md). Run from the repository root::

    nice .venv/bin/python benchmarks/segmentation_table.py
    .venv/bin/python benchmarks/segmentation_table.py --model m.keras --count 1 --size 64 \\
        --levels 0 3 --no-battery --out /tmp/t     # seconds (tomokit-seg's test)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from segmentation_train import (  # noqa: E402
    SEEDS,
    SHIPPED,
    check_disjoint,
    make_mixed,
)

SEGMENTERS: tuple[str, ...] = ("dlinknet", "otsu", "multi_otsu", "fuzzy_cmeans", "kmeans")
DISTORTIONS: tuple[str, ...] = ("noise", "blur", "ring")
FAMILIES: tuple[str, ...] = ("electrode", "jelly_roll")


def load_segmenters(model: Path | None) -> dict[str, Any]:
    """The five segmenters, 2 phases each (``model`` None: the shipped D-LinkNet)."""
    import tomokit

    out: dict[str, Any] = {}
    for name in SEGMENTERS:
        if name == "dlinknet":
            out[name] = (tomokit.load("segmenter", name, classes=2) if model is None
                         else tomokit.load("segmenter", name, model=str(model), classes=2))
        elif name == "otsu":
            out[name] = tomokit.load("segmenter", name)
        else:
            out[name] = tomokit.load("segmenter", name, classes=2)
    return out


def test_data(workdir: Path, *, count: int, size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``count`` held-out phantoms per family, ``{family: (images, labels)}``."""
    import h5py

    path = make_mixed(workdir, "test", count=2 * count, size=size)
    others = [*workdir.glob("mixed_train_*_v2.h5"), *workdir.glob("mixed_validation_*_v2.h5")]
    check_disjoint(path, *others)
    with h5py.File(path, "r") as f:
        images, labels = f["images"][()], f["labels"][()]
        source = np.array([s.decode().split("/")[0] for s in f["source"][()]])
    return {fam: (images[source == fam], labels[source == fam]) for fam in FAMILIES}


def summarise(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    """Mean over the 16 distinct conditions (clean + 3 types x 5 levels) and the
    issue's acceptance: dlinknet best on average and at every noise level >= 2."""
    distinct = [r for r in rows if r["level"] > 0] + [next(r for r in rows if r["level"] == 0)]
    mean = {n: float(np.mean([r["scores"][n]["mean_f1"] for r in distinct])) for n in names}
    best_mean = max(mean, key=lambda n: mean[n])
    noisy = [r for r in rows if r["distortion"] == "noise" and r["level"] >= 2]
    best_noise = {
        str(r["level"]): max(names, key=lambda n: r["scores"][n]["mean_f1"]) for r in noisy
    }
    return {
        "mean_f1": mean,
        "best_on_average": best_mean,
        "best_at_noise_level": best_noise,
        "accepted": best_mean == "dlinknet"
        and bool(noisy) and all(v == "dlinknet" for v in best_noise.values()),
    }


def markdown(rows: list[dict[str, Any]], names: tuple[str, ...], title: str) -> str:
    """One markdown table: a row per distortion and level, the best value in bold."""
    head = f"**{title}**\n\n| distortion | level | " + " | ".join(f"`{n}`" for n in names) + " |"
    lines = [head, "|---|---|" + "---|" * len(names)]
    for r in rows:
        vals = {n: r["scores"][n]["mean_f1"] for n in names}
        top = max(vals.values())
        cells = [f"**{v:.3f}**" if v == top else f"{v:.3f}" for v in vals.values()]
        lines.append(f"| {r['distortion']} | {r['level']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(summaries: dict[str, dict[str, Any]], names: tuple[str, ...]) -> str:
    lines = ["| phantoms | " + " | ".join(f"`{n}`" for n in names) + " | accepted |",
             "|---|" + "---|" * (len(names) + 1)]
    for key, s in summaries.items():
        top = max(s["mean_f1"].values())
        cells = [f"**{v:.3f}**" if v == top else f"{v:.3f}" for v in s["mean_f1"].values()]
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {'yes' if s['accepted'] else 'no'} |")
    return "\n".join(lines)


def battery(segmenters: dict[str, Any], levels: list[int]) -> dict[str, Any]:
    """The real slice: reference = multi-Otsu (2 classes) of the clean slice."""
    import tomokit
    from tomokit_iqa.recipes.references import battery_slice
    from tomokit_seg.evaluate import distortion_scores

    clean = battery_slice()
    reference = tomokit.load("segmenter", "multi_otsu", classes=2).segment(clean)
    rows = distortion_scores(segmenters, clean[None], reference[None], distortions=("noise",),
                             levels=levels, n_classes=2)
    return {
        "image": "examples/data/battery_195.bmp (TomoIQA 195), 1024 x 1024",
        "grey_levels": len(np.unique(clean)),
        "reference": "multi_otsu, 2 classes, of the clean slice",
        "reference_solid_fraction": float(np.mean(reference == 1)),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="D-LinkNet file (default: shipped).")
    ap.add_argument("--count", type=int, default=8, help="Held-out phantoms per family.")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--levels", type=int, nargs="+", default=list(range(6)))
    ap.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "results" / "segmentation")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "segmentation_table",
                    help="Output path without suffix (.json and .md are written).")
    ap.add_argument("--no-battery", action="store_true", help="Skip the real battery slice.")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tomokit_seg.evaluate import distortion_scores

    if 0 not in args.levels:
        args.levels = [0, *args.levels]
    t0 = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = test_data(args.workdir, count=args.count, size=args.size)
    segs = load_segmenters(args.model)
    result: dict[str, Any] = {
        "script": "benchmarks/segmentation_table.py",
        "model": str(args.model or SHIPPED.relative_to(ROOT)),
        "data": {
            "phantoms": list(FAMILIES), "per_family": args.count, "size": args.size,
            "seeds": {f: SEEDS[f]["test"] for f in FAMILIES},
            "acquisition": "tomokit-phantom defaults (projection, detector blur, gain errors, "
                           "photon noise, FBP)",
        },
        "score": "mean over the 2 phases of the per-class F1 (tomokit.metrics.mean_f1), "
                 "then over slices; baselines' classes matched to the truth first",
        "levels": args.levels,
        "families": {},
    }
    all_rows: list[dict[str, Any]] | None = None
    for fam in FAMILIES:
        images, labels = data[fam]
        rows = distortion_scores(segs, images, labels, distortions=DISTORTIONS,
                                 levels=args.levels, n_classes=2)
        result["families"][fam] = {"rows": rows, "summary": summarise(rows, SEGMENTERS)}
        if all_rows is None:
            all_rows = [json.loads(json.dumps(r)) for r in rows]
        else:  # both families: the mean over all slices (equal counts)
            for a, r in zip(all_rows, rows, strict=True):
                for n in SEGMENTERS:
                    a["scores"][n]["per_image"] += r["scores"][n]["per_image"]
                    a["scores"][n]["mean_f1"] = float(np.mean(a["scores"][n]["per_image"]))
                    a["scores"][n].pop("f1", None)
    assert all_rows is not None
    result["all"] = {"rows": all_rows, "summary": summarise(all_rows, SEGMENTERS)}
    if not args.no_battery:
        result["battery"] = battery(segs, list(args.levels))
    result["seconds"] = round(time.perf_counter() - t0, 1)

    summaries = {"both": result["all"]["summary"]} | {
        fam: result["families"][fam]["summary"] for fam in FAMILIES}
    parts = [summary_markdown(summaries, SEGMENTERS),
             markdown(all_rows, SEGMENTERS, "Electrode and jelly-roll phantoms")]
    parts += [markdown(result["families"][f]["rows"], SEGMENTERS, f.replace("_", "-") + " phantoms")
              for f in FAMILIES]
    if "battery" in result:
        parts.append(markdown(result["battery"]["rows"], SEGMENTERS,
                              "Real battery slice, against multi-Otsu of the clean slice"))
    md = "\n\n".join(parts) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(md)
    print(md)
    print(json.dumps({k: summaries[k] for k in summaries}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
