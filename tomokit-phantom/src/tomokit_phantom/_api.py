"""One entry to every generator: ``generate(name, shape, seed, **params)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tomokit import InvalidInputError, Phantom, PhantomSample, load

__all__ = ["GENERATORS", "generate", "load_phantom"]

#: Names of the phantom generators this package registers.
GENERATORS: tuple[str, ...] = ("electrode", "jelly_roll", "catalyst", "shepp_logan", "random_shapes")


def load_phantom(name: str | type[Phantom], params: Mapping[str, Any] | None = None) -> Phantom:
    """The configured phantom component ``name`` (any registered phantom, not only ours)."""
    comp = load("phantom", name, dict(params or {}))
    if not isinstance(comp, Phantom):
        raise InvalidInputError(f"phantom {name!r} is not a phantom component")
    return comp


def generate(
    name: str,
    shape: tuple[int, int] | int,
    rng: np.random.Generator | int | None = None,
    **params: Any,
) -> PhantomSample:
    """Generate one sample of phantom ``name``, e.g. ``generate("electrode", 512, 0, porosity=0.4)``."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape), int(shape))
    return load_phantom(name, params).generate(shape, rng)
