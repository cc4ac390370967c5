"""Small real components used by the core tests (registered in-process)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

import tomokit
from tomokit.components import check_image


class Shift(tomokit.Distortion):
    """Adds a constant, plus uniform noise of the given amplitude."""

    name = "shift"

    class Params(tomokit.Params):
        level: int | None = Field(None, ge=1, le=5)
        offset: float = 0.1
        noise: float = Field(0.0, ge=0)

    def apply(self, image: np.ndarray, level: int | None = None, rng: Any = None) -> np.ndarray:
        p = self.params
        image = check_image(image)
        lvl = level if level is not None else p.level  # type: ignore[attr-defined]
        offset = 0.1 * lvl if lvl is not None else p.offset  # type: ignore[attr-defined]
        noise = np.random.default_rng(rng).uniform(-1, 1, image.shape) * p.noise  # type: ignore[attr-defined]
        return (image + offset + noise).astype(np.float32)


class MeanAbs(tomokit.Observer):
    """Mean absolute difference (lower is better)."""

    name = "mean_abs"
    higher_is_better = False
    value_range = (0.0, float("inf"))

    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return float(np.mean(np.abs(np.asarray(reference) - np.asarray(distorted))))


class Disc(tomokit.Phantom):
    """A centred disc of value 1 on 0."""

    name = "disc"

    def generate(self, shape: tuple[int, int], rng: Any = None) -> tomokit.PhantomSample:
        h, w = shape
        yy, xx = np.mgrid[:h, :w]
        labels = (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 3) ** 2).astype(np.uint8)
        return tomokit.PhantomSample(
            image=labels.astype(np.float32), labels=labels, phases=("void", "solid")
        )


class Stats(tomokit.Task):
    """Mean and max of an image."""

    name = "stats"
    input_names = ("image",)

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        img = np.asarray(inputs["image"])
        return {"mean": float(img.mean()), "max": float(img.max()), "label": "ok"}
