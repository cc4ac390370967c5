"""Phantom triples: splits by seed, units, augmentation with a misregistered guide."""

from __future__ import annotations

import numpy as np
import pytest

from tomokit import InvalidInputError
from tomokit_sr.classical import block_mean
from tomokit_sr.data import (
    SPLIT_SEEDS,
    augment,
    make_triples,
    normalize_low,
    patch_batch,
    shift_guide,
)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_triples_shapes_and_units(factor):
    triples = make_triples("train", 2, factor=factor, size=64, noise=False)
    assert len(triples) >= 2
    for t in triples:
        assert t.low.shape == (64 // factor, 64 // factor)
        assert t.guide.shape == t.truth.shape == (64, 64)
        assert t.factor == factor
        assert set(np.unique(t.truth)) <= {0.0, 1.0}  # concentration (area fraction)
        # noiseless: the low-resolution map is the block mean of the truth (the beam)
        np.testing.assert_allclose(t.low, block_mean(t.truth, factor), atol=1e-4)


def test_noise_and_determinism():
    a = make_triples("test", 1, size=64)
    b = make_triples("test", 1, size=64)
    clean = make_triples("test", 1, size=64, noise=False)
    np.testing.assert_array_equal(a[0].low, b[0].low)
    assert not np.allclose(a[0].low, clean[0].low)
    assert abs(float(a[0].low.mean() - clean[0].low.mean())) < 0.02  # unbiased unmixing


def test_splits_are_disjoint_by_seed():
    seeds = {s: {t.source for t in make_triples(s, 3, size=32)} for s in SPLIT_SEEDS}
    assert not seeds["train"] & seeds["validation"]
    assert not seeds["train"] & seeds["test"]
    assert not seeds["validation"] & seeds["test"]


def test_bad_arguments():
    with pytest.raises(InvalidInputError, match="split"):
        make_triples("training", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="factor"):
        make_triples("train", 1, factor=3)
    with pytest.raises(InvalidInputError, match="size"):
        make_triples("train", 1, size=36, factor=8)


def test_augment_misregisters_guide_by_at_most_two_pixels():
    """Guides encoding their own row / column (bilinear shifts of a ramp are exact): the
    augmented guide differs from the equally rotated truth by a constant offset of at
    most 2 px along each axis."""
    yy, xx = np.mgrid[:64, :64].astype(np.float32)
    largest = 0.0
    for seed in range(30):
        offsets = []
        for ramp in (yy, xx):
            low = block_mean(ramp, 4)
            rng = np.random.default_rng(seed)  # same rotation, flip and shift for both
            lo, g, t = augment(low, ramp, ramp, rng, guide_noise=0.0, shift_probability=1.0)
            np.testing.assert_allclose(block_mean(t, 4), lo, rtol=1e-5)  # same geometry
            d = (g - t)[8:-8, 8:-8]
            assert np.ptp(d) < 1e-3  # a rigid shift
            offsets.append(float(np.median(d)))
        assert max(abs(o) for o in offsets) <= 2.0 + 1e-4
        largest = max(largest, *map(abs, offsets))
    assert largest > 1.0  # shifts of the full range happen
    moved = shift_guide(xx + 100 * yy, 2.0, 0.0)
    np.testing.assert_allclose(moved[10:-10, 10:-10], (xx + 100 * yy)[8:-12, 10:-10], atol=1e-3)


def test_patch_batch_normalises_like_prediction():
    triples = make_triples("train", 1, size=64)
    t = triples[0]
    lows = np.stack([t.low * 5.0])
    (low, guide), truth = patch_batch(lows, t.guide[None], (t.truth * 5.0)[None], patch=8,
                                      rng=np.random.default_rng(0), augment_data=False)
    assert low.shape == (1, 8, 8, 1) and guide.shape == truth.shape == (1, 32, 32, 1)
    assert np.abs(low).max() <= 1.0 + 1e-6 and guide.min() >= 0 and guide.max() <= 1
    _, scale = normalize_low(lows[0])
    assert scale.shape == (1, 1) and scale.item() == pytest.approx(5 * np.abs(t.low).max())
    with pytest.raises(InvalidInputError, match="patch"):
        patch_batch(lows, t.guide[None], t.truth[None], patch=64, rng=np.random.default_rng(0))


def test_patch_batch_augmented_crops_stay_aligned():
    """After rotation, flip and the margin trim, each low-resolution crop is still the
    block mean of its truth crop (noiseless data), and the guide crop is the truth's
    neighbourhood (same size, values in [0, 1] up to the added noise)."""
    triples = make_triples("train", 2, size=64, noise=False)
    lows = np.stack([t.low for t in triples])
    guides = np.stack([t.guide for t in triples])
    truths = np.stack([t.truth for t in triples])
    (low, guide), truth = patch_batch(lows, guides, truths, patch=8,
                                      rng=np.random.default_rng(3), augment_data=True)
    for k in range(len(low)):
        np.testing.assert_allclose(block_mean(truth[k, ..., 0], 4), low[k, ..., 0], atol=1e-5)
    assert guide.shape == truth.shape == (len(triples), 32, 32, 1)
    assert guide.min() > -0.2 and guide.max() < 1.2


def test_patch_batch_wrong_guide_swaps_guides_between_rows():
    """With ``wrong_guide=1`` every row gets another row's guide crop (the robustness
    augmentation); the maps and truths stay paired."""
    triples = make_triples("train", 2, size=64, noise=False)
    lows = np.stack([t.low for t in triples])
    guides = np.stack([t.guide for t in triples])
    truths = np.stack([t.truth for t in triples])
    kw = dict(patch=8, augment_data=True, max_shift=0.0)
    (low0, guide0), truth0 = patch_batch(lows, guides, truths, rng=np.random.default_rng(5),
                                         wrong_guide=0.0, **kw)
    (low1, guide1), truth1 = patch_batch(lows, guides, truths, rng=np.random.default_rng(5),
                                         wrong_guide=1.0, **kw)
    np.testing.assert_array_equal(low0, low1)
    np.testing.assert_array_equal(truth0, truth1)
    for k in range(len(low1)):
        np.testing.assert_allclose(block_mean(truth1[k, ..., 0], 4), low1[k, ..., 0], atol=1e-5)
        assert not np.array_equal(guide1[k], guide0[k])
        assert any(np.array_equal(guide1[k], guide0[j]) for j in range(len(low0)) if j != k)
