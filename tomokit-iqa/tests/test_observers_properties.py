"""Properties of the full-reference observers: best value for identical images, declared
ranges, symmetry (hypothesis), and ordering by distortion level on the TomoIQA crops made
by the seed paper's own code (tests/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

import tomokit

CROPS = Path(__file__).parent / "data" / "tomoiqa-sample" / "distorted"
NAMES = ("ssim", "ms_ssim", "fsim", "gmsd", "mdsi", "psnr", "mse")
#: Every observer with its params; MDSI in both combinations.
OBSERVERS = [(n, {}) for n in NAMES] + [("mdsi", {"combination": "mult"})]
IDS = [n + ("_mult" if p else "") for n, p in OBSERVERS]

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _best(obs: tomokit.Component) -> float:
    if obs.name == "psnr":
        return float("inf")
    return obs.value_range[1] if obs.higher_is_better else obs.value_range[0]  # type: ignore[attr-defined]


def _image(seed: int, shape: tuple[int, int], smooth: float, dtype: str) -> np.ndarray:
    """A random test image: white noise smoothed to a given correlation length."""
    rng = np.random.default_rng(seed)
    img = rng.random(shape)
    if smooth > 0:
        img = ndimage.gaussian_filter(img, smooth)
        img = (img - img.min()) / max(float(np.ptp(img)), 1e-12)
    if dtype == "uint8":
        return np.round(img * 255).astype(np.uint8)
    return img.astype(dtype)


def _size(name: str) -> st.SearchStrategy[int]:
    # MS-SSIM needs 161 px (11 px after four halvings); the others are tested small
    return st.integers(161, 180) if name == "ms_ssim" else st.integers(24, 72)


def _data_range(img: np.ndarray) -> float:
    return 255.0 if img.dtype == np.uint8 else 1.0


@pytest.mark.parametrize(("name", "params"), OBSERVERS, ids=IDS)
@FAST
@given(data=st.data())
def test_identical_images_give_the_best_value(name, params, data):
    h = data.draw(_size(name), label="h")
    w = data.draw(_size(name), label="w")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    smooth = data.draw(st.sampled_from([0.0, 1.0, 4.0]), label="smooth")
    dtype = data.draw(st.sampled_from(["uint8", "float32", "float64"]), label="dtype")
    img = _image(seed, (h, w), smooth, dtype)
    obs = tomokit.load("observer", name, data_range=_data_range(img), **params)
    assert obs.compare(img, img) == _best(obs)


@pytest.mark.parametrize(("name", "params"), OBSERVERS, ids=IDS)
@FAST
@given(data=st.data())
def test_values_stay_in_declared_range_and_below_best(name, params, data):
    h = data.draw(_size(name), label="h")
    w = data.draw(_size(name), label="w")
    seeds = data.draw(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
    smooth = data.draw(st.sampled_from([0.0, 1.0, 4.0]), label="smooth")
    how = data.draw(st.sampled_from(["independent", "inverted", "noisy", "constant"]))
    ref = _image(seeds[0], (h, w), smooth, "float64")
    if how == "independent":
        dist = _image(seeds[1], (h, w), smooth, "float64")
    elif how == "inverted":
        dist = 1.0 - ref
    elif how == "noisy":
        noise = np.random.default_rng(seeds[1]).normal(0, 0.2, ref.shape)
        dist = np.clip(ref + noise, 0, 1)
    else:
        dist = np.full_like(ref, data.draw(st.floats(0, 1), label="level"))
    obs = tomokit.load("observer", name, data_range=1.0, **params)
    value = obs.compare(ref, dist)
    lo, hi = obs.value_range  # type: ignore[attr-defined]
    assert lo <= value <= hi
    best = obs.compare(ref, ref)
    assert (value <= best) if obs.higher_is_better else (value >= best)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["ssim", "ms_ssim", "fsim", "gmsd", "psnr", "mse"])
@FAST
@given(data=st.data())
def test_symmetric_indices(name, data):
    h = data.draw(_size(name), label="h")
    seeds = data.draw(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
    a = _image(seeds[0], (h, h), 1.0, "float64")
    b = _image(seeds[1], (h, h), 1.0, "float64")
    obs = tomokit.load("observer", name, data_range=1.0)
    assert obs.compare(a, b) == pytest.approx(obs.compare(b, a), rel=1e-9, abs=1e-12)


# --- ordering by distortion level on the TomoIQA crops ---------------------------------


@pytest.fixture(scope="module")
def levels() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reference crop and levels 0..5 of blur (195_k_0_0) and noise (195_0_k_0)."""
    ref = iio.imread(CROPS / "195_0_0_0.bmp")
    return {
        "blur": (ref, np.stack([iio.imread(CROPS / f"195_{k}_0_0.bmp") for k in range(6)])),
        "noise": (ref, np.stack([iio.imread(CROPS / f"195_0_{k}_0.bmp") for k in range(6)])),
    }


# Known exceptions, found with the MATLAB-exact indices (not artefacts of this code; the
# SSIM one is reproduced by scikit-image below): at blur sigma 15.2 and 33.2 px the crop is
# almost flat, and SSIM and FSIM rise again slightly; at noise variance 0.088 MDSI dips.
NOT_MONOTONE = {
    ("ssim", "blur"): "SSIM rises from blur level 3 to 5 (0.2535, 0.2558, 0.2663)",
    ("fsim", "blur"): "FSIM rises from blur level 3 to 5 (0.438, 0.485, 0.535)",
    ("mdsi", "noise"): "MDSI is better at noise level 4 than 3 (0.357 < 0.369)",
    ("mdsi_mult", "noise"): "MDSI (mult) is better at noise level 4 than 3 (0.282 < 0.288)",
}


def _cases() -> list[object]:
    out = []
    for (name, params), ident in zip(OBSERVERS, IDS, strict=True):
        if name in ("psnr", "mse"):
            continue
        for kind in ("blur", "noise"):
            marks = []
            if (ident, kind) in NOT_MONOTONE:
                marks = [pytest.mark.xfail(strict=True, reason=NOT_MONOTONE[(ident, kind)])]
            out.append(pytest.param(name, params, kind, id=f"{ident}-{kind}", marks=marks))
    return out


@pytest.mark.parametrize(("name", "params", "kind"), _cases())
def test_worse_level_never_gives_a_better_value(name, params, kind, levels):
    ref, stack = levels[kind]
    obs = tomokit.load("observer", name, **params)
    values = obs.compare(ref, stack)
    step = np.diff(values)
    assert np.all(step <= 0) if obs.higher_is_better else np.all(step >= 0), values


@pytest.mark.parametrize(("name", "params"), OBSERVERS, ids=IDS)
def test_every_distortion_level_is_worse_than_none(name, params, levels):
    for ref, stack in levels.values():
        obs = tomokit.load("observer", name, **params)
        values = obs.compare(ref, stack)
        best, rest = values[0], values[1:]
        assert np.all(rest < best) if obs.higher_is_better else np.all(rest > best)


def test_ssim_blur_exception_is_the_index_not_the_code(levels):
    # scikit-image's SSIM with the same window and constants (no down-sampling at 224 px)
    # gives the same values, including the rise at blur levels 4 and 5.
    from skimage.metrics import structural_similarity

    ref, stack = levels["blur"]
    ours = tomokit.load("observer", "ssim").compare(ref, stack)
    theirs = [
        structural_similarity(
            ref, d, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
        )
        for d in stack
    ]
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert ours[5] > ours[3]
