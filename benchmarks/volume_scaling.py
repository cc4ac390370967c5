"""Stream an HDF5 volume larger than the memory budget through tomokit's executors.

Generates a float32 volume (default 4 GiB: 256 slices of 2048 x 2048) on disk, then
runs one CPU-bound per-slice step (a 2-D FFT low-pass followed by the ramp filter of
filtered back-projection) over it with ``map_blocks``, writing the result to another
HDF5 file, for:

* ``local`` with 1 worker (the peer every other line is compared with),
* ``local`` with 2 workers,
* ``dask`` (a LocalCluster of 2 single-thread worker processes).

For each it prints slices/s, the peak resident memory of this process and its children
(sampled every 20 ms) above the idle baseline, and whether it stayed under the block
budget plus a constant; then the 1 -> 2 worker scaling (target >= 1.7 on 2 free cores)
and whether all outputs are bit-identical.

    python benchmarks/volume_scaling.py                      # 4 GiB volume, 1 GiB budget
    python benchmarks/volume_scaling.py --slices 64 --size 1024 --block-memory 128MiB

Timings are noisy on a machine shared with other work; say so when quoting them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import scipy.fft
from pydantic import ByteSize, TypeAdapter

from tomokit.executors import get_executor
from tomokit.io import create_volume, open_volume

MiB = 2**20


def step(s: np.ndarray) -> np.ndarray:
    """Low-pass in 2-D Fourier space, then ramp-filter each row (FBP's filter)."""
    h, w = s.shape
    spec = scipy.fft.rfft2(s)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    spec *= np.exp(-(fy**2 + fx**2) / (2 * 0.15**2)).astype(np.float32)
    smooth = scipy.fft.irfft2(spec, s=(h, w))
    ramp = np.abs(np.fft.rfftfreq(w)).astype(np.float32)
    return scipy.fft.irfft(scipy.fft.rfft(smooth, axis=-1) * ramp, n=w, axis=-1).astype(
        np.float32
    )


class PeakRSS:
    """Samples the summed RSS of this process and its children in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def generate(path: Path, slices: int, size: int, block_memory: int) -> None:
    """Write a random-phantom volume block by block (never whole in memory)."""
    per_block = max(1, block_memory // (4 * size * size * 4))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    disk = ((yy**2 + xx**2) < 0.4**2).astype(np.float32)
    with create_volume(path, (slices, size, size), np.float32, compression=None) as w:
        for a in range(0, slices, per_block):
            b = min(slices, a + per_block)
            noise = rng.standard_normal((b - a, size, size), dtype=np.float32)
            w.write(a, disk[None] * (1 + 0.1 * noise))


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open_volume(path) as r:
        for block in r.iter_blocks(8):
            h.update(block.data.tobytes())
    return h.hexdigest()[:16]


def run(label: str, config: dict[str, Any], src: Path, out: Path,
        fn: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    with get_executor(config) as ex, open_volume(src) as reader:
        ex.map(abs, [0.0])  # workers up and idle before the baseline
        time.sleep(0.5)
        base = PeakRSS.now()
        per_block = ex.block_slices(reader)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            with create_volume(out, reader.shape, np.float32, overwrite=True,
                               compression=None) as w:
                ex.map_blocks(fn, reader, sink=w)
            seconds = time.perf_counter() - t0
    return {"label": label, "rate": len(reader) / seconds, "seconds": seconds,
            "base": base, "peak": mem.peak, "block": per_block}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=256, help="slices in the volume")
    parser.add_argument("--size", type=int, default=2048, help="slice side in pixels")
    parser.add_argument("--block-memory", default="1GiB", help="executor block budget")
    parser.add_argument("--slack", default="256MiB",
                        help="constant allowed above the budget (interpreter, FFT buffers)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    budget = int(TypeAdapter(ByteSize).validate_python(args.block_memory))
    slack = int(TypeAdapter(ByteSize).validate_python(args.slack))
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="tomokit-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "volume.h5"
    nbytes = args.slices * args.size * args.size * 4
    print(f"volume: {args.slices} x {args.size} x {args.size} float32 = {nbytes / MiB:.0f} MiB "
          f"on disk; block budget {budget / MiB:.0f} MiB; cores: {os.cpu_count()} "
          f"(load average {os.getloadavg()[0]:.2f})")
    if nbytes <= budget:
        print("warning: the volume fits in the budget; pass more --slices to test streaming")
    t0 = time.perf_counter()
    generate(src, args.slices, args.size, budget)
    print(f"generated in {time.perf_counter() - t0:.1f} s")

    plans: list[tuple[str, dict[str, Any]]] = [
        ("local, 1 worker (peer)", {"kind": "local", "workers": 1}),
        ("local, 2 workers", {"kind": "local", "workers": 2}),
    ]
    if not args.skip_dask:
        plans.append(("dask LocalCluster, 2 processes", {"kind": "dask", "workers": 2}))
    results, digests = [], []
    for i, (label, cfg) in enumerate(plans):
        out = workdir / f"out{i}.h5"
        res = run(label, {**cfg, "block_memory": budget}, src, out, step)
        results.append(res)
        digests.append(digest(out))
        out.unlink()
    print(f"\n{'executor':34s} {'slices/s':>9s} {'block':>6s} {'peak RSS':>9s} "
          f"{'above idle':>10s}  within budget+{slack / MiB:.0f} MiB")
    for r in results:
        extra = r["peak"] - r["base"]
        ok = "yes" if extra <= budget + slack else "NO"
        print(f"{r['label']:34s} {r['rate']:9.2f} {r['block']:6d} {r['peak'] / MiB:8.0f}M "
              f"{extra / MiB:9.0f}M  {ok}")
    scaling = results[1]["rate"] / results[0]["rate"]
    print(f"\nscaling local 1 -> 2 workers: {scaling:.2f}x (target >= 1.7x on 2 free cores)")
    if len(results) > 2:
        print(f"dask 2 processes vs local 1 worker: {results[2]['rate'] / results[0]['rate']:.2f}x")
    print(f"outputs bit-identical across executors: {'yes' if len(set(digests)) == 1 else 'NO'}"
          f" ({digests[0]})")
    src.unlink()


if __name__ == "__main__":
    main()
