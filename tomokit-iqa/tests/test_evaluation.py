"""Evaluation of scores against labels (PLCC, SROCC, KRCC, RMSE; per distortion type)."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit.testing import check_component
from tomokit_iqa.evaluation import Evaluate, evaluate, plot_evaluation, write_report


def test_hand_computed_values() -> None:
    # scores 1,2,3,4 against labels 1,3,2,4: one swapped pair out of six
    rep = evaluate([1, 2, 3, 4], [1, 3, 2, 4])
    o = rep["overall"]
    assert o["n"] == 4
    assert o["srocc"] == pytest.approx(1 - 6 * 2 / (4 * 15))  # 0.8
    assert o["krcc"] == pytest.approx((5 - 1) / 6)
    assert o["plcc"] == pytest.approx(0.8)  # cov 1.0 / var 1.25
    assert o["rmse"] == pytest.approx(np.sqrt(0.5))


def test_per_group_and_order() -> None:
    scores = [1, 2, 3, 4, 4, 3, 2, 1]
    labels = [1, 2, 3, 4, 1, 2, 3, 4]
    groups = ["blur"] * 4 + ["noise"] * 4
    rep = evaluate(scores, labels, groups=groups)
    assert list(rep["groups"]) == ["blur", "noise"]
    assert rep["groups"]["blur"]["srocc"] == pytest.approx(1.0)
    assert rep["groups"]["noise"]["srocc"] == pytest.approx(-1.0)
    assert rep["groups"]["noise"]["krcc"] == pytest.approx(-1.0)
    assert rep["overall"]["srocc"] == pytest.approx(0.0)
    bgroups = np.array([g.encode() for g in groups])  # bytes as read back from HDF5
    assert list(evaluate(scores, labels, groups=bgroups)["groups"]) == ["blur", "noise"]


@pytest.mark.filterwarnings("ignore::scipy.optimize.OptimizeWarning")
def test_logistic_fit_linearises() -> None:
    scores = np.linspace(-3, 3, 30)
    labels = 1.0 + 4.0 / (1.0 + np.exp(-scores / 0.5))  # labels a logistic of the scores
    raw = evaluate(scores, labels)["overall"]
    fitted = evaluate(scores, labels, fit="logistic5")["overall"]
    four = evaluate(scores, labels, fit="logistic4")["overall"]
    assert raw["srocc"] == pytest.approx(1.0) and fitted["srocc"] == pytest.approx(1.0)
    assert raw["plcc"] < 0.99
    assert fitted["plcc"] > 0.999 and four["plcc"] > 0.999
    assert fitted["rmse"] < 0.01 and raw["rmse"] > 1.0  # raw scores are on another scale
    assert fitted["plcc"] == pytest.approx(tomokit.metrics.plcc(scores, labels, fit="logistic5"))


def test_constant_and_tiny_subsets() -> None:
    rep = evaluate([1, 2, 3, 3, 3], [1, 2, 3, 4, 5], groups=list("aaabb"), fit="logistic5")
    assert np.isnan(rep["groups"]["b"]["plcc"])  # constant scores
    assert rep["groups"]["a"]["fit"] == "none" and "too few" in rep["groups"]["a"]["note"]
    assert rep["groups"]["a"]["srocc"] == pytest.approx(1.0)


def test_report_json(tmp_path: Path) -> None:
    rep = evaluate([1, 2, 3, 3], [1, 2, 3, 4], groups=list("aabb"))
    path = write_report(rep, tmp_path / "r.json")
    back = json.loads(path.read_text())
    assert back["groups"]["b"]["plcc"] is None  # NaN -> null
    assert back["overall"]["n"] == 4


def test_plot_has_one_panel_per_group(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = rng.uniform(1, 5, 60)
    scores = labels + rng.normal(0, 0.3, 60)
    groups = np.repeat(["blur", "noise", "ring", "reference"], 15)
    one = plot_evaluation(scores, labels, tmp_path / "one.png")
    four = plot_evaluation(scores, labels, tmp_path / "four.png", groups=groups, fit="logistic4")
    a, b = iio.imread(one), iio.imread(four)
    assert a.shape[1] == 400 and b.shape[1] == 1200 and b.shape[0] > a.shape[0]  # 3 columns x 2 rows
    assert np.ptp(b) > 0


def test_task_outputs_and_nonfinite() -> None:
    check_component(Evaluate)
    task = tomokit.load("task", "iqa_evaluate", fit="none")
    out = task.run_step(
        {
            "scores": np.array([np.inf, 1, 2, 3, 4, 4, 3, 2]),
            "labels": np.array([0, 1, 2, 3, 4, 1, 2, 3]),
            "groups": np.array(["reference"] + ["blur"] * 4 + ["noise"] * 3),
        },
        rng=np.random.default_rng(0),
    )
    assert out["n"] == 7 and out["n_blur"] == 4 and "srocc_reference" not in out
    assert out["srocc_blur"] == pytest.approx(1.0)
    assert out["srocc_noise"] == pytest.approx(-1.0)
    assert "report" not in out and set(out) >= {"plcc", "krcc", "rmse_noise"}
    brief = tomokit.load("task", "iqa_evaluate", metrics=["srocc"], include_report=True)
    out = brief.run_step(
        {"scores": [1, 2, 3, 4], "labels": [1, 2, 4, 3], "groups": ["a", "a", "b", "b"]},
        rng=np.random.default_rng(0),
    )
    assert set(out) == {"srocc", "n", "srocc_a", "n_a", "srocc_b", "n_b", "report"}
    assert json.loads(out["report"])["groups"]["b"]["srocc"] == pytest.approx(-1.0)
    strict = tomokit.load("task", "iqa_evaluate", drop_nonfinite=False)
    with pytest.raises(InvalidInputError, match="non-finite"):
        strict.run_step({"scores": [np.inf, 1, 2], "labels": [0, 1, 2]}, rng=np.random.default_rng(0))


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="differ"):
        evaluate([1, 2, 3], [1, 2])
    with pytest.raises(InvalidInputError, match="at least 2"):
        evaluate([1], [1])
    with pytest.raises(InvalidInputError, match="groups"):
        evaluate([1, 2, 3], [1, 2, 3], groups=["a", "b"])
    with pytest.raises(InvalidInputError, match="fit"):
        evaluate([1, 2, 3], [1, 2, 3], fit="cubic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="numbers"):
        evaluate(["a", "b"], [1, 2])
    with pytest.raises(InvalidInputError):
        tomokit.load("task", "iqa_evaluate", fit="cubic")
    with pytest.raises(InvalidInputError, match="labels"):
        Evaluate().run({"scores": [1, 2]}, rng=np.random.default_rng(0))


def test_command_csv_and_hdf5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import h5py

    from tomokit.cli import main

    table = tmp_path / "t.csv"
    rows = ["distortion,level,score,pred"]
    rows += [f"reference,0,5,{np.inf}"]
    rows += [f"blur,{k},{6 - k},{1.0 - 0.1 * k}" for k in range(1, 6)]
    rows += [f"noise,{k},{6 - k},{1.0 - 0.1 * k + (0.15 if k == 2 else 0)}" for k in range(1, 6)]
    table.write_text("\n".join(rows) + "\n")
    js, png = tmp_path / "r.json", tmp_path / "r.png"
    rc = main(["iqa-evaluate", str(table), "--scores", "pred", "--labels", "level",
               "--json", str(js), "--png", str(png)])
    assert rc == 0
    rep = json.loads(js.read_text())
    assert rep["overall"]["n"] == 10  # the reference row (infinite score) is left out
    assert rep["groups"]["blur"]["srocc"] == pytest.approx(-1.0)
    assert rep["groups"]["noise"]["srocc"] == pytest.approx(-0.9)  # one swapped pair
    assert iio.imread(png).shape[1] == 800
    assert "noise" in capsys.readouterr().out
    # the same from an HDF5 file, scores taken from another file (FILE:NAME)
    h5 = tmp_path / "d.h5"
    with h5py.File(h5, "w") as f:
        f["level"] = np.r_[0, np.arange(1, 6), np.arange(1, 6)]
        f["distortion"] = np.array(["reference"] + ["blur"] * 5 + ["noise"] * 5, dtype=object)
        f["observers/pred"] = np.r_[np.inf, 1.0 - 0.1 * np.arange(1, 6), 1.0 - 0.1 * np.arange(1, 6)]
    rc = main(["iqa-evaluate", str(h5), "--scores", "pred", "--labels", "level",
               "--json", str(js), "--fit", "logistic4"])
    assert rc == 0 and json.loads(js.read_text())["groups"]["noise"]["srocc"] == pytest.approx(-1)
    rc = main(["iqa-evaluate", str(h5), "--scores", f"{table}:pred", "--labels", "level",
               "--groups", "", "--json", str(js)])
    assert rc == 0 and json.loads(js.read_text())["groups"] == {}
    assert main(["iqa-evaluate", str(table), "--scores", "nope"]) == 2
    assert main(["iqa-evaluate", str(tmp_path / "missing.csv"), "--scores", "pred"]) == 2


def test_example_pipeline_ranks_levels(tmp_path: Path) -> None:
    """examples/iqa_dataset.yaml: the observers rank blur and noise levels (SROCC vs level),
    and its sweep gives the same numbers as the six steps it replaced."""
    pytest.importorskip("tomokit_iqa.observers")
    from tomokit.pipeline import load_pipeline, parse_pipeline, run_pipeline

    example = Path(__file__).resolve().parents[2] / "examples" / "iqa_dataset.yaml"
    values = run_pipeline(load_pipeline(example), tmp_path / "iqa.h5").values
    assert values["dataset"]["images"].shape == (16, 176, 176)

    def srocc(ref: str) -> dict:
        return values[f"srocc[scores=dataset.{ref}]"]

    for name in ("gmsd", "mdsi"):  # lower is better: rises with the level
        assert srocc(f"raw_{name}")["srocc_blur"] > 0.8
    for name in ("ssim", "ms_ssim", "fsim"):  # higher is better: falls with the level
        assert srocc(f"raw_{name}")["srocc_noise"] < -0.8
    assert srocc("score")["srocc"] < -0.7  # generated labels fall with the level

    # the same evaluation written out step by step, as the example was before sweeps
    head = example.read_text().split("  - id: srocc ")[0]
    steps = "".join(
        f"  - id: s_{ref}\n    task: iqa_evaluate\n    params: {{metrics: [srocc]}}\n"
        f"    inputs: {{scores: dataset.{ref}, labels: dataset.level, "
        "groups: dataset.distortion}\n"
        for ref in ("raw_ssim", "raw_ms_ssim", "raw_fsim", "raw_gmsd", "raw_mdsi", "score")
    )
    long = parse_pipeline(head + steps, file=str(example), base_dir=example.parent)
    old = run_pipeline(long, tmp_path / "long.h5").values
    for ref in ("raw_ssim", "raw_ms_ssim", "raw_fsim", "raw_gmsd", "raw_mdsi", "score"):
        assert old[f"s_{ref}"].keys() == srocc(ref).keys()
        for key, value in old[f"s_{ref}"].items():
            assert np.array_equal(np.asarray(value), np.asarray(srocc(ref)[key])), (ref, key)
