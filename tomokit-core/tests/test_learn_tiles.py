"""Tiled inference equals whole-image inference away from borders; patch sampling;
batch-size choice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from tomokit.errors import InvalidInputError
from tomokit.learn import aggregate_scores, choose_batch_size, predict_tiled, sample_patches

KERNEL = np.random.default_rng(1).normal(size=(5, 5)).astype(np.float32)  # radius 2


def fcn(batch: np.ndarray) -> np.ndarray:
    """A fully convolutional 'network': two 5x5 convolutions with a ReLU (radius 4)."""
    out = []
    for tile in batch:
        x = np.maximum(ndimage.correlate(tile, KERNEL, mode="constant"), 0)
        out.append(ndimage.correlate(x, KERNEL.T, mode="constant"))
    return np.stack(out)


@pytest.mark.parametrize("shape", [(200, 170), (96, 300), (64, 64)])
def test_tiled_equals_whole_image_away_from_borders(shape):
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    whole = fcn(image[None])[0]
    tiled = predict_tiled(fcn, image, tile=64, overlap=32, multiple=16, batch_size=3)
    assert tiled.shape == image.shape
    inner = (slice(4, -4), slice(4, -4))  # beyond the receptive field of the image borders
    np.testing.assert_allclose(tiled[inner], whole[inner], rtol=1e-5, atol=1e-5)


def test_tiled_seams_are_blended_not_cut():
    # a "network" with a constant offset per tile: blending must give a smooth mix
    calls = []

    def offset(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return np.stack([np.full_like(t, float(len(calls) * 10 + i)) for i, t in enumerate(batch)])

    out = predict_tiled(offset, np.zeros((64, 160), np.float32), tile=64, overlap=32,
                        multiple=32, batch_size=1)
    row = out[32]
    assert np.all(np.abs(np.diff(row)) < 10 * 0.2)  # no jump of a whole tile offset


def test_tiled_with_scale_and_channels():
    def upsample(batch: np.ndarray) -> np.ndarray:
        up = batch.repeat(2, axis=1).repeat(2, axis=2)
        return np.stack([up, -up], axis=-1)

    image = np.random.default_rng(2).random((100, 90)).astype(np.float32)
    out = predict_tiled(upsample, image, tile=64, overlap=32, multiple=32, scale=2)
    assert out.shape == (200, 180, 2)
    np.testing.assert_allclose(out[..., 0], image.repeat(2, 0).repeat(2, 1), atol=1e-6)
    np.testing.assert_allclose(out[..., 1], -out[..., 0], atol=1e-6)


def test_tiled_checks():
    with pytest.raises(InvalidInputError, match="multiples"):
        predict_tiled(fcn, np.zeros((64, 64)), tile=60, overlap=32, multiple=32)
    with pytest.raises(InvalidInputError, match="expected"):
        predict_tiled(lambda b: b[:, :10], np.zeros((64, 64)), tile=64, overlap=32)


def test_sample_patches_deterministic_and_grid():
    image = np.arange(300 * 260, dtype=np.float32).reshape(300, 260)
    a = sample_patches(image, 224, 30, rng=5)
    b = sample_patches(image, 224, 30, rng=5)
    c = sample_patches(image, 224, 30, rng=6)
    assert a.shape == (30, 224, 224) and np.array_equal(a, b) and not np.array_equal(a, c)
    grid = sample_patches(image, 100, 9, mode="grid")
    assert grid.shape == (9, 100, 100)
    assert grid[0, 0, 0] == image[0, 0] and grid[-1, -1, -1] == image[-1, -1]
    small = sample_patches(np.ones((50, 50)), 64, 2)
    assert small.shape == (2, 64, 64)
    scores = np.array([[1.0, 2.0, 9.0], [3.0, 3.0, 3.0]])
    assert aggregate_scores(scores, "mean").tolist() == [4.0, 3.0]
    assert aggregate_scores(scores, "median").tolist() == [2.0, 3.0]


def test_batch_size_choice():
    # a 224 x 224 scorer no longer gets the >1000 slices a byte budget gives
    assert choose_batch_size((224, 224)) <= 32
    assert choose_batch_size((224, 224), device="gpu") > choose_batch_size((224, 224))
    assert choose_batch_size((224, 224), preferred=16) == 16
    assert choose_batch_size((2048, 2048), preferred=64) < 64  # capped by memory
    assert choose_batch_size((8, 8)) == 1024
    budget = 512 * 512 * 512 * 6  # six slices' activations
    assert choose_batch_size((512, 512), memory_budget=budget, preferred=64) == 6
    assert choose_batch_size((512, 512), memory_budget=budget) == 4  # 1 Mpx per call
    with pytest.raises(InvalidInputError):
        choose_batch_size((0, 5))


def test_tiled_keras_fcn_equals_whole_image():
    import keras

    keras.utils.set_random_seed(4)
    inp = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(1, 3, padding="same")(x)  # receptive-field radius 2
    net = keras.Model(inp, x)
    image = np.random.default_rng(3).random((130, 100)).astype(np.float32)
    whole = np.asarray(net.predict_on_batch(image[None, ..., None]))[0, ..., 0]
    tiled = predict_tiled(lambda t: np.asarray(net.predict_on_batch(t[..., None]))[..., 0],
                          image, tile=64, overlap=32, multiple=32)
    np.testing.assert_allclose(tiled[2:-2, 2:-2], whole[2:-2, 2:-2], atol=1e-5)
