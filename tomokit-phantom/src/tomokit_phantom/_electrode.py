"""Li-ion electrode cross-sections: irregular polydisperse particles, carbon-binder, pores.

Why: segmentation and super-resolution models for electrode tomography need images with
exact phase labels, and the statistics that matter for electrode performance (porosity,
particle-size distribution, the carbon-binder domain bridging particles) must be set by
the user and met, not just approximated.

The generator places secondary particles (lognormal equivalent radii, elliptical with
random low-order radial harmonics for the irregular outline) largest first by random
sequential addition with a bounded overlap, until the active-material area fraction is
reached. The carbon-binder domain (CBD) then fills the pore pixels that lie in the necks
and crevices between particles (a smoothed particle density plus a fine random texture
ranks them) until the requested porosity is met to the pixel.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator
from scipy import ndimage

from tomokit import Phantom, PhantomParams, PhantomSample
from tomokit_phantom._common import (
    as_rng,
    check_shape,
    make_sample,
    resolve_attenuation,
    smooth_noise,
    top_k_mask,
)
from tomokit_phantom.materials import linear_attenuation

__all__ = ["Electrode", "ElectrodeParams", "electrode"]

#: Default attenuation (1/cm, 30 keV): air-filled pore, NMC622, carbon-binder domain.
ELECTRODE_ATTENUATION: tuple[float, float, float] = (
    0.0,
    round(linear_attenuation("nmc622", 30.0), 2),
    round(linear_attenuation("carbon_binder", 30.0), 3),
)


class ElectrodeParams(PhantomParams):
    """Parameters of :class:`Electrode` (lengths in pixels)."""

    porosity: float = Field(
        0.35, gt=0.02, lt=0.95, description="Target pore area fraction (= volume fraction)."
    )
    cbd_fraction: float = Field(
        0.10, ge=0.0, lt=0.6,
        description="Carbon-binder domain area fraction of the whole image; 0 gives two phases.",
    )
    radius_mean: float | None = Field(
        None, ge=1.0,
        description="Mean equivalent-circle radius of particles in pixels; default min(H, W)/32, at least 2.5.",
    )
    radius_cv: float = Field(
        0.45, ge=0.0, le=1.5,
        description="Coefficient of variation of the lognormal radius distribution.",
    )
    irregularity: float = Field(
        0.12, ge=0.0, le=0.4,
        description="Amplitude of the random radial harmonics (0 gives ellipses).",
    )
    aspect_ratio: float = Field(
        1.25, ge=1.0, le=6.0,
        description="Mean long/short axis ratio (about 1.2 for NMC, 2 to 4 for graphite flakes).",
    )
    alignment: float = Field(
        0.0, ge=0.0, le=1.0,
        description="How strongly long axes align with the image rows (calendered flakes): "
        "0 random orientations, 1 all horizontal.",
    )
    roughness: float = Field(
        0.6, ge=0.0, le=3.0,
        description="Depth of the surface dents left by primary grains, in primary-grain "
        "sizes (0: smooth outlines).",
    )
    internal_porosity: float = Field(
        0.03, ge=0.0, le=0.5,
        description="Fraction of the particle area that is pore inside secondary particles.",
    )
    primary_size: float | None = Field(
        None, gt=0,
        description="Primary grain size in px (scale of roughness and internal pores); "
        "default radius_mean/5, at least 1.5.",
    )
    max_overlap: float = Field(
        0.12, ge=0.0, le=0.6,
        description="How far two particles may interpenetrate, as a fraction of their radius sum.",
    )
    attenuation: tuple[float, ...] | None = Field(
        None,
        description=(
            "Linear attenuation per phase in 1/cm (pore, active, carbon_binder). Default at "
            f"30 keV: {ELECTRODE_ATTENUATION} (air, NMC622 at 4.75 g/cm3, CBD at 1.0 g/cm3)."
        ),
    )

    @model_validator(mode="after")
    def _fractions(self) -> ElectrodeParams:
        if self.porosity + self.cbd_fraction > 0.92:
            raise ValueError(
                f"porosity + cbd_fraction = {self.porosity + self.cbd_fraction:.2f} leaves "
                "too little active material; keep it <= 0.92"
            )
        particles = (1.0 - self.porosity - self.cbd_fraction) / (1.0 - self.internal_porosity)
        if particles > 0.95:
            raise ValueError(
                f"particles with internal_porosity {self.internal_porosity} would cover "
                f"{particles:.2f} of the image (at most 0.95); raise porosity or cbd_fraction, "
                "or lower internal_porosity"
            )
        if particles * self.internal_porosity > self.porosity:
            raise ValueError(
                f"internal pores alone ({particles * self.internal_porosity:.3f} of the image) "
                f"exceed porosity {self.porosity}; lower internal_porosity"
            )
        return self


def _lognormal(mean: float, cv: float, n: int, rng: np.random.Generator) -> np.ndarray:
    if cv == 0:
        return np.full(n, mean)
    s2 = math.log1p(cv * cv)
    return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), n)


class _Particle:
    """One particle outline: ellipse of equal area to a disc of ``r``, with harmonics."""

    __slots__ = ("a", "b", "c", "harm", "r", "reach", "s")

    def __init__(
        self, r: float, aspect: float, irregularity: float, alignment: float,
        rng: np.random.Generator,
    ):
        self.r = r
        sq = math.sqrt(aspect)
        self.a, self.b = r * sq, r / sq
        phi = (1.0 - alignment) * rng.uniform(-math.pi / 2, math.pi / 2)
        self.c, self.s = math.cos(phi), math.sin(phi)
        ks = np.arange(2, 7)
        amps = irregularity * rng.uniform(0.2, 1.0, ks.size) / (ks - 1)
        phases = rng.uniform(0, 2 * math.pi, ks.size)
        # coefficients of exp(i k theta): 1 + sum amp_k cos(k theta + phase_k)
        self.harm = [(int(k), complex(a * math.cos(p), a * math.sin(p)))
                     for k, a, p in zip(ks, amps, phases, strict=True)]
        self.reach = self.a * (1.0 + float(amps.sum())) + 1.0

    def paint(
        self, owner: np.ndarray, cy: float, cx: float, ident: int, dent: np.ndarray | None
    ) -> int:
        """Write ``ident`` into the free pixels of ``owner`` it covers; return how many.

        ``dent`` (px, >= 0) pushes the outline inwards pixel by pixel: surface roughness.
        """
        h, w = owner.shape
        y0, y1 = max(0, int(cy - self.reach)), min(h, int(cy + self.reach) + 2)
        x0, x1 = max(0, int(cx - self.reach)), min(w, int(cx + self.reach) + 2)
        if y0 >= y1 or x0 >= x1:
            return 0
        dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(cy))[:, None]
        dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(cx))[None, :]
        u = (dx * self.c + dy * self.s) / self.a
        v = (dy * self.c - dx * self.s) / self.b
        rho2 = u * u + v * v
        rho = np.sqrt(rho2)
        z = (u + 1j * v) / np.maximum(rho, 1e-6)  # exp(i theta)
        bound = np.ones_like(rho)
        zk = z * z
        k_prev = 2
        for k, coef in self.harm:
            while k_prev < k:
                zk = zk * z
                k_prev += 1
            bound += (coef * zk).real.astype(np.float32)
        if dent is not None:  # never more than 60 % of the outline: cores stay solid
            bound = bound - np.minimum(dent[y0:y1, x0:x1] / np.float32(self.r), 0.6 * bound)
        inside = rho <= bound
        region = owner[y0:y1, x0:x1]
        write = inside & (region == 0)
        n = int(np.count_nonzero(write))
        if n:
            region[write] = ident
        return n


def _grow(owner: np.ndarray, k: int) -> None:
    """Give the ``k`` free pixels nearest to a particle to that particle (in place)."""
    free = owner == 0
    if k <= 0 or not free.any() or free.all():
        return
    dist, (iy, ix) = ndimage.distance_transform_edt(free, return_indices=True)
    pick = top_k_mask(-dist.astype(np.float32), free, k)
    owner[pick] = owner[iy[pick], ix[pick]]


def electrode(
    shape: tuple[int, int],
    rng: np.random.Generator | int | None = None,
    params: ElectrodeParams | None = None,
) -> PhantomSample:
    """Generate one electrode cross-section (see :class:`Electrode`)."""
    p = params or ElectrodeParams()
    h, w = check_shape(shape)
    gen = as_rng(rng)
    cbd = p.cbd_fraction > 0
    phases = ("pore", "active", "carbon_binder") if cbd else ("pore", "active")
    defaults = ELECTRODE_ATTENUATION if cbd else ELECTRODE_ATTENUATION[:2]
    att = resolve_attenuation(p.attenuation, defaults, phases)
    n_pix = h * w
    r_mean = p.radius_mean if p.radius_mean is not None else max(2.5, min(h, w) / 32)
    target_active = round((1.0 - p.porosity - p.cbd_fraction) * n_pix)
    # paint more so that the internal pores leave the target active area
    target_paint = round(target_active / (1.0 - p.internal_porosity))
    primary = p.primary_size if p.primary_size is not None else max(1.5, r_mean / 5)
    dent = None
    if p.roughness > 0:
        dent = np.maximum(smooth_noise((h, w), primary / 2, gen), 0) * np.float32(
            p.roughness * primary
        )
    r_max = max(1.0, min(h, w) / 3)

    owner = np.zeros((h, w), dtype=np.int32)
    cap = 256
    cen_y, cen_x, cen_r = np.empty(cap), np.empty(cap), np.empty(cap)
    radii_placed: list[float] = []
    painted = 0
    ident = 0
    overlap = p.max_overlap
    pools = 0
    stalls = 0
    mean_area = math.pi * r_mean**2 * (1 + p.radius_cv**2)
    while painted < target_paint:
        pools += 1
        if pools > 60 or stalls >= 2:
            # jammed even without an overlap limit: the last holes are too small for
            # new particles, so the particles grow into the nearest free pixels
            _grow(owner, target_paint - painted)
            painted = target_paint
            break
        # a pool whose area just covers the deficit, placed largest first; stopping
        # early would cut the small tail of the size distribution, so pools stay small
        deficit = target_paint - painted
        chunks: list[np.ndarray] = []
        area = 0.0
        while area < deficit:
            chunk = np.clip(
                _lognormal(r_mean, p.radius_cv, max(4, int(deficit / mean_area) + 1), gen),
                0.75, r_max,
            )
            cum = area + np.cumsum(np.pi * chunk**2)
            cut = int(np.searchsorted(cum, deficit)) + 1
            chunks.append(chunk[:cut])
            area = float(cum[min(cut, len(chunk)) - 1])
        radii = np.sort(np.concatenate(chunks))[::-1]
        n_pool = len(radii)
        placed_in_pool = 0
        for r in radii:
            part = _Particle(
                float(r), float(p.aspect_ratio * gen.uniform(0.85, 1.15) if p.aspect_ratio > 1
                                else 1.0),
                p.irregularity, p.alignment, gen,
            )
            n_placed = len(radii_placed)
            for _ in range(60):
                cy = gen.uniform(-0.3 * r, h + 0.3 * r)
                cx = gen.uniform(-0.3 * r, w + 0.3 * r)
                if n_placed and overlap < 1.0:
                    d2 = (cen_y[:n_placed] - cy) ** 2 + (cen_x[:n_placed] - cx) ** 2
                    lim = (1.0 - overlap) * (cen_r[:n_placed] + r)
                    if np.any(d2 < lim * lim):
                        continue
                ident += 1
                n = part.paint(owner, cy, cx, ident, dent)
                if n == 0:
                    ident -= 1
                    continue
                painted += n
                if n_placed == cap:
                    cap *= 2
                    cen_y, cen_x, cen_r = (np.resize(a, cap) for a in (cen_y, cen_x, cen_r))
                cen_y[n_placed], cen_x[n_placed], cen_r[n_placed] = cy, cx, r
                radii_placed.append(float(r))
                placed_in_pool += 1
                break
            if painted >= target_paint:
                break
        if painted < target_paint and placed_in_pool < max(1, n_pool // 2):
            # jammed: let particles interpenetrate more (as calendering does); in the
            # end drop the constraint, so any fraction is reachable
            if overlap >= 1.0:
                stalls += 1
            overlap = 1.0 if overlap >= 0.85 else min(0.9, overlap + 0.1)

    internal = np.zeros((h, w), dtype=bool)
    if p.internal_porosity > 0:
        # pores between primary grains, away from the particle surface
        interior = ndimage.binary_erosion(owner > 0)
        n_int = round(p.internal_porosity * painted)
        internal = top_k_mask(smooth_noise((h, w), max(1.0, 0.6 * primary), gen), interior, n_int)
        owner[internal] = 0
    active = owner > 0
    labels = active.astype(np.uint8)
    n_cbd = round((1.0 - p.porosity) * n_pix) - int(np.count_nonzero(active))
    if cbd and n_cbd > 0:
        # necks and crevices: high local particle density, blurred over ~r/2, plus texture
        size = max(3, round(r_mean))
        density = ndimage.uniform_filter(active.astype(np.float32), size=size, mode="nearest")
        density = ndimage.uniform_filter(density, size=size, mode="nearest")
        texture = smooth_noise((h, w), max(0.8, r_mean / 6), gen)
        score = density + 0.12 * texture
        labels[top_k_mask(score, ~active & ~internal, n_cbd)] = 2
    info: dict[str, Any] = {
        "generator": "electrode",
        "n_particles": len(radii_placed),
        "radii": radii_placed,
        "radius_mean_px": r_mean,
        "porosity": float(np.count_nonzero(labels == 0) / n_pix),
        "overlap_used": overlap,
        "pools": pools,
    }
    return make_sample(labels, phases, att, maps={"particle_id": owner}, info=info)


class Electrode(Phantom):
    """Li-ion electrode cross-section: irregular polydisperse particles, carbon-binder
    domain and pores, with a particle instance map (``maps['particle_id']``)."""

    summary: ClassVar[str] = "Li-ion electrode cross-section (particles, carbon-binder, pores)"
    Params: ClassVar[type[ElectrodeParams]] = ElectrodeParams  # type: ignore[assignment]

    def generate(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> PhantomSample:
        assert isinstance(self.params, ElectrodeParams)
        return electrode(shape, rng, self.params)
