"""BRISQUE slices per second at 512 x 512 and 2048 x 2048: tomokit's ``brisque`` scorer
(numpy: 36 features + LIVE SVR) beside piq's BRISQUE *features* (PyTorch, CPU).

piq's full ``brisque`` downloads its SVR weights at run time, which tomokit never does
and this machine cannot, so the peer is timed on the same work without the SVR: the two
scales of ``_natural_scene_statistics`` and piq's ``imresize`` between them (the SVR is
a few hundred kernel evaluations, well under 1 % of the time). The slice is the bundled
battery slice, zoomed to the size. If piq is missing, only tomokit's numbers print.

Run: ``.venv/bin/python benchmarks/brisque_speed.py [--sizes 512 2048] [--batch 4]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
SLICE = ROOT / "tomokit-iqa" / "tests" / "data" / "tomoiqa-sample" / "195.bmp"


def _piq_features() -> Callable[[np.ndarray], object] | str:
    """piq's BRISQUE feature path, or why it is unavailable. Imports piq's modules
    without ``piq/__init__`` (its torchvision import fails with a mismatched build)."""
    spec = importlib.util.find_spec("piq")
    if spec is None or spec.submodule_search_locations is None:
        return "piq is not installed (pip install -r benchmarks/requirements.txt)"
    try:
        import torch

        if "piq" not in sys.modules:
            pkg = types.ModuleType("piq")
            pkg.__path__ = list(spec.submodule_search_locations)
            sys.modules["piq"] = pkg
        import piq.brisque as pb
        from piq.functional import imresize
    except Exception as exc:  # a broken peer must not stop our numbers
        return f"piq unavailable: {exc}"
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))

    def run(batch: np.ndarray) -> object:
        with torch.no_grad():
            x = torch.from_numpy(batch[:, None].astype(np.float32))
            feats = []
            for _ in range(2):
                feats.append(pb._natural_scene_statistics(x, 7, 7.0 / 6))
                x = imresize(x, sizes=(x.size(2) // 2, x.size(3) // 2))
            return torch.cat(feats, dim=-1)

    return run


def _stack(size: int, n: int) -> np.ndarray:
    import imageio.v3 as iio

    ref = np.asarray(iio.imread(SLICE), dtype=np.float64)
    if ref.shape[0] != size:
        ref = ndimage.zoom(ref, size / ref.shape[0], order=1)
    rng = np.random.default_rng(0)
    return np.clip(
        np.stack([ref + rng.normal(0, 4.0, ref.shape) for _ in range(n)]), 0, 255
    )


def _rate(fn: Callable[[np.ndarray], object], batch: np.ndarray, min_time: float) -> float:
    fn(batch[:1])  # warm-up
    n, t = 0, 0.0
    while t < min_time or n < 2 * len(batch):
        t0 = time.perf_counter()
        fn(batch)
        t += time.perf_counter() - t0
        n += len(batch)
    return n / t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--min-time", type=float, default=3.0)
    a = ap.parse_args()

    import tomokit

    scorer = tomokit.load("scorer", "brisque", data_range=255)
    peer = _piq_features()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"numpy {np.__version__}")
    if isinstance(peer, str):
        print(f"# peer: {peer}; tomokit only")
    print(f"{'size':>6} {'tomokit brisque (slices/s)':>28} {'piq features (slices/s)':>25}")
    for size in a.sizes:
        batch = _stack(size, a.batch if size <= 1024 else max(1, a.batch // 2))
        ours = _rate(scorer.score, batch, a.min_time)
        theirs = _rate(peer, batch, a.min_time) if not isinstance(peer, str) else float("nan")
        print(f"{size:>6} {ours:>28.2f} {theirs:>25.2f}")


if __name__ == "__main__":
    main()
