"""The AI4SD report's training-library study for ``cnn_reconstruct`` (its Figs. 4-5).

Train the supervised CNN on one phantom library (catalyst-like), on another (random
shapes) and on their half-and-half mix; test each on held-out phantoms of every library;
report mean SSIM and PSNR (inside the reconstruction circle, data range 1: images are
scaled to a peak of 1) against FBP (ASTRA, ram-lak) on the same noisy sinograms, and the
share of test inputs the model's out-of-distribution check flags. Writes the table and a
figure grid (rows: test phantoms; columns: truth, FBP, the three models).

    python benchmarks/cnn_library_study.py                       # 64 px: ~10 min on 2 cores
    python benchmarks/cnn_library_study.py --size 32 --n-train 600 --epochs 6   # ~1-2 min
    python benchmarks/cnn_library_study.py --output benchmarks/results/cnn_library_study.txt \\
        --figure docs/recon/cnn_library_study.png
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")

TRAIN_LIBRARIES = ("catalyst", "random_shapes", "mixed")
TEST_LIBRARIES = ("catalyst", "random_shapes")


def recipe(args: argparse.Namespace) -> dict[str, Any]:
    return dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                loss_kind=args.loss, conv_filters=args.conv_filters,
                dense_units=args.dense_units, dense_layers=args.dense_layers,
                dropout=args.dropout, refine_filters=args.refine_filters, device="cpu",
                early_stopping=None, validation_fraction=0.1, seed=args.seed)


def scores(truth: np.ndarray, images: np.ndarray) -> tuple[float, float]:
    from tomokit_recon import reconstruction_metrics

    ms = [reconstruction_metrics(t, np.clip(r, 0.0, None), data_range=1.0)
          for t, r in zip(truth, images, strict=True)]
    return float(np.mean([m["ssim"] for m in ms])), float(np.mean([m["psnr"] for m in ms]))


def fbp_all(sinos: np.ndarray, angles: Any) -> np.ndarray:
    import tomokit
    from tomokit import Sinogram

    fbp = tomokit.load("reconstructor", "fbp", filter="ram-lak")
    return np.stack([fbp.reconstruct(Sinogram(data=s, angles=np.asarray(angles)))
                     for s in sinos])


def run(args: argparse.Namespace, emit: Callable[[str], None]) -> None:
    from tomokit_recon.cnn import CNNReconstruct, make_reconstruction_data

    t_all = time.perf_counter()
    angles_n = args.angles or args.size
    emit(f"cnn_reconstruct library study: {args.size} px, {angles_n} angles over 180 deg, "
         f"photon noise I0 = {args.i0:g}; {args.n_train} training phantoms per library "
         f"(10 % validation), {args.n_test} test phantoms per library; recipe {recipe(args)}; "
         f"{os.cpu_count()} CPU(s)")
    tests = {lib: make_reconstruction_data(lib, args.n_test, args.size, n_angles=angles_n,
                                           i0=args.i0, seed=args.seed + 1000)
             for lib in TEST_LIBRARIES}
    angles = tests[TEST_LIBRARIES[0]].attrs["angles"]
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    images: dict[str, dict[str, np.ndarray]] = {}
    results["fbp"], images["fbp"] = {}, {}
    for lib, data in tests.items():
        rec = fbp_all(data["sinogram"], angles)
        images["fbp"][lib] = rec
        results["fbp"][lib] = (*scores(data["image"], rec), float("nan"))
    seconds: dict[str, float] = {}
    for lib in TRAIN_LIBRARIES:
        t0 = time.perf_counter()
        train = make_reconstruction_data(lib, args.n_train, args.size, n_angles=angles_n,
                                         i0=args.i0, seed=args.seed)
        model = CNNReconstruct(device="cpu", warn_ood=False)
        report = model.fit(train, train=recipe(args))
        seconds[lib] = time.perf_counter() - t0
        emit(f"trained on {lib}: {report.epochs_run} epochs, {seconds[lib]:.0f} s "
             f"({report.seconds / max(1, report.epochs_run):.1f} s/epoch), validation "
             + ", ".join(f"{k} {v:.4g}" for k, v in report.validation.items()))
        if args.save_models:
            model.save(os.path.join(args.save_models, f"cnn_{lib}_{args.size}.keras"))
        results[lib], images[lib] = {}, {}
        for test_lib, data in tests.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rec = model.reconstruct_many(data["sinogram"])
                flagged = float(model.is_out_of_distribution(data["sinogram"]).mean())
            images[lib][test_lib] = rec
            results[lib][test_lib] = (*scores(data["image"], rec), flagged)
    emit("")
    head = f"{'trained on':<16}" + "".join(f"{t + ' SSIM / PSNR / OOD':>36}" for t in TEST_LIBRARIES)
    emit(head)
    emit("-" * len(head))
    for name in ("fbp", *TRAIN_LIBRARIES):
        row = f"{'FBP (ram-lak)' if name == 'fbp' else name:<16}"
        for test_lib in TEST_LIBRARIES:
            s, p, f = results[name][test_lib]
            ood = "   -" if np.isnan(f) else f"{100 * f:3.0f}%"
            row += f"{s:>18.4f} / {p:6.2f} / {ood:>5}"
        emit(row)
    emit(f"(OOD: share of test inputs flagged by the model's k-NN check; total "
         f"{time.perf_counter() - t_all:.0f} s)")
    if args.figure:
        figure(args.figure, tests, images, args.figure_rows)
        emit(f"figure: {args.figure}")


def figure(path: str, tests: dict[str, Any], images: dict[str, dict[str, np.ndarray]],
           per_library: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["truth", "fbp", *TRAIN_LIBRARIES]
    titles = {"truth": "truth", "fbp": "FBP", "catalyst": "CNN: catalyst",
              "random_shapes": "CNN: random shapes", "mixed": "CNN: mixed"}
    rows = [(lib, i) for lib in TEST_LIBRARIES for i in range(per_library)]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.0 * len(cols), 2.0 * len(rows)),
                             squeeze=False)
    for r, (lib, i) in enumerate(rows):
        truth = tests[lib]["image"][i]
        for c, col in enumerate(cols):
            img = truth if col == "truth" else images[col][lib][i]
            ax = axes[r, c]
            ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[col], fontsize=9)
            if c == 0:
                ax.set_ylabel(lib.replace("_", " "), fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--angles", type=int, default=None, help="default: the image size")
    ap.add_argument("--i0", type=float, default=1e4, help="photons per detector pixel")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--loss", choices=("rmse", "mse"), default="rmse")
    ap.add_argument("--conv-filters", type=int, default=64)
    ap.add_argument("--dense-units", type=int, default=1000)
    ap.add_argument("--dense-layers", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--refine-filters", type=int, default=32,
                    help="filters of the 3 image convs (report: 128; 32 keeps 64 px in budget)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figure", help="write the figure grid (PNG) here")
    ap.add_argument("--figure-rows", type=int, default=2, help="test phantoms per library")
    ap.add_argument("--save-models", help="save the three models in this folder")
    ap.add_argument("--output", help="also write the table to this file")
    args = ap.parse_args(argv)
    out = open(args.output, "w") if args.output else None  # noqa: SIM115

    def emit(line: str) -> None:
        print(line, flush=True)
        if out is not None:
            out.write(line + "\n")
            out.flush()

    try:
        emit(f"$ python benchmarks/cnn_library_study.py "
             f"{' '.join(argv if argv is not None else sys.argv[1:])}")
        run(args, emit)
    finally:
        if out is not None:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
