"""Seconds per slice of every segmenter at 1024 x 1024 and 2048 x 2048, and D-LinkNet's
training seconds per epoch.

Inference time does not depend on the weights, so D-LinkNet is timed with an untrained
full-width DinkNet34 saved as a model file (the shipped model has the same architecture).
The slice is an acquired electrode phantom (tomokit-phantom) tiled to the size. Training
is timed on ``--train-count`` 256 x 256 phantoms with the shipped recipe (one crop per
image, batch 8, ``--width``) for two epochs; the second epoch's time is reported (the
first includes graph tracing), without a validation pass.

Run: ``.venv/bin/python benchmarks/segmentation_speed.py [--sizes 1024 2048] [--repeat 1]
[--train-count 32] [--width 1.0] [--skip-train]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _slice(size: int) -> np.ndarray:
    import tomokit
    from tomokit_phantom import acquire

    s = tomokit.load("phantom", "electrode", size=256).generate((256, 256), 0)
    tile = acquire(s, rng=0).image
    reps = -(-size // 256)
    return np.tile(tile, (reps, reps))[:size, :size].astype(np.float32)


def _time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--train-count", type=int, default=32)
    ap.add_argument("--width", type=float, default=1.0, help="Channel multiplier (training).")
    ap.add_argument("--skip-infer", action="store_true")
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import tomokit
    from tomokit.learn import TrainData, save_model
    from tomokit_seg.dlinknet import DLinkNet, DLinkNetTrainParams
    from tomokit_seg.network import build_dlinknet34

    results: dict[str, object] = {"machine": platform.processor() or platform.machine(),
                                  "cpus": os.cpu_count(), "seconds_per_slice": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "dlinknet.keras"
        save_model(build_dlinknet34(3), model, component=("segmenter", "dlinknet"), params={})
        segmenters = {
            "otsu": tomokit.load("segmenter", "otsu"),
            "multi_otsu": tomokit.load("segmenter", "multi_otsu", classes=3),
            "fuzzy_cmeans": tomokit.load("segmenter", "fuzzy_cmeans", classes=3),
            "kmeans": tomokit.load("segmenter", "kmeans", classes=3),
            "dlinknet": tomokit.load("segmenter", "dlinknet", model=str(model), device="cpu"),
        }
        table: dict[str, dict[int, float]] = {}
        for size in [] if args.skip_infer else args.sizes:
            img = _slice(size)
            for name, seg in segmenters.items():
                rng = np.random.default_rng(0)
                seg.run_step({"images": img[:64, :64] if name != "dlinknet" else img[:256, :256]},
                             rng=rng)  # warm-up (graph tracing, imports)
                t = _time(lambda s=seg, i=img, r=rng: s.run_step({"images": i}, rng=r), args.repeat)
                table.setdefault(name, {})[size] = round(t, 3)
                print(f"{name:13s} {size:5d} px: {t:8.3f} s", flush=True)
        results["seconds_per_slice"] = table

        if not args.skip_train:
            from tomokit.learn import TrainCallback
            from tomokit.learn._training import run_training

            class EpochTimer(TrainCallback):
                def __init__(self) -> None:
                    self.times: list[float] = []

                def on_epoch_begin(self, state: object) -> None:
                    self.times.append(time.perf_counter())

                def on_epoch_end(self, state: object, logs: dict[str, float]) -> None:
                    self.times[-1] = time.perf_counter() - self.times[-1]

            from tomokit_phantom import acquire

            images, labels = [], []
            for s in range(args.train_count):
                smp = tomokit.load("phantom", "electrode", size=256).generate((256, 256), s)
                images.append(acquire(smp, rng=s).image)
                labels.append(smp.labels)
            data = TrainData.from_arrays(images=np.stack(images), labels=np.stack(labels))
            recipe = DLinkNetTrainParams(epochs=2, crop=256, crops_per_image=1, batch_size=8,
                                         validation_fraction=0.0, device="cpu",
                                         width=args.width)
            net = DLinkNet()
            timer = EpochTimer()
            run_training(net, data, recipe, callbacks=[timer])
            seconds = timer.times[-1]
            results["train"] = {"images": args.train_count, "crop": 256, "width": args.width,
                                "seconds_per_epoch": round(seconds, 1),
                                "seconds_per_image": round(seconds / args.train_count, 2)}
            print(f"training: {seconds:.1f} s per epoch of {args.train_count} crops of 256 px",
                  flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
