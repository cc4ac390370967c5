"""reconstruction_metrics and the recon_metrics task."""

from __future__ import annotations

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit.metrics import circle_mask
from tomokit_recon import reconstruction_metrics


def test_whole_image_equals_scikit_image(phantom48: np.ndarray) -> None:
    from skimage.metrics import (
        mean_squared_error,
        peak_signal_noise_ratio,
        structural_similarity,
    )

    noisy = phantom48 + np.random.default_rng(0).normal(0, 0.05, phantom48.shape)
    m = reconstruction_metrics(phantom48, noisy, circle=False)
    assert m["ssim"] == pytest.approx(structural_similarity(phantom48, noisy, data_range=1.0))
    assert m["mse"] == pytest.approx(mean_squared_error(phantom48, noisy))
    assert m["psnr"] == pytest.approx(peak_signal_noise_ratio(phantom48, noisy, data_range=1.0))
    assert m["mae"] == pytest.approx(np.mean(np.abs(phantom48 - noisy)))


def test_only_the_circle_counts(phantom48: np.ndarray) -> None:
    outside = phantom48.copy()
    outside[~circle_mask(outside.shape)] = 5.0
    m = reconstruction_metrics(phantom48, outside)
    assert m["mae"] == 0 and m["mse"] == 0 and m["psnr"] == float("inf")
    assert m["ssim"] == pytest.approx(1.0)


def test_task(phantom48: np.ndarray) -> None:
    task = tomokit.load("task", "recon_metrics")
    recs = {f"rec{i}": phantom48 * (1 - 0.05 * i) for i in range(10)}  # no cap on the count
    out = task.run_step({"reference": phantom48, "reconstructions": recs},
                        rng=np.random.default_rng(0))
    assert out["mse"][0] == 0 and np.all(np.diff(out["mse"]) > 0)
    assert out["ssim"][0] == pytest.approx(1.0) and out["ssim"][1] < 1
    assert out["names"].tolist() == list(recs) and "rec9" in out["table"]
    with pytest.raises(InvalidInputError, match="reconstructions"):
        task.run_step({"reference": phantom48}, rng=np.random.default_rng(0))


def test_errors(phantom48: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="shape"):
        reconstruction_metrics(phantom48, phantom48[:-1])
    with pytest.raises(InvalidInputError, match="data_range"):
        reconstruction_metrics(phantom48, phantom48, data_range=0)
    bad = phantom48.copy()
    bad[0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="non-finite"):
        reconstruction_metrics(phantom48, bad)
