"""Phantom generators: determinism, exact labels, requested statistics, any size."""

from __future__ import annotations

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError, PhantomSample
from tomokit_phantom import (
    CatalystParams,
    ElectrodeParams,
    JellyRollParams,
    catalyst,
    electrode,
    generate,
    jelly_roll,
)
from tomokit_phantom._api import GENERATORS
from tomokit_phantom.classic import SHAPE_PHASES, random_shapes, shepp_logan
from tomokit_phantom.materials import linear_attenuation, mass_attenuation

RANDOM = [g for g in GENERATORS if g != "shepp_logan"]


def _check_consistent(s: PhantomSample, shape: tuple[int, int]) -> None:
    assert s.image.shape == shape and s.labels.shape == shape
    assert s.image.dtype == np.float32 and s.labels.dtype == np.uint8
    assert int(s.labels.max()) < len(s.phases)
    att = np.asarray(s.info["attenuation"], dtype=np.float32)
    assert len(att) == len(s.phases)
    # exact: the clean image is the per-phase attenuation indexed by the labels
    np.testing.assert_array_equal(s.image, att[s.labels])
    for m in s.maps.values():
        assert m.shape == shape


@pytest.mark.parametrize("name", GENERATORS)
def test_deterministic_and_consistent(name: str) -> None:
    a = generate(name, (96, 80), 7)
    b = generate(name, (96, 80), 7)
    _check_consistent(a, (96, 80))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    for key in a.maps:
        np.testing.assert_array_equal(a.maps[key], b.maps[key])
    if name in RANDOM:
        c = generate(name, (96, 80), 8)
        assert not np.array_equal(a.labels, c.labels)
    assert len(np.unique(a.labels)) >= 2


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("size", [32, 33, 257])
def test_sizes(name: str, size: int) -> None:
    s = generate(name, size, 1)
    _check_consistent(s, (size, size))
    assert len(np.unique(s.labels)) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_2048(name: str) -> None:
    s = generate(name, 2048, 0)
    _check_consistent(s, (2048, 2048))


def test_seed_and_generator_equivalent() -> None:
    a = electrode((64, 64), 5)
    b = electrode((64, 64), np.random.default_rng(5))
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"porosity": 0.5, "cbd_fraction": 0.0, "radius_mean": 6.0, "radius_cv": 0.6},
        {"porosity": 0.25, "cbd_fraction": 0.15, "radius_mean": 14.0, "aspect_ratio": 2.5},
        {"porosity": 0.6, "cbd_fraction": 0.05, "radius_mean": 5.0, "radius_cv": 0.1},
    ],
)
def test_electrode_porosity(kw: dict) -> None:
    """Porosity is met to 0.005 (to the pixel when there is a carbon-binder phase)."""
    p = ElectrodeParams(**kw)
    s = electrode((256, 256), 2, p)
    porosity = float(np.mean(s.labels == 0))
    assert abs(porosity - p.porosity) <= (1 / 256**2 if p.cbd_fraction > 0 else 0.005)
    if p.cbd_fraction > 0:
        assert abs(float(np.mean(s.labels == 2)) - p.cbd_fraction) < 0.02
        assert s.phases == ("pore", "active", "carbon_binder")
    else:
        assert s.phases == ("pore", "active")


def test_electrode_dense_packing_completes() -> None:
    """Near-jammed targets finish (particles grow into the last holes), porosity exact."""
    p = ElectrodeParams(porosity=0.06, cbd_fraction=0.02, internal_porosity=0.0,
                        roughness=2.5, aspect_ratio=3.0, max_overlap=0.0)
    s = electrode((96, 96), 0, p)
    assert abs(float(np.mean(s.labels == 0)) - 0.06) <= 1 / 96**2
    np.testing.assert_array_equal(s.maps["particle_id"] > 0, s.labels == 1)


