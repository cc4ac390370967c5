"""Recipe of the shipped ``brisque_tomo`` model: ``python -m tomokit_iqa.recipes.brisque_tomo``.

1. References (:mod:`tomokit_iqa.recipes.references`): 4 tiles of the bundled battery
   slice and ``--per-phantom`` acquired slices of each of the electrode, jelly-roll and
   catalyst phantoms.
2. An IQA dataset from them (``iqa-dataset`` defaults: shorter side 255, random 224
   crop, blur/noise/ring at levels 1..5, labels from SSIM, MS-SSIM, FSIM, GMSD, MDSI).
3. The 36 BRISQUE features of every crop; an RBF SVR (gamma 0.05 as LIVE's) fitted with
   scikit-learn on the training references, validated on held-out references (one
   battery tile and one slice of each phantom, never trained on, so benchmarks can
   test on them) and written as
   ``.npz`` + JSON sidecar (recipe, data, validation SROCC). About 2.5 minutes on 2
   cores. C = 256 and epsilon = 0.3 were chosen on this same validation split (a grid of
   C 4..1024, epsilon 0.05..0.3), so its figures are slightly optimistic.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["main", "run"]

DEFAULT_OUTPUT = Path(str(resources.files("tomokit_iqa"))) / "data" / "brisque_tomo.npz"


def run(
    output: Path = DEFAULT_OUTPUT,
    *,
    per_phantom: int = 8,
    size: int = 256,
    seed: int = 0,
    C: float = 256.0,
    epsilon: float = 0.3,
    dataset: Path | None = None,
    log: bool = True,
) -> dict[str, object]:
    """Build the dataset (or reuse ``dataset``), fit, validate and write the model."""
    from tomokit_iqa.brisque import dataset_features, fit_from_dataset
    from tomokit_iqa.dataset import DatasetParams, generate_dataset, write_dataset
    from tomokit_iqa.recipes.references import references

    t0 = time.perf_counter()
    say = print if log else (lambda *a, **k: None)
    with tempfile.TemporaryDirectory() as tmp:
        ds = dataset or Path(tmp) / "brisque_tomo_dataset.h5"
        refs = references(per_phantom, size=size, seed=seed)
        if not ds.exists():
            say(f"{len(refs)} references; generating the dataset ...")
            params = DatasetParams()
            write_dataset(
                generate_dataset(
                    [r.image for r in refs], params=params, ids=[r.id for r in refs],
                    rng=np.random.default_rng(seed),
                ),
                ds, params=params, seed=seed,
            )
        t1 = time.perf_counter()
        say(f"dataset {t1 - t0:.1f} s; features ...")
        cols = dataset_features(ds)
        held = [r.id for r in refs if r.id == "battery195_r1c1"]
        for group in ("electrode", "jelly_roll", "catalyst"):
            ids = [r.id for r in refs if r.group == group]
            held += ids[-1:]
        meta = fit_from_dataset(
            ds, output, C=C, epsilon=epsilon, validation_sources=held, cols=cols,
            info={
                "recipe": {
                    "command": "python -m tomokit_iqa.recipes.brisque_tomo",
                    "per_phantom": per_phantom, "size": size, "seed": seed,
                    "dataset_params": DatasetParams().model_dump(mode="json"),
                    "references": "4 tiles (512 px) of the bundled battery slice 195 and "
                    "acquired electrode/jelly_roll/catalyst phantom slices (FBP)",
                },
                "seconds": {"dataset": round(t1 - t0, 1),
                            "total": round(time.perf_counter() - t0, 1)},
                "platform": platform.platform(),
            },
        )
    say(json.dumps(meta["validation"]["figures"], indent=2))
    say(f"wrote {output} ({time.perf_counter() - t0:.1f} s)")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tomokit_iqa.recipes.brisque_tomo",
                                 description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--per-phantom", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--C", type=float, default=256.0)
    ap.add_argument("--epsilon", type=float, default=0.3)
    ap.add_argument("--dataset", type=Path, default=None,
                    help="Dataset file: reused when it exists, else generated there (kept).")
    a = ap.parse_args(argv)
    run(a.output, per_phantom=a.per_phantom, size=a.size, seed=a.seed, C=a.C,
        epsilon=a.epsilon, dataset=a.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
