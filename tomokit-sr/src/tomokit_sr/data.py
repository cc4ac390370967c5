"""Training and test data for chemical super-resolution, from tomokit-phantom pairs.

A *triple* is (low-resolution chemical map, high-resolution absorption guide,
high-resolution chemical truth) for one diffracting phase of one phantom. The chemical
map is what XRD-CT gives after unmixing: ``chemical_pair`` mixes the phase maps (block
means over the ``factor x factor`` beam footprint) with the phases' diffraction patterns,
adds Poisson noise to that low-resolution cube, and least-squares unmixing with the
patterns returns noisy concentration maps; the truth is the clean full-resolution
concentration (area-fraction) map, in the same units (0..1).

Splits are by seed: the training, validation and test sets draw phantoms from disjoint
seed ranges (:data:`SPLIT_SEEDS`), so no phantom is in two sets. Phantom types cycle
through :data:`CONFIGS` (catalyst lattices and packed beds with two diffraction-pattern
sets, NMC and graphite-like electrodes, a jelly roll), and the counting statistics vary
per phantom (``counts`` log-uniform in 2e3..5e4 photons per low-resolution pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tomokit import InvalidInputError

__all__ = [
    "CONFIGS",
    "SPLIT_SEEDS",
    "Triple",
    "augment",
    "make_triples",
    "normalize_low",
    "patch_batch",
    "shift_guide",
    "to_train_data",
    "triples_from_pair",
]

Split = Literal["train", "validation", "test"]

#: First seed of each split; phantom ``i`` of a split uses seed ``SPLIT_SEEDS[split] + i``.
SPLIT_SEEDS: dict[str, int] = {"train": 0, "validation": 1_000_000, "test": 2_000_000}

#: (phantom, params) cycled through by index: two catalyst pattern sets (Ni/NiO/alumina,
#: Cu/Ni/alumina, overlapping fcc peaks), lattice and packed bodies, NMC and graphite-like electrodes, a cell.
CONFIGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("catalyst", {"structure": "lattice", "distribution": "eggshell"}),
    ("electrode", {}),
    ("catalyst", {"structure": "packed", "distribution": "eggyolk"}),
    ("catalyst", {"structure": "lattice", "phases": ("alumina", "copper", "nickel"),
                  "distribution": "uniform"}),
    ("electrode", {"aspect_ratio": 3.0, "alignment": 0.7, "cbd_fraction": 0.1}),
    ("catalyst", {"structure": "packed", "phases": ("alumina", "copper", "nickel"),
                  "distribution": "eggshell"}),
    ("jelly_roll", {"turns": 8}),
)


@dataclass(frozen=True)
class Triple:
    """One chemical map with its guide and truth; ``source`` names phantom and seed."""

    low: np.ndarray  # (h, w) float32
    guide: np.ndarray  # (f h, f w) float32, absorption in 1/cm
    truth: np.ndarray  # (f h, f w) float32, same units as low
    source: str
    phase: str
    factor: int


def triples_from_pair(pair: Any, source: str = "") -> list[Triple]:
    """The triples of one ``tomokit_phantom.ChemicalPairResult``: one per diffracting phase,
    the low-resolution map unmixed from its (possibly noisy) cube by least squares."""
    pats = np.asarray(pair.patterns, dtype=np.float64)  # (P, C)
    maps_low = np.asarray(pair.cube_low, dtype=np.float64) @ np.linalg.pinv(pats)  # (h, w, P)
    out = []
    for k, phase in enumerate(pair.chem_phases):
        out.append(Triple(
            low=maps_low[..., k].astype(np.float32),
            guide=np.asarray(pair.absorption, dtype=np.float32),
            truth=np.asarray(pair.maps_high[k], dtype=np.float32),
            source=source, phase=phase, factor=int(pair.factor),
        ))
    return out


def make_triples(
    split: Split,
    n_phantoms: int,
    *,
    factor: int = 4,
    size: int = 128,
    start: int = 0,
    configs: Sequence[tuple[str, dict[str, Any]]] = CONFIGS,
    noise: bool = True,
) -> list[Triple]:
    """Triples of ``n_phantoms`` phantoms of ``split`` (deterministic; disjoint seeds per split).

    Phantom ``i`` uses seed ``SPLIT_SEEDS[split] + start + i`` and config
    ``configs[(start + i) % len(configs)]``. ``noise=False`` gives noiseless cubes.
    """
    from tomokit_phantom import chemical_pair, generate

    if split not in SPLIT_SEEDS:
        raise InvalidInputError(f"split: expected one of {', '.join(SPLIT_SEEDS)}, got {split!r}")
    if factor not in (2, 4, 8):
        raise InvalidInputError(f"factor: expected 2, 4 or 8, got {factor}")
    if size % factor or size < 8 * factor:
        raise InvalidInputError(
            f"size: expected a multiple of factor {factor} of at least {8 * factor}, got {size}"
        )
    if n_phantoms < 1:
        raise InvalidInputError(f"n_phantoms: expected >= 1, got {n_phantoms}")
    out: list[Triple] = []
    for i in range(start, start + n_phantoms):
        seed = SPLIT_SEEDS[split] + i
        name, params = configs[i % len(configs)]
        sample = generate(name, size, seed, **params)
        gen = np.random.default_rng(seed)
        counts = float(np.exp(gen.uniform(np.log(2e3), np.log(5e4)))) if noise else None
        pair = chemical_pair(sample, factor=factor, counts=counts, rng=gen)
        out.extend(triples_from_pair(pair, source=f"{name}#{seed}"))
    return out


def normalize_low(low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(low / scale, scale)`` with ``scale`` the per-channel max of ``|low|`` (1 where 0).

    Why: networks see maps of order one whatever the units, and multiplying back by
    ``scale`` returns the chemical map in its own units (absolute values kept).
    """
    arr = np.asarray(low, dtype=np.float32)
    scale = np.abs(arr).max(axis=(0, 1), keepdims=True)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return (arr / scale).astype(np.float32), scale


