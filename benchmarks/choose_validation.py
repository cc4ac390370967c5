"""Validation of the quality-guided choice: does the pre-processing a no-reference score
picks give as good a segmentation as the best candidate?

Held-out acquired phantoms (electrode and jelly roll, seeds no training used) carry
several distortions at once: the acquisition's photon noise, detector gain errors
(rings) and detector blur, then TIQA's noise and ring distortions on the windowed slice
(levels drawn per case, 0 = none), so that pre-processing has something to remove. For every case, every candidate chain of the default set of
``tomokit choose`` is applied, each result is segmented (Otsu, or D-LinkNet with
``--seg-model``) and scored against the phantom's labels (F1, two classes merged as in
benchmarks/iqa_seg_study.py), and scored by each no-reference scorer. Compared:

(a) no pre-processing (the ``none`` candidate), (b) the oracle (the candidate with the
best F1), (c) the TIQA-chosen, (d) the BRISQUE-chosen (LIVE model, the paper's baseline)
and (e) the BRISQUE (tomo)-chosen candidate: mean F1, mean gap to the oracle, and how
often each picks the oracle's candidate. The choice uses tomokit choose's own pieces:
the ``chain`` filter, its 0.5..99.5 percentile window of the case, and ``select``'s
ranking (mean score over the slices, each scorer's direction).

    .venv/bin/python benchmarks/choose_validation.py                 # full size
    .venv/bin/python benchmarks/choose_validation.py --quick         # CI size
    .venv/bin/python benchmarks/choose_validation.py --tiqa-model tiqa_quick.keras \\
        --seg-model dlinknet_quick.keras

Writes ``benchmarks/results/choose_validation[_quick].json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

QUICK: dict[str, Any] = {"cases": 6, "size": 96, "slices": 2}
FULL: dict[str, Any] = {"cases": 24, "size": 256, "slices": 2}
SEED = 10_000  # case seeds start here: none of the recipes trains on them


def make_case(k: int, size: int, slices: int) -> dict[str, Any]:
    """Case ``k``: a phantom type, its acquisition (three effects at once) and slices."""
    import tomokit
    from tomokit_phantom import acquire

    rng = np.random.default_rng(SEED + k)
    phantom = ("electrode", "jelly_roll")[k % 2]
    acq = {"i0": float(10 ** rng.uniform(np.log10(2e3), np.log10(3e4))),
           "gain_sigma": float(rng.uniform(0.005, 0.03)),
           "blur_sigma": float(rng.uniform(0.5, 1.5))}
    levels = {"noise": int(rng.integers(0, 5)), "ring": int(rng.integers(0, 5))}
    from tomokit_seg.phases import PHANTOM_PARAMS, groups

    gen = tomokit.load("phantom", phantom, size=size, **PHANTOM_PARAMS[phantom])
    shots, labels = [], []
    for j in range(slices):
        sample = gen.generate((size, size), np.random.default_rng([SEED + k, j]))
        shot = acquire(sample, acq, rng=np.random.default_rng([SEED + k, j, 1]))
        shots.append(shot.image)
        labels.append(shot.labels)
        phases = sample.phases
    stack = np.stack(shots).astype(np.float64)
    low, high = (float(v) for v in np.percentile(stack, [0.5, 99.5]))
    images = np.clip((stack - low) / (high - low), 0.0, 1.0)
    for name, level in levels.items():  # TIQA's distortions on the [0, 1] slices
        if level:
            dist = tomokit.load("distortion", name, level=level, data_range=1.0)
            images = np.stack([dist.apply(im, rng=np.random.default_rng([SEED + k, j, 2]))
                               for j, im in enumerate(images)])
    return {"case": k, "phantom": phantom, "acquisition": {**acq, **{
                f"{n}_level": float(v) for n, v in levels.items()}},
            "images": images.astype(np.float32), "labels": np.stack(labels),
            "groups": groups(phantom, phases)}


def f1_of(seg: Any, image: np.ndarray, labels: np.ndarray,
          truth_groups: list[list[int]]) -> float:
    from tomokit.study import SegmentationScores

    out = seg.run_step({"images": image}, rng=np.random.default_rng(0))
    scores = SegmentationScores({"truth_groups": truth_groups}).run({"labels": out["labels"], "truth": labels},
                                            rng=np.random.default_rng(0))
    return float(np.mean(scores["f1"]))


def run_case(case: dict[str, Any], chains: list[str], scorers: dict[str, Any],
             seg: Any) -> dict[str, Any]:
    from tomokit.choose import Chain
    from tomokit.selection import rank_candidates

    images = case["images"]
    low, high = (float(v) for v in np.percentile(images, [0.5, 99.5]))
    unit = np.clip((images - low) / (high - low), 0, 1).astype(np.float32)
    f1: dict[str, float] = {}
    scores: dict[str, dict[str, np.ndarray]] = {name: {} for name in scorers}
    for chain in chains:
        on_sample = Chain(chain=chain, clip=True).run_step({"image": unit},
                                                           rng=np.random.default_rng(0))
        for name, scorer in scorers.items():
            scores[name][chain] = np.asarray(scorer.score(on_sample), dtype=np.float64)
        # the chain as tomokit choose applies it to the volume, in its own units
        applied = Chain(chain=chain, data_range=high - low, data_min=low).run_step(
            {"image": images}, rng=np.random.default_rng(0))
        f1[chain] = f1_of(seg, applied, case["labels"], case["groups"])
    oracle = max(chains, key=lambda c: (f1[c], -chains.index(c)))
    picks = {}
    for name, scorer in scorers.items():
        ranked, _, _ = rank_candidates([scores[name]], [bool(scorer.higher_is_better)], [1.0])
        picks[name] = ranked[0]
    return {"case": case["case"], "phantom": case["phantom"],
            "acquisition": {k: round(v, 4) for k, v in case["acquisition"].items()},
            "f1": f1, "oracle": oracle, "picks": picks,
            "mean_scores": {n: {c: float(np.mean(v)) for c, v in s.items()}
                            for n, s in scores.items()}}


def summarise(rows: list[dict[str, Any]], scorers: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": len(rows)}
    oracle_f1 = np.array([r["f1"][r["oracle"]] for r in rows])
    methods = {"none": [r["f1"]["none"] for r in rows], "oracle": list(oracle_f1)}
    hits = {"none": float(np.mean([r["oracle"] == "none" for r in rows]))}
    for name in scorers:
        methods[name] = [r["f1"][r["picks"][name]] for r in rows]
        hits[name] = float(np.mean([r["picks"][name] == r["oracle"] for r in rows]))
    out["mean_f1"] = {m: float(np.mean(v)) for m, v in methods.items()}
    out["mean_gap_to_oracle"] = {m: float(np.mean(oracle_f1 - np.array(v)))
                                 for m, v in methods.items() if m != "oracle"}
    out["max_gap_to_oracle"] = {m: float(np.max(oracle_f1 - np.array(v)))
                                for m, v in methods.items() if m != "oracle"}
    out["picks_oracle"] = hits
    return out


def format_summary(summary: dict[str, Any], seg_name: str) -> str:
    lines = [f"{summary['cases']} held-out cases, segmenter {seg_name}",
             f"{'choice':<14} {'mean F1':>8} {'gap to oracle':>14} {'max gap':>8} "
             f"{'picks oracle':>13}"]
    for m, f1 in summary["mean_f1"].items():
        gap = summary["mean_gap_to_oracle"].get(m)
        worst = summary["max_gap_to_oracle"].get(m)
        hit = summary["picks_oracle"].get(m)
        lines.append(f"{m:<14} {f1:>8.4f} {'' if gap is None else f'{gap:.4f}':>14} "
                     f"{'' if worst is None else f'{worst:.4f}':>8} "
                     f"{'' if hit is None else f'{hit:.0%}':>13}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import tomokit
    from tomokit.choose import load_candidates
    from tomokit.errors import InvalidInputError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="CI size: 6 cases of 2 x 96 px (default 24 cases of 2 x 256 px).")
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--tiqa-model", default=None, help="TIQA model (default: the shipped one).")
    ap.add_argument("--segmenter", choices=("otsu", "dlinknet"), default="otsu",
                    help="dlinknet: the shipped model, or --seg-model FILE.")
    ap.add_argument("--seg-model", default=None,
                    help="D-LinkNet model file (implies --segmenter dlinknet).")
    ap.add_argument("--candidates", type=Path, default=None,
                    help="Candidates YAML (default: tomokit choose's default set).")
    ap.add_argument("--out", type=Path, default=None, help="JSON file to write.")
    a = ap.parse_args(argv)
    preset = QUICK if a.quick else FULL
    cases = a.cases or preset["cases"]
    size = a.size or preset["size"]
    chains = load_candidates(a.candidates)
    scorers: dict[str, Any] = {}
    tiqa_params = {"data_range": 1.0, **({"model": a.tiqa_model} if a.tiqa_model else {})}
    try:
        tiqa = tomokit.load("scorer", "tiqa", **tiqa_params)
        found = tiqa.model_path_or_none()
    except InvalidInputError as exc:  # a model file that is not there
        tiqa, found = None, None
        print(f"note: {exc}", file=sys.stderr)
    if found is not None:
        scorers["tiqa"] = tiqa
    else:
        print("note: no TIQA model (install it or pass --tiqa-model); BRISQUE only",
              file=sys.stderr)
    scorers["brisque"] = tomokit.load("scorer", "brisque", data_range=1.0)
    scorers["brisque_tomo"] = tomokit.load("scorer", "brisque_tomo", data_range=1.0)
    if a.seg_model or a.segmenter == "dlinknet":
        seg_name = "dlinknet"
        seg = tomokit.load("segmenter", "dlinknet",
                           **({"model": a.seg_model} if a.seg_model else {}))
    else:
        seg_name, seg = "otsu", tomokit.load("segmenter", "otsu")
    t0 = time.perf_counter()
    rows = []
    for k in range(cases):
        rows.append(run_case(make_case(k, size, preset["slices"]), chains, scorers, seg))
        r = rows[-1]
        print(f"case {k} {r['phantom']:<10} oracle {r['oracle']:<55} "
              + " ".join(f"{n}: {p}" for n, p in r["picks"].items()), file=sys.stderr)
    summary = summarise(rows, list(scorers))
    print(format_summary(summary, seg_name))
    out = a.out or ROOT / "benchmarks" / "results" / (
        f"choose_validation{'_quick' if a.quick else ''}_{seg_name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": "tomokit-benchmark/choose_validation",
           "command": "benchmarks/choose_validation.py " + " ".join(
               argv if argv is not None else sys.argv[1:]),
           "settings": {"cases": cases, "size": size, "slices_per_case": preset["slices"],
                        "segmenter": seg_name, "seg_model": a.seg_model,
                        "tiqa_model": str(found) if "tiqa" in scorers else None,
                        "candidates": chains, "seed": SEED,
                        "seconds": round(time.perf_counter() - t0, 1)},
           "summary": summary, "cases": rows}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
