"""The TIQA paper's study as one tomokit pipeline: does a no-reference quality score
track the accuracy of the segmentation that follows?

Labelled phantoms (electrode and jelly roll) are acquired (projection, detector blur,
gain errors, photon noise, FBP), windowed to [0, 1], distorted by every TIQA
distortion type (noise, blur, ring) at every level 1..5, scored by a no-reference scorer
and segmented (Otsu, and D-LinkNet when a model is available); the F1 and IoU of each
segmentation against the phantom's labels and the SROCC/PLCC between score and F1 per
distortion type are printed beside the paper's Table 3. Every number comes from the
pipeline's results file; this script builds the pipeline, runs it with the core runner,
and draws the figures (per level: image, uncertainty map, IoU map, score and F1).

    .venv/bin/python benchmarks/iqa_seg_study.py                     # full size
    .venv/bin/python benchmarks/iqa_seg_study.py --quick --scorer brisque_tomo   # CI size
    .venv/bin/python benchmarks/iqa_seg_study.py --tiqa-model tiqa_quick.keras \\
        --dlinknet-model dlinknet_quick.keras
    .venv/bin/python benchmarks/iqa_seg_study.py --write-example     # examples/iqa_seg_study.yaml

Outputs (default ``benchmarks/results/iqa_seg_study[_quick]/``): ``study.h5`` (the
results file; ``tomokit report study.h5`` shows it), ``table.json``, ``table.txt`` and
``levels_<phantom>_<segmenter>_<type>.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "iqa_seg_study.yaml"

#: TIQA paper (Zhang et al. 2022), Table 3: SROCC / PLCC between TIQA score and F1.
PAPER = {"ring": (0.925, 0.887), "noise": (0.829, 0.877), "blur": (0.928, 0.952)}
TYPES = ("noise", "blur", "ring")

#: Per phantom: the fixed window [low, low + range] (1/cm) mapped to [0, 1]. The truth is
#: merged into the shipped D-LinkNet's two phases and the phantoms are made as it was
#: trained (tomokit_seg.phases: :func:`truth_groups` and ``PHANTOM_PARAMS``).
WINDOWS: dict[str, tuple[float, float]] = {"electrode": (-3.0, 33.0), "jelly_roll": (-0.5, 5.0)}


def truth_groups(phantom: str) -> list[list[int]]:
    """The phantom's labels as the shipped phases ``[[background], [solid]]``."""
    from tomokit_phantom import generate
    from tomokit_seg.phases import PHANTOM_PARAMS, groups

    return groups(phantom, generate(phantom, 32, 0, **PHANTOM_PARAMS[phantom]).phases)


#: The CI size stops at level 4: TIQA's blur level 5 (sigma 33 px) leaves a 96 px slice
#: nearly constant, which BRISQUE refuses to score.
QUICK: dict[str, Any] = {"size": 96, "count": 2, "levels": (1, 2, 3, 4)}
FULL: dict[str, Any] = {"size": 256, "count": 8, "levels": (1, 2, 3, 4, 5)}


