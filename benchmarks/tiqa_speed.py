"""TIQA inference speed: slices per second for 224 x 224 slices (one crop each) and for
2048 x 2048 slices scored on 30 random 224 crops, for the EfficientNet-B0 network (and
``--backbones vgg16 small`` for RankIQA's and the CI model's), and for the shipped model
(``shipped``: the small CNN on 128 px crops; 30 crops for both sizes).

The weights are freshly initialised (speed does not depend on them), saved through
tomokit's model files and scored through the ``tiqa`` scorer, as a user would.
Training seconds per epoch: ``python -m tomokit_iqa.recipes.tiqa --epoch-seconds``.

Run: ``TF_NUM_INTRAOP_THREADS=2 .venv/bin/python benchmarks/tiqa_speed.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")


def _rate(fn, images: np.ndarray, min_time: float) -> float:  # type: ignore[no-untyped-def]
    fn(images)  # warm-up (graph tracing for this batch shape)
    n, t = 0, 0.0
    while t < min_time or n < len(images):
        t0 = time.perf_counter()
        fn(images)
        t += time.perf_counter() - t0
        n += len(images)
    return n / t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--backbones", nargs="+", default=["shipped", "efficientnet_b0"])
    ap.add_argument("--min-time", type=float, default=5.0)
    a = ap.parse_args()

    from tomokit.learn import save_model
    from tomokit_iqa.tiqa import TIQA, build_network

    rng = np.random.default_rng(0)
    small = rng.random((8, 224, 224)).astype(np.float32)
    big = rng.random((1, 2048, 2048)).astype(np.float32)
    print(f"{'backbone':>16} {'224x224 (slices/s)':>20} {'2048x2048, 30 crops (slices/s)':>32}")
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in a.backbones:
            if backbone == "shipped":
                if TIQA.default_model is None:
                    continue
                scorer = TIQA(data_range=1.0, device="cpu", n_crops=30)
                r_small = _rate(scorer.score, small, a.min_time)
                r_big = _rate(scorer.score, big, a.min_time)
                print(f"{'shipped (128 px)':>16} {r_small:>20.2f} {r_big:>32.3f}")
                continue
            width = {"efficientnet_b0": 1280, "vgg16": 4096}.get(backbone, 64)
            net = build_network(backbone, input_size=224, channels=3 if backbone != "small" else 1,
                                head_width=width)
            path = Path(tmp) / f"{backbone}.keras"
            save_model(net, path, component=("scorer", "tiqa"), params={})
            scorer = TIQA(model=str(path), data_range=1.0, device="cpu", n_crops=30)
            r_small = _rate(scorer.score, small, a.min_time)
            r_big = _rate(scorer.score, big, a.min_time)
            print(f"{backbone:>16} {r_small:>20.2f} {r_big:>32.3f}")


if __name__ == "__main__":
    main()
