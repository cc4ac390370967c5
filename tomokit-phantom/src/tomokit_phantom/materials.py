"""Linear attenuation coefficients (1/cm) of the materials the phantoms are made of.

Why: phantom images come out in absorption units, so that forward projections give
physically sized line integrals (``mu * path length``) and photon noise has the right
magnitude. The coefficients are computed by the mixture rule
``mu = rho * sum_i w_i (mu/rho)_i`` from element mass attenuation coefficients (total,
with coherent scattering) of the NIST XCOM / Hubbell & Seltzer tables at two effective
energies, 30 keV (lab and synchrotron micro-CT of electrodes) and 100 keV (whole-cell CT,
XRD-CT of catalysts). H, C, O, Al, Fe and Cu are the NIST tabulated values; Li, F, Mn,
Co and Ni are xraylib's ``CS_Total`` (built on the same XCOM cross sections), which
agrees with the NIST table wherever both were checked (H, C, O, Al, Fe, Cu: 0.3 %). Densities are nominal, and the porous materials
(coatings, carbon-binder, printed alumina) use an assumed packing density, stated below.
Treat the defaults as realistic orders of magnitude and pass your own values for
quantitative work.
"""

from __future__ import annotations

from collections.abc import Mapping

from tomokit import InvalidInputError

__all__ = [
    "ATOMIC_WEIGHT",
    "ENERGIES_KEV",
    "MATERIALS",
    "MASS_ATTENUATION",
    "linear_attenuation",
    "mass_attenuation",
    "mass_fractions",
]

#: Effective energies (keV) for which element coefficients are tabulated.
ENERGIES_KEV: tuple[float, ...] = (30.0, 100.0)

#: Standard atomic weights (g/mol).
ATOMIC_WEIGHT: dict[str, float] = {
    "H": 1.008, "Li": 6.94, "C": 12.011, "O": 15.999, "F": 18.998, "Al": 26.982,
    "Mn": 54.938, "Fe": 55.845, "Co": 58.933, "Ni": 58.693, "Cu": 63.546,
}

#: Element mass attenuation coefficients (cm^2/g) at 30 keV and 100 keV (NIST XCOM).
MASS_ATTENUATION: dict[str, tuple[float, float]] = {
    "H": (0.3570, 0.2944),
    "Li": (0.1644, 0.1289),
    "C": (0.2562, 0.1514),
    "O": (0.3779, 0.1551),
    "F": (0.4488, 0.1496),
    "Al": (1.128, 0.1704),
    "Mn": (7.142, 0.3366),
    "Fe": (8.176, 0.3717),
    "Co": (8.963, 0.3949),
    "Ni": (10.34, 0.4439),
    "Cu": (10.89, 0.4584),
}

# name: (composition as atoms per formula unit, or {material: mass fraction} for blends;
#        density g/cm^3; note)
_Comp = Mapping[str, float]
MATERIALS: dict[str, tuple[_Comp, float, str]] = {
    "air": ({}, 0.0, "vacuum/air, taken as 0"),
    "water": ({"H": 2, "O": 1}, 1.0, "reference compound"),
    "nmc622": ({"Li": 1, "Ni": 0.6, "Mn": 0.2, "Co": 0.2, "O": 2}, 4.75,
               "LiNi0.6Mn0.2Co0.2O2, dense particle"),
    "graphite": ({"C": 1}, 2.26, "dense particle"),
    "pvdf": ({"C": 2, "H": 2, "F": 2}, 1.78, "binder"),
    "carbon_binder": ({"C": 1, "H": 0.5, "F": 0.5}, 1.0,
                      "carbon black + PVDF, nano-porous domain, assumed 1.0 g/cm^3"),
    "electrolyte": ({"C": 3, "H": 4, "O": 3}, 1.3, "carbonate solvent (EC-like), salt ignored"),
    "polyethylene": ({"C": 2, "H": 4}, 0.95, "separator polymer"),
    "aluminium": ({"Al": 1}, 2.70, "cathode current collector"),
    "copper": ({"Cu": 1}, 8.96, "anode current collector"),
    "steel": ({"Fe": 1}, 7.87, "cell can (nickel-plated steel, taken as iron)"),
    "alumina": ({"Al": 2, "O": 3}, 3.65, "gamma-Al2O3, dense"),
    "nio": ({"Ni": 1, "O": 1}, 6.67, "nickel oxide"),
    "nickel": ({"Ni": 1}, 8.91, "metallic nickel"),
}


def mass_fractions(composition: Mapping[str, float]) -> dict[str, float]:
    """Element mass fractions of a formula given as atoms per formula unit."""
    unknown = [e for e in composition if e not in ATOMIC_WEIGHT]
    if unknown:
        raise InvalidInputError(
            f"composition: unknown element(s) {unknown}; known: {', '.join(ATOMIC_WEIGHT)}"
        )
    masses = {e: n * ATOMIC_WEIGHT[e] for e, n in composition.items()}
    total = sum(masses.values())
    if total <= 0:
        raise InvalidInputError("composition: total mass must be > 0")
    return {e: m / total for e, m in masses.items()}


def _energy_index(energy_kev: float) -> int:
    for i, e in enumerate(ENERGIES_KEV):
        if abs(e - energy_kev) < 1e-9:
            return i
    raise InvalidInputError(
        f"energy_kev: tabulated energies are {ENERGIES_KEV}, got {energy_kev}"
    )


def mass_attenuation(composition: Mapping[str, float], energy_kev: float) -> float:
    """Mass attenuation coefficient (cm^2/g) of a formula by the mixture rule."""
    idx = _energy_index(energy_kev)
    return sum(w * MASS_ATTENUATION[e][idx] for e, w in mass_fractions(composition).items())


def linear_attenuation(
    material: str, energy_kev: float, *, packing: float = 1.0, filler: str | None = None
) -> float:
    """Linear attenuation (1/cm) of ``material``; ``packing`` is its volume fraction in a
    porous domain whose remaining volume holds ``filler`` (or nothing)."""
    key = material.lower()
    if key not in MATERIALS:
        raise InvalidInputError(
            f"material: unknown {material!r}; known: {', '.join(MATERIALS)}"
        )
    if not 0.0 <= packing <= 1.0:
        raise InvalidInputError(f"packing: expected a fraction in [0, 1], got {packing}")
    comp, rho, _ = MATERIALS[key]
    mu = 0.0 if not comp else rho * mass_attenuation(comp, energy_kev)
    mu *= packing
    if filler is not None and packing < 1.0:
        mu += (1.0 - packing) * linear_attenuation(filler, energy_kev)
    return float(mu)
