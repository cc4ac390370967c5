"""Classical super-resolvers: against scikit-image, and the properties they must keep."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.transform import resize

import tomokit
from tomokit import InvalidInputError
from tomokit.testing import check_component
from tomokit_sr.classical import (
    Bicubic,
    Bilinear,
    GuidedFilter,
    JointBilateral,
    Nearest,
    block_mean,
)

CLASSES = [Nearest, Bilinear, Bicubic, GuidedFilter, JointBilateral]
NAMES = ["nearest", "bilinear", "bicubic", "guided_filter", "joint_bilateral"]


def _smooth(h: int, w: int, c: int | None = None) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    img = 0.5 + 0.3 * np.sin(2.1 * xx + 0.4) * np.cos(1.7 * yy)
    if c is None:
        return img.astype(np.float32)
    return np.stack([img * (k + 1) for k in range(c)], axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def pair():
    """A catalyst chemical/absorption pair at x4 (noiseless maps, clean guide)."""
    from tomokit_phantom import chemical_pair, generate

    s = generate("catalyst", 128, 7)
    p = chemical_pair(s, factor=4)
    return np.moveaxis(p.maps_low, 0, -1), p.absorption, np.moveaxis(p.maps_high, 0, -1)


@pytest.mark.parametrize("cls", CLASSES)
def test_contract(cls):
    check_component(cls)


@pytest.mark.parametrize("name,order", [("nearest", 0), ("bilinear", 1), ("bicubic", 3)])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_interpolation_matches_scikit_image(name, order, factor):
    low = np.random.default_rng(factor).random((9, 11, 3)).astype(np.float32)
    out = tomokit.load("super_resolver", name, factor=factor).upscale(low)
    ref = resize(low.astype(np.float64), (9 * factor, 11 * factor, 3), order=order,
                 mode="edge", anti_aliasing=False, clip=False)
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_nearest_is_pixel_replication():
    low = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = tomokit.load("super_resolver", "nearest", factor=2).upscale(low)
    np.testing.assert_array_equal(out, np.kron(low, np.ones((2, 2))))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_constant_stays_constant(name, factor):
    low = np.full((8, 8, 2), 0.37, dtype=np.float32)
    guide = _smooth(8 * factor, 8 * factor) * 3.0
    out = tomokit.load("super_resolver", name, factor=factor).upscale(low, guide)
    assert out.shape == (8 * factor, 8 * factor, 2)
    np.testing.assert_allclose(out, 0.37, atol=1e-5)


@pytest.mark.parametrize("name,params", [
    ("bilinear", {}), ("bicubic", {}), ("joint_bilateral", {}),
    # eps well below the local guide variance of a smooth image (else it smooths)
    ("guided_filter", {"eps": 1e-6}),
])
def test_downsample_upsample_smooth_image(name, params):
    """A smooth image survives block-mean downsampling and upscaling closely."""
    truth = _smooth(128, 128)
    low = block_mean(truth, 4)
    out = tomokit.load("super_resolver", name, **params).upscale(low, truth)
    assert float(np.abs(out - truth)[8:-8, 8:-8].max()) < 0.02
    # and much closer than the nearest-neighbour blocks
    blocks = tomokit.load("super_resolver", "nearest").upscale(low)
    assert np.mean((out - truth) ** 2) < 0.2 * np.mean((blocks - truth) ** 2)


@pytest.mark.parametrize("name", NAMES)
def test_values_and_scale_kept(name):
    """Absolute values: scaling the chemical map scales the result (linear or normalised)."""
    rng = np.random.default_rng(1)
    low = rng.random((12, 12)).astype(np.float32)
    guide = rng.random((48, 48)).astype(np.float32)
    m = tomokit.load("super_resolver", name)
    a, b = m.upscale(low, guide), m.upscale(7.5 * low, guide)
    np.testing.assert_allclose(b, 7.5 * a, rtol=1e-4, atol=1e-5)


def test_joint_bilateral_stays_in_neighbourhood_range(pair):
    low, guide, _ = pair
    out = tomokit.load("super_resolver", "joint_bilateral").upscale(low, guide)
    assert out.min() >= low.min() - 1e-6 and out.max() <= low.max() + 1e-6


def test_guided_filter_linear_guide_is_exact():
    """When the chemical map is a linear function of the guide, the local linear model
    of the guided filter recovers it at full resolution (bicubic cannot)."""
    from skimage.draw import disk

    guide = np.zeros((96, 96), dtype=np.float32)
    for cy, cx, r in [(30, 30, 14), (60, 65, 20), (20, 75, 9)]:
        guide[disk((cy, cx), r, shape=guide.shape)] = 1.0
    truth = 0.2 + 0.6 * guide
    low = block_mean(truth, 4)
    gf = tomokit.load("super_resolver", "guided_filter", eps=1e-4).upscale(low, guide)
    bic = tomokit.load("super_resolver", "bicubic").upscale(low)
    assert np.mean((gf - truth) ** 2) < 0.1 * np.mean((bic - truth) ** 2)


@pytest.mark.parametrize("name", ["guided_filter", "joint_bilateral"])
def test_guided_methods_preserve_edges_better_than_bicubic(name, pair):
    """On a phantom pair the guide's edges make the map sharper: lower MSE and larger
    gradients at the phase boundaries than bicubic interpolation."""
    from tomokit_sr.data import triples_from_pair  # noqa: F401 (data module imports)

    low, guide, truth = pair
    # the electrode: two diffracting phases whose attenuation orders them
    from tomokit_phantom import chemical_pair, generate

    p = chemical_pair(generate("electrode", 128, 3), factor=4)
    low, guide, truth = p.maps_low[0], p.absorption, p.maps_high[0]
    out = tomokit.load("super_resolver", name).upscale(low, guide)
    bic = tomokit.load("super_resolver", "bicubic").upscale(low)
    assert np.mean((out - truth) ** 2) < np.mean((bic - truth) ** 2)
    edges = np.hypot(*np.gradient(truth)) > 0.25

    def edge_strength(img):
        return float(np.hypot(*np.gradient(img))[edges].mean())

    assert edge_strength(out) > edge_strength(bic)


def test_per_channel_guide_and_cube(pair):
    low, guide, _ = pair
    m = tomokit.load("super_resolver", "joint_bilateral", channel_block=2)
    shared = m.upscale(low, guide)
    per_channel = m.upscale(low, np.repeat(guide[..., None], low.shape[2], axis=2))
    np.testing.assert_allclose(shared, per_channel, atol=1e-6)
    one_by_one = np.stack([m.upscale(low[..., k], guide) for k in range(low.shape[2])], -1)
    np.testing.assert_allclose(shared, one_by_one, atol=1e-6)


def test_run_step_stack_of_cubes(pair):
    low, guide, _ = pair
    m = tomokit.load("super_resolver", "guided_filter")
    out = m.run_step({"low": np.stack([low, low]), "guide": np.stack([guide, guide])},
                     rng=np.random.default_rng(0))
    assert out.shape == (2, *guide.shape, low.shape[2])
    np.testing.assert_allclose(out[1], m.upscale(low, guide), atol=1e-6)


@pytest.mark.parametrize(
    "low,guide,factor,message",
    [
        (np.zeros((8, 8)), np.zeros((30, 32)), 4, "guide: shape (30, 32) is not factor 4"),
        (np.zeros((8, 8)), np.zeros((16, 16)), 4, "expected (32, 32)"),
        (np.zeros((8, 8, 3)), np.zeros((32, 32, 2)), 4, "guide: 2 channels but low has 3"),
        (np.full((8, 8), np.nan), np.zeros((32, 32)), 4, "low: 64 non-finite"),
        (np.zeros((8, 8)), np.full((32, 32), np.inf), 4, "guide: 1024 non-finite"),
        (np.zeros((1, 8)), np.zeros((4, 32)), 4, "too small"),
        (np.zeros((2, 2, 2, 2)), None, 4, "expected (H, W) or (H, W, channels)"),
        (np.zeros((8, 8)), None, 4, "needs the high-resolution guide"),
    ],
)
def test_one_clear_error(low, guide, factor, message):
    name = "guided_filter"
    with pytest.raises(InvalidInputError) as info:
        tomokit.load("super_resolver", name, factor=factor).upscale(low, guide)
    assert message in str(info.value)


def test_unguided_methods_still_check_the_guide():
    with pytest.raises(InvalidInputError, match="not factor 2"):
        tomokit.load("super_resolver", "bicubic", factor=2).upscale(np.zeros((8, 8)),
                                                                    np.zeros((32, 32)))


def test_factor_is_validated():
    with pytest.raises(InvalidInputError):
        tomokit.load("super_resolver", "bilinear", factor=3)


def test_input_not_modified(pair):
    low, guide, _ = pair
    a, b = low.copy(), guide.copy()
    for name in NAMES:
        tomokit.load("super_resolver", name).upscale(low, guide)
    np.testing.assert_array_equal(low, a)
    np.testing.assert_array_equal(guide, b)


def test_run_step_stack_of_slices():
    """(N, h, w) with guides (N, f h, f w): slices, as volumes from files are streamed."""
    rng = np.random.default_rng(4)
    low = rng.random((3, 8, 8)).astype(np.float32)
    guide = rng.random((3, 32, 32)).astype(np.float32)
    m = tomokit.load("super_resolver", "joint_bilateral")
    out = m.run_step({"low": low, "guide": guide}, rng=np.random.default_rng(0))
    assert out.shape == (3, 32, 32)
    np.testing.assert_allclose(out[2], m.upscale(low[2], guide[2]), atol=1e-6)
    # without a guide a 3-D array is a cube (H, W, channels)
    bil = tomokit.load("super_resolver", "bilinear")
    assert bil.run_step({"low": low}, rng=np.random.default_rng(0)).shape == (12, 32, 8)
