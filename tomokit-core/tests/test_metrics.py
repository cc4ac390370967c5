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
