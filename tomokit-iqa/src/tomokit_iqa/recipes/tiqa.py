"""Recipes of TIQA models: ``python -m tomokit_iqa.recipes.tiqa [--quick] [-o MODEL.keras]``.

* default (the shipped model, at most 90 minutes on 2 CPU cores, a GPU when present):
  references from :mod:`tomokit_iqa.recipes.references` (4 battery tiles and 8 acquired
  slices of each phantom), an ``iqa-dataset`` with the paper's settings (shorter side
  255, 224 crops, 5 observers), EfficientNet-B0 with grey replicated to 3 channels, then
  the two stages; the battery tile r1c1 and the last slice of each phantom are never
  trained on and give the validation figures in the sidecar. ``--epoch-seconds`` only
  times one epoch of each stage and says how long the whole recipe would take.
* ``--quick`` (CI, under 2 minutes): 16 tiles of 256 px of the battery slice, each
  shrunk to 128 px (more structure per crop than a 128 px piece of the nearly binary
  slice) and labelled by SSIM and GMSD (unrounded), the ``small`` backbone on 64 px random
  sub-crops, a long rank stage and a short, gentle regression stage (the generated
  labels follow the level less closely than the ranking does: a long regression
  trades the level ordering for the labels). 4 tiles are held out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FULL", "QUICK", "main", "quick_dataset", "run"]

DEFAULT_OUTPUT = Path(str(resources.files("tomokit_iqa"))) / "data" / "tiqa.keras"

#: The shipped model's recipe (paper configuration apart from the epochs: see docs).
#: Measured with ``--epoch-seconds`` on the 2 shared cores of the development machine
#: (load about 8): 299 s per rank epoch (24 batches of 18 crops at 224 px) and 288 s per
#: regression epoch (24 batches of 16), validation included, so 10 + 6 epochs take about
#: 79 minutes there (less on an idle machine); the paper's 30 + 20 would take about 4 h.
FULL: dict[str, Any] = {
    "backbone": "efficientnet_b0", "input_size": 224, "channels": 3, "head_width": 1280,
    "rank_epochs": 10, "rank_learning_rate": 3e-5, "rank_lr_steps": [7],
    "epochs": 6, "learning_rate": 5e-5, "schedule": "step", "lr_steps": [3],
    "lr_factor": 0.5, "batch_size": 16, "refs_per_batch": 1, "augment": True,
    "margin": 6.0, "seed": 0, "device": "auto",
}
#: The CI recipe.
QUICK: dict[str, Any] = {
    "backbone": "small", "input_size": 64, "channels": 1, "head_width": 64, "small_width": 8,
    "dropout": 0.25, "rank_epochs": 16, "rank_learning_rate": 1e-3, "rank_lr_steps": [12],
    "epochs": 1, "learning_rate": 3e-5, "schedule": "constant", "lr_steps": [],
    "batch_size": 16, "refs_per_batch": 1, "augment": True, "margin": 6.0, "seed": 0,
    "device": "cpu",
}
QUICK_HELD = ("battery195_t3", "battery195_t6", "battery195_t9", "battery195_t12")


def quick_dataset(path: Path, *, seed: int = 0) -> Path:
    """The CI dataset: 16 tiles (256 px) of the battery slice, each shrunk to 128 px."""
    from tomokit_iqa.dataset import DatasetParams, generate_dataset, write_dataset
    from tomokit_iqa.recipes.references import battery_slice

    img = battery_slice()
    tiles = [img[i : i + 256, j : j + 256] for i in range(0, 1024, 256) for j in range(0, 1024, 256)]
    params = DatasetParams(resize=128, crop=128, observers=("ssim", "gmsd"), rounding=False)
    write_dataset(
        generate_dataset(tiles, params=params, ids=[f"battery195_t{k}" for k in range(16)],
                         rng=np.random.default_rng(seed)),
        path, params=params, seed=seed, overwrite=True,
    )
    return path


def full_dataset(path: Path, *, per_phantom: int = 8, seed: int = 0) -> tuple[Path, list[str]]:
    """The shipped model's dataset and its held-out references."""
    from tomokit_iqa.dataset import DatasetParams, generate_dataset, write_dataset
    from tomokit_iqa.recipes.references import references

    refs = references(per_phantom, seed=seed)
    params = DatasetParams()
    write_dataset(
        generate_dataset([r.image for r in refs], params=params, ids=[r.id for r in refs],
                         rng=np.random.default_rng(seed)),
        path, params=params, seed=seed, overwrite=True,
    )
    held = ["battery195_r1c1"] + [
        [r.id for r in refs if r.group == g][-1] for g in ("electrode", "jelly_roll", "catalyst")
    ]
    return path, held


