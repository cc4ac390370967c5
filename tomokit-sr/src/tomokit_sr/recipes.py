"""Training recipes of the learned super-resolvers, and held-out evaluation.

Two recipes: ``quick`` (small networks, a few minutes of CPU at most; CI trains it and
checks that it beats bicubic on held-out phantoms) and ``shipped`` (the networks as
documented, the recipe of the shipped x4 models). Data come from
:func:`tomokit_sr.data.make_triples`: training, validation and test phantoms from
disjoint seed ranges; the test figures (MSE, PSNR, SSIM of the model and of bicubic on
the test phantoms) go into the model's sidecar.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tomokit import InvalidInputError, SuperResolver

__all__ = ["RECIPES", "Recipe", "evaluate", "train_recipe"]


@dataclass(frozen=True)
class Recipe:
    """Data sizes and the training parameters (``SRTrainParams`` fields) of a recipe."""

    train_phantoms: int
    validation_phantoms: int
    test_phantoms: int
    size: int
    test_size: int
    train: dict[str, Any] = field(default_factory=dict)
    edsr: dict[str, Any] = field(default_factory=dict)  # overrides for edsr


RECIPES: dict[str, Recipe] = {
    "quick": Recipe(
        train_phantoms=21, validation_phantoms=7, test_phantoms=7, size=128, test_size=128,
        train={"epochs": 8, "steps_per_epoch": 40, "batch_size": 16, "patch": 16,
               "learning_rate": 2e-3, "n_feats": 16, "n_blocks": 2, "guide_feats": 8,
               "guide_blocks": 1, "refine_blocks": 2},
    ),
    "shipped": Recipe(
        train_phantoms=196, validation_phantoms=14, test_phantoms=28, size=256, test_size=256,
        train={"epochs": 24, "steps_per_epoch": 100, "batch_size": 16, "patch": 16,
               "learning_rate": 1e-3, "schedule": "step", "lr_steps": (16, 21),
               "lr_factor": 0.3, "wrong_guide": 0.15},
        edsr={"wrong_guide": 0.0},
    ),
}


def evaluate(
    resolver: SuperResolver | Callable[[np.ndarray, np.ndarray], np.ndarray],
    triples: Sequence[Any],
    *,
    guide_transform: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """Mean MSE, PSNR (dB) and SSIM of ``resolver`` over ``triples`` (truth in 0..1,
    data range 1; SSIM with Wang et al.'s Gaussian window, sigma 1.5).

    ``guide_transform(i, guide)`` replaces the guide of triple ``i`` (robustness tests:
    shifted guides, a guide from another phantom)."""
    from skimage.metrics import structural_similarity

    from tomokit import metrics

    fn = resolver.upscale if isinstance(resolver, SuperResolver) else resolver
    mse, psnr, ssim = [], [], []
    for i, t in enumerate(triples):
        guide = t.guide if guide_transform is None else guide_transform(i, t.guide)
        out = np.asarray(fn(t.low, guide), dtype=np.float64)
        truth = np.asarray(t.truth, dtype=np.float64)
        mse.append(metrics.mse(truth, out))
        psnr.append(metrics.psnr(truth, out, data_range=1.0))
        ssim.append(float(structural_similarity(
            truth, out, data_range=1.0, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False)))
    return {"mse": float(np.mean(mse)), "psnr": float(np.mean(psnr)),
            "ssim": float(np.mean(ssim)), "n": len(triples)}


def train_recipe(
    method: str,
    recipe: str | Recipe = "quick",
    *,
    factor: int = 4,
    output: str | os.PathLike[str] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
) -> tuple[Any, Any, dict[str, Any]]:
    """Train ``method`` (``edsr`` or ``chemisr``) by ``recipe``; returns ``(component,
    report, test figures)`` and writes the model to ``output`` if given."""
    from tomokit_sr.classical import Bicubic
    from tomokit_sr.data import make_triples, to_train_data
    from tomokit_sr.learned import EDSR, ChemISR

    classes = {"edsr": EDSR, "chemisr": ChemISR}
    if method not in classes:
        raise InvalidInputError(f"method: expected edsr or chemisr, got {method!r}")
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise InvalidInputError(f"recipe: expected one of {', '.join(RECIPES)}, got {recipe!r}")
        recipe = RECIPES[recipe]
    started = time.perf_counter()
    train = make_triples("train", recipe.train_phantoms, factor=factor, size=recipe.size)
    val = make_triples("validation", recipe.validation_phantoms, factor=factor, size=recipe.size)
    test = make_triples("test", recipe.test_phantoms, factor=factor, size=recipe.test_size)
    data_seconds = time.perf_counter() - started
    params = {**recipe.train, **(recipe.edsr if method == "edsr" else {}), **(overrides or {})}
    cls = classes[method]
    component = cls(factor=factor)
    report = component.fit(to_train_data(train), validation=to_train_data(val), train=params,
                           checkpoint_dir=checkpoint_dir, progress=progress)
    figures = {
        "method": evaluate(component, test),
        "bicubic": evaluate(Bicubic(factor=factor), test),
        "test_phantoms": recipe.test_phantoms, "test_size": recipe.test_size,
        "factor": factor, "data_seconds": data_seconds,
        "seconds_per_epoch": report.seconds / max(report.epochs_run - (report.resumed_from or 0), 1),
    }
    component.__dict__["_test"] = figures
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        component.save(output)
    return component, report, figures
