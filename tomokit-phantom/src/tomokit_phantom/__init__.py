"""Synthetic tomography with ground truth: microstructure phantoms, chemical/absorption
pairs, acquired slices.

The names below are imported lazily, so that importing the package (as plugin discovery
does) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "GENERATORS": "tomokit_phantom._api",
    "generate": "tomokit_phantom._api",
    "load_phantom": "tomokit_phantom._api",
    "electrode": "tomokit_phantom._electrode",
    "Electrode": "tomokit_phantom._electrode",
    "ElectrodeParams": "tomokit_phantom._electrode",
    "jelly_roll": "tomokit_phantom._jelly_roll",
    "JellyRoll": "tomokit_phantom._jelly_roll",
    "JellyRollParams": "tomokit_phantom._jelly_roll",
    "catalyst": "tomokit_phantom._catalyst",
    "Catalyst": "tomokit_phantom._catalyst",
    "CatalystParams": "tomokit_phantom._catalyst",
    "shepp_logan": "tomokit_phantom.classic",
    "SheppLogan": "tomokit_phantom.classic",
    "random_shapes": "tomokit_phantom.classic",
    "RandomShapes": "tomokit_phantom.classic",
    "chemical_pair": "tomokit_phantom.chemical",
    "ChemicalPairResult": "tomokit_phantom.chemical",
    "diffraction_patterns": "tomokit_phantom.chemical",
    "bragg_peaks": "tomokit_phantom.chemical",
    "q_to_two_theta": "tomokit_phantom.chemical",
    "acquire": "tomokit_phantom._acquire",
    "AcquiredSlice": "tomokit_phantom._acquire",
    "AcquisitionParams": "tomokit_phantom._acquire",
    "write_dataset": "tomokit_phantom.dataset",
    "read_dataset": "tomokit_phantom.dataset",
    "export_images": "tomokit_phantom.dataset",
    "linear_attenuation": "tomokit_phantom.materials",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tomokit_phantom' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
