"""Chemical (XRD-CT-like) images: per-phase diffraction patterns mixed by local phase
fractions into a hyperspectral cube, with a matching high-resolution absorption image.

Why: XRD-CT gives chemistry at a coarse pixel (the beam size), absorption CT gives
structure at a fine pixel. Dual-input super-resolution learns
``(low-resolution chemical map, high-resolution absorption) -> high-resolution chemical
map``; training and testing it needs pairs whose high-resolution chemistry is known.

Patterns live on a momentum-transfer axis ``q = 4 pi sin(theta) / lambda`` (1/angstrom),
which does not depend on the X-ray energy. Known crystalline phases get Bragg peaks at
``q = 2 pi / d`` from their lattice (cubic phases: every allowed ``hkl``; others: listed
reflections), Gaussian peaks whose width follows the Scherrer equation for the crystallite
size; amorphous phases get a broad halo; voids give nothing. Unknown phase names get
synthetic peaks that are a deterministic function of the name; user patterns override
all of these. Patterns are normalised to unit sum, so summing the cube over channels
gives back the summed concentration maps.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from tomokit import InvalidInputError, Params, PhantomSample, Task
from tomokit_phantom._common import as_rng

__all__ = [
    "PHASE_LIBRARY",
    "ChemicalPair",
    "ChemicalPairResult",
    "bragg_peaks",
    "chemical_pair",
    "diffraction_patterns",
    "q_to_two_theta",
]

#: Phases with known structure. ``cubic``: (lattice, a in angstrom); ``peaks``: list of
#: (d in angstrom, relative intensity); ``amorphous``: (d of the halo maximum, width in
#: 1/angstrom); ``none``: no diffraction. Cubic lattice constants: Ni 3.524 (PDF 04-0850),
#: NiO 4.177 (PDF 47-1049), CeO2 5.411 (PDF 34-0394), Cu 3.615, Al 4.0495, alpha-Fe
#: 2.8665. Layered and other phases: their main reflections.
PHASE_LIBRARY: dict[str, tuple[str, Any]] = {
    "nickel": ("cubic", ("fcc", 3.524)),
    "nio": ("cubic", ("rocksalt", 4.177, 28, 8)),
    "ceria": ("cubic", ("fluorite", 5.411, 58, 8)),
    "copper": ("cubic", ("fcc", 3.615)),
    "aluminium": ("cubic", ("fcc", 4.0495)),
    "iron": ("cubic", ("bcc", 2.8665)),
    # gamma-Al2O3 (defect spinel, a = 7.90; PDF 10-0425): (220) (311) (222) (400) (511) (440)
    "alumina": ("peaks", [(2.793, 20), (2.382, 60), (2.280, 30), (1.975, 80), (1.520, 30),
                          (1.396, 100)]),
    # LiNi0.6Mn0.2Co0.2O2, R-3m: (003) (101) (006)+(012) (104) (015) (107) (018) (110) (113)
    "nmc622": ("peaks", [(4.74, 100), (2.44, 35), (2.37, 15), (2.04, 80), (1.82, 12),
                         (1.57, 8), (1.43, 25), (1.42, 25), (1.36, 12)]),
    # graphite 2H: (002) (100) (101) (004) (110)
    "graphite": ("peaks", [(3.354, 100), (2.13, 4), (2.03, 10), (1.677, 6), (1.232, 4)]),
    # polyethylene, orthorhombic: (110) (200) (020)
    "polyethylene": ("peaks", [(4.11, 100), (3.70, 30), (2.47, 6)]),
    "carbon_binder": ("amorphous", (3.6, 0.45)),
    "void": ("none", None),
}

#: Phase names of the tomokit phantoms mapped onto library entries.
ALIASES: dict[str, str] = {
    "pore": "void", "air": "void", "background": "void",
    "active": "nmc622", "can": "iron", "steel": "iron", "separator": "polyethylene",
    "anode": "graphite", "cathode": "nmc622", "cu_foil": "copper", "al_foil": "aluminium",
    "ni": "nickel", "ceo2": "ceria", "cu": "copper", "al": "aluminium", "fe": "iron",
    "level_0.00": "void",
}

#: Default crystallite sizes (nm) for the Scherrer width; 20 nm otherwise.
CRYSTALLITE_NM: dict[str, float] = {"alumina": 5.0, "nio": 15.0, "nickel": 12.0, "ceria": 8.0}


def _allowed(lattice: str, h: int, k: int, l: int) -> bool:  # noqa: E741
    if lattice in ("fcc", "rocksalt", "fluorite"):
        return (h % 2 == k % 2 == l % 2)
    if lattice == "bcc":
        return (h + k + l) % 2 == 0
    if lattice == "spinel":  # Fd-3m with the 8a/16d cation sites: fcc plus the d-glide rules
        if not (h % 2 == k % 2 == l % 2):
            return False
        if h % 2 == 1:
            return True
        return (h + k + l) % 4 == 0
    return True


def _structure_factor2(lattice: str, hkl_sum: int, odd: bool, za: float, zb: float) -> float:
    """|F|^2 per formula unit with scattering factors taken as the atomic numbers."""
    if lattice == "rocksalt":  # A at 000, B at 1/2 1/2 1/2: F = fA +/- fB
        return (za - zb) ** 2 if odd else (za + zb) ** 2
    if lattice == "fluorite":  # A fcc, B at 1/4 1/4 1/4 and 3/4 3/4 3/4
        if odd:
            return za**2 + 4 * zb**2
        return (za + 2 * zb) ** 2 if hkl_sum % 4 == 0 else (za - 2 * zb) ** 2
    return 1.0


def bragg_peaks(
    lattice: str, a: float, za: float = 1.0, zb: float = 0.0, *, q_max: float = 12.0
) -> list[tuple[float, float]]:
    """Allowed reflections of a cubic lattice up to ``q_max``: ``(d, relative intensity)``.

    ``lattice`` is fcc, bcc, spinel, rocksalt or fluorite; for the two-atom lattices
    ``za``/``zb`` are the atomic numbers that stand in for the scattering factors.
    Intensity is multiplicity times a powder Lorentz factor (``1/q^2`` at small angles)
    times ``exp(-0.05 q^2)``, a rough stand-in for form and Debye-Waller factors: peak
    positions are exact, heights indicative (Ni: I(200)/I(111) = 0.48, tabulated 0.42;
    NiO: I(111)/I(200) = 0.65, tabulated 0.61).
    """
    if a <= 0:
        raise InvalidInputError(f"lattice constant must be > 0, got {a}")
    hmax = int(q_max * a / (2 * math.pi)) + 1
    rng_ = range(-hmax, hmax + 1)
    by_s: dict[int, float] = {}
    for h in rng_:
        for k in rng_:
            for l in rng_:  # noqa: E741
                if h == k == l == 0 or not _allowed(lattice, abs(h), abs(k), abs(l)):
                    continue
                s = h * h + k * k + l * l
                f2 = _structure_factor2(lattice, abs(h + k + l), h % 2 == 1, za, zb)
                by_s[s] = by_s.get(s, 0.0) + f2  # summed over all signed permutations
    out = []
    for s, weight in sorted(by_s.items()):
        d = a / math.sqrt(s)
        q = 2 * math.pi / d
        if q <= q_max:
            out.append((d, weight * math.exp(-0.05 * q * q) / (q * q)))
    peak = max(i for _, i in out)
    return [(d, 100.0 * i / peak) for d, i in out]


def q_to_two_theta(q: np.ndarray | float, wavelength: float) -> np.ndarray:
    """Scattering angle 2-theta (degrees) of momentum transfer ``q`` at ``wavelength`` (A)."""
    return np.degrees(2 * np.arcsin(np.asarray(q) * wavelength / (4 * math.pi)))


def _synthetic_peaks(name: str) -> list[tuple[float, float]]:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    r = np.random.default_rng(seed)
    n = int(r.integers(3, 8))
    q = np.sort(r.uniform(1.2, 5.8, n))
    return [(2 * math.pi / qq, float(i)) for qq, i in zip(q, r.uniform(15, 100, n), strict=True)]


def _pattern(name: str, q: np.ndarray, crystallite_nm: float | None) -> np.ndarray:
    key = ALIASES.get(name.lower(), name.lower())
    kind, data = PHASE_LIBRARY.get(key, ("peaks", None))
    if kind == "none":
        return np.zeros_like(q)
    if kind == "amorphous":
        d, width = data
        return np.exp(-0.5 * ((q - 2 * math.pi / d) / width) ** 2)
    peaks = bragg_peaks(*data) if kind == "cubic" else (data or _synthetic_peaks(key))
    size_nm = crystallite_nm if crystallite_nm is not None else CRYSTALLITE_NM.get(key, 20.0)
    # Scherrer: FWHM in q = 2 pi K / L (K = 0.9), plus a small instrumental width
    fwhm = 2 * math.pi * 0.9 / (10.0 * size_nm) + 0.01
    sig = fwhm / 2.3548
    out = np.zeros_like(q)
    for d, inten in peaks:
        out += inten * np.exp(-0.5 * ((q - 2 * math.pi / d) / sig) ** 2)
    return out


def diffraction_patterns(
    phases: Sequence[str],
    q: np.ndarray,
    *,
    patterns: Mapping[str, Sequence[float]] | None = None,
    crystallite_nm: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Patterns ``(len(phases), len(q))``, each with unit sum (zero for void phases).

    ``patterns`` gives user patterns by phase name (sampled on ``q``), which win over
    the library; ``crystallite_nm`` sets crystallite sizes for the peak widths.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 1 or q.size < 2 or not np.all(np.diff(q) > 0):
        raise InvalidInputError("q: expected an increasing 1-D axis with at least 2 channels")
    user = dict(patterns or {})
    unknown = set(user) - set(phases)
    if unknown:
        raise InvalidInputError(
            f"patterns: no phase named {sorted(unknown)}; phases are {', '.join(phases)}"
        )
    sizes = dict(crystallite_nm or {})
    out = np.zeros((len(phases), q.size))
    for i, name in enumerate(phases):
        if name in user:
            pat = np.asarray(user[name], dtype=np.float64)
            if pat.shape != q.shape or not np.all(np.isfinite(pat)) or np.any(pat < 0):
                raise InvalidInputError(
                    f"patterns[{name!r}]: expected {q.size} finite values >= 0 (one per "
                    f"channel), got shape {pat.shape}"
                )
        else:
            pat = _pattern(name, q, sizes.get(name))
        total = pat.sum()
        out[i] = pat / total if total > 0 else 0.0
    return out


@dataclass(frozen=True)
class ChemicalPairResult:
    """A chemical/absorption training pair with its ground truth.

    ``maps_high``/``maps_low`` are per-phase concentration (area fraction) maps
    ``(P, H, W)`` and ``(P, H/f, W/f)`` of the diffracting ``chem_phases``; ``cube_low``
    is the measured-like low-resolution cube ``(H/f, W/f, C)``; ``cube_high()`` builds
    the high-resolution cube ``(H, W, C)`` on demand (it can be large).
    """

    absorption: np.ndarray
    labels: np.ndarray
    phases: tuple[str, ...]
    chem_phases: tuple[str, ...]
    q: np.ndarray
    patterns: np.ndarray
    maps_high: np.ndarray
    maps_low: np.ndarray
    cube_low: np.ndarray
    factor: int
    info: dict[str, Any] = field(default_factory=dict)

    def cube_high(self) -> np.ndarray:
        """The noiseless high-resolution cube ``(H, W, C)``: maps mixed with patterns."""
        return np.tensordot(self.maps_high, self.patterns, axes=(0, 0)).astype(np.float32)


def _block_mean(arr: np.ndarray, f: int) -> np.ndarray:
    p, h, w = arr.shape
    return arr.reshape(p, h // f, f, w // f, f).mean(axis=(2, 4))


def chemical_pair(
    sample: PhantomSample,
    *,
    factor: int = 4,
    q: np.ndarray | None = None,
    patterns: Mapping[str, Sequence[float]] | None = None,
    crystallite_nm: Mapping[str, float] | None = None,
    counts: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> ChemicalPairResult:
    """Chemical cube and concentration maps of ``sample`` at full and ``1/factor`` size.

    The low-resolution maps are block means of the high-resolution ones (a pencil beam
    ``factor`` pixels wide), the low-resolution cube mixes the patterns by them, and
    ``counts`` (photons per low-resolution pixel at full concentration, or ``None`` for
    noiseless) adds Poisson noise to that cube only: the high-resolution truth is clean.
    """
    if not isinstance(sample, PhantomSample):
        raise InvalidInputError(
            f"sample: expected a tomokit.PhantomSample, got {type(sample).__name__}"
        )
    if int(factor) != factor or factor < 1:
        raise InvalidInputError(f"factor: expected an integer >= 1, got {factor}")
    factor = int(factor)
    h, w = sample.labels.shape
    if h % factor or w % factor:
        raise InvalidInputError(
            f"factor: image shape {(h, w)} is not divisible by factor {factor}; pick a size "
            f"that is a multiple of {factor}"
        )
    if counts is not None and not counts > 0:
        raise InvalidInputError(f"counts: expected > 0 photons or None, got {counts}")
    q_axis = np.linspace(1.0, 6.0, 128) if q is None else np.asarray(q, dtype=np.float64)
    all_patterns = diffraction_patterns(
        sample.phases, q_axis, patterns=patterns, crystallite_nm=crystallite_nm
    )
    keep = [i for i in range(len(sample.phases)) if all_patterns[i].sum() > 0]
    if not keep:
        raise InvalidInputError("sample: none of its phases diffracts; pass `patterns`")
    pats = all_patterns[keep].astype(np.float32)
    maps_high = np.stack([(sample.labels == i) for i in keep]).astype(np.float32)
    maps_low = _block_mean(maps_high, factor).astype(np.float32)
    cube_low = np.tensordot(maps_low, pats, axes=(0, 0)).astype(np.float32)
    if counts is not None:
        gen = as_rng(rng)
        cube_low = (gen.poisson(cube_low.astype(np.float64) * counts) / counts).astype(np.float32)
    return ChemicalPairResult(
        absorption=sample.image,
        labels=sample.labels,
        phases=sample.phases,
        chem_phases=tuple(sample.phases[i] for i in keep),
        q=q_axis,
        patterns=pats,
        maps_high=maps_high,
        maps_low=maps_low,
        cube_low=cube_low,
        factor=factor,
        info={"counts": counts, **sample.info},
    )


class ChemicalPairParams(Params):
    """Parameters of the ``chemical_pair`` task."""

    phantom: str = Field("catalyst", description="Registered phantom that gives the phases.")
    phantom_params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters of that phantom (its Params)."
    )
    size: int = Field(128, ge=16, le=4096, description="High-resolution image side in px.")
    count: int = Field(1, ge=1, description="Number of pairs.")
    factor: int = Field(4, ge=1, le=64, description="Downsampling factor of the chemical map.")
    channels: int = Field(128, ge=2, le=4096, description="Channels of the q axis.")
    q_min: float = Field(1.0, gt=0, description="First q (1/angstrom).")
    q_max: float = Field(6.0, gt=0, description="Last q (1/angstrom).")
    counts: float | None = Field(
        None, gt=0, description="Photons per low-resolution pixel at full concentration; None: noiseless."
    )
    high_cube: bool = Field(False, description="Also return the high-resolution cube (large).")
    patterns: dict[str, list[float]] | None = Field(
        None, description="User diffraction patterns by phase name, one value per channel."
    )
    crystallite_nm: dict[str, float] | None = Field(
        None, description="Crystallite sizes (nm) by phase name, for the Scherrer peak widths."
    )
    acquisition: dict[str, Any] | None = Field(
        None, description="Scan the absorption image (acquired_slices parameters, {} for "
        "defaults; needs tomokit-recon); the clean one is then output as absorption_clean.",
    )

    @model_validator(mode="after")
    def _check(self) -> ChemicalPairParams:
        if self.q_max <= self.q_min:
            raise ValueError("q_max must be > q_min")
        if self.size % self.factor:
            raise ValueError(f"size {self.size} must be a multiple of factor {self.factor}")
        return self


class ChemicalPair(Task):
    """Dual-input super-resolution data: low-resolution chemical cube + high-resolution
    absorption -> high-resolution concentration maps (and cube)."""

    summary: ClassVar[str] = "XRD-CT-like chemical cube + absorption image, low/high-resolution pair"
    Params: ClassVar[type[ChemicalPairParams]] = ChemicalPairParams  # type: ignore[assignment]

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        from tomokit_phantom._api import load_phantom

        p = self.params
        assert isinstance(p, ChemicalPairParams)
        phantom = load_phantom(p.phantom, p.phantom_params)
        q = np.linspace(p.q_min, p.q_max, p.channels)
        results = []
        scanned = []
        for _ in range(p.count):
            sample = phantom.generate((p.size, p.size), rng)
            if p.acquisition is not None:
                from tomokit_phantom._acquire import acquire

                scanned.append(acquire(sample, p.acquisition, rng=rng).image)
            results.append(chemical_pair(
                sample, factor=p.factor, q=q, counts=p.counts, rng=rng,
                patterns=p.patterns, crystallite_nm=p.crystallite_nm,
            ))
        phases = set(results[0].chem_phases)
        if any(set(r.chem_phases) != phases for r in results):
            raise InvalidInputError("chemical_pair: samples have different diffracting phases")

        def stack(get: Any) -> np.ndarray:
            arr = np.stack([get(r) for r in results])
            return arr[0] if p.count == 1 else arr

        out: dict[str, Any] = {
            "absorption": stack(lambda r: r.absorption),
            "labels": stack(lambda r: r.labels),
            "chemical_low": stack(lambda r: r.cube_low),
            "maps_low": stack(lambda r: r.maps_low),
            "maps_high": stack(lambda r: r.maps_high),
            "patterns": results[0].patterns,
            "q": q,
            "phases": ",".join(results[0].chem_phases),
        }
        if p.high_cube:
            out["chemical_high"] = stack(lambda r: r.cube_high())
        if scanned:
            out["absorption_clean"] = out["absorption"]
            out["absorption"] = np.stack(scanned)[0] if p.count == 1 else np.stack(scanned)
        return out
