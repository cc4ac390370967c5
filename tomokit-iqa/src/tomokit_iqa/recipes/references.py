"""Tomography reference slices for tomokit-iqa's recipes: real and simulated.

Why both: the only real slices tomokit can ship are the bundled battery slice (TomoIQA
slice 195, Apache-2.0), so the references are its tiles plus tomokit-phantom's
*acquired* slices (electrode, jelly roll and catalyst phantoms projected, degraded by a
realistic detector chain and reconstructed), which carry the texture of real scans.
Each reference is normalised to [0, 1] by its 0.5 and 99.5 percentiles (clipped), as a
user's slices would be before scoring.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tomokit import InvalidInputError

__all__ = [
    "HELD_OUT",
    "Reference",
    "battery_slice",
    "extra_references",
    "normalise",
    "phantom_references",
    "references",
]

PHANTOMS = ("electrode", "jelly_roll", "catalyst")
#: Phantom params of the references: the jelly roll with 8 turns, as tomokit-seg's
#: shipped D-LinkNet and the choice's validation see it (at 256 px the default winding
#: puts every layer under a pixel, a texture no scan shows).
PHANTOM_PARAMS: dict[str, dict[str, Any]] = {"jelly_roll": {"turns": 8}}
#: References the recipes never train on (battery tile r1c1, the last acquired slice of
#: each phantom in :func:`references`); tomokit-iqa's benchmarks test on them.
HELD_OUT = ("battery195_r1c1", "electrode_7", "jelly_roll_7", "catalyst_7")


@dataclass(frozen=True)
class Reference:
    """One reference slice in [0, 1] with where it came from."""

    id: str
    group: str  # "battery" or the phantom's name
    image: np.ndarray


def normalise(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Percentile window to [0, 1] (float32), clipped."""
    arr = np.asarray(image, dtype=np.float64)
    lo, hi = np.percentile(arr, [low, high])
    if not hi > lo:
        raise InvalidInputError("image: constant slice, no window to normalise to")
    return np.clip((arr - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def battery_slice() -> np.ndarray:
    """The bundled 1024 x 1024 battery slice (TomoIQA 195) in [0, 1]."""
    import imageio.v3 as iio

    candidates = [
        Path(str(resources.files("tomokit_iqa"))).parents[2] / "examples" / "data" / "battery_195.bmp",
        Path(str(resources.files("tomokit_iqa"))).parents[1] / "tests" / "data" / "tomoiqa-sample" / "195.bmp",
    ]
    for path in candidates:
        if path.is_file():
            arr = np.asarray(iio.imread(path))
            return (arr.reshape(arr.shape[-2:]) if arr.ndim == 3 and arr.shape[0] == 1 else arr).astype(
                np.float32
            ) / 255.0
    raise InvalidInputError(
        "battery slice: examples/data/battery_195.bmp not found; run the recipe from a "
        "checkout of the tomokit repository"
    )


def battery_tiles(tile: int = 512) -> list[Reference]:
    """Non-overlapping ``tile`` x ``tile`` tiles of the battery slice, row by row."""
    img = battery_slice()
    h, w = img.shape
    return [
        Reference(f"battery195_r{i // tile}c{j // tile}", "battery", img[i : i + tile, j : j + tile])
        for i in range(0, h - tile + 1, tile)
        for j in range(0, w - tile + 1, tile)
    ]


def phantom_references(
    per_phantom: int, *, size: int = 256, seed: int = 0, phantoms: Sequence[str] = PHANTOMS,
    prefix: str = "",
) -> Iterator[Reference]:
    """Acquired (projected, degraded, FBP-reconstructed) phantom slices, alternating a
    good and a realistic lab acquisition (fewer photons, stronger gain errors)."""
    from tomokit_phantom._acquire import acquire
    from tomokit_phantom._api import generate

    rng = np.random.default_rng(seed)
    chains = ({"i0": 1e5, "gain_sigma": 0.002}, {"i0": 2e4, "gain_sigma": 0.005, "blur_sigma": 1.0})
    for name in phantoms:
        for k in range(per_phantom):
            sample = generate(name, size, int(rng.integers(2**31)), **PHANTOM_PARAMS.get(name, {}))
            acq = acquire(sample, chains[k % 2], rng=int(rng.integers(2**31)))
            yield Reference(f"{name}_{prefix}{k}", name, normalise(acq.image))


def references(per_phantom: int = 8, *, size: int = 256, seed: int = 0) -> list[Reference]:
    """The battery tiles followed by the acquired phantom slices."""
    return [*battery_tiles(), *phantom_references(per_phantom, size=size, seed=seed)]


def extra_references(per_phantom: int = 16, *, seed: int = 1) -> list[Reference]:
    """More training references that share nothing with :data:`HELD_OUT`: 256 px tiles
    of the battery slice at full resolution from the three quadrants outside tile r1c1
    (ids ``battery195_fQ_k``), and acquired phantom slices of another seed (ids
    ``NAME_sSEED_k``)."""
    img = battery_slice()
    tiles = []
    for q, (r0, c0) in enumerate(((0, 0), (0, 512), (512, 0))):
        k = 0
        for i in range(r0, r0 + 512, 256):
            for j in range(c0, c0 + 512, 256):
                tiles.append(Reference(f"battery195_f{q}_{k}", "battery", img[i : i + 256, j : j + 256]))
                k += 1
    return [*tiles, *phantom_references(per_phantom, seed=seed, prefix=f"s{seed}_")]
