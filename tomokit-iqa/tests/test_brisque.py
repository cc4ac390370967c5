"""BRISQUE: conformance with the MATLAB release, the numpy SVR, bad input, brisque_tomo.

Reference values: ``brisquescore.m`` of the LIVE BRISQUE release on goldhill.gif and
TID2013 I01.BMP (RGB, converted by MATLAB's ``rgb2gray`` as brisquescore.m does), as
published in piq's test suite (tests/data/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_iqa.brisque import (
    BRISQUE,
    MIN_SIZE,
    BRISQUETomo,
    brisque_features,
    fit_brisque_svr,
    fit_from_dataset,
    live_model,
    matlab_rgb2gray,
)
from tomokit_iqa.imresize import imresize, resize_weights
from tomokit_iqa.svr import RBFSVR

DATA = Path(__file__).parent / "data"
REF = DATA / "iqa-reference"
CROPS = DATA / "tomoiqa-sample" / "distorted"


@pytest.fixture(scope="module")
def goldhill() -> np.ndarray:
    return np.asarray(iio.imread(REF / "goldhill.gif", index=0))


@pytest.fixture(scope="module")
def i01() -> np.ndarray:
    return matlab_rgb2gray(np.asarray(iio.imread(REF / "I01.BMP"))[..., :3])


def test_matlab_reference_values(goldhill: np.ndarray, i01: np.ndarray) -> None:
    scorer = tomokit.load("scorer", "brisque", data_range=255)
    assert scorer.higher_is_better is False
    assert goldhill.dtype == np.uint8 and goldhill.shape == (512, 512)
    np.testing.assert_allclose(scorer.score(goldhill), [8.425548118925917], rtol=1e-4)
    np.testing.assert_allclose(scorer.score(i01), [10.259409019043119], rtol=1e-4)


def test_batch_equals_single_and_data_range_rescales(goldhill: np.ndarray) -> None:
    scorer = BRISQUE(data_range=255)
    crops = np.stack([goldhill[:256, :256], goldhill[256:, 256:]]).astype(np.float64)
    batch = scorer.score(crops)
    assert batch.shape == (2,)
    singles = [scorer.score(c)[0] for c in crops]
    np.testing.assert_allclose(batch, singles, rtol=1e-9)
    # the same data on [0, 1]: identical scores (rescaled to 0..255 internally)
    np.testing.assert_allclose(BRISQUE(data_range=1.0).score(crops / 255.0), batch, rtol=1e-9)
    # uint8 without data_range uses the dtype's maximum
    np.testing.assert_allclose(BRISQUE().score(goldhill[:256, :256]), batch[:1], rtol=1e-9)


def test_features_layout(goldhill: np.ndarray) -> None:
    f = brisque_features(goldhill.astype(np.float64))
    assert f.shape == (1, 36)
    shapes = f[0, [0, 18]]  # GGD shapes lie on the 0.2:0.001:10 grid
    np.testing.assert_allclose(np.round(shapes * 1000), shapes * 1000, atol=1e-6)
    assert np.all((f[0, 2:18:4] >= 0.2) & (f[0, 2:18:4] <= 10))  # AGGD shapes
    assert np.all(f[0, [1, 4, 5, 8, 9, 12, 13, 16, 17]] > 0)  # variances


def test_scores_rise_with_blur_on_battery_crops() -> None:
    """LIVE BRISQUE sees heavy blur as worse (lower is better) on real battery slices."""
    scorer = BRISQUE()
    ref = iio.imread(CROPS / "195_0_0_0.bmp")
    blurred = [iio.imread(CROPS / f"195_{k}_0_0.bmp") for k in (1, 3, 5)]
    s = scorer.score(np.stack([ref, *blurred]))
    assert s[-1] > s[0]


def test_imresize_weights_and_constant() -> None:
    w, idx = resize_weights(20, 10, 0.5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w.shape[1] == 8 and idx.min() >= 0 and idx.max() < 20
    out = imresize(np.full((2, 9, 13), 3.5), 0.5)
    assert out.shape == (2, 5, 7)
    np.testing.assert_allclose(out, 3.5)
    with pytest.raises(InvalidInputError, match="scale"):
        imresize(np.ones((4, 4)), float("nan"))


def test_numpy_svr_matches_scikit_learn() -> None:
    from sklearn.svm import SVR

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 36))
    y = x[:, 0] * 2 + np.sin(x[:, 1])
    model = fit_brisque_svr(x, y, C=10, epsilon=0.05, gamma=0.05)
    xs = model.scale(x)
    ref = SVR(kernel="rbf", C=10, epsilon=0.05, gamma=0.05).fit(xs, y).predict(xs)
    np.testing.assert_allclose(model.predict(x), ref, rtol=1e-9, atol=1e-9)


def test_svr_save_load_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 36))
    model = fit_brisque_svr(x, x[:, 3])
    path = model.save(tmp_path / "m.npz")
    back = RBFSVR.load(path)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["features"] == "brisque-36/matlab" and side["gamma"] == 0.05


def test_live_model_is_the_release() -> None:
    m = live_model()
    assert m.support_vectors.shape == (774, 36)
    assert m.gamma == 0.05 and m.rho == -153.591
    assert m.lower == -1 and m.upper == 1


# --------------------------------------------------------------------------- bad input
def test_constant_image_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="constant"):
        BRISQUE(data_range=1.0).score(np.full((64, 64), 0.5))


def test_too_small_image_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match=f"minimum {MIN_SIZE}"):
        BRISQUE(data_range=1.0).score(np.random.default_rng(0).random((MIN_SIZE - 1, 40)))
    # the minimum itself works
    assert np.isfinite(
        BRISQUE(data_range=1.0).score(np.random.default_rng(0).random((MIN_SIZE, MIN_SIZE)))
    ).all()


def test_nan_is_an_error() -> None:
    img = np.random.default_rng(0).random((32, 32))
    img[3, 4] = np.nan
    with pytest.raises(InvalidInputError, match="non-finite"):
        BRISQUE(data_range=1.0).score(img)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1.0])
def test_non_finite_or_non_positive_data_range(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="data_range"):
        tomokit.load("scorer", "brisque", data_range=bad)


def test_data_outside_the_range_is_an_error(goldhill: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match=r"outside \[0, 1\]"):
        BRISQUE(data_range=1.0).score(goldhill.astype(np.float64))
    with pytest.raises(InvalidInputError, match="explicit data_range"):
        BRISQUE().score(goldhill.astype(np.float32))


def test_model_of_another_scorer_is_an_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 8))
    other = fit_brisque_svr(x, x[:, 0])
    other.info["features"] = "something-else"
    path = other.save(tmp_path / "other.npz")
    with pytest.raises(InvalidInputError, match="not a BRISQUE model"):
        BRISQUETomo(model=str(path), data_range=1.0).score(rng.random((32, 32)))
    (tmp_path / "x.npz").write_bytes(b"")
    (tmp_path / "x.json").write_text('{"format": "keras"}')
    with pytest.raises(InvalidInputError, match="another scorer"):
        BRISQUETomo(model=str(tmp_path / "x.npz"), data_range=1.0).score(rng.random((32, 32)))


# --------------------------------------------------------------------------- brisque_tomo
def test_shipped_tomo_model_scores_fall_with_blur() -> None:
    scorer = tomokit.load("scorer", "brisque_tomo")
    assert scorer.higher_is_better is True
    ref = iio.imread(CROPS / "195_0_0_0.bmp")
    blurred = [iio.imread(CROPS / f"195_{k}_0_0.bmp") for k in (2, 4)]
    s = scorer.score(np.stack([ref, *blurred]))
    assert s[0] > s[-1]


def test_fit_from_a_generated_dataset(tmp_path: Path) -> None:
    from tomokit_iqa.dataset import generate_dataset, write_dataset

    ref = iio.imread(DATA / "tomoiqa-sample" / "195.bmp").astype(np.float64) / 255.0
    refs = [ref[:400, :400], ref[400:800, 300:700], ref[600:1000, 600:1000]]
    params = {"resize": None, "crop": 96, "observers": ("ssim", "gmsd")}
    ds = tmp_path / "ds.h5"
    write_dataset(
        generate_dataset(refs, params=params, ids=["a", "b", "c"], rng=0), ds, params=None
    )
    out = tmp_path / "tomo.npz"
    meta = fit_from_dataset(ds, out, validation_sources=["c"])
    assert meta["validation"]["held_out_sources"] == ["c"]
    assert meta["validation"]["n_validation"] == 16
    scorer = BRISQUETomo(model=str(out), data_range=1.0)
    s = scorer.score(np.stack(refs)[:, :96, :96])
    assert s.shape == (3,) and np.isfinite(s).all()
    json.loads(out.with_suffix(".json").read_text())  # valid JSON, no NaN


def test_brisque_fit_task(tmp_path: Path) -> None:
    from tomokit_iqa.dataset import generate_dataset, write_dataset

    ref = iio.imread(DATA / "tomoiqa-sample" / "195.bmp").astype(np.float64) / 255.0
    refs = [ref[:300, :300], ref[500:800, 500:800]]
    ds = tmp_path / "ds.h5"
    params = {"resize": None, "crop": 64, "observers": ("gmsd",)}
    write_dataset(generate_dataset(refs, params=params, ids=["a", "b"], rng=1), ds)
    task = tomokit.load("task", "brisque_fit", dataset=str(ds), output=str(tmp_path / "m.npz"),
                        validation_sources=["b"], refit_all=True)
    meta = task.run({}, rng=np.random.default_rng(0))
    assert meta["validation"]["refit_on_all"] is True
    assert RBFSVR.load(tmp_path / "m.npz").info["scorer"] == "brisque_tomo"
    with pytest.raises(InvalidInputError, match="not in the dataset"):
        tomokit.load("task", "brisque_fit", dataset=str(ds), output=str(tmp_path / "x.npz"),
                     validation_sources=["zzz"]).run({}, rng=np.random.default_rng(0))
