"""Synthetic tomography with ground truth: microstructure phantoms, chemical/absorption
pairs, acquired slices.

The names below are imported lazily, so that importing the package (as plugin discovery
does) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "GENERATORS",
    "acquire",
    "catalyst",
    "chemical_pair",
    "diffraction_patterns",
    "electrode",
    "generate",
    "jelly_roll",
    "random_shapes",
    "read_dataset",
    "shepp_logan",
    "write_dataset",
]

_LAZY = {
    "electrode": "tomokit_phantom.electrode",
    "jelly_roll": "tomokit_phantom.jelly_roll",
    "catalyst": "tomokit_phantom.catalyst",
    "shepp_logan": "tomokit_phantom.classic",
    "random_shapes": "tomokit_phantom.classic",
    "GENERATORS": "tomokit_phantom._api",
    "generate": "tomokit_phantom._api",
    "chemical_pair": "tomokit_phantom.chemical",
    "diffraction_patterns": "tomokit_phantom.chemical",
    "write_dataset": "tomokit_phantom.dataset",
    "read_dataset": "tomokit_phantom.dataset",
    "acquire": "tomokit_phantom.acquire",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tomokit_phantom' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
