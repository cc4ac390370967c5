"""Phantoms per second at 512x512 and 2048x2048, for every tomokit-phantom generator,
against scikit-image peers measured in the same run:

* ``skimage.draw.random_shapes`` (one call, up to 10 shapes, labels as bounding boxes only);
* ``skimage.data.shepp_logan_phantom`` resized with ``skimage.transform.resize`` (the only
  way to get another size from it; no labels).

Target: one 2048x2048 electrode slice in under 2 s on one core. Run with one thread:
``OMP_NUM_THREADS=1 python benchmarks/phantom_speed.py``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402


def rate(fn: Callable[[int], object], *, min_time: float, max_reps: int) -> tuple[float, float]:
    """(phantoms per second, best seconds per phantom) over repeated calls with new seeds."""
    fn(10_000)  # warm-up: imports, caches
    times: list[float] = []
    start = time.perf_counter()
    seed = 0
    while (time.perf_counter() - start < min_time or len(times) < 2) and len(times) < max_reps:
        t0 = time.perf_counter()
        fn(seed)
        times.append(time.perf_counter() - t0)
        seed += 1
    return len(times) / sum(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,2048")
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()
    from skimage.data import shepp_logan_phantom
    from skimage.draw import random_shapes as sk_random_shapes
    from skimage.transform import resize

    from tomokit_phantom import generate

    generators = ["electrode", "jelly_roll", "catalyst", "shepp_logan", "random_shapes"]
    extra = {"catalyst_packed": ("catalyst", {"structure": "packed"})}
    sl400 = shepp_logan_phantom()
    print(f"{'generator':<34}{'size':>6}{'per s':>10}{'best s':>10}")
    for size in (int(s) for s in args.sizes.split(",")):
        reps = 50 if size <= 512 else 8
        rows: list[tuple[str, Callable[[int], object]]] = []
        for g in generators:
            rows.append((g, lambda seed, g=g, n=size: generate(g, n, seed)))
        for label, (g, kw) in extra.items():
            rows.append((label, lambda seed, g=g, kw=kw, n=size: generate(g, n, seed, **kw)))
        rows.append((
            "peer: skimage random_shapes",
            lambda seed, n=size: sk_random_shapes((n, n), max_shapes=10, min_shapes=3,
                                                  min_size=n // 10, max_size=n // 3,
                                                  channel_axis=None, rng=seed),
        ))
        rows.append((
            "peer: skimage shepp_logan + resize",
            lambda seed, n=size: resize(sl400, (n, n), order=1, anti_aliasing=False),
        ))
        for label, fn in rows:
            per_s, best = rate(fn, min_time=args.min_time, max_reps=reps)
            print(f"{label:<34}{size:>6}{per_s:>10.2f}{best:>10.3f}")
    t = [0.0] * 3
    for i in range(3):
        t0 = time.perf_counter()
        generate("electrode", 2048, 100 + i)
        t[i] = time.perf_counter() - t0
    verdict = "meets" if np.median(t) < 2.0 else "MISSES"
    print(f"electrode 2048x2048 median {np.median(t):.2f} s over 3 seeds: {verdict} the 2 s target")


if __name__ == "__main__":
    main()
