"""Salt-and-pepper noise: a fraction of pixels set to the minimum or maximum of the range."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

import tomokit


class SaltPepper(tomokit.Distortion):
    """Impulse noise: each pixel becomes 0 or ``data_range`` with probability ``amount``."""

    #: Fraction of corrupted pixels for levels 1..5.
    LEVELS: ClassVar[tuple[float, ...]] = (0.01, 0.02, 0.05, 0.1, 0.2)

    class Params(tomokit.Params):
        level: int | None = Field(None, ge=1, le=5, description="Level 1..5 (see LEVELS).")
        amount: float = Field(0.05, ge=0, le=1, description="Fraction used when level is unset.")
        salt_ratio: float = Field(0.5, ge=0, le=1, description="Share of corrupted pixels set high.")
        data_range: float = Field(1.0, gt=0, description="Images lie in [0, data_range].")

    def apply(
        self,
        image: np.ndarray,
        level: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        p = self.params
        assert isinstance(p, SaltPepper.Params)
        image = tomokit.components.check_image(image)
        level = level if level is not None else p.level
        if level is not None and not 1 <= level <= 5:
            raise tomokit.InvalidInputError(f"level must be 1..5, got {level}")
        amount = self.LEVELS[level - 1] if level is not None else p.amount
        gen = np.random.default_rng(rng)
        out = image.astype(np.float32, copy=True)
        hit = gen.random(out.shape) < amount
        salt = gen.random(out.shape) < p.salt_ratio
        out[hit & salt] = p.data_range
        out[hit & ~salt] = 0.0
        return out
