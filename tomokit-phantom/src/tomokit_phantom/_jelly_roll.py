"""Cylindrical-cell cross-sections: a wound jelly roll around a hollow core, in a can.

Why: whole-cell CT of 18650/21700 cells is the routine way to inspect winding defects,
layer deformation and can damage; models that measure them need slices with exact
labels for every foil, coating and separator.

Geometry (defaults after published 21700 designs: outer diameter 21 mm, can wall 0.22 to
0.34 mm, inner diameter 20.3 to 20.6 mm; a mandrel hole of about 2 mm; Baazouzi et al.,
*Batteries* 9 (2023) 309, and the batterydesign.net 21700 estimates): an Archimedean
spiral whose repeat unit, from the inside out, is separator, anode coating, copper foil,
anode coating, separator, cathode coating, aluminium foil, cathode coating. The anode
strip overhangs the cathode at both ends and the separators overhang both, as in real
windings. With ``turns=None`` the winding has as many turns as fit between core and can
at the given layer thicknesses (27 for the defaults, at 2048 px and up; fewer on
small images, whose pitch is kept at 3 px or more); giving ``turns`` scales all
layer thicknesses by one factor so that that many turns fill the same space.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from tomokit import InvalidInputError, Phantom, PhantomParams, PhantomSample
from tomokit_phantom._common import as_rng, check_shape, make_sample, resolve_attenuation
from tomokit_phantom.materials import linear_attenuation

__all__ = ["JELLY_ROLL_PHASES", "JellyRoll", "JellyRollParams", "jelly_roll"]

JELLY_ROLL_PHASES: tuple[str, ...] = (
    "void", "can", "separator", "anode", "cu_foil", "cathode", "al_foil",
)

#: Default attenuation (1/cm, 100 keV): air, steel can, electrolyte-filled PE separator
#: (60 % dense), graphite anode coating and NMC622 cathode coating (70 % dense, the rest
#: electrolyte), copper and aluminium foils.
JELLY_ROLL_ATTENUATION: tuple[float, ...] = (
    0.0,
    round(linear_attenuation("steel", 100.0), 3),
    round(linear_attenuation("polyethylene", 100.0, packing=0.6, filler="electrolyte"), 3),
    round(linear_attenuation("graphite", 100.0, packing=0.7, filler="electrolyte"), 3),
    round(linear_attenuation("copper", 100.0), 3),
    round(linear_attenuation("nmc622", 100.0, packing=0.7, filler="electrolyte"), 3),
    round(linear_attenuation("aluminium", 100.0), 3),
)


class JellyRollParams(PhantomParams):
    """Parameters of :class:`JellyRoll` (lengths in micrometres, scaled to the image)."""

    turns: int | None = Field(
        None, ge=1, le=200,
        description=(
            "Number of windings; None fits as many as the layer thicknesses allow (at most "
            "one per 3 px of radius), the remaining space shared out by scaling the layers."
        ),
    )
    diameter_mm: float = Field(21.0, gt=0, description="Outer can diameter in mm (21 for a 21700).")
    fill: float = Field(0.94, gt=0.2, le=1.0, description="Can diameter as a fraction of the image side.")
    can_um: float = Field(250.0, gt=0, description="Can wall thickness in micrometres.")
    core_diameter_mm: float = Field(2.0, ge=0, description="Hollow core (mandrel hole) diameter in mm.")
    separator_um: float = Field(12.0, gt=0, description="Separator thickness.")
    anode_coating_um: float = Field(80.0, gt=0, description="Anode coating thickness per side.")
    cu_foil_um: float = Field(8.0, gt=0, description="Copper current collector thickness.")
    cathode_coating_um: float = Field(65.0, gt=0, description="Cathode coating thickness per side.")
    al_foil_um: float = Field(12.0, gt=0, description="Aluminium current collector thickness.")
    gap_um: float = Field(0.0, ge=0, description="Electrolyte gap between successive turns.")
    ellipticity: float = Field(
        0.0, ge=0.0, le=0.3,
        description="Relative flattening of the winding (deformed or abused cells).",
    )
    attenuation: tuple[float, ...] | None = Field(
        None,
        description=(
            "Linear attenuation per phase in 1/cm, in the order "
            f"{', '.join(JELLY_ROLL_PHASES)}. Default at 100 keV: {JELLY_ROLL_ATTENUATION}."
        ),
    )

    @model_validator(mode="after")
    def _fits(self) -> JellyRollParams:
        if self.core_diameter_mm / 2 >= self.diameter_mm / 2 - self.can_um / 1000:
            raise ValueError("core_diameter_mm leaves no room for the winding inside the can")
        return self


def jelly_roll(
    shape: tuple[int, int],
    rng: np.random.Generator | int | None = None,
    params: JellyRollParams | None = None,
) -> PhantomSample:
    """Generate one cylindrical-cell cross-section (see :class:`JellyRoll`)."""
    p = params or JellyRollParams()
    h, w = check_shape(shape)
    gen = as_rng(rng)
    att = resolve_attenuation(p.attenuation, JELLY_ROLL_ATTENUATION, JELLY_ROLL_PHASES)

    um_per_px = p.diameter_mm * 1000.0 / (p.fill * min(h, w))
    r_out = p.diameter_mm * 500.0 / um_per_px
    r_can_in = r_out - p.can_um / um_per_px
    r_core = p.core_diameter_mm * 500.0 / um_per_px
    # repeat unit, inside out: (label, thickness um)
    unit = [
        (2, p.separator_um), (3, p.anode_coating_um), (4, p.cu_foil_um),
        (3, p.anode_coating_um), (2, p.separator_um), (5, p.cathode_coating_um),
        (6, p.al_foil_um), (5, p.cathode_coating_um), (0, p.gap_um),
    ]
    pitch_um = sum(t for _, t in unit)
    space_px = r_can_in - r_core
    if p.turns is None:
        # as many as fit, but never a pitch under 3 px (small images stay legible)
        turns = max(1, min(int(space_px * um_per_px // pitch_um), int(space_px // 3)))
        scale = space_px * um_per_px / (turns * pitch_um)
    else:
        turns = p.turns
        scale = space_px * um_per_px / (turns * pitch_um)
    pitch = pitch_um * scale / um_per_px  # px
    if pitch < 1.0:
        raise InvalidInputError(
            f"jelly_roll: {turns} turns at {min(h, w)} px give a winding pitch of "
            f"{pitch:.2f} px; use fewer turns or a larger size"
        )
    bounds = np.cumsum([t for _, t in unit]) / pitch_um  # fractions of one unit
    unit_labels = np.array([lab for lab, _ in unit], dtype=np.uint8)
    # strip extents along the winding, in turns: separators full length; the anode
    # overhangs the cathode at both ends
    extent = {
        2: (0.0, turns), 3: (0.25, turns - 0.1), 4: (0.25, turns - 0.1),
        5: (0.5, turns - 0.4), 6: (0.5, turns - 0.4), 0: (0.0, turns),
    }
    lo = np.array([extent[int(lab)][0] for lab in unit_labels])
    hi = np.array([extent[int(lab)][1] for lab in unit_labels])

    cy = (h - 1) / 2 + gen.uniform(-0.5, 0.5)
    cx = (w - 1) / 2 + gen.uniform(-0.5, 0.5)
    theta0 = gen.uniform(0, 2 * math.pi)
    tilt = gen.uniform(0, math.pi)
    dy = (np.arange(h, dtype=np.float32) - np.float32(cy))[:, None]
    dx = (np.arange(w, dtype=np.float32) - np.float32(cx))[None, :]
    r = np.sqrt(dy * dy + dx * dx)
    labels = np.zeros((h, w), dtype=np.uint8)
    labels[(r >= r_can_in) & (r < r_out)] = 1

    # winding coordinates: elliptic deformation acts on the winding only
    if p.ellipticity > 0:
        c, s = math.cos(tilt), math.sin(tilt)
        u = dx * c + dy * s
        v = (dy * c - dx * s) / np.float32(1.0 - p.ellipticity)
        rw = np.sqrt(u * u + v * v) * np.float32(1.0 - p.ellipticity / 2)
        ang = np.arctan2(v, u) + np.float32(tilt)
    else:
        rw = r
        ang = np.arctan2(dy, dx)
    inner = (rw >= r_core) & (r < r_can_in)
    frac_angle = ((ang - np.float32(theta0)) / np.float32(2 * math.pi)) % np.float32(1.0)
    sfull = (rw[inner] - np.float32(r_core)) / np.float32(pitch) - frac_angle[inner]
    turn = np.floor(sfull)
    pos = sfull - turn
    along = turn + frac_angle[inner]  # position along the strip, in turns
    layer = np.minimum(np.searchsorted(bounds, pos, side="right"), len(unit) - 1)
    present = (along >= lo[layer]) & (along < hi[layer])
    labels[inner] = np.where(present, unit_labels[layer], 0)

    info: dict[str, Any] = {
        "generator": "jelly_roll",
        "turns": turns,
        "um_per_px": um_per_px,
        "pitch_px": pitch,
        "thickness_scale": scale,
    }
    return make_sample(labels, JELLY_ROLL_PHASES, att, info=info)


class JellyRoll(Phantom):
    """Cylindrical Li-ion cell cross-section: a spiral of separator, coatings and foils
    around a hollow core, inside a steel can."""

    summary: ClassVar[str] = "Cylindrical cell (21700) cross-section: wound jelly roll in a can"
    Params: ClassVar[type[JellyRollParams]] = JellyRollParams  # type: ignore[assignment]

    def generate(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> PhantomSample:
        assert isinstance(self.params, JellyRollParams)
        return jelly_roll(shape, rng, self.params)
