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

__all__ = ["DEFAULT", "PAPER", "QUICK", "RECIPES", "held_out_figures", "main", "quick_dataset", "run"]

DEFAULT_OUTPUT = Path(str(resources.files("tomokit_iqa"))) / "data" / "tiqa.keras"

#: The shipped model's recipe (``--recipe default``): the ``small`` backbone without
#: normalisation layers on 128 px crops (see the module docstring and
#: docs/quality-scoring.md for why, and what it costs against ``PAPER``).
DEFAULT: dict[str, Any] = {
    "backbone": "small", "input_size": 128, "channels": 1, "head_width": 128,
    "small_width": 16, "norm": "none", "dropout": 0.25,
    "rank_epochs": 16, "rank_learning_rate": 5e-4, "rank_lr_steps": [12],
    "epochs": 16, "learning_rate": 2e-4, "schedule": "step", "lr_steps": [10],
    "lr_factor": 0.3, "batch_size": 16, "refs_per_batch": 1, "augment": True,
    "margin": 6.0, "seed": 0, "device": "auto",
}
#: The paper's configuration (``--recipe paper``): EfficientNet-B0 from scratch on 224 px
#: crops, grey replicated to 3 channels, head 1280, dropout 0.5, 30 rank epochs at 3e-5
#: (steps at 10 and 20) and 20 regression epochs at 5e-5 halved every 4 epochs.
PAPER: dict[str, Any] = {
    "backbone": "efficientnet_b0", "input_size": 224, "channels": 3, "head_width": 1280,
    "dropout": 0.5, "rank_epochs": 30, "rank_learning_rate": 3e-5, "rank_lr_steps": [10, 20],
    "epochs": 20, "learning_rate": 5e-5, "schedule": "step", "lr_steps": [4, 8, 12, 16],
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
#: The named recipes of ``--recipe``.
RECIPES: dict[str, dict[str, Any]] = {"default": DEFAULT, "paper": PAPER, "quick": QUICK}


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


def full_dataset(
    path: Path, *, per_phantom: int = 8, seed: int = 0, extra: bool = True
) -> tuple[Path, list[str]]:
    """The full recipes' dataset and its held-out references (:data:`HELD_OUT`).

    Rows of :func:`references` first (its held-out crops are the same with or without
    ``extra``, so every benchmark tests on the same crops), then, with ``extra``,
    :func:`extra_references` (more training references sharing nothing with them)."""
    from tomokit_iqa.dataset import DatasetParams, generate_dataset, write_dataset
    from tomokit_iqa.recipes.references import HELD_OUT, extra_references, references

    refs = references(per_phantom, seed=seed)
    if extra:
        refs += extra_references(seed=seed + 1)
    params = DatasetParams()
    write_dataset(
        generate_dataset([r.image for r in refs], params=params, ids=[r.id for r in refs],
                         rng=np.random.default_rng(seed)),
        path, params=params, seed=seed, overwrite=True,
    )
    return path, list(HELD_OUT)


def _split(dataset: Path, held: tuple[str, ...] | list[str]) -> tuple[Any, Any]:
    from tomokit.learn import TrainData

    td = TrainData.from_hdf5(dataset)
    val = np.isin(td.sources, list(held))
    return td.subset(np.flatnonzero(~val)), td.subset(np.flatnonzero(val))


def _held_of(dataset: Path) -> list[str]:
    """The held-out references (:data:`HELD_OUT`) that ``dataset`` holds."""
    from tomokit.errors import InvalidInputError
    from tomokit.learn import TrainData
    from tomokit_iqa.recipes.references import HELD_OUT

    srcs = set(TrainData.from_hdf5(dataset).sources.tolist())
    held = [h for h in HELD_OUT if h in srcs]
    if not held:
        raise InvalidInputError(f"dataset {dataset}: holds none of the held-out references "
                                f"{', '.join(HELD_OUT)}")
    return held


def held_out_figures(scorer: Any, dataset: Path, held: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """SROCC and PLCC of ``scorer`` (its crops and aggregation, as a user scores) on the
    distorted crops of the ``held`` references, against the generated labels and against
    minus the level, per distortion type and ALL (better pointing up)."""
    from tomokit_iqa.dataset import read_dataset
    from tomokit_iqa.evaluation import evaluate

    d = read_dataset(dataset)
    keep = np.isin(d["source_id"], list(held)) & (d["distortion"] != "reference")
    sign = 1.0 if scorer.higher_is_better else -1.0
    pred = sign * np.asarray(scorer.score(d["images"][keep]), dtype=np.float64)
    dist = d["distortion"][keep]
    out: dict[str, Any] = {"n": int(keep.sum()), "held_out": list(held)}
    for target, y in (("labels", d["score"][keep]), ("level", -d["level"][keep].astype(float))):
        r = evaluate(pred, y, groups=dist)
        out[target] = {"all": {k: r["overall"][k] for k in ("srocc", "plcc")}} | {
            t: {k: g[k] for k in ("srocc", "plcc")} for t, g in sorted(r["groups"].items())
        }
    return out


def _default_work(recipe_name: str) -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tomokit-iqa" / (
        f"tiqa-{recipe_name}")


def run(
    output: Path = DEFAULT_OUTPUT,
    *,
    quick: bool = False,
    recipe_name: str | None = None,
    dataset: Path | None = None,
    work: Path | None = None,
    overrides: dict[str, Any] | None = None,
    epoch_seconds: bool = False,
    log: bool = True,
) -> dict[str, Any]:
    """Build the dataset (or reuse ``dataset`` when it exists), train, save ``output``.

    ``recipe_name``: ``default`` (the shipped model), ``paper`` or ``quick`` (also
    ``quick=True``). ``work``: where the dataset and the per-epoch checkpoints live (a
    rerun after a kill resumes there; default ``~/.cache/tomokit-iqa/tiqa-NAME`` for the
    full recipes, a temporary folder for ``quick``)."""
    from tomokit.errors import InvalidInputError
    from tomokit_iqa.tiqa import TIQA

    name = "quick" if quick else (recipe_name or "default")
    if name not in RECIPES:
        raise InvalidInputError(f"recipe: expected one of {', '.join(RECIPES)}, got {name!r}")
    quick = name == "quick"
    say = print if log else (lambda *a, **k: None)
    t0 = time.perf_counter()
    recipe = {**RECIPES[name], **(overrides or {})}
    with tempfile.TemporaryDirectory() as tmp:
        base = work or (Path(tmp) if quick else _default_work(name))
        base.mkdir(parents=True, exist_ok=True)
        ds = dataset or base / "tiqa_dataset.h5"
        if quick:
            if not ds.exists():
                quick_dataset(ds)
            held: list[str] = list(QUICK_HELD)
        elif ds.exists():
            held = _held_of(ds)
        else:
            _, held = full_dataset(ds)
        t_data = time.perf_counter() - t0
        say(f"recipe {name}; dataset {ds} ready in {t_data:.1f} s; held out: {', '.join(held)}")
        train, val = _split(ds, held)
        if epoch_seconds:
            return _time_epochs(train, val, recipe, say)
        model = TIQA(data_range=1.0)
        report = model.fit(train, validation=val, train=recipe, progress=log,
                           checkpoint_dir=None if quick else base / "checkpoints")
        figures = None if quick else held_out_figures(model, ds, held)
        trained = model.__dict__["_trained"]
        trained["extra"] = {
            "recipe": {"name": name, "command": "python -m tomokit_iqa.recipes.tiqa"
                       + ("" if name == "default" else f" --recipe {name}"),
                       "overrides": overrides or {}},
            "references": {
                "train": sorted(set(train.sources.tolist())), "held_out": held,
                "note": "battery tiles of the bundled slice 195 and tomokit-phantom acquired "
                "slices; held-out references are never trained on",
            },
            **({"held_out_figures": figures} if figures else {}),
        }
        model.save(output)
    out = {
        "output": str(output), "recipe": name, "seconds": round(time.perf_counter() - t0, 1),
        "dataset_seconds": round(t_data, 1), "validation": report.validation,
        "rank_validation": report.extra.get("rank", {}).get("validation"),
        "held_out_figures": figures,
        "epochs": {"rank": recipe["rank_epochs"], "regress": recipe["epochs"]},
    }
    say(json.dumps(out, indent=2, default=float))
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
                    help="Model file (.keras); default: the shipped model's place for the "
                    "default recipe, ./tiqa_NAME.keras for the others.")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                    help="default: the shipped model; paper: EfficientNet-B0 as in the "
                    "paper; quick: the CI model (under 2 minutes).")
    ap.add_argument("--quick", action="store_true", help="Same as --recipe quick.")
    ap.add_argument("--dataset", type=Path, default=None,
                    help="Dataset file: reused when it exists, else generated there.")
    ap.add_argument("--work", type=Path, default=None,
                    help="Folder of the dataset and the checkpoints a rerun resumes from "
                    "(default ~/.cache/tomokit-iqa/tiqa-NAME).")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="Override a recipe value (JSON value), e.g. --set rank_epochs=30.")
    ap.add_argument("--epoch-seconds", action="store_true",
                    help="Only time one epoch of each stage and estimate the total.")
    a = ap.parse_args(argv)
    overrides = {}
    for item in a.set:
        k, _, v = item.partition("=")
        overrides[k] = json.loads(v)
    name = "quick" if a.quick else a.recipe
    output = a.output or (DEFAULT_OUTPUT if name == "default" else Path(f"tiqa_{name}.keras"))
    run(output, recipe_name=name, dataset=a.dataset, work=a.work, overrides=overrides,
        epoch_seconds=a.epoch_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
