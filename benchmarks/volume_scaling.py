"""Stream an HDF5 volume larger than the memory budget through tomokit's executors.

Generates a float32 volume (default 4 GiB: 256 slices of 2048 x 2048) on disk, then
runs one CPU-bound per-slice step (a 2-D FFT low-pass followed by the ramp filter of
filtered back-projection) over it with ``map_blocks``, writing the result to a Zarr
store (default: every task writes its own slices, no lock, nothing travels back) or,
with ``--out-format hdf5``, to an HDF5 file written by the client (the old path), for:

* ``local`` with 1 worker (the peer every other line is compared with),
* ``local`` with 2 workers,
* ``dask`` (a LocalCluster of 2 single-thread worker processes).

For each it prints slices/s, the CPU cores it actually got (CPU seconds of this
process and its children over wall seconds: on a shared machine 2 workers may get far
fewer than 2 cores), bytes written (``write_chars`` of this process and its children),
the peak resident memory (sampled every 20 ms) above the idle baseline and whether it
stayed under the block budget plus a constant; then the 1 -> 2 worker scaling (target
>= 1.7 on 2 free cores), whether all outputs are bit-identical, and two controls: the
same step on in-memory slices with 1 and 2 threads (what the machine gives without any
I/O) and the measured serial fraction (HDF5 reads under h5py's lock) with the scaling
Amdahl's law predicts from it. With ``--deliver`` the Zarr output is also copied into
one HDF5 file (what a pipeline's results file gets), timed.

    python benchmarks/volume_scaling.py                      # 4 GiB volume, 1 GiB budget
    python benchmarks/volume_scaling.py --slices 256 --size 1024 --block-memory 128MiB

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


def _family() -> list[psutil.Process]:
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def usage() -> tuple[float, int]:
    """CPU seconds and bytes passed to write() by this process and its children."""
    cpu, written = 0.0, 0
    for p in _family():
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            cpu += t.user + t.system
            written += p.io_counters().write_chars
    return cpu, written


def run(label: str, config: dict[str, Any], src: Path, out: Path,
        fn: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    options = {"compression": None} if out.suffix == ".h5" else {}
    with get_executor(config) as ex, open_volume(src) as reader:
        ex.map(abs, [0.0])  # workers up and idle before the baseline
        time.sleep(0.5)
        base = PeakRSS.now()
        per_block = ex.block_slices(reader, direct=out.suffix == ".zarr")
        load = os.getloadavg()[0]
        cpu0, written0 = usage()
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            with create_volume(out, reader.shape, np.float32, overwrite=True, **options) as w:
                ex.map_blocks(fn, reader, sink=w)
            seconds = time.perf_counter() - t0
        cpu1, written1 = usage()
    return {"label": label, "rate": len(reader) / seconds, "seconds": seconds,
            "base": base, "peak": mem.peak, "block": per_block, "load": load,
            "cores": (cpu1 - cpu0) / seconds, "written": written1 - written0}


def compute_control(src: Path, slices: int, fn: Callable[[np.ndarray], np.ndarray]) -> list[float]:
    """slices/s of ``fn`` on in-memory slices with 1 and 2 threads: no I/O at all."""
    from concurrent.futures import ThreadPoolExecutor

    with open_volume(src) as r:
        data = r.read(slice(0, slices))
    rates = []
    for threads in (1, 2):
        with ThreadPoolExecutor(threads) as pool:
            t0 = time.perf_counter()
            list(pool.map(fn, list(data)))
            rates.append(slices / (time.perf_counter() - t0))
    return rates


def serial_fraction(src: Path, workdir: Path, slices: int,
                    fn: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
    """Per-slice seconds of the HDF5 read (serial in a process: h5py's lock), the step
    and the Zarr write (parallel), measured one slice at a time on one thread."""
    with open_volume(src) as r, create_volume(workdir / "probe.zarr", r.shape, np.float32,
                                              overwrite=True) as w:
        region = w.region()
        t_read = t_step = t_write = 0.0
        for i in range(slices):
            t0 = time.perf_counter()
            s = r.read(i)
            t1 = time.perf_counter()
            y = fn(s)
            t2 = time.perf_counter()
            region.write(i, y[None])
            t3 = time.perf_counter()
            t_read, t_step, t_write = t_read + t1 - t0, t_step + t2 - t1, t_write + t3 - t2
    import shutil

    shutil.rmtree(workdir / "probe.zarr", ignore_errors=True)
    total = t_read + t_step + t_write
    return {"read": t_read / slices, "step": t_step / slices, "write": t_write / slices,
            "serial": t_read / total}


def deliver(store: Path, out: Path) -> tuple[float, int]:
    """Copy a Zarr volume into one uncompressed HDF5 file, reading the next block while
    this one is written: what a pipeline's results file costs. Seconds and bytes."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    with open_volume(store) as r, create_volume(out, r.shape, r.dtype, overwrite=True,
                                                compression=None) as w, \
            ThreadPoolExecutor(1) as pool:
        step = max(1, (64 * MiB) // r.slice_nbytes)
        n = len(r)
        ahead = pool.submit(r.read, slice(0, min(step, n)))
        for a in range(0, n, step):
            block = ahead.result()
            b = min(n, a + step)
            if b < n:
                ahead = pool.submit(r.read, slice(b, min(n, b + step)))
            w.write(a, block)
    return time.perf_counter() - t0, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=256, help="slices in the volume")
    parser.add_argument("--size", type=int, default=2048, help="slice side in pixels")
    parser.add_argument("--block-memory", default="1GiB", help="executor block budget")
    parser.add_argument("--slack", default="256MiB",
                        help="constant allowed above the budget (interpreter, FFT buffers)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--out-format", choices=("zarr", "hdf5"), default="zarr",
                        help="zarr: tasks write their own slices; hdf5: the client writes")
    parser.add_argument("--deliver", action="store_true",
                        help="also copy the Zarr output into one HDF5 file, timed")
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
    suffix = ".zarr" if args.out_format == "zarr" else ".h5"
    print(f"output: {args.out_format} ({'tasks write their own slices' if suffix == '.zarr' else 'the client writes every block'})")
    results, digests = [], []
    for i, (label, cfg) in enumerate(plans):
        out = workdir / f"out{i}{suffix}"
        res = run(label, {**cfg, "block_memory": budget}, src, out, step)
        results.append(res)
        digests.append(digest(out))
        if args.deliver and suffix == ".zarr" and i == len(plans) - 1:
            seconds, size = deliver(out, workdir / "results.h5")
            print(f"delivered as one HDF5 file: {size / MiB:.0f} MiB in {seconds:.1f} s "
                  f"({size / MiB / seconds:.0f} MiB/s, {args.slices / seconds:.0f} slices/s)")
            (workdir / "results.h5").unlink()
        if out.is_dir():
            import shutil

            shutil.rmtree(out)
        else:
            out.unlink()
    print(f"\n{'executor':34s} {'slices/s':>9s} {'cores':>6s} {'load':>5s} {'written':>8s} "
          f"{'block':>6s} {'peak RSS':>9s} {'above idle':>10s}  within budget+{slack / MiB:.0f} MiB")
    for r in results:
        extra = r["peak"] - r["base"]
        ok = "yes" if extra <= budget + slack else "NO"
        print(f"{r['label']:34s} {r['rate']:9.2f} {r['cores']:6.2f} {r['load']:5.2f} "
              f"{r['written'] / MiB:7.0f}M {r['block']:6d} {r['peak'] / MiB:8.0f}M "
              f"{extra / MiB:9.0f}M  {ok}")
    scaling = results[1]["rate"] / results[0]["rate"]
    print(f"\nscaling local 1 -> 2 workers: {scaling:.2f}x (target >= 1.7x on 2 free cores)")
    eff = [r["rate"] / max(r["cores"], 1e-9) for r in results]
    print("slices per CPU second: " + ", ".join(f"{e:.1f}" for e in eff)
          + f"; had each run got the cores it asked for (1, 2, 2), local 1 -> 2 would be "
          f"{2 * eff[1] / eff[0]:.2f}x (an upper bound: waiting on a lock costs no CPU)")
    if len(results) > 2:
        print(f"dask 2 processes vs local 1 worker: {results[2]['rate'] / results[0]['rate']:.2f}x")
    print(f"outputs bit-identical across executors: {'yes' if len(set(digests)) == 1 else 'NO'}"
          f" ({digests[0]})")
    probe = min(args.slices, 16)
    one, two = compute_control(src, probe, step)
    print(f"control, step alone on {probe} in-memory slices: 1 thread {one:.2f}, 2 threads "
          f"{two:.2f} slices/s = {two / one:.2f}x (what this machine gives now, no I/O)")
    frac = serial_fraction(src, workdir, probe, step)
    amdahl = 1 / (frac["serial"] + (1 - frac["serial"]) / 2)
    print(f"per slice: HDF5 read {frac['read'] * 1e3:.1f} ms (serial: h5py's lock), step "
          f"{frac['step'] * 1e3:.1f} ms, Zarr write {frac['write'] * 1e3:.1f} ms (parallel); "
          f"serial fraction {frac['serial']:.3f} -> Amdahl predicts {amdahl:.2f}x on 2 free "
          f"cores for local threads (Dask processes each have their own lock)")
    print(f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    src.unlink()


if __name__ == "__main__":
    main()
