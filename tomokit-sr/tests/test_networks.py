"""The network builders: shapes at x2/x4/x8, the design, and safe-mode save/load."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")

keras = pytest.importorskip("keras")

from tomokit import InvalidInputError  # noqa: E402
from tomokit_sr.networks import build_chemisr, build_edsr  # noqa: E402

SMALL = {"n_feats": 8, "n_blocks": 1}
SMALL_GUIDED = {**SMALL, "guide_feats": 4, "guide_blocks": 1, "refine_blocks": 1}


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_output_shapes(factor):
    low = np.random.default_rng(0).random((2, 6, 7, 1)).astype(np.float32)
    guide = np.random.default_rng(1).random((2, 6 * factor, 7 * factor, 1)).astype(np.float32)
    edsr = build_edsr(factor, **SMALL)
    chemisr = build_chemisr(factor, **SMALL_GUIDED)
    assert edsr(low).shape == (2, 6 * factor, 7 * factor, 1)
    assert chemisr([low, guide]).shape == (2, 6 * factor, 7 * factor, 1)


def test_design_convolution_only_no_batch_norm():
    model = build_chemisr(4)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Dense" not in kinds and "BatchNormalization" not in kinds and "Lambda" not in kinds
    assert {"Conv2D", "PixelShuffle", "Concatenate", "Rescaling", "BilinearUpsample"} <= kinds
    scales = {layer.scale for layer in model.layers if type(layer).__name__ == "Rescaling"}
    assert scales == {0.1}
    # 8 low-resolution blocks, 2 guide blocks, 4 refinement blocks
    names = [layer.name for layer in model.layers]
    assert sum(n.endswith("_add") and n.startswith("low_block") for n in names) == 8
    assert sum(n.endswith("_add") and n.startswith("refine_block") for n in names) == 4


def test_zero_detail_is_bilinear():
    """With the last convolution zeroed the network is bilinear upsampling: the global
    residual carries the chemical map's values through."""
    import tomokit

    model = build_edsr(4, **SMALL)
    out_conv = model.get_layer("out_conv")
    out_conv.set_weights([np.zeros_like(w) for w in out_conv.get_weights()])
    low = np.random.default_rng(2).random((9, 9)).astype(np.float32)
    got = np.asarray(model(low[None, ..., None]))[0, ..., 0]
    ref = tomokit.load("super_resolver", "bilinear").upscale(low)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_icnr_upsampling_starts_without_checkerboard():
    """Each x2 stage starts as nearest-neighbour: 2x2 blocks of its output are equal."""
    model = build_edsr(4, **SMALL)
    low = np.random.default_rng(5).random((1, 6, 6, 1)).astype(np.float32)
    probe = keras.Model(model.input, model.get_layer("up1_shuffle").output)
    y = np.asarray(probe(low))[0]
    for di in range(2):
        for dj in range(2):
            np.testing.assert_allclose(y[di::2, dj::2], y[::2, ::2], atol=1e-6)


def test_pixel_shuffle_matches_depth_to_space_order():
    from tomokit_sr._layers import PixelShuffle

    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)
    y = np.asarray(PixelShuffle(2)(x))
    assert y.shape == (2, 6, 8, 2)
    # output[b, 2i+di, 2j+dj, c] = input[b, i, j, (2 di + dj) * C + c]
    for di in range(2):
        for dj in range(2):
            np.testing.assert_array_equal(y[:, di::2, dj::2, :], x[..., (2 * di + dj) * 2:][..., :2])


def test_one_graph_serves_every_size():
    """predict_on_batch retraces with unknown sizes; the layers must take sizes at run time."""
    model = build_chemisr(2, **SMALL_GUIDED)
    for h, w in [(6, 6), (5, 9), (12, 7)]:
        low = np.zeros((1, h, w, 1), np.float32)
        guide = np.zeros((1, 2 * h, 2 * w, 1), np.float32)
        assert model.predict_on_batch([low, guide]).shape == (1, 2 * h, 2 * w, 1)


def test_custom_layer_round_trip_safe_mode(tmp_path):
    from tomokit_sr._layers import PixelShuffle

    model = build_chemisr(2, **SMALL_GUIDED)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert any(isinstance(layer, PixelShuffle) for layer in loaded.layers)
    low = np.random.default_rng(3).random((1, 5, 5, 1)).astype(np.float32)
    guide = np.random.default_rng(4).random((1, 10, 10, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model([low, guide])),
                                  np.asarray(loaded([low, guide])))
    layer = PixelShuffle.from_config(PixelShuffle(4, name="p").get_config())
    assert layer.scale == 4


def test_bad_builder_arguments():
    with pytest.raises(InvalidInputError, match="factor"):
        build_edsr(3)
    with pytest.raises(InvalidInputError, match="n_blocks"):
        build_chemisr(4, n_blocks=-1)
