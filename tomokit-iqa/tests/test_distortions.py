"""Distortions against the crops made by the TomoIQA paper's own code.

Data: ``tests/data/tomoiqa-sample/distorted/195_B_N_R.bmp`` (Zhang et al., npj Comput.
Mater. 2022, TomoIQA repository, Apache-2.0); parameters from its ``add_distortion.py``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_iqa.distortions import (
    BLUR_SIGMAS,
    NOISE_VARIANCES,
    RING_COEFFICIENTS,
    GaussianBlur,
    GaussianNoise,
    RingArtifact,
    ring_radii,
)

DATA = Path(__file__).parent / "data" / "tomoiqa-sample" / "distorted"
LEVELS = [1, 2, 3, 4, 5]


def _bmp(name: str) -> np.ndarray:
    return iio.imread(DATA / name).astype(np.float64)


@pytest.fixture(scope="module")
def ref() -> np.ndarray:
    return _bmp("195_0_0_0.bmp") / 255.0


def test_level_tables_are_the_papers() -> None:
    # TomoIQA add_distortion.py: blur_sigma, noise_variance, coefficients
    assert BLUR_SIGMAS == (1.2, 2.5, 6.5, 15.2, 33.2)
    assert NOISE_VARIANCES == (0.001, 0.006, 0.022, 0.088, 1.00)
    assert RING_COEFFICIENTS == (0.10, 0.13, 0.15, 0.18, 0.20)


def test_registered_names_resolve() -> None:
    assert isinstance(tomokit.load("distortion", "blur"), GaussianBlur)
    assert isinstance(tomokit.load("distortion", "noise"), GaussianNoise)
    assert isinstance(tomokit.load("distortion", "ring"), RingArtifact)


@pytest.mark.parametrize("k", LEVELS)
def test_blur_reproduces_paper_crops(ref: np.ndarray, k: int) -> None:
    # Checked fact (shared data README): blur of 195_0_0_0 equals 195_k_0_0 within 1 grey level.
    out = GaussianBlur().apply(ref, k) * 255.0
    expected = _bmp(f"195_{k}_0_0.bmp")
    assert np.abs(np.rint(out) - expected).max() <= 1.0


def test_blur_continuous_sigma_and_level_agree(ref: np.ndarray) -> None:
    a = GaussianBlur(sigma=6.5).apply(ref)
    b = GaussianBlur(level=3).apply(ref)
    c = GaussianBlur().apply(ref, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)
    assert not np.allclose(GaussianBlur(sigma=1.0).apply(ref), a)


def _paper_noise_residual_var(k: int) -> float:
    return float(np.var(_bmp(f"195_0_{k}_0.bmp") - _bmp("195_0_0_0.bmp")))


@pytest.mark.parametrize("k", LEVELS)
def test_noise_residual_variance_matches_paper(ref: np.ndarray, k: int) -> None:
    # The paper crops are clipped to [0, 1] and truncated to 8 bit; do the same to ours and
    # compare the residual variance (the nominal variance is far larger than the clipped one).
    noise = GaussianNoise()
    ours = []
    for seed in range(4):
        out = np.floor(noise.apply(ref, k, rng=seed) * 255.0)
        ours.append(np.var(out - ref * 255.0))
    paper = _paper_noise_residual_var(k)
    assert np.mean(ours) == pytest.approx(paper, rel=0.04)
    assert paper < NOISE_VARIANCES[k - 1] * 255.0**2  # clipping matters: not the nominal value


def test_noise_without_clipping_has_nominal_variance() -> None:
    img = np.full((256, 256), 0.5)
    out = GaussianNoise(variance=0.01, clip=False).apply(img, rng=0)
    assert np.var(out - img) == pytest.approx(0.01, rel=0.03)
    assert abs(np.mean(out - img)) < 0.003


def test_noise_scales_with_data_range() -> None:
    img = np.full((256, 256), 1000.0)
    out = GaussianNoise(level=1, data_range=2000.0, clip=False).apply(img, rng=1)
    assert np.var(out - img) == pytest.approx(0.001 * 2000.0**2, rel=0.03)
    clipped = GaussianNoise(level=5, data_range=2000.0).apply(img, rng=1)
    assert clipped.min() == 0.0 and clipped.max() == 2000.0


def _ring_profile(distorted: np.ndarray, reference: np.ndarray) -> dict[int, float]:
    """Median ratio distorted/reference per integer distance from the centre (112, 112)."""
    yy, xx = np.mgrid[:224, :224]
    dist = np.floor(np.sqrt((yy - 112.0) ** 2 + (xx - 112.0) ** 2)).astype(int)
    usable = (reference > 30) & (reference < 200)  # away from 0 and from clipping
    prof = {}
    for r in range(0, 158):
        sel = usable & (dist == r)
        if sel.sum() >= 3:
            prof[r] = float(np.median(distorted[sel] / reference[sel]))
    return prof


def _detect_rings(k: int) -> tuple[list[int], list[float]]:
    ref8, out8 = _bmp("195_0_0_0.bmp"), _bmp(f"195_0_0_{k}.bmp")
    prof = _ring_profile(out8, ref8)
    c = RING_COEFFICIENTS[k - 1]
    rings = sorted(r for r, v in prof.items() if abs(v - 1.0) > c / 2)
    starts = [r for r in rings if r - 1 not in rings]
    return starts, [prof[r] for r in starts]


@pytest.mark.parametrize("k", LEVELS)
def test_ring_paper_crops_geometry_and_ratio(k: int) -> None:
    c = RING_COEFFICIENTS[k - 1]
    starts, ratios = _detect_rings(k)
    ref8, out8 = _bmp("195_0_0_0.bmp"), _bmp(f"195_0_0_{k}.bmp")
    prof = _ring_profile(out8, ref8)
    # 2 px wide: exactly two consecutive unit distance bins per ring
    for r in starts[:-1]:
        assert abs(prof[r + 1] - prof[r]) < 0.02 and abs(prof[r + 2] - 1.0) < 0.02
    # alternating dark / bright, first dark, by the factor 1 -/+ c (8-bit quantisation)
    for i, ratio in enumerate(ratios):
        assert ratio == pytest.approx(1.0 - c if i % 2 == 0 else 1.0 + c, abs=0.012)
    # add_distortion.py geometry: first ring at 20 px, steps 5..25 px
    assert starts[0] == 20
    assert all(5 <= b - a <= 25 for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize("k", LEVELS)
def test_ring_reproduces_paper_crop_with_its_radii(k: int) -> None:
    starts, _ = _detect_rings(k)
    ref = _bmp("195_0_0_0.bmp") / 255.0
    ring = RingArtifact(level=k, radii=tuple(float(r) for r in starts), max_radius=400)
    out = np.rint(ring.apply(ref) * 255.0)
    err = np.abs(out - _bmp(f"195_0_0_{k}.bmp"))
    # the outermost ring may be cut by the crop corner and be missed by the detection
    assert np.mean(err <= 1.0) > 0.999
    assert np.median(err) == 0.0


def test_ring_counts_match_paper_settings() -> None:
    # The number of rings inside the 224 crop made by add_distortion.py (start 20, steps
    # 5..25, up to 400 px) is within what our generator draws with the same settings.
    counts = [
        np.count_nonzero(
            ring_radii(seed, start=20, min_step=5, max_step=25, max_radius=400, max_rings=50)
            < 158
        )
        for seed in range(500)
    ]
    lo, hi = np.percentile(counts, [0.5, 99.5])
    for k in LEVELS:
        n = len(_detect_rings(k)[0])
        assert lo - 1 <= n <= hi


def test_ring_default_geometry() -> None:
    for seed in range(50):
        radii = ring_radii(seed)
        assert radii[0] == 5.0 and radii[-1] <= 100.0 and len(radii) <= 20
        steps = np.diff(radii)
        assert np.all((steps >= 3) & (steps <= 10)) and np.all(steps == np.round(steps))


def test_ring_factor_alternates_and_is_two_pixels_wide() -> None:
    ring = RingArtifact(c=0.2, radii=(10.0, 20.0, 30.0))
    img = np.full((101, 101), 0.5)
    out = ring.apply(img)
    row = out[50, 50:]  # from the centre (50, 50) outwards
    np.testing.assert_allclose(row[10:12], 0.4)
    np.testing.assert_allclose(row[20:22], 0.6)
    np.testing.assert_allclose(row[30:32], 0.4)
    np.testing.assert_allclose(row[[9, 12, 19, 22, 29, 32]], 0.5)
    bright = RingArtifact(c=0.2, radii=(10.0,), first="bright").apply(img)
    assert bright[50, 60] == pytest.approx(0.6)


def test_ring_centre_and_scaling() -> None:
    img = np.full((64, 64), 0.5)
    out = RingArtifact(c=0.1, radii=(3.0,), center=(10.0, 10.0)).apply(img)
    assert out[10, 13] == pytest.approx(0.45) and out[32, 35] == 0.5
    big = RingArtifact(c=0.1, scale_to_size=True)
    radii = big.draw_radii((896, 896), rng=0)
    assert radii[0] == pytest.approx(20.0) and radii[-1] <= 400.0 and len(radii) >= 2


def test_ring_clips_to_data_range() -> None:
    img = np.full((64, 64), 250.0)
    out = RingArtifact(c=0.2, radii=(5.0, 10.0), data_range=255.0).apply(img)
    assert out.max() == 255.0 and out.min() == pytest.approx(200.0)


@pytest.mark.parametrize(
    "dist", [GaussianBlur(level=2), GaussianNoise(level=2), RingArtifact(level=2)]
)
def test_deterministic_batch_and_input_untouched(dist: tomokit.Distortion) -> None:
    rng0 = np.random.default_rng(5)
    img = rng0.uniform(0, 1, (3, 48, 40)).astype(np.float32)
    before = img.copy()
    a = dist.apply(img, rng=7)
    b = dist.apply(img, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(img, before)
    np.testing.assert_array_equal(a, b)
    assert a.shape == img.shape and a.dtype == np.float32
    single = dist.apply(img[0], rng=7)
    assert single.shape == (48, 40)
    if isinstance(dist, GaussianBlur):  # blur acts per slice
        np.testing.assert_allclose(a[1], dist.apply(img[1]), rtol=1e-6)


def test_pipeline_step_uses_params_level() -> None:
    img = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    blur = tomokit.load("distortion", "blur", level=2)
    out = blur.run_step({"image": img}, rng=np.random.default_rng(0))
    np.testing.assert_allclose(out, GaussianBlur().apply(img, 2), rtol=1e-6)


def test_integer_input_is_accepted() -> None:
    img = (np.arange(32 * 32) % 256).reshape(32, 32).astype(np.uint8)
    out = GaussianNoise(level=1, data_range=255.0).apply(img, rng=0)
    assert out.dtype == np.float32 and out.max() <= 255.0


@pytest.mark.parametrize(
    "bad",
    [np.zeros((0, 4)), np.array([[np.nan, 1.0]]), np.zeros(5), np.zeros((2, 2, 2, 2)), "x"],
)
def test_bad_images(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        GaussianBlur(level=1).apply(bad)  # type: ignore[arg-type]


def test_bad_params_and_levels() -> None:
    with pytest.raises(InvalidInputError):
        tomokit.load("distortion", "blur", level=6)
    with pytest.raises(InvalidInputError):
        tomokit.load("distortion", "blur", level=2, sigma=3.0)
    with pytest.raises(InvalidInputError):
        tomokit.load("distortion", "ring", min_step=5, max_step=3)
    with pytest.raises(InvalidInputError, match="level"):
        GaussianBlur().apply(np.zeros((8, 8)), 0)
    with pytest.raises(InvalidInputError, match="rng"):
        GaussianNoise().apply(np.zeros((8, 8)), 1, rng="seed")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [GaussianBlur, GaussianNoise, RingArtifact])
def test_component_contract(cls: type[tomokit.Distortion]) -> None:
    from tomokit.testing import check_component

    check_component(cls)
