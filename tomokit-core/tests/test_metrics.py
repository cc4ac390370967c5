from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tomokit import metrics
from tomokit.errors import InvalidInputError


def test_correlations_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.random(50)
    y = x**2 + 0.1 * rng.random(50)
    assert metrics.plcc(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert metrics.srocc(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert metrics.krcc(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def test_logistic_fit_improves_plcc_of_a_monotone_nonlinear_relation():
    x = np.linspace(-3, 3, 40)
    y = 1 / (1 + np.exp(-2 * x))
    assert metrics.plcc(x, y, fit="logistic5") > metrics.plcc(x, y)
    assert metrics.plcc(x, y, fit="logistic4") == pytest.approx(1.0, abs=1e-4)


def test_logistic_fit_with_too_few_points_falls_back_to_a_line():
    assert metrics.plcc([1, 2, 3], [1, 3, 2], fit="logistic5") == pytest.approx(0.5)


def test_errors_and_psnr():
    a = np.zeros((4, 4))
    b = np.full((4, 4), 0.5)
    assert metrics.mae(a, b) == 0.5 and metrics.mse(a, b) == 0.25 and metrics.rmse(a, b) == 0.5
    assert metrics.psnr(a, b, data_range=1.0) == pytest.approx(10 * np.log10(4))
    assert metrics.psnr(a, a, data_range=1.0) == float("inf")
    mask = metrics.circle_mask((4, 4))
    assert metrics.mae(a, b, mask=mask) == 0.5


def test_overlap_scores():
    truth = np.array([[1, 1, 0, 0]])
    pred = np.array([[1, 0, 1, 0]])
    assert metrics.iou(pred, truth) == pytest.approx(1 / 3)
    assert metrics.f1_score(pred, truth) == pytest.approx(0.5)
    assert metrics.iou(np.zeros(3), np.zeros(3)) == 1.0


def test_bad_input_is_named():
    with pytest.raises(InvalidInputError, match="shape"):
        metrics.mae(np.zeros(3), np.zeros(4))
    with pytest.raises(InvalidInputError, match="non-finite"):
        metrics.srocc([1, np.nan], [1, 2])
    with pytest.raises(InvalidInputError, match="data_range"):
        metrics.psnr([1], [1], data_range=0)
    assert np.isnan(metrics.plcc([1, 1, 1], [1, 2, 3]))


def test_error_metrics_name_non_finite_inputs_and_survive_float32_overflow():
    a = np.zeros((3, 3), np.float32)
    b = a.copy()
    b[1, 1] = np.nan
    b[0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="test: 2 non-finite"):
        metrics.mse(a, b)
    with pytest.raises(InvalidInputError, match="reference: 2 non-finite"):
        metrics.mae(b, a)
    big = np.full((2, 2), 3e38, np.float32)
    assert metrics.mse(-big, big) == pytest.approx((6e38) ** 2, rel=1e-6)


def test_error_metrics_are_exact_in_double_over_many_passes():
    """The fused pass (differences widened to float64 and reduced a cache-sized pass at a
    time) gives the float64 result for every dtype, with a tail shorter than one dot
    product; float32 differences are rounded once, as the inputs are."""
    rng = np.random.default_rng(3)
    n = 3 * metrics._PASS + 1234  # several passes and a ragged tail
    for dtype in (np.float32, np.float64, np.uint8, np.int16, np.uint16):
        hi = 255 if dtype == np.uint8 else 1000
        a = (rng.random(n) * hi).astype(dtype)
        b = (rng.random(n) * hi).astype(dtype)
        d = a.astype(np.float64) - b.astype(np.float64)  # uint8 must not wrap around
        rel = 1e-9 if dtype == np.float32 else 1e-13
        assert metrics.mse(a, b) == pytest.approx(np.mean(d * d), rel=rel), dtype
        assert metrics.mae(a, b) == pytest.approx(np.mean(np.abs(d)), rel=rel), dtype
        mask = rng.random(n) < 0.3
        assert metrics.mse(a, b, mask=mask) == pytest.approx(np.mean(d[mask] ** 2), rel=rel)
    # a non-contiguous view, and a NaN far into the last pass is still found and named
    img = rng.random((300, 700))
    assert metrics.mse(img[::2, ::3], img[1::2, ::3]) == pytest.approx(
        np.mean((img[::2, ::3] - img[1::2, ::3]) ** 2), rel=1e-13)
    bad = img.copy()
    bad[-1, -1] = np.nan
    with pytest.raises(InvalidInputError, match="test: 1 non-finite"):
        metrics.psnr(img, bad, data_range=1.0)


def test_error_metrics_rescale_when_double_overflows():
    a = np.zeros(1000)
    b = np.zeros(1000)
    b[0] = 1e155  # its square overflows float64; the mean of squares does not
    assert metrics.mse(a, b) == pytest.approx(1e307, rel=1e-12)  # 1e310 / 1000
    assert metrics.mae(np.full(4, -1e308), np.full(4, 1e308)) == float("inf")


# --- multi-class segmentation scores (tomokit-seg) ----------------------------------------


def test_confusion_matrix_rows_are_truth():
    truth = np.array([[0, 0, 1, 2]])
    pred = np.array([[0, 1, 1, 1]])
    m = metrics.confusion_matrix(pred, truth)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    assert metrics.confusion_matrix(pred, truth, n_classes=4).shape == (4, 4)
    with pytest.raises(InvalidInputError, match="n_classes"):
        metrics.confusion_matrix(pred, truth, n_classes=2)


def test_per_class_scores_by_hand_and_binary_agree():
    truth = np.array([[0, 0, 1, 2]])
    pred = np.array([[0, 1, 1, 1]])
    # class 0: tp 1, fp 0, fn 1; class 1: tp 1, fp 2, fn 0; class 2: tp 0, fn 1
    assert metrics.f1_per_class(pred, truth) == pytest.approx([2 / 3, 0.5, 0.0])
    assert metrics.iou_per_class(pred, truth) == pytest.approx([0.5, 1 / 3, 0.0])
    assert metrics.mean_f1(pred, truth) == pytest.approx((2 / 3 + 0.5) / 3)
    assert metrics.mean_iou(pred, truth) == pytest.approx((0.5 + 1 / 3) / 3)
    b_truth, b_pred = np.array([[1, 1, 0, 0]]), np.array([[1, 0, 1, 0]])
    assert metrics.f1_per_class(b_pred, b_truth)[1] == pytest.approx(metrics.f1_score(b_pred, b_truth))
    assert metrics.iou_per_class(b_pred, b_truth)[1] == pytest.approx(metrics.iou(b_pred, b_truth))
    # a class in neither map is NaN (left out of the means), not a perfect score
    scores = metrics.f1_per_class(np.zeros((2, 2), int), np.zeros((2, 2), int), n_classes=3)
    assert scores[0] == 1.0 and np.isnan(scores[1:]).all()


def test_label_checks_name_the_problem():
    with pytest.raises(InvalidInputError, match="integer"):
        metrics.f1_per_class(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(InvalidInputError, match=">= 0"):
        metrics.iou_per_class(np.array([-1, 1]), np.array([0, 1]))
    with pytest.raises(InvalidInputError, match="shape"):
        metrics.confusion_matrix(np.zeros((2, 2), int), np.zeros((2, 3), int))
    assert metrics.confusion_matrix(np.array([0.0, 1.0]), np.array([True, False])).sum() == 2


def test_boundary_f1_tolerance():
    truth = np.zeros((32, 32), np.uint8)
    truth[:, 16:] = 1
    assert metrics.boundary_f1(truth, truth) == 1.0
    shifted = np.roll(truth, 3, axis=1)
    shifted[:, :3] = 0
    # boundaries are two pixels wide (columns 15, 16 and 18, 19): the moved edge is
    # 2 to 4 px away, so half of it lies within 2 px and all of it within 3 px
    assert metrics.boundary_f1(shifted, truth, tolerance=1) == 0.0
    assert metrics.boundary_f1(shifted, truth, tolerance=2) == pytest.approx(0.5)
    assert metrics.boundary_f1(shifted, truth, tolerance=3) == 1.0
    # a spurious blob halves precision of its own boundary pixels
    blob = truth.copy()
    blob[4:8, 4:8] = 1
    bf = metrics.boundary_f1(blob, truth, tolerance=1)
    n_true = metrics.label_boundaries(truth).sum()
    n_blob = metrics.label_boundaries(blob).sum()
    precision = n_true / n_blob
    assert bf == pytest.approx(2 * precision / (precision + 1))
    assert metrics.boundary_f1(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0
    assert metrics.boundary_f1(np.zeros((4, 4)), truth[:4, 14:18]) == 0.0
    stack = np.stack([truth, shifted])
    assert metrics.boundary_f1(stack, stack, tolerance=0) == 1.0
    assert metrics.boundary_f1(truth, truth, label=1) == 1.0
