"""Porous catalyst bodies with several crystalline phases distributed in them.

Why: XRD-CT and absorption CT of catalysts (3D-printed lattices, packed beds of pellets
in a capillary reactor) are studied to see where the active phases sit: uniformly,
concentrated at the outer surface ("egg-shell", the usual outcome of impregnation) or in
the core ("egg-yolk"). The generator gives the body, its phase grains and exact labels,
and is the natural input of :mod:`tomokit_phantom.chemical`.

Label 0 is void; label 1 is the support (the first name of ``phases``); the others are
the active crystalline phases, whose area fractions of the solid are met to the pixel.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy import ndimage

from tomokit import InvalidInputError, Phantom, PhantomParams, PhantomSample
from tomokit_phantom._common import (
    as_rng,
    check_shape,
    make_sample,
    resolve_attenuation,
    smooth_noise,
    top_k_mask,
)
from tomokit_phantom.materials import MATERIALS, linear_attenuation

__all__ = ["Catalyst", "CatalystParams", "catalyst"]


class CatalystParams(PhantomParams):
    """Parameters of :class:`Catalyst` (lengths in pixels)."""

    structure: Literal["lattice", "packed"] = Field(
        "lattice",
        description="'lattice': a 3D-printed cylindrical body with a square grid of struts; "
        "'packed': a packed bed of catalyst particles in a cylindrical reactor.",
    )
    phases: tuple[str, ...] = Field(
        ("alumina", "nio", "nickel"),
        min_length=2,
        description="Support first, then the active crystalline phases.",
    )
    active_fractions: tuple[float, ...] = Field(
        (0.15, 0.08),
        description="Area fraction of the solid taken by each active phase (one per active phase).",
    )
    distribution: Literal["uniform", "eggshell", "eggyolk"] = Field(
        "eggshell", description="Where the active phases concentrate inside struts/particles."
    )
    macro_porosity: float = Field(
        0.06, ge=0.0, lt=0.5, description="Resolved pores inside the solid (fraction of solid)."
    )
    grain_size: float | None = Field(
        None, gt=0, description="Correlation length of the phase grains in px; default min(H, W)/150, at least 1."
    )
    body_fraction: float = Field(0.92, gt=0.2, le=1.0, description="Body/reactor diameter over the image side.")
    cell_size: float | None = Field(
        None, gt=2, description="Lattice: strut pitch in px; default body diameter / 7."
    )
    strut_fraction: float = Field(0.45, gt=0.1, lt=0.95, description="Lattice: strut width over the pitch.")
    particle_radius: float | None = Field(
        None, gt=1, description="Packed: mean particle radius in px; default min(H, W)/16."
    )
    support_packing: float = Field(
        0.6, gt=0.0, le=1.0, description="Dense volume fraction of the (meso-porous) support, for the default attenuation."
    )
    attenuation: tuple[float, ...] | None = Field(
        None,
        description="Linear attenuation per phase in 1/cm (void, then `phases`). Default: "
        "100 keV values of the materials table (XRD-CT uses hard X-rays): void 0, alumina "
        "0.357 at support_packing 0.6, nio 2.548, nickel 3.955.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CatalystParams:
        if len(self.active_fractions) != len(self.phases) - 1:
            raise ValueError(
                f"active_fractions needs one value per active phase ({len(self.phases) - 1}: "
                f"{', '.join(self.phases[1:])}), got {len(self.active_fractions)}"
            )
        if any(f < 0 for f in self.active_fractions) or sum(self.active_fractions) > 0.95:
            raise ValueError("active_fractions must be >= 0 and sum to at most 0.95")
        if len(set(self.phases)) != len(self.phases) or "void" in self.phases:
            raise ValueError("phases must be distinct and must not include 'void'")
        return self


def _default_attenuation(p: CatalystParams) -> list[float]:
    out = [0.0]
    for i, name in enumerate(p.phases):
        if name.lower() not in MATERIALS:
            raise InvalidInputError(
                f"catalyst: no default attenuation for phase {name!r}; pass `attenuation` "
                f"(1/cm, one per phase: void, {', '.join(p.phases)})"
            )
        packing = p.support_packing if i == 0 else 1.0
        out.append(round(linear_attenuation(name, 100.0, packing=packing), 3))
    return out


def _lattice(h: int, w: int, p: CatalystParams, gen: np.random.Generator) -> np.ndarray:
    cy, cx = (h - 1) / 2, (w - 1) / 2
    radius = p.body_fraction * min(h, w) / 2
    pitch = p.cell_size if p.cell_size is not None else max(4.0, 2 * radius / 7)
    strut = p.strut_fraction * pitch
    ang = gen.uniform(0, math.pi / 2)
    c, s = math.cos(ang), math.sin(ang)
    dy = (np.arange(h, dtype=np.float32) - np.float32(cy))[:, None]
    dx = (np.arange(w, dtype=np.float32) - np.float32(cx))[None, :]
    # printed filaments wander a little and vary in width
    wobble = np.float32(0.05 * pitch)
    u = dx * c + dy * s + wobble * smooth_noise((h, w), pitch, gen)
    v = dy * c - dx * s + wobble * smooth_noise((h, w), pitch, gen)
    off_u, off_v = gen.uniform(0, pitch, 2)
    du = np.abs(((u + off_u) % pitch) - pitch / 2)
    dv = np.abs(((v + off_v) % pitch) - pitch / 2)
    half = np.float32(strut / 2) * (1 + np.float32(0.08) * smooth_noise((h, w), pitch / 2, gen))
    r = np.sqrt(dx * dx + dy * dy)
    solid = ((du < half) | (dv < half)) & (r <= radius)
    solid |= (r <= radius) & (r >= radius - strut / 2)  # printed perimeter
    return solid


def _packed(h: int, w: int, p: CatalystParams, gen: np.random.Generator) -> np.ndarray:
    cy, cx = (h - 1) / 2, (w - 1) / 2
    radius = p.body_fraction * min(h, w) / 2
    r_mean = p.particle_radius if p.particle_radius is not None else max(2.0, min(h, w) / 16)
    s2 = math.log1p(0.2**2)
    solid = np.zeros((h, w), dtype=bool)
    cen = np.empty((0, 3))
    n_try = int(40 * (radius / r_mean) ** 2) + 50
    rads = np.sort(gen.lognormal(math.log(r_mean) - s2 / 2, math.sqrt(s2), n_try))[::-1]
    yy, xx = np.ogrid[:h, :w]
    for rp in rads:
        rp = float(min(rp, radius * 0.9))
        rr = (radius - rp) * np.sqrt(gen.uniform(size=30))
        t = gen.uniform(0, 2 * math.pi, 30)
        ys, xs = cy + rr * np.sin(t), cx + rr * np.cos(t)
        if len(cen):
            d2 = (ys[:, None] - cen[None, :, 0]) ** 2 + (xs[:, None] - cen[None, :, 1]) ** 2
            ok = np.all(d2 >= (rp + cen[None, :, 2] + 0.5) ** 2, axis=1)
        else:
            ok = np.ones(30, dtype=bool)
        if not ok.any():  # no room for this one; smaller ones may still fit
            continue
        i = int(np.argmax(ok))
        y, x = float(ys[i]), float(xs[i])
        cen = np.vstack([cen, [y, x, rp]])
        y0, y1 = max(0, int(y - rp - 1)), min(h, int(y + rp) + 2)
        x0, x1 = max(0, int(x - rp - 1)), min(w, int(x + rp) + 2)
        solid[y0:y1, x0:x1] |= (yy[y0:y1] - y) ** 2 + (xx[:, x0:x1] - x) ** 2 <= rp * rp
    return solid


def catalyst(
    shape: tuple[int, int],
    rng: np.random.Generator | int | None = None,
    params: CatalystParams | None = None,
) -> PhantomSample:
    """Generate one catalyst-body cross-section (see :class:`Catalyst`)."""
    p = params or CatalystParams()
    h, w = check_shape(shape)
    gen = as_rng(rng)
    phases = ("void", *p.phases)
    defaults = _default_attenuation(p) if p.attenuation is None else list(p.attenuation)
    att = resolve_attenuation(p.attenuation, defaults, phases)

    solid = _lattice(h, w, p, gen) if p.structure == "lattice" else _packed(h, w, p, gen)
    grain = p.grain_size if p.grain_size is not None else max(1.0, min(h, w) / 150)
    n_solid = int(np.count_nonzero(solid))
    labels = solid.astype(np.uint8)
    if p.macro_porosity > 0:
        pores = top_k_mask(smooth_noise((h, w), grain, gen), solid,
                           round(p.macro_porosity * n_solid))
        labels[pores] = 0
    depth = ndimage.distance_transform_edt(solid).astype(np.float32)
    scale = float(max(1.0, np.percentile(depth[solid], 90))) if n_solid else 1.0
    bias = {"uniform": 0.0, "eggshell": -2.5, "eggyolk": 2.5}[p.distribution]
    free = labels == 1
    for k, frac in enumerate(p.active_fractions, start=2):
        score = smooth_noise((h, w), grain, gen) + np.float32(bias / scale) * depth
        pick = top_k_mask(score, free, round(frac * n_solid))
        labels[pick] = k
        free &= ~pick
    info: dict[str, Any] = {
        "generator": "catalyst",
        "structure": p.structure,
        "solid_fraction": n_solid / (h * w),
        "macro_pore_fraction_of_solid": float(np.count_nonzero(solid & (labels == 0)) / max(n_solid, 1)),
        "phase_fractions_of_solid": [
            float(np.count_nonzero(labels == k) / max(n_solid, 1)) for k in range(1, len(phases))
        ],
    }
    return make_sample(labels, phases, att, info=info)


class Catalyst(Phantom):
    """Porous catalyst body (printed lattice or packed particles) with crystalline phases
    distributed uniformly, as an egg-shell or as an egg-yolk."""

    summary: ClassVar[str] = "Porous catalyst body (printed lattice or packed bed) with crystalline phases"
    Params: ClassVar[type[CatalystParams]] = CatalystParams  # type: ignore[assignment]

    def generate(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> PhantomSample:
        assert isinstance(self.params, CatalystParams)
        return catalyst(shape, rng, self.params)
