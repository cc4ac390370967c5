"""Acquisition simulation: forward projection and sinogram distortions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError, Sinogram
from tomokit_recon import reconstruction_metrics, simulate_sinogram

NAMES = ["photon_noise", "detector_gain", "dead_pixels", "undersample", "detector_blur"]


def test_forward_project_matches_astra(phantom48: np.ndarray) -> None:
    import astra

    fp = tomokit.load("projector", "forward_project", n_angles=30, projector="strip")
    assert isinstance(fp, tomokit.Projector)
    sino = fp.run_step({"image": phantom48}, rng=np.random.default_rng(0))
    assert isinstance(sino, Sinogram) and sino.data.shape == (30, 48)
    np.testing.assert_allclose(np.rad2deg(sino.angles), np.arange(0, 180, 6), atol=1e-9)
    vg = astra.create_vol_geom(48, 48)
    pg = astra.create_proj_geom("parallel", 1.0, 48, sino.angles)
    pid = astra.create_projector("strip", pg, vg)
    try:
        sid, ref = astra.create_sino(phantom48, pid)
        astra.data2d.delete(sid)
    finally:
        astra.projector.delete(pid)
    np.testing.assert_allclose(sino.data, ref, rtol=1e-6, atol=1e-5)


def test_forward_project_params(phantom48: np.ndarray) -> None:
    s = simulate_sinogram(phantom48, n_angles=40, angle_range_deg=360.0, n_detectors=64)
    assert s.data.shape == (40, 64)
    assert np.isclose(s.angles[-1], np.deg2rad(351.0))
    # Line integrals: every projection of a parallel beam carries the same total mass.
    totals = s.data.sum(axis=1)
    np.testing.assert_allclose(totals, phantom48.sum(), rtol=2e-3)
    with pytest.raises(InvalidInputError, match="square"):
        simulate_sinogram(np.ones((10, 12)))
    fp = tomokit.load("projector", "forward_project", n_angles=40)
    np.testing.assert_array_equal(fp.project(phantom48).data, simulate_sinogram(phantom48, n_angles=40).data)
    with pytest.raises(InvalidInputError, match="already a sinogram"):
        fp.run_step({"image": s}, rng=np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="2-D image"):
        fp.run_step({"image": np.ones((2, 8, 8))}, rng=np.random.default_rng(0))


def test_forward_project_is_no_longer_a_distortion() -> None:
    """The old kind fails, and the message names the new place."""
    with pytest.raises(tomokit.PluginError, match="forward_project"):
        tomokit.load("distortion", "forward_project")


@pytest.mark.parametrize("name", NAMES)
def test_levels_deterministic_and_monotonic(sino48: Sinogram, name: str) -> None:
    dist = tomokit.load("distortion", name)
    assert dist.domain == "sinogram"
    before = sino48.data.copy()
    outs = [dist.apply(sino48, level, np.random.default_rng(7)) for level in range(1, 6)]
    np.testing.assert_array_equal(sino48.data, before)  # input untouched
    again = dist.apply(sino48, 3, np.random.default_rng(7))
    np.testing.assert_array_equal(again.data, outs[2].data)
    assert all(isinstance(o, Sinogram) for o in outs)
    if name == "undersample":
        counts = [o.n_angles for o in outs]
        assert counts == [45, 30, 23, 15, 12]
        np.testing.assert_array_equal(outs[0].angles, sino48.angles[::2])
        return
    # The FBP error grows with the level (dead pixels: 48 detectors round levels 1..3 to one
    # pixel, so there it may stay equal).
    fbp = tomokit.load("reconstructor", "fbp")
    truth = fbp.reconstruct(sino48)
    errs = [reconstruction_metrics(truth, fbp.reconstruct(o), data_range=1.0)["mse"]
            for o in outs]
    strict = name != "dead_pixels"
    assert all(b > a or (not strict and b == a) for a, b in itertools.pairwise(errs)), errs
    assert errs[-1] > 2 * errs[0]


def test_photon_noise_statistics(sino48: Sinogram) -> None:
    """The variance of p' is 1 / (scale^2 I0 exp(-scale p)) (Poisson, first order)."""
    flat = Sinogram(data=np.full((200, 64), 0.5, np.float32), angles=np.linspace(0, 3, 200))
    scale = 2.0
    out = tomokit.load("distortion", "photon_noise", i0=1e4, scale=scale).apply(
        flat, None, np.random.default_rng(1))
    expected_var = 1.0 / (scale**2 * 1e4 * np.exp(-scale * 0.5))
    assert np.isclose(out.data.var(), expected_var, rtol=0.05)
    assert np.isclose(out.data.mean(), 0.5, atol=3 * np.sqrt(expected_var / out.data.size) + 1e-4)


def test_gain_makes_column_constant_offsets(sino48: Sinogram) -> None:
    out = tomokit.load("distortion", "detector_gain", sigma=0.02).apply(sino48, None, 3)
    diff = out.data - sino48.data
    np.testing.assert_allclose(diff, np.broadcast_to(diff[0], diff.shape), atol=1e-5)
    assert np.std(diff[0]) > 0


def test_dead_pixels(sino48: Sinogram) -> None:
    out = tomokit.load("distortion", "dead_pixels", fraction=0.1).apply(sino48, None, 0)
    cols = out.extra["defective_pixels"]
    assert len(cols) == 5
    assert np.all(out.data[:, cols] == 0)
    hot = tomokit.load("distortion", "dead_pixels", level=1, mode="hot").apply(sino48, None, 0)
    assert np.all(hot.data[:, hot.extra["defective_pixels"]] == sino48.data.max())


def test_blur_preserves_mass(sino48: Sinogram) -> None:
    out = tomokit.load("distortion", "detector_blur", sigma=1.5).apply(sino48)
    # Nearly: `nearest` edges add a little where the projection touches the border.
    np.testing.assert_allclose(out.data.sum(axis=1), sino48.data.sum(axis=1), rtol=5e-3)


def test_pipeline_style_chain(phantom48: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    sino = tomokit.load("projector", "forward_project", n_angles=60).run_step(
        {"image": phantom48}, rng=rng)
    for name, params in [("photon_noise", {"level": 2}), ("undersample", {"level": 1})]:
        sino = tomokit.load("distortion", name, **params).run_step({"image": sino}, rng=rng)
    assert sino.n_angles == 30
    rec = tomokit.load("reconstructor", "sirt", iterations=50).run_step({"sinogram": sino}, rng=rng)
    assert reconstruction_metrics(phantom48, rec)["ssim"] > 0.5


def test_errors(sino48: Sinogram) -> None:
    with pytest.raises(InvalidInputError, match="Sinogram"):
        tomokit.load("distortion", "photon_noise").apply(np.ones((8, 8)))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="level"):
        tomokit.load("distortion", "photon_noise", level=6)
    with pytest.raises(InvalidInputError, match="start"):
        tomokit.load("distortion", "undersample", start=100).apply(sino48)
