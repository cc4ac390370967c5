"""Builders of the learned super-resolution networks (Keras; imported inside functions).

``edsr``: the single-input residual network (Lim et al. 2017, EDSR): a 3x3 head
convolution, residual blocks conv-ReLU-conv without batch normalisation whose output is
scaled by 0.1 before the skip addition, a trunk skip, and x2 pixel-shuffle stages up to
the factor. ``chemisr``: the same low-resolution branch (its upsampled features) plus a
guide branch of convolutions on the high-resolution absorption image, concatenated at
high resolution and refined by further residual blocks. Both are convolution-only (any
image size) and add their output to the bilinearly upsampled input (a global residual),
so the network only learns the detail and the chemical map's values pass through.

Inputs are single-channel: ``low`` ``(h, w, 1)`` scaled by its max (see
``tomokit_sr.data.normalize_low``), ``guide`` ``(f h, f w, 1)`` in [0, 1].
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_chemisr", "build_edsr"]

_FACTORS = (2, 4, 8)


def _check(factor: int, **sizes: int) -> None:
    from tomokit import InvalidInputError

    if factor not in _FACTORS:
        raise InvalidInputError(f"factor: expected 2, 4 or 8, got {factor}")
    for name, value in sizes.items():
        if int(value) != value or value < (1 if name == "n_feats" else 0):
            raise InvalidInputError(f"{name}: expected an integer >= 0, got {value}")


def _res_block(x: Any, n_feats: int, res_scale: float, name: str) -> Any:
    """conv-ReLU-conv, scaled by ``res_scale``, added to the input (no batch norm)."""
    import keras
    from keras import layers

    y = layers.Conv2D(n_feats, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
    y = layers.Conv2D(n_feats, 3, padding="same", name=f"{name}_conv2")(y)
    if res_scale != 1.0:
        y = layers.Rescaling(res_scale, name=f"{name}_scale")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _low_branch(low: Any, factor: int, n_feats: int, n_blocks: int, res_scale: float) -> Any:
    """EDSR trunk on the low-resolution map and pixel-shuffle upsampling to ``factor``:
    high-resolution features ``(f h, f w, n_feats)``."""
    from keras import layers

    from tomokit_sr._layers import PixelShuffle

    head = layers.Conv2D(n_feats, 3, padding="same", name="low_head")(low)
    x = head
    for i in range(n_blocks):
        x = _res_block(x, n_feats, res_scale, f"low_block{i}")
    x = layers.Conv2D(n_feats, 3, padding="same", name="low_tail")(x)
    x = layers.Add(name="low_skip")([head, x])
    for i in range(factor.bit_length() - 1):  # log2(factor) x2 stages
        conv = layers.Conv2D(4 * n_feats, 3, padding="same", name=f"up{i}_conv")
        x = PixelShuffle(2, name=f"up{i}_shuffle")(conv(x))
        _icnr(conv, n_feats)
    return x


def _icnr(conv: Any, n_out: int) -> None:
    """ICNR initialisation (Aitken et al. 2017) of a convolution feeding PixelShuffle(2):
    the four sub-pixel filters of each output channel start equal, so the upsampling
    starts as nearest-neighbour and no checkerboard is there to unlearn. Set on the
    weights (from the layer's own seeded initial kernel), not as a custom initialiser,
    so the saved config needs nothing beyond Keras' own."""
    import numpy as np

    kernel, bias = conv.get_weights()
    first = kernel[..., :n_out]
    # depth_to_space reads channel (2 di + dj) * C + c for sub-pixel (di, dj)
    conv.set_weights([np.tile(first, (1, 1, 1, 4)), np.tile(bias[:n_out], 4)])


def _global_residual(low: Any, detail: Any, factor: int) -> Any:
    from keras import layers

    from tomokit_sr._layers import BilinearUpsample

    base = BilinearUpsample(factor, name="bilinear")(low)
    return layers.Add(name="global_residual")([base, detail])


def build_edsr(
    factor: int = 4, *, n_feats: int = 32, n_blocks: int = 8, res_scale: float = 0.1
) -> Any:
    """Single-input EDSR-style network ``low (h, w, 1) -> (f h, f w, 1)``."""
    import keras
    from keras import layers

    _check(factor, n_feats=n_feats, n_blocks=n_blocks)
    low = keras.Input((None, None, 1), name="low")
    x = _low_branch(low, factor, n_feats, n_blocks, res_scale)
    detail = layers.Conv2D(1, 3, padding="same", name="out_conv")(x)
    return keras.Model(low, _global_residual(low, detail, factor), name=f"edsr_x{factor}")


def build_chemisr(
    factor: int = 4,
    *,
    n_feats: int = 32,
    n_blocks: int = 8,
    guide_feats: int = 16,
    guide_blocks: int = 2,
    refine_blocks: int = 4,
    res_scale: float = 0.1,
) -> Any:
    """Dual-input ChemISR-style network ``(low (h, w, 1), guide (f h, f w, 1)) -> (f h, f w, 1)``.

    The guide branch (head convolution, ReLU, residual blocks) gives edge features of the
    absorption image at full resolution; they are concatenated with the upsampled
    chemical features, mixed by a 3x3 convolution and refined by residual blocks.
    """
    import keras
    from keras import layers

    _check(factor, n_feats=n_feats, n_blocks=n_blocks, guide_feats=guide_feats,
           guide_blocks=guide_blocks, refine_blocks=refine_blocks)
    low = keras.Input((None, None, 1), name="low")
    guide = keras.Input((None, None, 1), name="guide")
    x = _low_branch(low, factor, n_feats, n_blocks, res_scale)
    g = layers.Conv2D(guide_feats, 3, padding="same", activation="relu", name="guide_head")(guide)
    for i in range(guide_blocks):
        g = _res_block(g, guide_feats, res_scale, f"guide_block{i}")
    y = layers.Concatenate(name="fuse_concat")([x, g])
    y = layers.Conv2D(n_feats, 3, padding="same", name="fuse_conv")(y)
    for i in range(refine_blocks):
        y = _res_block(y, n_feats, res_scale, f"refine_block{i}")
    detail = layers.Conv2D(1, 3, padding="same", name="out_conv")(y)
    out = _global_residual(low, detail, factor)
    return keras.Model([low, guide], out, name=f"chemisr_x{factor}")