def build_study(*, size: int, count: int, scorer: str = "tiqa",
                scorer_params: dict[str, Any] | None = None,
                segmenters: dict[str, dict[str, Any]] | None = None,
                phantoms: tuple[str, ...] = ("electrode", "jelly_roll"),
                levels: tuple[int, ...] = (1, 2, 3, 4, 5), seed: int = 0) -> str:
    """The study's pipeline text. ``segmenters`` maps a segmenter name to its params
    (default Otsu alone); every segmenter is scored on the shipped two phases."""
    from tomokit_seg.phases import PHANTOM_PARAMS

    segs = segmenters if segmenters is not None else {"otsu": {}}
    steps: list[dict[str, Any]] = []
    outputs: list[str] = []
    for ph in phantoms:
        low, high = WINDOWS[ph]
        groups = truth_groups(ph)
        params = PHANTOM_PARAMS[ph]
        steps += [
            {"id": f"{ph}_scan", "task": "acquired_slices",
             "params": {"phantom": ph, "size": size, "count": count,
                        **({"phantom_params": params} if params else {})}},
            {"id": f"{ph}_image", "filter": "chain",
             "params": {"chain": "none", "data_min": low, "data_range": high - low,
                        "rescale": True},
             "inputs": {"image": f"{ph}_scan.image"}},
            {"id": f"{ph}_distorted",
             "sweep": [{"distortion": t, "params": {"data_range": 1.0},
                        "grid": {"level": list(levels)}} for t in TYPES],
             "inputs": {"image": f"{ph}_image"}},
            {"id": f"{ph}_score", "scorer": scorer,
             "params": {"data_range": 1.0, **dict(scorer_params or {})},
             "inputs": {"images": f"{ph}_distorted[*]"}},
        ]
        outputs += [f"{ph}_scan", f"{ph}_distorted", f"{ph}_score"]
        for seg, params in segs.items():
            sid = f"{ph}_{seg}"
            scores: dict[str, Any] = {"truth_groups": groups}
            steps += [
                {"id": sid, "segmenter": seg, **({"params": params} if params else {}),
                 "inputs": {"images": f"{ph}_distorted[*]"}},
                {"id": f"{sid}_f1", "task": "segmentation_scores", "params": scores,
                 "inputs": {"labels": f"{sid}[*].labels", "truth": f"{ph}_scan.labels"}},
                {"id": f"{sid}_corr", "task": "correlation",
                 "inputs": {"x": f"{ph}_score[*]", "y": f"{sid}_f1[*].f1"}},
            ]
            outputs += [sid, f"{sid}_f1", f"{sid}_corr"]
    doc = {
        "name": "iqa-seg-study",
        "description": (f"TIQA paper study: {', '.join(phantoms)} ({count} x {size} px), "
                        f"{len(TYPES)} distortions x {len(levels)} levels, scored by {scorer}, "
                        f"segmented by {', '.join(segs)}; SROCC/PLCC of score vs F1 per type"),
        "seed": seed,
        "steps": steps,
        "outputs": outputs,
    }
    header = ("# Written by benchmarks/iqa_seg_study.py --write-example (the CI size of the study;\n"
              "# the script runs the same pipeline at full size with TIQA and D-LinkNet).\n")
    return header + yaml.safe_dump(doc, sort_keys=False, width=100)


