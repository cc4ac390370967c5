"""Speed of tomokit's full-reference observers against piq (PyTorch, CPU) in one run.

Both compare the same grey pairs (a real battery slice, ``195.bmp``, and a blurred,
noisy copy; 1024x1024 and, enlarged, 2048x2048), inputs in [0, 255]. For each metric the
script checks that the two values agree (printing the difference: the implementations
differ in known details, see docs/observers.md) and prints the median wall time of
several repeats and the ratio ``piq / tomokit`` (> 1 means tomokit is faster).

Run: ``.venv/bin/python benchmarks/observers_vs_piq.py [--repeats 7] [--sizes 1024 2048]
[--metrics psnr mse]``. The load average is printed before and after: on a machine shared
with other work torch's threads lose more than numpy's single thread, so quote it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
SLICE = ROOT / "tomokit-iqa" / "tests" / "data" / "tomoiqa-sample" / "195.bmp"


def _import_piq() -> types.ModuleType:
    """Import piq's metric modules without ``piq/__init__`` (which pulls in torchvision for
    the feature-based metrics; a torchvision built for another torch fails to import)."""
    try:
        import piq

        return piq
    except Exception:
        spec = importlib.util.find_spec("piq")
        if spec is None or spec.submodule_search_locations is None:
            raise SystemExit("piq is not installed: pip install piq") from None
        for name in list(sys.modules):
            if name == "piq" or name.startswith("piq."):
                del sys.modules[name]
        pkg = types.ModuleType("piq")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["piq"] = pkg
        import piq.fsim
        import piq.gmsd
        import piq.mdsi
        import piq.ms_ssim
        import piq.psnr
        import piq.ssim

        pkg.ssim = piq.ssim.ssim  # type: ignore[attr-defined]
        pkg.multi_scale_ssim = piq.ms_ssim.multi_scale_ssim  # type: ignore[attr-defined]
        pkg.fsim = piq.fsim.fsim  # type: ignore[attr-defined]
        pkg.gmsd = piq.gmsd.gmsd  # type: ignore[attr-defined]
        pkg.mdsi = piq.mdsi.mdsi  # type: ignore[attr-defined]
        pkg.psnr = piq.psnr.psnr  # type: ignore[attr-defined]
        return pkg


def _pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    import imageio.v3 as iio

    ref = np.asarray(iio.imread(SLICE), dtype=np.float64)
    if ref.ndim == 3:
        ref = ref[..., 0]
    if ref.shape[0] != size:
        ref = ndimage.zoom(ref, size / ref.shape[0], order=1)
    rng = np.random.default_rng(0)
    dist = ndimage.gaussian_filter(ref, 1.2, mode="nearest") + rng.normal(0.0, 8.0, ref.shape)
    ref = np.clip(ref, 0, 255).astype(np.float32)
    dist = np.clip(dist, 0, 255).astype(np.float32)
    return ref, dist


def _interleaved(
    ours: Callable[[], object], theirs: Callable[[], object], repeats: int
) -> tuple[float, object, float, object]:
    """Median times of two callables, run alternately so that load from other processes
    on the machine hits both alike; one warm-up call each (filter caches, torch kernels)."""
    out_a, out_b = ours(), theirs()
    times_a, times_b = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out_a = ours()
        times_a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out_b = theirs()
        times_b.append(time.perf_counter() - t0)
    return statistics.median(times_a), out_a, statistics.median(times_b), out_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--metrics", nargs="+", default=None,
                        help="only these metrics (default: every observer)")
    parser.add_argument(
        "--torch-threads", type=int, default=0,
        help="torch intra-op threads (0: torch's default, one per core)",
    )
    args = parser.parse_args()

    import torch

    import tomokit

    piq = _import_piq()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    warnings.filterwarnings("ignore", message="The original MDSI supports only RGB")
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"median of {args.repeats} interleaved repeats"
    )

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a)[None, None]

    # (name, piq call, tolerance on |tomokit - piq(float64)|, why the two may differ)
    cases: list[tuple[str, Callable[..., object], float, str]] = [
        ("ssim", lambda x, y: piq.ssim(x, y, data_range=255.0), 1e-3,
         "piq's avg_pool for f=4, 8 vs ssim.m's centred symmetric filter"),
        ("ms_ssim", lambda x, y: piq.multi_scale_ssim(x, y, data_range=255.0), 1e-6, ""),
        ("fsim", lambda x, y: piq.fsim(x, y, data_range=255.0, chromatic=False), 1e-3,
         "piq: torch.median (lower middle), eps in PC"),
        ("gmsd", lambda x, y: piq.gmsd(x, y, data_range=255.0, t=170.0 / 255.0**2), 1e-5,
         "piq: std with ddof=0, GMSD.m ddof=1"),
        ("mdsi", lambda x, y: piq.mdsi(x, y, data_range=255.0), 1e-6, ""),
        ("psnr", lambda x, y: piq.psnr(x, y, data_range=255.0), 1e-4,
         "piq: 1e-8 added to the normalised MSE"),
        ("mse", lambda x, y: torch.mean((x.double() - y.double()) ** 2), 1e-6, ""),
    ]
    if args.metrics:
        unknown = set(args.metrics) - {c[0] for c in cases}
        if unknown:
            parser.error(f"unknown metric(s): {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c[0] in args.metrics]
    print("values: tomokit (float32 input) vs piq in float64; times: both on float32 input")
    print(f"{'size':>5} {'metric':<8} {'tomokit':>10} {'piq f64':>10} {'|diff|':>9} {'check':<5} "
          f"{'tomokit s':>10} {'piq s':>9} {'piq/tomokit':>11}")
    notes: dict[str, str] = {}
    failed = False
    for size in args.sizes:
        ref, dist = _pair(size)
        tr, td = t(ref), t(dist)
        for name, piq_fn, tol, why in cases:
            obs = tomokit.load("observer", name, data_range=255.0)

            def run_ours(obs: tomokit.Component = obs, r: np.ndarray = ref,
                         d: np.ndarray = dist) -> object:
                return obs.compare(r, d)  # type: ignore[attr-defined]

            def run_piq(fn: Callable[..., object] = piq_fn, r: torch.Tensor = tr,
                        d: torch.Tensor = td) -> object:
                with torch.no_grad():
                    return fn(d, r)

            ours_t, ours, piq_t, _ = _interleaved(run_ours, run_piq, args.repeats)
            with torch.no_grad():
                piq_v = float(piq_fn(td.double(), tr.double()))  # type: ignore[arg-type]
            ours_v = float(ours)  # type: ignore[arg-type]
            diff = abs(ours_v - piq_v)
            ok = diff <= tol
            failed |= not ok
            if why:
                notes[name] = why
            print(f"{size:>5} {name:<8} {ours_v:>10.6f} {piq_v:>10.6f} {diff:>9.2e} "
                  f"{'ok' if ok else 'FAIL':<5} {ours_t:>10.4f} {piq_t:>9.4f} "
                  f"{piq_t / ours_t:>11.2f}")
    for name, why in notes.items():
        print(f"  {name}: tolerance covers {why}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if failed:
        raise SystemExit("values differ beyond the stated tolerances")


if __name__ == "__main__":
    main()
