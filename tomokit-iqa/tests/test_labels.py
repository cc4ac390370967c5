"""Label projection (TIQA, Zhang et al. 2022, ``generate_labels.py``: ``rescale_scores``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_iqa.distortions import GaussianBlur, GaussianNoise
from tomokit_iqa.labels import label_levels, observer_scores, project_labels, rule_for


def test_rules_follow_declared_direction() -> None:
    assert rule_for("ssim", higher_is_better=True) == "similarity"
    assert rule_for("gmsd", higher_is_better=False) == "distortion"
    assert rule_for("mse", higher_is_better=False, value_range=(0, float("inf"))) == "distortion"
    assert rule_for("psnr", higher_is_better=True, value_range=(0, float("inf"))) == "ratio"
    assert rule_for("psnr", higher_is_better=True) == "ratio"
    assert rule_for("vif", higher_is_better=True, value_range=(0, float("inf"))) == "ratio"


def test_hand_computed_similarity() -> None:
    # q = ssim_k; score = max(1, round(q * S)), half to even as Python's round
    s = observer_scores([0.95, 0.81, 0.5, 0.3, 0.05], rule="similarity", reference_score=5)
    np.testing.assert_array_equal(s, [5, 4, 2, 2, 1])  # 4.75, 4.05, 2.5->2, 1.5->2, 0.25->1
    s = observer_scores([0.95, 0.81, 0.5], rule="similarity", reference_score=4, rounding=False)
    np.testing.assert_allclose(s, [3.8, 3.24, 2.0])


def test_hand_computed_distortion_measure() -> None:
    # GMSD-like: q = max(0, 1 - v_k / v_5)
    v = [0.02, 0.05, 0.10, 0.16, 0.20]
    s = observer_scores(v, rule="distortion", reference_score=5, rounding=False)
    np.testing.assert_allclose(s, [4.5, 3.75, 2.5, 1.0, 1.0])
    np.testing.assert_array_equal(
        observer_scores(v, rule="distortion", reference_score=5), [4, 4, 2, 1, 1]
    )


def test_hand_computed_psnr() -> None:
    # q = psnr_k / psnr_1
    s = observer_scores([40.0, 30.0, 20.0, 10.0, 4.0], rule="ratio", reference_score=5)
    np.testing.assert_array_equal(s, [5, 4, 2, 1, 1])  # 5, 3.75, 2.5->2, 1.25, 0.5


def test_project_labels_averages_observers() -> None:
    raw = {"ssim": [0.9, 0.6], "gmsd": [0.05, 0.2], "psnr": [30.0, 15.0]}
    rules = {"ssim": "similarity", "gmsd": "distortion", "psnr": "ratio"}
    labels, scores = project_labels(raw, rules, reference_score=5)  # type: ignore[arg-type]
    np.testing.assert_array_equal(scores["ssim"], [4, 3])  # 4.5->4, 3
    np.testing.assert_array_equal(scores["gmsd"], [4, 1])  # 3.75, 0 -> 1
    np.testing.assert_array_equal(scores["psnr"], [5, 2])  # 5, 2.5->2
    np.testing.assert_allclose(labels, [13 / 3, 2.0])


@pytest.mark.parametrize("rule", ["similarity", "distortion", "ratio"])
def test_undistorted_gives_reference_score(rule: str) -> None:
    # an observer that sees no distortion (SSIM 1, GMSD 0, PSNR equal to level 1's) gives S
    perfect = {"similarity": [1.0, 0.5], "distortion": [0.0, 0.3], "ratio": [35.0, 20.0]}[rule]
    for s_ref in (5.0, 3.7, 1.0):
        got = observer_scores(perfect, rule=rule, reference_score=s_ref, rounding=False)  # type: ignore[arg-type]
        assert got[0] == pytest.approx(s_ref)
    assert observer_scores(perfect, rule=rule, reference_score=4)[0] == 4  # type: ignore[arg-type]


class _FakeObserver:
    """Mean squared error as a lower-is-better observer, to test the wiring on its own."""

    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))

    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return float(np.mean((reference - distorted) ** 2))


class _Corr:
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return float(np.corrcoef(reference.ravel(), distorted.ravel())[0, 1])


def _texture() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = GaussianBlur(sigma=2.0).apply(rng.uniform(0, 1, (96, 96)))
    return (img - img.min()) / np.ptp(img)


@pytest.mark.parametrize("dist", [GaussianBlur(), GaussianNoise()])
def test_labels_non_increasing_in_level(dist: tomokit.Distortion) -> None:
    ref = _texture()
    stack = np.stack([dist.apply(ref, k, rng=k) for k in range(1, 6)])
    res = label_levels(ref, stack, observers=[("mse", _FakeObserver()), ("corr", _Corr())])
    assert res.rules == {"mse": "distortion", "corr": "similarity"}
    assert np.all(np.diff(res.labels) <= 0)
    assert res.labels[-1] == pytest.approx(1.0)  # worst level of a distortion measure -> 1
    assert set(res.raw) == {"mse", "corr"} and res.raw["mse"].shape == (5,)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="reference_score"):
        observer_scores([0.5], rule="similarity", reference_score=0.5)
    with pytest.raises(InvalidInputError, match="values"):
        observer_scores([], rule="similarity")
    with pytest.raises(InvalidInputError, match="values"):
        observer_scores([np.nan, 0.3], rule="similarity")
    with pytest.raises(InvalidInputError, match="rule"):
        observer_scores([0.5], rule="other")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="rules"):
        project_labels({"ssim": [0.5]}, {})
    with pytest.raises(InvalidInputError, match="lengths"):
        project_labels(
            {"a": [0.5], "b": [0.5, 0.4]}, {"a": "similarity", "b": "similarity"}
        )
    with pytest.raises(InvalidInputError, match="distorted"):
        label_levels(np.zeros((8, 8)), np.zeros((2, 8, 9)), observers=[("m", _FakeObserver())])
