"""Fused sections vs one checkpoint per step: a 4-step per-slice chain over a volume
larger than the block budget.

Runs the same pipeline (blur -> noise -> median -> gaussian, only the last requested as
an output) twice in one process: ``fuse=False`` (every step streams its volume to a
checkpoint, as tomokit did before sections) and ``fuse=True`` (the four steps run slice
by slice in memory as one section; only the last is written). Prints wall time, bytes
written by the process (``write_chars`` of /proc/self/io: every write call, temporary
checkpoints included), peak resident memory above the baseline (sampled every 20 ms)
against the block budget, and whether the results are bit-identical.

    python benchmarks/fused_sections.py                        # 64 x 1024^2 (256 MiB), 32 MiB budget
    python benchmarks/fused_sections.py --slices 128 --size 2048 --block-memory 256MiB

Timings are noisy on a machine shared with other work; say so when quoting them.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import psutil
from pydantic import ByteSize, TypeAdapter

from tomokit.io import create_volume
from tomokit.pipeline import parse_pipeline, run_pipeline

MiB = 2**20

PIPELINE = """
inputs:
  vol: {{path: vol.h5, dataset: /data}}
steps:
  - {{id: blurred, distortion: blur, params: {{level: 1}}, inputs: [vol]}}
  - {{id: noisy, distortion: noise, params: {{level: 1}}, inputs: [blurred]}}
  - {{id: median, filter: median, params: {{size: 3}}, inputs: [noisy]}}
  - {{id: smooth, filter: gaussian, params: {{sigma: 1.0}}, inputs: [median]}}
outputs: [smooth]
executor: {{kind: local, workers: {workers}, block_memory: {budget}}}
"""


def make_volume(path: Path, slices: int, size: int) -> None:
    rng = np.random.default_rng(0)
    writer = create_volume(path, (slices, size, size), np.float32, dataset="/data")
    for start in range(0, slices, 8):
        n = min(8, slices - start)
        writer.write(start, rng.random((n, size, size), dtype=np.float32))
    writer.commit()


def measure(folder: Path, text: str, fuse: bool, name: str) -> dict[str, float]:
    proc = psutil.Process()
    base_rss = proc.memory_info().rss
    peak = [base_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    written0 = proc.io_counters().write_chars
    t0 = time.perf_counter()
    pipeline = parse_pipeline(text, file=str(folder / "p.yaml"), base_dir=folder)
    run_pipeline(pipeline, folder / name, fuse=fuse)
    seconds = time.perf_counter() - t0
    written = proc.io_counters().write_chars - written0
    stop.set()
    sampler.join()
    return {"seconds": seconds, "written": written, "peak": peak[0] - base_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=64)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--block-memory", default="32MiB")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        make_volume(folder / "vol.h5", args.slices, args.size)
        volume = args.slices * args.size**2 * 4
        text = PIPELINE.format(workers=args.workers, budget=args.block_memory)


        budget = int(TypeAdapter(ByteSize).validate_python(args.block_memory))
        print(f"volume {args.slices} x {args.size}^2 float32 = {volume / MiB:.0f} MiB, "
              f"block budget {budget / MiB:.0f} MiB, {args.workers} worker(s)")
        before = measure(folder, text, False, "before.h5")
        after = measure(folder, text, True, "after.h5")
        with h5py.File(folder / "before.h5") as a, h5py.File(folder / "after.h5") as b:
            same = np.array_equal(a["steps/smooth"][()], b["steps/smooth"][()])
    print(f"{'run':<28}{'seconds':>9}{'written MiB':>13}{'peak RSS MiB':>14}")
    for label, m in (("one checkpoint per step", before), ("fused section", after)):
        print(f"{label:<28}{m['seconds']:>9.2f}{m['written'] / MiB:>13.0f}{m['peak'] / MiB:>14.0f}")
    print(f"bytes written: {before['written'] / max(after['written'], 1):.2f}x fewer (target >= 3); "
          f"speed-up {before['seconds'] / after['seconds']:.2f}x; "
          f"fused peak within budget + 256 MiB: {after['peak'] <= budget + 256 * MiB}; "
          f"identical results: {same}")


if __name__ == "__main__":
    main()
