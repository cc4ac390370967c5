"""Chemical (XRD-CT-like) cubes: peak positions, mixing, the low/high-resolution pair."""

from __future__ import annotations

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_phantom import generate
from tomokit_phantom.chemical import (
    bragg_peaks,
    chemical_pair,
    diffraction_patterns,
    q_to_two_theta,
)

CU_KA = 1.5406  # angstrom


@pytest.mark.parametrize(
    ("args", "published"),
    [
        # JCPDS/ICDD PDF 04-0850, nickel: (111) (200) (220)
        (("fcc", 3.524), [44.51, 51.85, 76.37]),
        # PDF 47-1049, NiO (bunsenite): (111) (200) (220)
        (("rocksalt", 4.177, 28, 8), [37.25, 43.28, 62.88]),
        # PDF 34-0394, CeO2: (111) (200) (220)
        (("fluorite", 5.411, 58, 8), [28.55, 33.08, 47.48]),
    ],
)
def test_peak_positions_match_powder_files(args: tuple, published: list[float]) -> None:
    """2-theta at Cu K-alpha of the first three reflections within 0.05 degrees."""
    peaks = bragg_peaks(*args, q_max=6.0)
    two_theta = [float(q_to_two_theta(2 * np.pi / d, CU_KA)) for d, _ in peaks[:3]]
    np.testing.assert_allclose(two_theta, published, atol=0.05)


def test_relative_intensities_follow_structure_factors() -> None:
    """NiO: (200) strongest and I(111)/I(200) near the tabulated 0.61 (PDF 47-1049);
    CeO2: (111) strongest (PDF 34-0394)."""
    nio = bragg_peaks("rocksalt", 4.177, 28, 8, q_max=6.0)
    assert nio[1][1] == 100.0 and 0.5 < nio[0][1] / nio[1][1] < 0.75
    ceo2 = bragg_peaks("fluorite", 5.411, 58, 8, q_max=6.0)
    assert ceo2[0][1] == 100.0


def test_patterns_normalised_and_user_override() -> None:
    q = np.linspace(1, 6, 200)
    pats = diffraction_patterns(("void", "nickel", "mystery"), q)
    assert pats[0].sum() == 0
    np.testing.assert_allclose(pats[1:].sum(axis=1), 1.0, rtol=1e-6)
    # the nickel (111) peak is where q = 2 pi / d puts it
    assert abs(q[np.argmax(pats[1])] - 2 * np.pi / (3.524 / np.sqrt(3))) < 0.03
    # unknown names get deterministic synthetic peaks
    np.testing.assert_array_equal(pats[2], diffraction_patterns(("mystery",), q)[0])
    user = np.exp(-0.5 * ((q - 2.0) / 0.05) ** 2)
    got = diffraction_patterns(("void", "nickel"), q, patterns={"nickel": user})
    np.testing.assert_allclose(got[1], user / user.sum(), rtol=1e-6)
    with pytest.raises(InvalidInputError, match="patterns"):
        diffraction_patterns(("nickel",), q, patterns={"nickel": user[:10]})
    with pytest.raises(InvalidInputError, match="no phase"):
        diffraction_patterns(("nickel",), q, patterns={"gold": user})


def test_cube_sums_back_to_concentration_maps() -> None:
    s = generate("catalyst", 128, 0)
    r = chemical_pair(s, factor=4)
    assert r.chem_phases == ("alumina", "nio", "nickel")
    assert r.cube_low.shape == (32, 32, 128) and r.maps_low.shape == (3, 32, 32)
    # summing over channels gives the summed maps (patterns have unit sum)
    np.testing.assert_allclose(r.cube_low.sum(-1), r.maps_low.sum(0), atol=1e-5)
    high = r.cube_high()
    assert high.shape == (128, 128, 128)
    np.testing.assert_allclose(high.sum(-1), r.maps_high.sum(0), atol=1e-5)
    # unmixing with the known patterns recovers every concentration map
    coef, *_ = np.linalg.lstsq(r.patterns.T.astype(np.float64),
                               r.cube_low.reshape(-1, 128).T.astype(np.float64), rcond=None)
    np.testing.assert_allclose(coef.reshape(3, 32, 32), r.maps_low, atol=1e-4)
    # maps are exact: one-hot at full resolution, block means at low resolution
    np.testing.assert_array_equal(r.maps_high[1], (s.labels == 2).astype(np.float32))
    np.testing.assert_allclose(r.maps_low[1, 3, 5], r.maps_high[1, 12:16, 20:24].mean())
    np.testing.assert_array_equal(r.absorption, s.image)
    # the low-resolution cube is the block mean of the high-resolution one
    blocks = high.reshape(32, 4, 32, 4, 128).mean(axis=(1, 3))
    np.testing.assert_allclose(r.cube_low, blocks, atol=1e-6)


def test_noise_is_seeded_and_unbiased() -> None:
    s = generate("electrode", 64, 0)
    a = chemical_pair(s, factor=4, counts=1e4, rng=1)
    b = chemical_pair(s, factor=4, counts=1e4, rng=1)
    clean = chemical_pair(s, factor=4)
    np.testing.assert_array_equal(a.cube_low, b.cube_low)
    assert not np.array_equal(a.cube_low, clean.cube_low)
    assert abs(a.cube_low.sum() / clean.cube_low.sum() - 1) < 0.01
    assert a.chem_phases == ("active", "carbon_binder")


def test_bad_input() -> None:
    s = generate("electrode", 64, 0)
    with pytest.raises(InvalidInputError, match="divisible"):
        chemical_pair(s, factor=5)
    with pytest.raises(InvalidInputError, match="factor"):
        chemical_pair(s, factor=0)
    with pytest.raises(InvalidInputError, match="PhantomSample"):
        chemical_pair(np.zeros((8, 8)))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="counts"):
        chemical_pair(s, counts=-1)
    with pytest.raises(InvalidInputError, match="size"):
        tomokit.load("task", "chemical_pair", size=130, factor=4)


def test_task() -> None:
    task = tomokit.load("task", "chemical_pair", size=64, factor=4, channels=50, count=2,
                        high_cube=True, phantom="electrode", phantom_params={"porosity": 0.4})
    out = task.run_step({}, rng=np.random.default_rng(0))
    assert out["absorption"].shape == (2, 64, 64)
    assert out["chemical_low"].shape == (2, 16, 16, 50)
    assert out["maps_high"].shape == (2, 2, 64, 64)
    assert out["chemical_high"].shape == (2, 64, 64, 50)
    assert out["phases"] == "active,carbon_binder"
    flat = [1.0] * 50
    task2 = tomokit.load("task", "chemical_pair", size=32, factor=4, channels=50,
                         phantom="electrode", patterns={"active": flat},
                         crystallite_nm={"carbon_binder": 5.0})
    out2 = task2.run_step({}, rng=np.random.default_rng(0))
    np.testing.assert_allclose(out2["patterns"][0], 1 / 50, rtol=1e-6)