def _split(dataset: Path, held: tuple[str, ...] | list[str]) -> tuple[Any, Any]:
    from tomokit.learn import TrainData

    td = TrainData.from_hdf5(dataset)
    val = np.isin(td.sources, list(held))
    return td.subset(np.flatnonzero(~val)), td.subset(np.flatnonzero(val))


def run(
    output: Path = DEFAULT_OUTPUT,
    *,
    quick: bool = False,
    dataset: Path | None = None,
    overrides: dict[str, Any] | None = None,
    epoch_seconds: bool = False,
    log: bool = True,
) -> dict[str, Any]:
    """Build the dataset (or reuse ``dataset`` when it exists), train, save ``output``."""
    from tomokit_iqa.tiqa import TIQA

    say = print if log else (lambda *a, **k: None)
    t0 = time.perf_counter()
    recipe = {**(QUICK if quick else FULL), **(overrides or {})}
    with tempfile.TemporaryDirectory() as tmp:
        ds = dataset or Path(tmp) / "tiqa_dataset.h5"
        if quick:
            if not ds.exists():
                quick_dataset(ds)
            held: list[str] = list(QUICK_HELD)
        else:
            if ds.exists():
                from tomokit.learn import TrainData

                srcs = list(dict.fromkeys(TrainData.from_hdf5(ds).sources.tolist()))
                held = ["battery195_r1c1"] + [
                    [s for s in srcs if s.startswith(g)][-1]
                    for g in ("electrode", "jelly_roll", "catalyst")
                ]
            else:
                _, held = full_dataset(ds)
        t_data = time.perf_counter() - t0
        say(f"dataset ready in {t_data:.1f} s; held out: {', '.join(held)}")
        train, val = _split(ds, held)
        if epoch_seconds:
            return _time_epochs(train, val, recipe, say)
        model = TIQA(data_range=1.0)
        report = model.fit(train, validation=val, train=recipe, progress=log)
        model.save(output)
    out = {
        "output": str(output), "seconds": round(time.perf_counter() - t0, 1),
        "dataset_seconds": round(t_data, 1), "validation": report.validation,
        "rank_validation": report.extra.get("rank", {}).get("validation"),
        "epochs": {"rank": recipe["rank_epochs"], "regress": recipe["epochs"]},
    }
    say(json.dumps(out, indent=2))
    return out


def _time_epochs(train: Any, val: Any, recipe: dict[str, Any], say: Any) -> dict[str, Any]:
    """Seconds of one rank and one regression epoch, and the whole recipe's estimate."""
    from tomokit_iqa.tiqa import TIQA

    out: dict[str, Any] = {}
    for stage, key in (("rank", "rank_epochs"), ("regress", "epochs")):
        model = TIQA(data_range=1.0)
        one = {**recipe, "stage": stage, "epochs": 1, "lr_steps": []}
        if stage == "rank":
            one["learning_rate"] = recipe["rank_learning_rate"]
        t = time.perf_counter()
        model.fit(train, validation=val, train=one)
        out[f"{stage}_epoch_seconds"] = round(time.perf_counter() - t, 1)
        out[f"{stage}_epochs"] = recipe[key]
    out["estimated_total_minutes"] = round(
        (out["rank_epoch_seconds"] * recipe["rank_epochs"]
         + out["regress_epoch_seconds"] * recipe["epochs"]) / 60, 1)
    say(json.dumps(out, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(prog="python -m tomokit_iqa.recipes.tiqa",
                                 description="Train a TIQA model with tomokit's recipe.")
    ap.add_argument("-o", "--output", type=Path, default=None,
                    help="Model file (.keras); default: the shipped model's place "
                    "(quick: ./tiqa_quick.keras).")
    ap.add_argument("--quick", action="store_true", help="The CI recipe (under 2 minutes).")
    ap.add_argument("--dataset", type=Path, default=None,
                    help="Dataset file: reused when it exists, else generated there.")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="Override a recipe value (JSON value), e.g. --set rank_epochs=30.")
    ap.add_argument("--epoch-seconds", action="store_true",
                    help="Only time one epoch of each stage and estimate the total.")
    a = ap.parse_args(argv)
    overrides = {}
    for item in a.set:
        k, _, v = item.partition("=")
        overrides[k] = json.loads(v)
    output = a.output or (Path("tiqa_quick.keras") if a.quick else DEFAULT_OUTPUT)
    run(output, quick=a.quick, dataset=a.dataset, overrides=overrides,
        epoch_seconds=a.epoch_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
