"""A figure like Fig. 10 of Butler et al.'s report: one held-out chemical map at x4 —
low-resolution input, absorption guide, bilinear, bicubic, joint bilateral, edsr,
chemisr and the high-resolution truth, each with its MSE.

    python benchmarks/sr_figure.py --models tomokit-sr/src/tomokit_sr/data/models -o sr_x4.png
    python benchmarks/sr_figure.py --train quick -o sr_x4.png     # trains quick models first
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")

PANELS = ("bilinear", "bicubic", "joint_bilateral", "edsr", "chemisr")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--train", choices=("quick", "shipped"), default=None)
    ap.add_argument("--phantom", type=int, default=0, help="index of the test phantom")
    ap.add_argument("--map", type=int, default=1, help="which of its phase maps")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import tomokit
    from tomokit_sr.data import make_triples

    triples = make_triples("test", 1, start=args.phantom, size=args.size)
    t = triples[min(args.map, len(triples) - 1)]
    images = {"low-resolution input": np.kron(t.low, np.ones((4, 4))), "absorption guide": t.guide}
    for name in PANELS:
        if name in ("edsr", "chemisr"):
            if args.train is not None:
                from tomokit_sr.recipes import train_recipe

                sr, _, _ = train_recipe(name, args.train)
            elif args.models is not None:
                sr = tomokit.load("super_resolver", name, model=str(args.models / f"{name}_x4.keras"))
            else:
                sr = tomokit.load("super_resolver", name)
        else:
            sr = tomokit.load("super_resolver", name)
        out = sr.upscale(t.low, t.guide)
        images[f"{name} (MSE {np.mean((out - t.truth) ** 2):.4f})"] = out
    images["ground truth"] = t.truth
    fig, axes = plt.subplots(2, 4, figsize=(12, 7.0))
    for ax, (title, img) in zip(axes.ravel(), images.items(), strict=True):
        vmax = None if title == "absorption guide" else 1.0
        ax.imshow(img, cmap="gray" if title == "absorption guide" else "viridis",
                  vmin=0 if vmax else None, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{t.source}, phase {t.phase}, x4 (held-out test phantom)", fontsize=10)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