def shift_guide(guide: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """The guide moved by ``(dy, dx)`` px (bilinear, edges replicated): a misregistration."""
    from scipy import ndimage

    return ndimage.shift(np.asarray(guide, dtype=np.float32), (dy, dx), order=1, mode="nearest")


def augment(
    low: np.ndarray,
    guide: np.ndarray,
    truth: np.ndarray,
    rng: np.random.Generator,
    *,
    max_shift: float = 2.0,
    shift_probability: float = 0.5,
    guide_noise: float = 0.02,
    guide_span: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random rotation by 90 degrees and flip of all three, then, with
    ``shift_probability``, the guide misregistered by up to ``max_shift`` px in each
    direction (real pairs are never perfectly aligned) and Gaussian noise on the guide
    (``guide_noise`` times ``guide_span``, by default the guide's range)."""
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))

    def geo(a: np.ndarray) -> np.ndarray:
        a = np.rot90(a, k)
        return np.ascontiguousarray(a[:, ::-1] if flip else a)

    low, guide, truth = geo(low), geo(guide), geo(truth)
    if max_shift > 0 and rng.random() < shift_probability:
        dy, dx = rng.uniform(-max_shift, max_shift, 2)
        guide = shift_guide(guide, float(dy), float(dx))
    if guide_noise > 0:
        span = guide_span if guide_span is not None else float(guide.max() - guide.min()) or 1.0
        sigma = rng.uniform(0, guide_noise) * span
        guide = (guide + rng.normal(0, sigma, guide.shape)).astype(np.float32)
    return low, guide, truth


def patch_batch(
    lows: np.ndarray,
    guides: np.ndarray,
    truths: np.ndarray,
    *,
    patch: int,
    rng: np.random.Generator,
    augment_data: bool = True,
    max_shift: float = 2.0,
    wrong_guide: float = 0.0,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """One batch ``((low (B, p, p, 1), guide (B, fp, fp, 1)), truth (B, fp, fp, 1))`` from
    rows ``lows (B, h, w)``, ``guides``/``truths (B, f h, f w)``.

    Each row is normalised as the components do it at prediction time (low and truth by
    the low map's max, guide to [0, 1] over the whole image), a ``patch x patch``
    low-resolution crop (the matching ``f patch`` crop of guide and truth) is cut at a
    position from ``rng`` and, with ``augment_data``, :func:`augment`-ed (the crop is
    taken with a margin that the guide's shift moves into view, then trimmed). With
    ``augment_data``, each row's guide is, with probability ``wrong_guide``, swapped for
    another row's guide crop: a guide that says nothing about this map, from which the
    network learns to fall back on the map itself rather than copy edges that are not
    there (a guide from the wrong slice, or misregistered beyond the shifts).
    """
    lows, guides, truths = np.asarray(lows), np.asarray(guides), np.asarray(truths)
    n, h, w = lows.shape
    f = guides.shape[1] // h
    if guides.shape != (n, f * h, f * w) or truths.shape != guides.shape or f < 1:
        raise InvalidInputError(
            f"patch_batch: low {lows.shape}, guide {guides.shape} and truth {truths.shape} "
            "do not form (low, factor x low, factor x low) rows"
        )
    if not 1 <= patch <= min(h, w):
        raise InvalidInputError(f"patch: {patch} does not fit the low-resolution maps {(h, w)}")
    # augment a crop with a margin for the shift, not the whole image (the costly part)
    margin = int(np.ceil((max_shift + 1) / f)) if augment_data else 0
    margin = max(0, min(margin, (min(h, w) - patch) // 2))
    size = patch + 2 * margin
    out_low, out_guide, out_truth = [], [], []
    for k in range(n):
        # whole-image normalisation, as at prediction time
        scale = float(np.abs(lows[k]).max()) or 1.0
        g_lo, g_hi = float(guides[k].min()), float(guides[k].max())
        g_span = (g_hi - g_lo) or 1.0
        i = int(rng.integers(0, h - size + 1))
        j = int(rng.integers(0, w - size + 1))
        low = lows[k, i:i + size, j:j + size] / scale
        guide = (guides[k, f * i:f * (i + size), f * j:f * (j + size)] - g_lo) / g_span
        truth = truths[k, f * i:f * (i + size), f * j:f * (j + size)] / scale
        if g_hi == g_lo:
            guide = np.zeros_like(guide)
        if augment_data:
            low, guide, truth = augment(low, guide, truth, rng, max_shift=max_shift,
                                        guide_span=1.0)
        c, fc, fp = margin, f * margin, f * patch
        out_low.append(low[c:c + patch, c:c + patch])
        out_guide.append(guide[fc:fc + fp, fc:fc + fp])
        out_truth.append(truth[fc:fc + fp, fc:fc + fp])
    if augment_data and wrong_guide > 0 and n > 1:
        given = list(out_guide)
        for k in range(n):
            if rng.random() < wrong_guide:
                out_guide[k] = given[(k + 1 + int(rng.integers(n - 1))) % n]
    return (
        (np.stack(out_low)[..., None].astype(np.float32),
         np.stack(out_guide)[..., None].astype(np.float32)),
        np.stack(out_truth)[..., None].astype(np.float32),
    )


def to_train_data(triples: Sequence[Triple]) -> Any:
    """A :class:`tomokit.learn.TrainData` of ``low``, ``guide`` and ``truth`` rows, with
    the phantom as source (so a by-source split never puts one phantom on both sides)."""
    from tomokit.learn import TrainData

    if not triples:
        raise InvalidInputError("triples: empty")
    return TrainData.from_arrays(
        low=np.stack([t.low for t in triples]),
        guide=np.stack([t.guide for t in triples]),
        truth=np.stack([t.truth for t in triples]),
        sources=[t.source for t in triples],
    )
