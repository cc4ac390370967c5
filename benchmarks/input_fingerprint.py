"""What a run pays to identify its inputs: full content hash vs sampled fingerprint.

Writes a float32 volume of ``--gib`` GiB (default 4) as ``.npy``, then times, in one
process:

* the content hash of the input (sha256 of every byte: what every run did before, and
  what ``--resume`` still computes), and the fingerprint (size, mtime and 16 x 64 KiB
  samples) that a run without ``--resume`` now records;
* a run of a pipeline that declares the volume and makes one small phantom (so the
  run's wall time is mostly identifying inputs), with ``resume=False`` (fingerprints)
  and ``resume=True`` (fingerprints and content hashes), each on a warm page cache.

    python benchmarks/input_fingerprint.py            # 4 GiB
    python benchmarks/input_fingerprint.py --gib 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from tomokit.pipeline import parse_pipeline, run_pipeline
from tomokit.pipeline._hashing import _FILE_HASHES, _file_fingerprint, _file_hash

PIPELINE = """
inputs:
  vol: vol.npy
steps:
  - {id: disc, phantom: shepp_logan, params: {size: 64}}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=4.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        slices = max(1, int(args.gib * 2**30 / (1024 * 1024 * 4)))
        vol = np.lib.format.open_memmap(folder / "vol.npy", "w+", np.float32,
                                        (slices, 1024, 1024))
        rng = np.random.default_rng(0)
        for i in range(0, slices, 16):
            vol[i:i + 16] = rng.random((min(16, slices - i), 1024, 1024), dtype=np.float32)
        vol.flush()
        del vol
        size = (folder / "vol.npy").stat().st_size
        _file_hash(folder / "vol.npy")  # warm the page cache for both
        _FILE_HASHES.clear()
        t0 = time.perf_counter()
        _file_hash(folder / "vol.npy")
        content = time.perf_counter() - t0
        t0 = time.perf_counter()
        _file_fingerprint(folder / "vol.npy")
        fingerprint = time.perf_counter() - t0
        pipeline = parse_pipeline(PIPELINE, file=str(folder / "p.yaml"), base_dir=folder)
        runs = {}
        for label, resume in (("run without --resume", False), ("run with --resume", True)):
            _FILE_HASHES.clear()
            t0 = time.perf_counter()
            run_pipeline(pipeline, folder / f"out-{resume}.h5", resume=resume)
            runs[label] = time.perf_counter() - t0
    print(f"input: {size / 2**30:.2f} GiB float32 .npy (warm page cache)")
    print(f"{'what':<34}{'seconds':>10}")
    print(f"{'content hash (sha256, every byte)':<34}{content:>10.3f}")
    print(f"{'fingerprint (size, mtime, samples)':<34}{fingerprint:>10.4f}")
    for label, sec in runs.items():
        print(f"{label:<34}{sec:>10.3f}")
    print(f"fingerprint is {content / max(fingerprint, 1e-9):.0f}x cheaper; a run without "
          f"--resume no longer pays the {content:.1f} s content hash")


if __name__ == "__main__":
    main()
