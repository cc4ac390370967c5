"""Acquired slices through tomokit-recon's registered components."""

from __future__ import annotations

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_phantom import acquire, generate

pytest.importorskip("tomokit_recon")
pytest.importorskip("astra")

CLEAN = {"i0": None, "gain_sigma": 0.0, "blur_sigma": 0.0}


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean() / np.abs(b).mean())


def test_clean_scan_reconstructs_the_phantom() -> None:
    s = generate("shepp_logan", 96, 0)
    before = s.image.copy()
    a = acquire(s, CLEAN, rng=0)
    assert a.image.shape == (96, 96) and a.image.dtype == np.float32
    # FBP of noise-free data is calibrated: the brain (0.2/cm) comes back within 5 %
    brain = s.labels == 2
    assert float(a.image[brain].mean()) == pytest.approx(0.2, rel=0.05)
    assert np.corrcoef(a.image.ravel(), s.image.ravel())[0, 1] > 0.95
    np.testing.assert_array_equal(s.image, before)  # input untouched
    assert a.clean is s.image and a.labels is s.labels and a.phases == s.phases
    assert a.info["effects"] == []


def test_effects_degrade_and_are_seeded() -> None:
    s = generate("electrode", 64, 1)
    ref = acquire(s, CLEAN, rng=0).image  # the noise-free reconstruction
    noisy = acquire(s, {**CLEAN, "i0": 1e3}, rng=0)
    np.testing.assert_array_equal(noisy.image, acquire(s, {**CLEAN, "i0": 1e3}, rng=0).image)
    assert not np.array_equal(noisy.image, acquire(s, {**CLEAN, "i0": 1e3}, rng=1).image)
    errs = [_rel_err(acquire(s, {**CLEAN, "i0": i0}, rng=0).image, ref) for i0 in (1e5, 1e4, 1e3)]
    assert 0 < errs[0] < errs[1] < errs[2]
    # gain errors make rings: most of the change is a function of the radius alone
    diff = acquire(s, {**CLEAN, "gain_sigma": 0.05}, rng=0).image - ref
    yy, xx = np.mgrid[:64, :64]
    r = np.round(np.hypot(yy - 31.5, xx - 31.5)).astype(int)
    inside = r < 30
    profile = np.bincount(r[inside], diff[inside]) / np.maximum(np.bincount(r[inside]), 1)
    assert np.var(profile[r[inside]]) > 0.4 * np.var(diff[inside])
    under = acquire(s, {**CLEAN, "undersample": 4, "n_angles": 100}, rng=0)
    assert under.info["n_angles_used"] == 25
    assert _rel_err(under.image, ref) > 0.05
    blurred = acquire(s, {**CLEAN, "blur_sigma": 2.0}, rng=0).image
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(ref, axis=1)).mean()
    default = acquire(s, rng=0)
    assert default.info["effects"] == ["detector_blur", "detector_gain", "photon_noise"]


def test_physical_units_from_pixel_size() -> None:
    """jelly_roll knows its pixel size: the noise model sees the true attenuation."""
    s = generate("jelly_roll", 64, 0)
    a = acquire(s, CLEAN, rng=0)
    assert a.info["pixel_size_um"] == pytest.approx(s.info["um_per_px"])
    # the densest ray of a 21700 at 100 keV attenuates by about 2 (13 % transmission)
    assert 1.0 < a.info["max_attenuation"] < 4.0


def test_other_reconstructor_and_bad_input() -> None:
    s = generate("electrode", 48, 0)
    a = acquire(s, {**CLEAN, "reconstructor": "sirt", "reconstructor_params": {"iterations": 30}})
    assert _rel_err(a.image, s.image) < 0.5
    with pytest.raises(InvalidInputError, match="i0"):
        acquire(s, i0=-1)
    with pytest.raises(InvalidInputError, match="square"):
        acquire(generate("electrode", (48, 64), 0))
    with pytest.raises(InvalidInputError, match="PhantomSample"):
        acquire(s.image)  # type: ignore[arg-type]


def test_task() -> None:
    task = tomokit.load("task", "acquired_slices", phantom="catalyst", size=48, count=2,
                        i0=3e3)
    out = task.run_step({}, rng=np.random.default_rng(0))
    assert out["image"].shape == out["clean"].shape == out["labels"].shape == (2, 48, 48)
    assert out["phases"] == "void,alumina,nio,nickel"


def test_chemical_pair_with_scanned_absorption() -> None:
    task = tomokit.load("task", "chemical_pair", size=32, factor=4, channels=20,
                        acquisition={"i0": 1e3})
    out = task.run_step({}, rng=np.random.default_rng(0))
    assert out["absorption"].shape == out["absorption_clean"].shape == (32, 32)
    assert not np.array_equal(out["absorption"], out["absorption_clean"])
    np.testing.assert_array_equal(
        out["absorption_clean"],
        np.asarray([0.0, 0.357, 2.548, 3.955], np.float32)[out["labels"]],
    )
