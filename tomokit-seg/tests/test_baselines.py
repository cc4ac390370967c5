"""Threshold and clustering baselines on labelled phantoms."""

from __future__ import annotations

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError, metrics
from tomokit.testing import check_component
from tomokit_seg.baselines import FuzzyCMeans, KMeans, MultiOtsu, Otsu, ordinal_logistic
from tomokit_seg.evaluate import align_labels, boundary_band

BASELINES = [("otsu", {}), ("multi_otsu", {"classes": 2}), ("fuzzy_cmeans", {"classes": 2}),
             ("kmeans", {"classes": 2})]


@pytest.mark.parametrize("cls", [Otsu, MultiOtsu, FuzzyCMeans, KMeans])
def test_component_contract(cls):
    check_component(cls)


@pytest.mark.parametrize("name,params", BASELINES)
def test_two_phase_acquired_electrode(name, params, two_phase):
    image, truth = two_phase
    seg = tomokit.load("segmenter", name, **params)
    out = seg.run_step({"images": image}, rng=np.random.default_rng(0))
    labels, probs, unc = out["labels"], out["probabilities"], out["uncertainty"]
    assert labels.shape == image.shape and labels.dtype == np.uint8
    assert probs.shape == (*image.shape, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert np.array_equal(labels, probs.argmax(-1))
    # pore (dark) is class 0 for every method, as in the phantom's labels
    assert metrics.mean_f1(labels, truth) > 0.9
    # unsure where phases meet (partial volume, blur), sure in the bulk
    near = boundary_band(truth)
    assert unc[near].mean() > 1.5 * unc[~near].mean()
    if name != "fuzzy_cmeans":  # FCM memberships (m = 2) stay soft in the bulk
        assert unc[near].mean() > 3 * unc[~near].mean()
    # deterministic, and the same for a volume as for its slices' shared model
    again = tomokit.load("segmenter", name, **params).segment(image)
    assert np.array_equal(again, labels)
    stack = seg.segment(np.stack([image, image]))
    assert stack.shape == (2, *image.shape) and np.array_equal(stack[1], labels)


@pytest.mark.parametrize("name", ["multi_otsu", "fuzzy_cmeans", "kmeans"])
def test_three_phases_ordered_dark_to_bright(name, three_phase):
    image, truth = three_phase
    seg = tomokit.load("segmenter", name, classes=3)
    labels = seg.segment(image)
    means = [image[labels == c].mean() for c in range(3)]
    assert means == sorted(means)
    aligned, mapping = align_labels(labels, truth, n_classes=3)
    # dark to bright: pore (0), carbon binder (2), active (1)
    assert mapping == {0: 0, 1: 2, 2: 1}
    assert metrics.mean_f1(aligned, truth) > 0.9


def test_methods_agree_with_each_other(two_phase):
    image, _ = two_phase
    labels = [tomokit.load("segmenter", n, **p).segment(image) for n, p in BASELINES]
    for other in labels[1:]:
        assert np.mean(other == labels[0]) > 0.98


def test_otsu_matches_hard_threshold_and_width():
    from skimage.filters import threshold_otsu

    x = np.concatenate([np.zeros(500), np.ones(500)]).reshape(20, 50).astype(np.float32)
    x += np.random.default_rng(0).normal(0, 0.1, x.shape).astype(np.float32)
    t = threshold_otsu(x)
    seg = Otsu()
    assert np.array_equal(seg.segment(x), (x > t).astype(np.uint8))
    wide = Otsu(width=0.5).probabilities(x)[0][0, ..., 1]
    # the logistic of (x - t) / width, by hand
    np.testing.assert_allclose(wide, 1 / (1 + np.exp(-(x - t) / 0.5)), rtol=1e-5, atol=1e-6)
    sharp = Otsu(width=1e-3).probabilities(x)[0]
    assert np.median(1 - sharp.max(-1)) < 1e-6


def test_multi_otsu_thresholds_and_ordinal_memberships():
    from skimage.filters import threshold_multiotsu

    rng = np.random.default_rng(3)
    x = np.repeat([0.0, 1.0, 2.0, 3.0], 400).astype(np.float32) + rng.normal(0, 0.1, 1600)
    x = x.reshape(40, 40).astype(np.float32)
    t = threshold_multiotsu(x, classes=4)
    labels = MultiOtsu(classes=4).segment(x)
    assert np.mean(labels == np.digitize(x, t)) > 0.99
    p = ordinal_logistic(np.array([-10.0, 0.5, 1.5, 10.0]), np.array([0.0, 1.0]), np.array([0.1, 0.1]))
    assert p.shape == (4, 3)
    np.testing.assert_allclose(p.sum(-1), 1, atol=1e-6)
    assert p.argmax(-1).tolist() == [0, 1, 2, 2]
    sig = 1 / (1 + np.exp(-5.0))  # x = 0.5 is 5 widths above t_1 and below t_2
    assert p[1, 1] == pytest.approx(sig - (1 - sig), rel=1e-5)


def test_fuzzy_memberships_are_fcm_fixed_point():
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0, 0.1, 300), rng.normal(1, 0.1, 300)])
    from tomokit_seg.baselines import fcm_memberships, fuzzy_cmeans

    v = fuzzy_cmeans(x, 2, m=2.0, rng=0)
    u = fcm_memberships(x, v, 2.0)
    # the centres are the membership-weighted means of the data (FCM's fixed point)
    np.testing.assert_allclose((u**2 @ x) / (u**2).sum(1), v, atol=1e-4)
    assert v[0] == pytest.approx(0, abs=0.05) and v[1] == pytest.approx(1, abs=0.05)


def test_kmeans_seed_and_temperature(two_phase):
    image, _ = two_phase
    a = KMeans(classes=2, seed=1).probabilities(image)[0]
    b = KMeans(classes=2, seed=1).probabilities(image)[0]
    assert np.array_equal(a, b)
    soft = KMeans(classes=2, seed=1, temperature=10.0).probabilities(image)[0]
    ent = tomokit.components.normalized_entropy
    assert ent(soft).mean() > ent(a).mean()


def test_constant_and_bad_images():
    p = MultiOtsu(classes=3).probabilities(np.ones((8, 8)))[0]
    assert p.shape == (1, 8, 8, 3) and np.all(p[..., 0] == 1)
    with pytest.raises(InvalidInputError, match="non-finite"):
        Otsu().segment(np.full((4, 4), np.nan))
    with pytest.raises(InvalidInputError, match="classes"):
        KMeans(classes=3).segment(np.array([[0.0, 1.0] * 8]))
    with pytest.raises(Exception, match="classes"):
        MultiOtsu(classes=1)
