"""Super-resolution of chemical maps on held-out phantoms (ChemISR issue, Butler et al.'s
report: single-input residual network MSE 0.0510, dual-input ChemISR-Net 0.0395).

Test phantoms (``tomokit_sr.data.make_triples("test", ...)``: seeds never used for
training or validation; catalysts with two diffraction-pattern sets, electrodes, a jelly
roll; Poisson-noisy cubes unmixed into concentration maps) at x4 by default. For every
method: MSE, PSNR and SSIM against the clean high-resolution concentration maps (data
range 1), and seconds per 520 x 520 output (one map, 130 x 130 -> 520 x 520, median of
3 runs after a warm-up, on this machine). Then robustness of the guided methods: the
guide shifted by 1, 2 and 4 px, and a guide from another phantom (no information).

Learned methods use the shipped models when installed, ``--models DIR`` (files
``edsr_x4.keras``, ``chemisr_x4.keras``), or ``--train quick|shipped`` to train them
first (the quick recipe takes a few minutes on 2 cores).

    python benchmarks/sr_table.py --train quick                 # all methods, minutes
    python benchmarks/sr_table.py --models tomokit-sr/src/tomokit_sr/data/models
    python benchmarks/sr_table.py --methods bicubic,joint_bilateral --phantoms 14
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")

CLASSICAL = ("nearest", "bilinear", "bicubic", "guided_filter", "joint_bilateral")
LEARNED = ("edsr", "chemisr")
REPORT = {"edsr": 0.0510, "chemisr": 0.0395}  # the report's MSE (its own data)


def _resolvers(methods: list[str], factor: int, models: Path | None, train: str | None,
               log: Any, save: Path | None = None) -> dict[str, Any]:
    import tomokit

    out: dict[str, Any] = {}
    for name in methods:
        if name in CLASSICAL:
            out[name] = tomokit.load("super_resolver", name, factor=factor)
            continue
        if train is not None:
            from tomokit_sr.recipes import train_recipe

            t0 = time.perf_counter()
            path = None if save is None else save / f"{name}_x{factor}.keras"
            comp, report, _ = train_recipe(name, train, factor=factor, output=path)
            log(f"trained {name} ({train} recipe): {report.epochs_run} epochs in "
                f"{time.perf_counter() - t0:.0f} s")
            out[name] = comp
        elif models is not None:
            out[name] = tomokit.load("super_resolver", name, factor=factor,
                                     model=str(models / f"{name}_x{factor}.keras"))
        else:
            out[name] = tomokit.load("super_resolver", name, factor=factor)  # shipped
    return out


def _speed(resolver: Any, factor: int, size: int = 520) -> float:
    rng = np.random.default_rng(0)
    low = rng.random((size // factor, size // factor)).astype(np.float32)
    guide = rng.random((size, size)).astype(np.float32)
    resolver.upscale(low, guide)  # warm-up (model load, graph trace)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        resolver.upscale(low, guide)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default=",".join(CLASSICAL + LEARNED))
    ap.add_argument("--factor", type=int, default=4, choices=(2, 4, 8))
    ap.add_argument("--phantoms", type=int, default=14, help="test phantoms (2-6 maps each)")
    ap.add_argument("--size", type=int, default=256, help="high-resolution side of test phantoms")
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--train", choices=("quick", "shipped"), default=None)
    ap.add_argument("--save-models", type=Path, default=None,
                    help="with --train: also write the trained models here")
    ap.add_argument("--no-robustness", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    from tomokit_sr.data import make_triples, shift_guide
    from tomokit_sr.recipes import evaluate

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(CLASSICAL + LEARNED)
    if unknown:
        ap.error(f"unknown methods {sorted(unknown)}")
    test = make_triples("test", args.phantoms, factor=args.factor, size=args.size)
    log(f"{len(test)} test maps from {args.phantoms} phantoms at {args.size} px, x{args.factor}")
    resolvers = _resolvers(methods, args.factor, args.models, args.train, log, args.save_models)

    results: dict[str, Any] = {"factor": args.factor, "phantoms": args.phantoms,
                               "size": args.size, "maps": len(test), "methods": {}}
    print(f"\nx{args.factor}, {len(test)} held-out maps ({args.phantoms} phantoms, {args.size} px)")
    print(f"{'method':<16} {'MSE':>8} {'PSNR dB':>8} {'SSIM':>7} {'s/520px':>8}  report MSE")
    for name, res in resolvers.items():
        fig = evaluate(res, test)
        fig["seconds_520"] = _speed(res, args.factor)
        results["methods"][name] = fig
        ref = f"{REPORT[name]:.4f}" if name in REPORT else ""
        print(f"{name:<16} {fig['mse']:8.4f} {fig['psnr']:8.2f} {fig['ssim']:7.4f} "
              f"{fig['seconds_520']:8.3f}  {ref}", flush=True)
    figs = results["methods"]
    if "edsr" in figs and "chemisr" in figs:
        ratio = figs["chemisr"]["mse"] / figs["edsr"]["mse"]
        results["chemisr_over_edsr"] = ratio
        print(f"chemisr/edsr MSE ratio {ratio:.3f} (report: {0.0395 / 0.0510:.3f})")

    guided = [m for m in resolvers if m in ("guided_filter", "joint_bilateral", "chemisr")]
    if guided and not args.no_robustness:
        n = len(test)
        cases: dict[str, Any] = {
            "aligned": None,
            "shift 1 px": lambda i, g: shift_guide(g, 1.0, 0.0),
            "shift 2 px": lambda i, g: shift_guide(g, 2.0, 0.0),
            "shift 4 px": lambda i, g: shift_guide(g, 4.0, 0.0),
            "shift 2,2 px": lambda i, g: shift_guide(g, 2.0, 2.0),
            # the guide of a map from another phantom: no information about this one
            "other phantom": lambda i, g: test[(i + n // 2) % n].guide
            if test[(i + n // 2) % n].source != test[i].source
            else test[(i + n // 2 + 1) % n].guide,
        }
        results["robustness"] = {}
        print("\nrobustness (MSE; the guide misregistered or from another phantom)")
        print(f"{'case':<14} " + " ".join(f"{m:>16}" for m in guided)
              + (f" {'edsr (no guide)':>16}" if "edsr" in figs else ""))
        for case, fn in cases.items():
            row = {m: evaluate(resolvers[m], test, guide_transform=fn)["mse"] for m in guided}
            results["robustness"][case] = row
            tail = f" {figs['edsr']['mse']:16.4f}" if "edsr" in figs else ""
            print(f"{case:<14} " + " ".join(f"{row[m]:16.4f}" for m in guided) + tail,
                  flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