@pytest.mark.parametrize(("mean", "cv"), [(8.0, 0.45), (6.0, 0.2)])
def test_electrode_size_distribution(mean: float, cv: float) -> None:
    """Placed particles follow the requested lognormal radii: mean within 7 %, coefficient
    of variation within 0.07; for smooth, dense particles the equivalent-circle radii
    measured on the instance map (away from the border; overlaps trim them) have a mean
    within 12 %. (Roughness and internal pores remove area from the drawn outline.)"""
    p = ElectrodeParams(radius_mean=mean, radius_cv=cv, roughness=0, internal_porosity=0)
    drawn, measured = [], []
    for seed in range(3):
        s = electrode((320, 320), seed, p)
        drawn += s.info["radii"]
        pid = s.maps["particle_id"]
        area = np.bincount(pid.ravel())[1:]
        border = np.unique(np.concatenate([pid[0], pid[-1], pid[:, 0], pid[:, -1]]))
        keep = np.setdiff1d(np.arange(1, pid.max() + 1), border)
        measured += list(np.sqrt(area[keep - 1] / np.pi))
        # instance map agrees with the active phase
        np.testing.assert_array_equal(pid > 0, s.labels == 1)
    d = np.asarray(drawn)
    assert abs(d.mean() / mean - 1) < 0.07
    assert abs(d.std() / d.mean() - cv) < 0.07
    assert abs(np.mean(measured) / mean - 1) < 0.12


def test_electrode_particles_irregular() -> None:
    """Particles are not discs: solidity (area / convex-hull area) spreads below 1."""
    from skimage.measure import regionprops

    s = electrode((256, 256), 0, ElectrodeParams(radius_mean=12, irregularity=0.25))
    sol = [r.solidity for r in regionprops(s.maps["particle_id"]) if r.area > 100]
    ecc = [r.eccentricity for r in regionprops(s.maps["particle_id"]) if r.area > 100]
    assert np.median(sol) < 0.99 and np.median(ecc) > 0.3


def test_electrode_alignment() -> None:
    """Calendered flakes: with alignment 1 the long axes lie along the rows."""
    from skimage.measure import regionprops

    p = ElectrodeParams(radius_mean=10, aspect_ratio=3.0, irregularity=0.05, alignment=1.0)
    s = electrode((256, 256), 0, p)
    props = [r for r in regionprops(s.maps["particle_id"]) if r.area > 150]
    # skimage orientation: angle between rows axis and the major axis; +-pi/2 is horizontal
    assert np.median(np.abs(np.abs([r.orientation for r in props]) - np.pi / 2)) < 0.2


def test_electrode_cbd_in_necks() -> None:
    """The carbon-binder sits closer to particles than the pore space does on average."""
    from scipy import ndimage

    s = electrode((256, 256), 4)
    dist = ndimage.distance_transform_edt(s.labels != 1)
    assert dist[s.labels == 2].mean() < 0.6 * dist[s.labels == 0].mean()


def test_jelly_roll_geometry() -> None:
    p = JellyRollParams(turns=10)
    s = jelly_roll((512, 512), 3, p)
    assert s.info["turns"] == 10
    um = s.info["um_per_px"]
    assert um == pytest.approx(21000 / (0.94 * 512))
    # can wall thickness along a row through the centre
    row = s.labels[256]
    can = np.flatnonzero(row == 1)
    left = can[can < 256]
    assert abs(len(left) - 250 / um) <= 1.5
    # every winding phase is present; the hollow core is void
    assert set(np.unique(s.labels)) == set(range(7))
    assert s.labels[250:262, 250:262].max() == 0
    # along a radius there is one copper foil per turn (the anode starts a quarter turn
    # in and ends 0.1 turn early); foils are resolved at this scale (about 1.7 px)
    big = jelly_roll((1024, 1024), 3, JellyRollParams(turns=6))
    ray = big.labels[512, 512:]
    foils = np.flatnonzero(np.diff((ray == 4).astype(int)) == 1)
    assert len(foils) in (5, 6, 7)
    pitch = np.diff(foils).mean()
    assert pitch == pytest.approx(big.info["pitch_px"], rel=0.1)


def test_jelly_roll_real_turns() -> None:
    """With real 21700 thicknesses (pitch 334 um), 27 turns fit between a 2 mm core and
    the can (inner radius 10.25 mm): (10250 - 1000) / 334 = 27.7."""
    s = jelly_roll((2048, 2048), 0, JellyRollParams())
    assert s.info["turns"] == 27


