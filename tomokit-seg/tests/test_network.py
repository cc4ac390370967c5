"""D-LinkNet34's layer structure and the BCE + Dice loss on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tomokit import InvalidInputError

keras = pytest.importorskip("keras")

from tomokit_seg.data import bce_dice_numpy, categorical_dice_numpy  # noqa: E402
from tomokit_seg.network import (  # noqa: E402
    bce_dice_loss,
    build_dlinknet34,
    categorical_dice_loss,
    segmentation_loss,
)


def _names(model, contains: str) -> list[str]:
    return [layer.name for layer in model.layers if contains in layer.name]


@pytest.fixture(scope="module")
def full():
    return build_dlinknet34(2)


def test_full_width_structure_and_size(full):
    layers = {layer.name: layer for layer in full.layers}
    # ResNet34 encoder: 3, 4, 6, 3 basic blocks of 64..512 channels
    for stage, (n, ch) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True), 1):
        blocks = {nm.split("_")[1] for nm in _names(full, f"enc{stage}_block") if nm.endswith("_add")}
        assert len(blocks) == n
        assert layers[f"enc{stage}_block1_1_conv"].filters == ch
    assert len(_names(full, "_down_conv")) == 3  # projected shortcuts where stages halve
    stem = layers["stem_conv"]
    assert stem.kernel_size == (7, 7) and stem.strides == (2, 2)
    # centre: dilations 1, 2, 4, 8, no BN, summed with its input
    dil = [layers[f"centre_dilate{d}"] for d in (1, 2, 4, 8)]
    assert [c.dilation_rate for c in dil] == [(1, 1), (2, 2), (4, 4), (8, 8)]
    assert not [n for n in _names(full, "centre") if "bn" in n]
    assert len(layers["centre_sum"].input) == 5
    # decoders: in/4 bottleneck, stride-2 3x3 transposed conv, each conv followed by BN
    assert layers["dec4_reduce_conv"].filters == 128 and layers["dec4_expand_conv"].filters == 256
    assert layers["dec1_expand_conv"].filters == 64
    up = layers["dec3_up_deconv"]
    assert up.kernel_size == (3, 3) and up.strides == (2, 2)
    assert len([n for n in _names(full, "dec") if n.endswith("_bn")]) == 12
    head = layers["head_deconv"]
    assert head.kernel_size == (4, 4) and head.strides == (2, 2) and head.filters == 32
    assert layers["head_logits"].filters == 1
    # the reference DinkNet34 has 31.1 M parameters (PyTorch counts trainable ones)
    trainable = sum(int(np.prod(w.shape)) for w in full.trainable_weights)
    assert 30.0e6 < trainable < 32.5e6


@pytest.mark.parametrize("side", [64, 96])
def test_output_shapes(full, side):
    x = np.random.default_rng(0).random((1, side, side, 1)).astype(np.float32)
    y = np.asarray(full(x, training=False))
    assert y.shape == (1, side, side, 1)
    assert np.all((y >= 0) & (y <= 1))


def test_width_multiplier_and_softmax():
    small = build_dlinknet34(3, width=0.25, blocks=(1, 1, 1, 1))
    layers = {layer.name: layer for layer in small.layers}
    assert layers["enc4_block1_1_conv"].filters == 128
    assert small.count_params() < 1.5e6
    y = np.asarray(small(np.zeros((2, 96, 64, 1), np.float32), training=False))
    assert y.shape == (2, 96, 64, 3)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(InvalidInputError, match="classes"):
        build_dlinknet34(1)
    with pytest.raises(InvalidInputError, match="blocks"):
        build_dlinknet34(2, blocks=(1, 1, 1))
    assert segmentation_loss(2) is bce_dice_loss and segmentation_loss(4) is categorical_dice_loss


def _loss(fn, y, p) -> float:
    return float(fn(np.asarray(y, np.float32), np.asarray(p, np.float32)))


def test_bce_dice_by_hand():
    ln2 = math.log(2)
    y = np.array([1, 0, 0, 0], np.float32).reshape(1, 2, 2, 1)
    half = np.full_like(y, 0.5)
    # BCE = ln 2; Dice = 2 * 0.5 / (1 + 2) = 1/3
    assert _loss(bce_dice_loss, y, half) == pytest.approx(ln2 + 2 / 3, rel=1e-5)
    # empty truth: Dice = 0 / 2 = 0
    assert _loss(bce_dice_loss, np.zeros_like(y), half) == pytest.approx(ln2 + 1, rel=1e-5)
    # empty truth and empty prediction: 0/0 is a perfect Dice, not NaN
    assert _loss(bce_dice_loss, np.zeros_like(y), np.zeros_like(y)) == pytest.approx(0, abs=1e-5)
    assert _loss(bce_dice_loss, y, y) == pytest.approx(0, abs=1e-5)
    # Dice over the whole batch: an empty sample next to a full one is not scored alone
    yb = np.stack([np.ones((2, 2, 1)), np.zeros((2, 2, 1))]).astype(np.float32)
    pb = np.full_like(yb, 0.5)
    assert _loss(bce_dice_loss, yb, pb) == pytest.approx(ln2 + 1 - 2 * 2 / (4 + 4), rel=1e-5)


def test_categorical_dice_by_hand():
    y = np.array([[[1, 0, 0], [0, 1, 0]]], np.float32)[None]  # (1, 1, 2, 3)
    p = np.array([[[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]]], np.float32)[None]
    # CCE = ln 2; Dice: classes 0, 1: 2 * 0.5 / 1.75; class 2: 0 / 0.5
    dice = (2 * (1 / 1.75) + 0) / 3
    assert _loss(categorical_dice_loss, y, p) == pytest.approx(math.log(2) + 1 - dice, rel=1e-5)
    # a class absent from truth and prediction counts as perfect
    assert _loss(categorical_dice_loss, y, y) == pytest.approx(0, abs=1e-5)


def test_keras_loss_matches_numpy_reference():
    rng = np.random.default_rng(0)
    y = (rng.random((3, 8, 8, 1)) > 0.6).astype(np.float32)
    p = rng.random((3, 8, 8, 1)).astype(np.float32)
    assert _loss(bce_dice_loss, y, p) == pytest.approx(bce_dice_numpy(y, p), rel=1e-4)
    lab = rng.integers(0, 4, (3, 8, 8))
    y4 = np.eye(4, dtype=np.float32)[lab]
    q = rng.random((3, 8, 8, 4)).astype(np.float32)
    q /= q.sum(-1, keepdims=True)
    assert _loss(categorical_dice_loss, y4, q) == pytest.approx(
        categorical_dice_numpy(y4, q), rel=1e-4
    )
