"""D-LinkNet34 in Keras, built from scratch, and its BCE + Dice loss.

Architecture facts (Zhou, Zhang and Wu, "D-LinkNet: LinkNet with pretrained encoder and
dilated convolution for high resolution satellite imagery road extraction", CVPRW 2018;
the DinkNet34 of the DeepGlobe road-extraction reference code):

* Encoder ResNet34: 7x7 stride-2 conv + BN + ReLU + 3x3 stride-2 max-pool, then stages of
  3, 4, 6, 3 basic blocks with 64, 128, 256, 512 channels (the first stage keeps the
  resolution, the others halve it; a 1x1 strided conv + BN projects the shortcut where
  the shape changes). No weights are downloaded: trained from scratch.
* Centre: cascaded 3x3 convs with dilations 1, 2, 4, 8 (ReLU, no BN), output
  ``x + d1 + d2 + d3 + d4``.
* Decoder block(in, n): 1x1 conv to in/4 + BN + ReLU, 3x3 stride-2 transposed conv + BN +
  ReLU, 1x1 conv to n + BN + ReLU; skips are added: ``d4 = dec4(e4) + e3``, ``d3 = dec3(d4)
  + e2``, ``d2 = dec2(d3) + e1``, ``d1 = dec1(d2)``.
* Head: 4x4 stride-2 transposed conv to 32 + ReLU, 3x3 conv 32 + ReLU, 3x3 conv to the
  classes; sigmoid (one channel) for two phases, softmax for more.

``width`` multiplies every channel count (1.0 is DinkNet34, about 31 M parameters); a
narrow, shallower variant trains in CI. This module imports Keras at import time: import
it only where a network is built or trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers, ops

from tomokit import InvalidInputError

__all__ = [
    "MULTIPLE",
    "bce_dice_loss",
    "build_dlinknet34",
    "categorical_dice_loss",
    "dice_coefficient",
    "segmentation_loss",
]

#: Input sides must be multiples of this (five stride-2 stages).
MULTIPLE = 32
_REFERENCE_CHANNELS = (64, 128, 256, 512)
_REFERENCE_BLOCKS = (3, 4, 6, 3)
#: PyTorch's BatchNorm defaults (the reference code's): running averages updated by 0.1
#: per step (Keras momentum 0.9), epsilon 1e-5. Keras' 0.99 needs far more steps before
#: the inference statistics catch up, which a short (CI) training never reaches.
_BN_MOMENTUM = 0.9


def _ch(c: int, width: float) -> int:
    return max(4, round(c * width))


def _conv_bn_relu(x: Any, filters: int, kernel: int, name: str, *, strides: int = 1,
                  relu: bool = True) -> Any:
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=1e-5, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x: Any, filters: int, strides: int, name: str) -> Any:
    """ResNet basic block: two 3x3 conv + BN, identity or projected shortcut, ReLU."""
    shortcut = x
    y = _conv_bn_relu(x, filters, 3, f"{name}_1", strides=strides)
    y = _conv_bn_relu(y, filters, 3, f"{name}_2", relu=False)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn_relu(x, filters, 1, f"{name}_down", strides=strides, relu=False)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def _centre(x: Any) -> Any:
    """Cascaded dilated 3x3 convs (1, 2, 4, 8), ReLU without BN, all summed with x."""
    filters = x.shape[-1]
    outs = [x]
    y = x
    for d in (1, 2, 4, 8):
        y = layers.Conv2D(filters, 3, padding="same", dilation_rate=d, activation="relu",
                          name=f"centre_dilate{d}")(y)
        outs.append(y)
    return layers.Add(name="centre_sum")(outs)


def _decoder_block(x: Any, n: int, name: str) -> Any:
    mid = max(1, x.shape[-1] // 4)
    y = _conv_bn_relu(x, mid, 1, f"{name}_reduce")
    y = layers.Conv2DTranspose(mid, 3, strides=2, padding="same", use_bias=False,
                               name=f"{name}_up_deconv")(y)
    y = layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=1e-5, name=f"{name}_up_bn")(y)
    y = layers.ReLU(name=f"{name}_up_relu")(y)
    return _conv_bn_relu(y, n, 1, f"{name}_expand")


def build_dlinknet34(
    classes: int = 2,
    *,
    width: float = 1.0,
    blocks: Sequence[int] = _REFERENCE_BLOCKS,
    name: str = "dlinknet34",
) -> keras.Model:
    """Build an untrained D-LinkNet34 for 1-channel images of any side multiple of 32.

    ``classes == 2`` gives one sigmoid channel (the foreground probability); more give
    ``classes`` softmax channels. ``width`` scales every channel count; ``blocks`` the
    basic blocks per encoder stage (``(3, 4, 6, 3)`` is ResNet34)."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise InvalidInputError(f"classes: expected an integer >= 2, got {classes!r}")
    if not 0 < width <= 4:
        raise InvalidInputError(f"width: expected 0 < width <= 4, got {width}")
    blocks = tuple(int(b) for b in blocks)
    if len(blocks) != 4 or min(blocks) < 1:
        raise InvalidInputError(f"blocks: expected four counts >= 1, got {blocks}")
    filters = [_ch(c, width) for c in _REFERENCE_CHANNELS]
    head = _ch(32, width)

    inputs = keras.Input(shape=(None, None, 1), name="image")
    x = _conv_bn_relu(inputs, filters[0], 7, "stem", strides=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    skips = []
    for s, (f, n) in enumerate(zip(filters, blocks, strict=True), start=1):
        for b in range(1, n + 1):
            x = _basic_block(x, f, 2 if (b == 1 and s > 1) else 1, f"enc{s}_block{b}")
        skips.append(x)
    e1, e2, e3, _ = skips
    x = _centre(x)
    d4 = layers.Add(name="skip3")([_decoder_block(x, filters[2], "dec4"), e3])
    d3 = layers.Add(name="skip2")([_decoder_block(d4, filters[1], "dec3"), e2])
    d2 = layers.Add(name="skip1")([_decoder_block(d3, filters[0], "dec2"), e1])
    d1 = _decoder_block(d2, filters[0], "dec1")
    y = layers.Conv2DTranspose(head, 4, strides=2, padding="same", activation="relu",
                               name="head_deconv")(d1)
    y = layers.Conv2D(head, 3, padding="same", activation="relu", name="head_conv")(y)
    out_ch = 1 if classes == 2 else classes
    y = layers.Conv2D(out_ch, 3, padding="same", name="head_logits")(y)
    act = "sigmoid" if classes == 2 else "softmax"
    outputs = layers.Activation(act, dtype="float32", name="probabilities")(y)
    return keras.Model(inputs, outputs, name=name)


# --- loss ---------------------------------------------------------------------------------

_EPS = 1e-7


def dice_coefficient(y_true: Any, y_pred: Any) -> Any:
    """Soft Dice over the whole batch, ``2 sum(y p) / (sum y + sum p)``; 1 when both are 0."""
    y_true = ops.cast(y_true, y_pred.dtype)
    inter = ops.sum(y_true * y_pred)
    denom = ops.sum(y_true) + ops.sum(y_pred)
    safe = ops.where(denom > 0, denom, ops.ones_like(denom))
    return ops.where(denom > 0, 2.0 * inter / safe, ops.ones_like(denom))


@keras.saving.register_keras_serializable(package="tomokit_seg")
def bce_dice_loss(y_true: Any, y_pred: Any) -> Any:
    """Binary cross-entropy (mean over pixels) + 1 - batch Dice, for a sigmoid output."""
    y_true = ops.cast(y_true, y_pred.dtype)
    p = ops.clip(y_pred, _EPS, 1.0 - _EPS)
    bce = -ops.mean(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    return bce + 1.0 - dice_coefficient(y_true, y_pred)


@keras.saving.register_keras_serializable(package="tomokit_seg")
def categorical_dice_loss(y_true: Any, y_pred: Any) -> Any:
    """Multi-class form: categorical cross-entropy + 1 - mean over classes of each class's
    batch Dice (one-hot ``y_true``, softmax ``y_pred``)."""
    y_true = ops.cast(y_true, y_pred.dtype)
    p = ops.clip(y_pred, _EPS, 1.0)
    cce = -ops.mean(ops.sum(y_true * ops.log(p), axis=-1))
    axes = tuple(range(len(y_pred.shape) - 1))
    inter = ops.sum(y_true * y_pred, axis=axes)
    denom = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
    safe = ops.where(denom > 0, denom, ops.ones_like(denom))
    dice = ops.where(denom > 0, 2.0 * inter / safe, ops.ones_like(denom))
    return cce + 1.0 - ops.mean(dice)


def segmentation_loss(classes: int) -> Any:
    """The loss for a network with ``classes`` phases (sigmoid for 2, softmax above)."""
    return bce_dice_loss if classes == 2 else categorical_dice_loss