def test_catalyst_fractions_and_distribution() -> None:
    for structure in ("lattice", "packed"):
        p = CatalystParams(structure=structure, active_fractions=(0.2, 0.1))
        s = catalyst((256, 256), 1, p)
        fr = s.info["phase_fractions_of_solid"]
        assert fr[1] == pytest.approx(0.2, abs=1e-3) and fr[2] == pytest.approx(0.1, abs=1e-3)
        assert s.phases == ("void", "alumina", "nio", "nickel")
    from scipy import ndimage

    def shell_ratio(dist: str) -> float:
        s = catalyst((256, 256), 2, CatalystParams(distribution=dist))
        solid = s.labels > 0
        depth = ndimage.distance_transform_edt(solid)
        active = s.labels >= 2
        return float(depth[active].mean() / depth[solid].mean())

    assert shell_ratio("eggshell") < 0.85 < shell_ratio("uniform") < 1.15 < shell_ratio("eggyolk")


def test_catalyst_needs_attenuation_for_unknown_phase() -> None:
    with pytest.raises(InvalidInputError, match="attenuation"):
        catalyst((64, 64), 0, CatalystParams(phases=("ceria", "pt"), active_fractions=(0.1,)))
    s = catalyst((64, 64), 0, CatalystParams(phases=("ceria", "pt"), active_fractions=(0.1,),
                                             attenuation=(0.0, 10.0, 100.0)))
    assert s.info["attenuation"] == [0.0, 10.0, 100.0]


def test_shepp_logan_matches_scikit_image() -> None:
    """At 400 px the rasterised ellipses equal skimage's shepp_logan_phantom() (Toft's
    modified phantom) except on ellipse boundaries and skimage's rounded 0.098/0.298
    levels: fewer than 1 % of pixels differ by more than 0.02."""
    from skimage.data import shepp_logan_phantom

    ref = shepp_logan_phantom()
    s = shepp_logan((400, 400))
    assert np.mean(np.abs(s.image - ref) > 0.02) < 0.01
    assert len(s.phases) == 6


def test_random_shapes_labels_inside_boxes() -> None:
    s = random_shapes((128, 128), 3)
    drawn = s.info["shapes"]
    assert drawn
    covered = np.zeros((128, 128), dtype=bool)
    for d in drawn:
        (r0, r1), (c0, c1) = d["bbox"]
        covered[r0:r1, c0:c1] = True
    assert not np.any((s.labels > 0) & ~covered)
    assert set(np.unique(s.labels)) <= set(range(len(SHAPE_PHASES)))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: electrode((8, 64), 0), "shape"),
        (lambda: electrode((64,), 0), "shape"),
        (lambda: electrode((64, 64), "x"), "rng"),  # type: ignore[arg-type]
        (lambda: electrode((64, 64), 0, ElectrodeParams(attenuation=(0.0, 1.0))), "attenuation"),
        (lambda: electrode((64, 64), 0, ElectrodeParams(attenuation=(0, -1, 1))), "attenuation"),
        (lambda: tomokit.load("phantom", "electrode", porosity=0.9, cbd_fraction=0.1), "porosity"),
        (lambda: tomokit.load("phantom", "electrode", bogus=1), "bogus"),
        (lambda: tomokit.load("phantom", "electrode", porosity=0.1, internal_porosity=0.3),
         "internal_porosity"),
        (lambda: tomokit.load("phantom", "electrode", porosity=0.05, cbd_fraction=0.0,
                              internal_porosity=0.1), "internal"),
        (lambda: tomokit.load("phantom", "catalyst", active_fractions=(0.1,)), "active_fractions"),
        (lambda: jelly_roll((64, 64), 0, JellyRollParams(turns=100)), "turns"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_registered_and_pipeline_step() -> None:
    for name in GENERATORS:
        comp = tomokit.load("phantom", name, size=40, count=2)
        out = comp.run_step({}, rng=np.random.default_rng(0))
        assert out["image"].shape == (2, 40, 40) and out["labels"].shape == (2, 40, 40)


def test_mixture_rule_against_xcom_water() -> None:
    """Water from its elements by the mixture rule gives the NIST XCOM water values,
    0.3756 cm2/g at 30 keV and 0.1707 cm2/g at 100 keV (Hubbell & Seltzer tables)."""
    assert mass_attenuation({"H": 2, "O": 1}, 30.0) == pytest.approx(0.3756, rel=2e-3)
    assert mass_attenuation({"H": 2, "O": 1}, 100.0) == pytest.approx(0.1707, rel=2e-3)
    assert linear_attenuation("water", 100.0) == pytest.approx(0.1707, rel=2e-3)
    with pytest.raises(InvalidInputError, match="energy"):
        linear_attenuation("water", 50.0)