def study_table(results: dict[str, Any], phantoms: tuple[str, ...],
                segmenters: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows: phantom (or 'pooled'), segmenter, type, SROCC, PLCC, n, mean F1 per level."""
    from tomokit import metrics

    rows = []
    for seg in segmenters:
        pooled: dict[str, list[tuple[float, float]]] = {t: [] for t in TYPES}
        for ph in phantoms:
            corr = results[f"{ph}_{seg}_corr"]
            points = corr["points"]
            for t in TYPES:
                sel = points["group"] == t.encode()
                pooled[t] += list(zip(points["x"][sel], points["y"][sel], strict=True))
                f1_levels = {}
                for lab in dict.fromkeys(c.decode() for c in points["candidate"][sel]):
                    level = int(lab.split("level=")[1])
                    f1_levels[level] = float(np.mean(points["y"][points["candidate"]
                                                                 == lab.encode()]))
                rows.append({"phantom": ph, "segmenter": seg, "type": t,
                             "srocc": float(corr[f"srocc_{t}"]), "plcc": float(corr[f"plcc_{t}"]),
                             "n": int(corr[f"n_{t}"]), "f1_by_level": f1_levels})
        for t in TYPES:
            x, y = (np.array(v) for v in zip(*pooled[t], strict=True))
            rows.append({"phantom": "pooled", "segmenter": seg, "type": t,
                         "srocc": float(metrics.srocc(x, y)), "plcc": float(metrics.plcc(x, y)),
                         "n": len(x), "f1_by_level": {}})
    return rows


def format_table(rows: list[dict[str, Any]], scorer: str) -> str:
    lines = [f"SROCC / PLCC between {scorer} score and segmentation F1, per distortion type",
             f"{'phantom':<11} {'segmenter':<9} {'type':<6} {'SROCC':>7} {'PLCC':>7} {'n':>4}"
             f"   paper (TIQA, Table 3)   F1 at levels 1..5"]
    for r in rows:
        ps, pp = PAPER[r["type"]]
        f1 = " ".join(f"{r['f1_by_level'][k]:.3f}" for k in sorted(r["f1_by_level"]))
        lines.append(f"{r['phantom']:<11} {r['segmenter']:<9} {r['type']:<6} {r['srocc']:>7.3f} "
                     f"{r['plcc']:>7.3f} {r['n']:>4}   {ps:.3f} / {pp:.3f}           {f1}")
    return "\n".join(lines)


def level_figures(results: dict[str, Any], out: Path, phantoms: tuple[str, ...],
                  segmenters: tuple[str, ...], scorer: str) -> list[Path]:
    """Per phantom, segmenter and type: a row per level with the image, the uncertainty
    map and the IoU map of the bright phase (TP / FP / FN / TN), titled with score and F1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from tomokit_seg.maps import iou_map

    colours = ListedColormap(["#202020", "#4caf50", "#e53935", "#1e88e5"])  # TN TP FP FN
    written = []
    for ph in phantoms:
        groups = truth_groups(ph)
        truth_all = np.asarray(results[f"{ph}_scan"]["labels"])
        lut = np.zeros(int(truth_all.max()) + 1, dtype=np.int64)
        for k, g in enumerate(groups):
            lut[g] = k
        truth = lut[truth_all]
        for seg in segmenters:
            for t in TYPES:
                labels = [k for k in results if k.startswith(f"{ph}_distorted[{t}:")]
                labels.sort(key=lambda k: int(k.split("level=")[1].rstrip("]")))
                fig, axes = plt.subplots(len(labels), 3, figsize=(7.5, 2.5 * len(labels)),
                                         squeeze=False)
                for row, key in zip(axes, labels, strict=True):
                    cand = key[len(f"{ph}_distorted["):-1]
                    img = np.asarray(results[key])
                    img = img[0] if img.ndim == 3 else img
                    seg_out = results[f"{ph}_{seg}[{cand}]"]
                    unc = np.asarray(seg_out["uncertainty"])
                    unc = unc[0] if unc.ndim == 3 else unc
                    aligned = np.asarray(results[f"{ph}_{seg}_f1[{cand}]"]["aligned"])
                    aligned = aligned[0] if aligned.ndim == 3 else aligned
                    tr = truth[0] if truth.ndim == 3 else truth
                    score = float(np.asarray(results[f"{ph}_score[{cand}]"]).ravel()[0])
                    f1 = float(np.asarray(results[f"{ph}_{seg}_f1[{cand}]"]["f1"]).ravel()[0])
                    row[0].imshow(img, cmap="gray", vmin=0, vmax=1)
                    row[0].set_title(f"{cand}", fontsize=8)
                    row[1].imshow(unc, cmap="magma", vmin=0, vmax=1)
                    row[1].set_title("uncertainty", fontsize=8)
                    row[2].imshow(iou_map(aligned, tr, label=1), cmap=colours, vmin=0, vmax=3,
                                  interpolation="nearest")
                    row[2].set_title(f"{scorer} {score:.3g}, F1 {f1:.3f}", fontsize=8)
                    for ax in row:
                        ax.set_axis_off()
                fig.suptitle(f"{ph}, {seg}, {t} (IoU map: TP green, FP red, FN blue)",
                             fontsize=9)
                fig.tight_layout()
                path = out / f"levels_{ph}_{seg}_{t}.png"
                fig.savefig(path, dpi=80)
                plt.close(fig)
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    import tomokit
    from tomokit.errors import InvalidInputError
    from tomokit.pipeline import parse_pipeline, read_results, run_pipeline

    def has_model(kind: str, name: str, params: dict[str, Any]) -> bool:
        try:
            return tomokit.load(kind, name, **params).model_path_or_none() is not None
        except InvalidInputError as exc:  # a model file that is not there
            print(f"note: {exc}", file=sys.stderr)
            return False

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI size: 2 slices of 96 px per "
                    "phantom, levels 1..4 (default: 8 of 256 px, levels 1..5).")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--count", type=int, default=None, help="Slices per phantom.")
    ap.add_argument("--scorer", default="tiqa", help="Scorer (tiqa, brisque_tomo, brisque).")
    ap.add_argument("--tiqa-model", default=None, help="TIQA model file (default: shipped).")
    ap.add_argument("--dlinknet-model", default=None,
                    help="D-LinkNet model file (default: the shipped one, if installed).")
    ap.add_argument("--no-dlinknet", action="store_true", help="Otsu only.")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-figures", action="store_true")
    ap.add_argument("--write-example", action="store_true",
                    help=f"Write the CI-size pipeline to {EXAMPLE.relative_to(ROOT)} and stop.")
    a = ap.parse_args(argv)
    if a.write_example:
        EXAMPLE.write_text(build_study(**QUICK, scorer="brisque_tomo"))
        print(f"wrote {EXAMPLE}")
        return 0
    preset = QUICK if a.quick else FULL
    size = a.size or preset["size"]
    count = a.count or preset["count"]
    scorer_params: dict[str, Any] = {}
    if a.scorer == "tiqa":
        if a.tiqa_model:
            scorer_params["model"] = a.tiqa_model
        if not has_model("scorer", "tiqa", scorer_params):
            print("error: no TIQA model installed; pass --tiqa-model FILE.keras (e.g. "
                  "python -m tomokit_iqa.recipes.tiqa --quick) or --scorer brisque_tomo",
                  file=sys.stderr)
            return 2
    segmenters: dict[str, dict[str, Any]] = {"otsu": {}}
    if not a.no_dlinknet:
        params = {"model": a.dlinknet_model} if a.dlinknet_model else {}
        if has_model("segmenter", "dlinknet", params):
            segmenters["dlinknet"] = params
        else:
            print("note: no D-LinkNet model (pass --dlinknet-model); Otsu only", file=sys.stderr)
    out = a.out or ROOT / "benchmarks" / "results" / (
        "iqa_seg_study_quick" if a.quick else "iqa_seg_study")
    out.mkdir(parents=True, exist_ok=True)
    phantoms = tuple(WINDOWS)
    text = build_study(size=size, count=count, scorer=a.scorer, scorer_params=scorer_params,
                       segmenters=segmenters, levels=preset["levels"])
    pipeline = parse_pipeline(text, file="iqa_seg_study", base_dir=ROOT / "examples")
    summary = run_pipeline(pipeline, out / "study.h5")
    results = read_results(summary.output)
    rows = study_table(results, phantoms, tuple(segmenters))
    text_table = format_table(rows, a.scorer)
    print(text_table)
    meta = {"size": size, "count": count, "levels": list(preset["levels"]), "scorer": a.scorer, "scorer_params": scorer_params,
            "segmenters": segmenters, "paper_table3": PAPER,
            "seconds": round(sum(s.seconds for s in summary.steps), 1)}
    (out / "table.json").write_text(json.dumps({"settings": meta, "rows": rows}, indent=2) + "\n")
    (out / "table.txt").write_text(
        f"benchmarks/iqa_seg_study.py {' '.join(argv if argv is not None else sys.argv[1:])}\n"
        f"{json.dumps(meta)}\n{text_table}\n")
    if not a.no_figures:
        for path in level_figures(results, out, phantoms, tuple(segmenters), a.scorer):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
