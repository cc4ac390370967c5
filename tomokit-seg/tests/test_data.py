"""Normalisation, crops, augmentation and targets (numpy, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from tomokit import InvalidInputError
from tomokit_seg.data import augment, check_labels, normalize_image, random_crops, targets


def test_augment_moves_image_and_labels_together():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (64, 8, 8)).astype(np.uint8)
    base = labels[0]
    images, out = augment(labels.astype(np.float32), np.repeat(base[None], 64, 0), rng,
                          shift=0.0, scale=0.0)
    variants = set()
    for _im, lb in zip(images, out, strict=True):
        variants.add(lb.tobytes())
        assert any(np.array_equal(lb, np.rot90(f, k)) for k in range(4)
                   for f in (base, base[:, ::-1]))
    assert len(variants) == 8  # the whole dihedral group turns up
    same, lab2 = augment(base[None].astype(np.float32), base[None], np.random.default_rng(5),
                         shift=0.0, scale=0.0)
    assert np.array_equal(same[0], lab2[0].astype(np.float32))


def test_augment_intensity_is_small_and_seeded():
    x = np.ones((20, 4, 4), np.float32)
    a, _ = augment(x, np.zeros((20, 4, 4), np.uint8), np.random.default_rng(1), shift=0.05,
                   scale=0.05)
    b, _ = augment(x, np.zeros((20, 4, 4), np.uint8), np.random.default_rng(1), shift=0.05,
                   scale=0.05)
    assert np.array_equal(a, b)
    assert np.all(np.abs(a - 1) <= 0.1 + 1e-6) and a.std() > 0


def test_normalize_crops_targets():
    x = np.stack([np.linspace(0, 10, 100).reshape(10, 10), np.full((10, 10), 3.0)])
    n = normalize_image(x)
    assert n[0].min() == pytest.approx(-0.005, abs=1e-3) and n[0].max() == pytest.approx(1.005, abs=1e-3)
    assert np.all(n[1] == 0)
    lab = np.arange(2 * 10 * 10).reshape(2, 10, 10) % 3
    ci, cl = random_crops(x, lab, 4, 5, np.random.default_rng(0))
    assert ci.shape == cl.shape == (5, 4, 4)
    with pytest.raises(InvalidInputError, match="crop size"):
        random_crops(x, lab, 11, 1, np.random.default_rng(0))
    assert targets(np.array([[0, 1]]), 2).shape == (1, 2, 1)
    assert targets(np.array([[0, 2]]), 3).tolist() == [[[1, 0, 0], [0, 0, 1]]]
    with pytest.raises(InvalidInputError, match="3 classes"):
        targets(np.array([[0, 3]]), 3)


def test_check_labels_errors():
    assert check_labels(np.array([[0.0, 2.0]]), (1, 2)).dtype == np.uint8
    with pytest.raises(InvalidInputError, match="shape"):
        check_labels(np.zeros((3, 3)), (4, 4))
    with pytest.raises(InvalidInputError, match="non-integer"):
        check_labels(np.array([[0.5, 1.0]]), (1, 2))
    with pytest.raises(InvalidInputError, match=r"0\.\.255"):
        check_labels(np.array([[-1, 1]]), (1, 2))
