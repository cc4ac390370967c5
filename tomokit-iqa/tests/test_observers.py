"""Full-reference observers: conformance with the authors' MATLAB code, API, validation.

Reference values: outputs of the original MATLAB implementations (ssim.m by Z. Wang,
FeatureSIM.m by L. Zhang, GMSD.m by W. Xue, MDSI.m by H. Z. Nafchi) on the goldhill and
TID2013 I01 pairs, inputs in [0, 255], as published in the test suite of the piq library
(photosynthesis-team/piq, tests/test_ssim.py, test_fsim.py, test_gmsd.py, test_mdsi.py);
copied into tests/data/README.md.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import signal

import tomokit
from tomokit import InvalidInputError, metrics
from tomokit_iqa.observers import FSIM, GMSD, MDSI, MSE, MSSSIM, PSNR, SSIM
from tomokit_iqa.observers._base import matlab_downsample, matlab_round

DATA = Path(__file__).parent / "data"
REF = DATA / "iqa-reference"
CROPS = DATA / "tomoiqa-sample" / "distorted"

NAMES = ("ssim", "ms_ssim", "fsim", "gmsd", "mdsi", "psnr", "mse")


def _grey(rgb: np.ndarray) -> np.ndarray:
    """Y = 0.299 R + 0.587 G + 0.114 B, not rounded (tests/data/README.md)."""
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


@pytest.fixture(scope="module")
def goldhill() -> tuple[np.ndarray, np.ndarray]:
    ref = iio.imread(REF / "goldhill.gif")
    dist = iio.imread(REF / "goldhill_jpeg.gif")
    return ref.reshape(ref.shape[-2:]), dist.reshape(dist.shape[-2:])


@pytest.fixture(scope="module")
def i01_rgb() -> tuple[np.ndarray, np.ndarray]:
    return iio.imread(REF / "I01.BMP"), iio.imread(REF / "i01_01_5.bmp")


@pytest.fixture(scope="module")
def i01_grey(i01_rgb: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return _grey(i01_rgb[0]), _grey(i01_rgb[1])


# --- conformance with MATLAB --------------------------------------------------------------


def test_ssim_goldhill_matches_ssim_m(goldhill):
    # ssim.m (Wang), with its automatic down-sampling (f = 2 here): 0.8202
    assert SSIM().compare(*goldhill) == pytest.approx(0.8202, abs=1e-4)


def test_ssim_i01_matches_ssim_m_within_stated_tolerance(i01_rgb):
    # ssim.m on I01: 0.7842, tolerance 1e-2 (piq's test compares the mean SSIM of the RGB
    # channels with it; the mean of the channels computed exactly is 0.7820).
    value = SSIM(color=True).compare(*i01_rgb)
    assert value == pytest.approx(0.7842, abs=1e-2)
    assert value == pytest.approx(0.7820, abs=1e-4)


@pytest.mark.parametrize(
    ("pair", "expected"),
    [("goldhill", 0.138012587141798), ("i01_grey", 0.094124655829098)],
)
def test_gmsd_matches_gmsd_m(pair, expected, request):
    # GMSD.m (Xue et al.): goldhill 0.138012587141798, I01 (luma) 0.094124655829098
    ref, dist = request.getfixturevalue(pair)
    assert GMSD(data_range=255).compare(ref, dist) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("combination", "expected"), [("sum", 0.395910876130775), ("mult", 0.328692181289061)]
)
def test_mdsi_goldhill_matches_mdsi_m(goldhill, combination, expected):
    # MDSI.m (Nafchi et al.) on the grey pair used as R = G = B
    assert MDSI(combination=combination).compare(*goldhill) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("combination", "expected"), [("sum", 0.338972600511665), ("mult", 0.258002917257516)]
)
def test_mdsi_i01_rgb_matches_mdsi_m(i01_rgb, combination, expected):
    # MDSI.m on the RGB pair (its native input)
    value = MDSI(combination=combination, color=True).compare(*i01_rgb)
    assert value == pytest.approx(expected, abs=1e-6)


def test_fsim_goldhill_matches_featuresim_m(goldhill):
    # FeatureSIM.m (Zhang et al.), grey: 0.89691
    assert FSIM().compare(*goldhill) == pytest.approx(0.89691, abs=1e-4)


def test_fsim_i01_luma_matches_featuresim_m(i01_grey):
    # FeatureSIM.m's FSIM on I01 (its luma Y): 0.93674
    assert FSIM(data_range=255).compare(*i01_grey) == pytest.approx(0.93674, abs=1e-4)


def test_fsimc_i01_matches_featuresim_m(i01_rgb):
    # FeatureSIM.m's FSIMc on the RGB pair: 0.92587
    assert FSIM(color=True).compare(*i01_rgb) == pytest.approx(0.92587, abs=1e-4)


def test_fsim_of_rgb_luma_equals_fsim_of_grey(i01_rgb, i01_grey):
    # FSIMc differs from FSIM only by the chromatic factor, which is <= 1
    fsimc = FSIM(color=True).compare(*i01_rgb)
    fsim = FSIM(data_range=255).compare(*i01_grey)
    assert fsimc < fsim


# --- MS-SSIM against an independent, direct implementation of msssim.m ---------------------


def _ssim_direct(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """ssim_index_new of msssim.m written out with scipy.signal.correlate2d ('valid')."""
    r = np.arange(11) - 5.0
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def f(a: np.ndarray) -> np.ndarray:
        return signal.correlate2d(a, w, mode="valid")

    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs
    return float(ssim.mean()), float(cs.mean())


def _half_direct(a: np.ndarray) -> np.ndarray:
    """imfilter(a, ones(2)/4, 'symmetric', 'same') then a(1:2:end, 1:2:end)."""
    p = np.pad(a, ((0, 1), (0, 1)), mode="symmetric")
    return ((p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4.0)[::2, ::2]


def test_ms_ssim_matches_direct_msssim_m(goldhill):
    x, y = (a.astype(np.float64) for a in goldhill)
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    value = 1.0
    for level, w in enumerate(weights):
        if level:
            x, y = _half_direct(x), _half_direct(y)
        s, cs = _ssim_direct(x, y)
        value *= (s if level == 4 else cs) ** w
    # float64 input is computed in double precision; 8-bit input in single precision
    as_double = MSSSIM(data_range=255).compare(*(a.astype(np.float64) for a in goldhill))
    assert as_double == pytest.approx(value, abs=1e-10)
    assert MSSSIM().compare(*goldhill) == pytest.approx(value, abs=1e-6)


def test_ms_ssim_below_ssim_for_blur_is_scale_aware(goldhill):
    # a sanity check of the weights: identical images give 1, JPEG pair well below
    ref, dist = goldhill
    assert MSSSIM().compare(ref, ref) == pytest.approx(1.0)
    assert 0.5 < MSSSIM().compare(ref, dist) < 1.0


# --- MATLAB helpers ------------------------------------------------------------------------


def test_matlab_round_goes_away_from_zero():
    assert [matlab_round(v) for v in (0.5, 1.5, 2.5, 2.49, -2.5)] == [1, 2, 3, 2, -3]


@pytest.mark.parametrize("f", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("shape", [(37, 41), (40, 32), (17, 16)])
@pytest.mark.parametrize("padding", ["zeros", "symmetric"])
def test_matlab_downsample_matches_filter_then_subsample(f, shape, padding):
    rng = np.random.default_rng(f)
    x = rng.random(shape)
    # MATLAB: window [i - (f-1)//2, i + f//2] around i, 'same' size, keep 1:f:end
    before, after = (f - 1) // 2, f // 2
    mode = "constant" if padding == "zeros" else "symmetric"
    p = np.pad(x, ((before, after), (before, after)), mode=mode)
    full = signal.correlate2d(p, np.ones((f, f)) / f**2, mode="valid")
    expected = full[::f, ::f]
    out = matlab_downsample(x[None], f, padding=padding)[0]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_ssim_downsampling_factor_follows_matlab_rounding():
    # min side 640 -> 640/256 = 2.5 -> MATLAB round 3 (Python round would give 2)
    rng = np.random.default_rng(1)
    a = rng.random((640, 660))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    got = SSIM(data_range=1.0).compare(a, b)
    x3 = matlab_downsample(a[None] * 255, 3, padding="symmetric")[0]
    y3 = matlab_downsample(b[None] * 255, 3, padding="symmetric")[0]
    assert got == pytest.approx(_ssim_direct(x3, y3)[0], abs=1e-10)
    full = SSIM(data_range=1.0, downsample=False).compare(a, b)
    assert full == pytest.approx(_ssim_direct(a * 255, b * 255)[0], abs=1e-10)


# --- PSNR and MSE --------------------------------------------------------------------------


def test_psnr_and_mse_use_shared_metrics(goldhill):
    ref, dist = goldhill
    assert PSNR().compare(ref, dist) == pytest.approx(metrics.psnr(ref, dist, data_range=255))
    assert MSE().compare(ref, dist) == pytest.approx(metrics.mse(ref, dist))
    from skimage.metrics import peak_signal_noise_ratio

    assert PSNR().compare(ref, dist) == pytest.approx(
        peak_signal_noise_ratio(ref, dist, data_range=255)
    )


def test_mse_is_in_input_units_whatever_data_range():
    a = np.zeros((4, 4), np.float32)
    b = np.full((4, 4), 0.5, np.float32)
    assert MSE().compare(a, b) == pytest.approx(0.25)
    assert MSE(data_range=10.0).compare(a, b) == pytest.approx(0.25)


# --- API -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_load_by_name_and_compare(name, goldhill):
    obs = tomokit.load("observer", name, data_range=255)
    value = obs.compare(*goldhill)
    assert isinstance(value, float)
    lo, hi = obs.value_range
    assert lo <= value <= hi
    assert isinstance(obs.higher_is_better, bool)


@pytest.fixture(scope="module")
def crops() -> tuple[np.ndarray, np.ndarray]:
    """Reference crop and a batch of 4 distorted crops (blur 1, 2, noise 1, 2)."""
    ref = iio.imread(CROPS / "195_0_0_0.bmp")
    names = ("195_1_0_0", "195_2_0_0", "195_0_1_0", "195_0_2_0")
    return ref, np.stack([iio.imread(CROPS / f"{n}.bmp") for n in names])


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_slice_by_slice(name, crops):
    ref, batch = crops
    obs = tomokit.load("observer", name)  # uint8: data_range None -> 255
    values = obs.compare(np.broadcast_to(ref, batch.shape), batch)
    assert isinstance(values, np.ndarray)
    assert values.shape == (len(batch),)
    singles = [obs.compare(ref, d) for d in batch]
    np.testing.assert_allclose(values, singles, rtol=1e-12, atol=1e-12)
    # a 2-D reference is broadcast against a batch
    np.testing.assert_allclose(obs.compare(ref, batch), values, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_run_step_keeps_integer_dtype(name, crops):
    ref, batch = crops
    obs = tomokit.load("observer", name)
    out = obs.run_step({"reference": ref, "distorted": batch}, rng=np.random.default_rng(0))
    np.testing.assert_allclose(out, obs.compare(ref, batch))
    one = obs.run_step({"reference": ref, "distorted": batch[0]}, rng=np.random.default_rng(0))
    assert np.ndim(one) == 0


def test_colour_batches(i01_rgb):
    ref, dist = i01_rgb
    batch_ref, batch_dist = np.stack([ref, ref]), np.stack([dist, ref])
    for obs in (FSIM(color=True), MDSI(color=True), SSIM(color=True)):
        values = obs.compare(batch_ref, batch_dist)
        assert values[0] == pytest.approx(obs.compare(ref, dist), abs=1e-12)
        best = 0.0 if not obs.higher_is_better else 1.0
        assert values[1] == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("name", ["ssim", "fsim", "gmsd", "mdsi", "psnr"])
def test_data_range_is_a_pure_rescaling(name, crops):
    ref, batch = crops
    dist = batch[0]
    as_int = tomokit.load("observer", name).compare(ref, dist)
    as_float = tomokit.load("observer", name, data_range=1.0).compare(ref / 255.0, dist / 255.0)
    assert as_float == pytest.approx(as_int, abs=1e-6)
    u16 = tomokit.load("observer", name).compare(
        ref.astype(np.uint16) * 257, dist.astype(np.uint16) * 257
    )
    assert u16 == pytest.approx(as_int, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_modified(name, crops):
    ref, batch = crops
    r, d = ref.astype(np.float32), batch[0].astype(np.float32)
    r.setflags(write=False)
    d.setflags(write=False)
    r0, d0 = r.copy(), d.copy()
    tomokit.load("observer", name, data_range=255).compare(r, d)
    np.testing.assert_array_equal(r, r0)
    np.testing.assert_array_equal(d, d0)


# --- validation ----------------------------------------------------------------------------


def test_float_input_needs_data_range():
    a = np.zeros((32, 32), np.float32)
    with pytest.raises(InvalidInputError, match="data_range"):
        SSIM().compare(a, a)


def test_mixed_integer_dtypes_need_data_range():
    a = np.zeros((32, 32), np.uint8)
    with pytest.raises(InvalidInputError, match="data_range"):
        GMSD().compare(a, a.astype(np.uint16))
    assert GMSD(data_range=255).compare(a, a.astype(np.uint16)) == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_one_clear_error(name):
    obs = tomokit.load("observer", name, data_range=1.0)
    a = np.random.default_rng(0).random((200, 200))
    with pytest.raises(InvalidInputError, match="differ"):
        obs.compare(a, a[:-1])
    bad = a.copy()
    bad[3, 4] = np.nan
    with pytest.raises(InvalidInputError, match="non-finite"):
        obs.compare(a, bad)
    with pytest.raises(InvalidInputError, match="empty"):
        obs.compare(np.zeros((0, 5)), np.zeros((0, 5)))
    with pytest.raises(InvalidInputError, match="dtype"):
        obs.compare(a > 0.5, a > 0.5)
    with pytest.raises(InvalidInputError, match="dtype"):
        obs.compare(a.astype(np.complex64), a.astype(np.complex64))
    with pytest.raises(InvalidInputError, match="shape"):
        obs.compare(a[0], a[0])
    with pytest.raises(InvalidInputError, match="RGB"):
        obs.compare(np.stack([a] * 3, -1), np.stack([a] * 3, -1))


def test_too_small_images_are_rejected():
    a = np.zeros((8, 8), np.uint8)
    with pytest.raises(InvalidInputError, match="at least 11x11"):
        SSIM().compare(a, a)
    b = np.zeros((100, 300), np.uint8)
    with pytest.raises(InvalidInputError, match="at least 161x161"):
        MSSSIM().compare(b, b)


def test_color_needs_rgb():
    a = np.zeros((64, 64), np.uint8)
    with pytest.raises(InvalidInputError, match=r"\(H, W, 3\)"):
        FSIM(color=True).compare(a, a)


def test_params_are_validated():
    with pytest.raises(InvalidInputError, match="data_range"):
        tomokit.load("observer", "ssim", data_range=-1)
    with pytest.raises(InvalidInputError, match="combination"):
        tomokit.load("observer", "mdsi", combination="max")
    with pytest.raises(InvalidInputError):
        tomokit.load("observer", "gmsd", sigma=3)


def test_featureless_images_stay_finite():
    flat = np.full((64, 64), 100, np.uint8)
    other = np.full((64, 64), 140, np.uint8)
    assert FSIM().compare(flat, flat) == 1.0
    assert np.isfinite(FSIM().compare(flat, other))
    assert SSIM().compare(flat, flat) == 1.0
    assert GMSD().compare(flat, flat) == 0.0
    assert MDSI().compare(flat, flat) == 0.0


def test_mdsi_negative_combination_is_complex_pooled_like_matlab():
    # Strongly opposed colours make the chromatic similarity negative: MATLAB takes the
    # principal complex root; the score is still a finite real number.
    a = np.zeros((64, 64, 3), np.uint8)
    a[..., 0] = 255
    b = np.zeros((64, 64, 3), np.uint8)
    b[..., 2] = 255
    b[20:40, 20:40] = 0
    for combination in ("sum", "mult"):
        value = MDSI(color=True, combination=combination).compare(a, b)
        assert np.isfinite(value) and value > 0


def test_big_batches_are_processed_in_chunks(monkeypatch, crops):
    # the chunking that bounds memory must not change any value
    import tomokit_iqa.observers._base as base

    ref, batch = crops
    whole = {n: tomokit.load("observer", n).compare(ref, batch) for n in NAMES}
    monkeypatch.setattr(base, "_WORK_BUDGET", 1)  # one slice per chunk
    for name in NAMES:
        chunked = tomokit.load("observer", name).compare(ref, batch)
        np.testing.assert_allclose(chunked, whole[name], rtol=1e-12, atol=1e-12)
