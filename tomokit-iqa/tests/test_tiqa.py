"""TIQA / RankIQA: the rank loss and layout, and the quick CI recipe end to end.

The quick recipe (tomokit_iqa.recipes.tiqa --quick) trains a small TIQA in under two
minutes on 2 cores; its scores must fall with the distortion level (SROCC of score
against minus level >= 0.8 per distortion type) on crops of battery tiles it never saw.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")

import tomokit
from tomokit import InvalidInputError
from tomokit_iqa.tiqa import TIQA, RankIQA, rank_hinge_loss, rank_layout


def _numpy_hinge(p: np.ndarray, group: int, m: float, reduction: str) -> float:
    g = p.reshape(-1, group)
    total, pairs = 0.0, 0
    for row in g:
        for i in range(group):
            for j in range(i + 1, group):
                total += max(0.0, m - (row[i] - row[j]))
                pairs += 1
    return total / pairs if reduction == "mean" else total / p.size


@pytest.mark.parametrize("reduction", ["mean", "rankiqa"])
def test_rank_hinge_loss_matches_its_definition(reduction: str) -> None:
    rng = np.random.default_rng(0)
    p = rng.normal(0, 5, size=(18, 1)).astype(np.float32)  # one 18-image batch
    loss = rank_hinge_loss(6, 6.0 if reduction == "mean" else 10.0, reduction)  # type: ignore[arg-type]
    got = float(np.asarray(loss(np.zeros_like(p), p)))
    want = _numpy_hinge(p.ravel(), 6, 6.0 if reduction == "mean" else 10.0, reduction)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # 45 pairs in one 18-image batch (3 types x 15 pairs): perfectly ordered scores give 0
    ordered = np.tile(np.arange(6)[::-1] * 10.0, 3)[:, None].astype(np.float32)
    assert float(np.asarray(loss(ordered, ordered))) == 0.0


def test_rank_layout_builds_18_image_groups() -> None:
    dist, level, src = [], [], []
    for s in ("a", "b"):
        dist.append("reference"), level.append(0), src.append(s)
        for t in ("blur", "noise", "ring"):
            for k in range(1, 6):
                dist.append(t), level.append(k), src.append(s)
    dist.pop(), level.pop(), src.pop()  # b lacks ring 5: left out
    layout, types, levels = rank_layout(np.array(dist), np.array(level), np.array(src))
    assert list(layout) == ["a"] and types == ("blur", "noise", "ring") and levels == (1, 2, 3, 4, 5)
    rows = layout["a"]
    assert len(rows) == 18
    d, lv = np.array(dist)[rows], np.array(level)[rows]
    assert list(d[::6]) == ["reference"] * 3 and list(lv[:6]) == [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    from tomokit_iqa.recipes.tiqa import run

    tmp = tmp_path_factory.mktemp("tiqa")
    t0 = time.perf_counter()
    run(tmp / "quick.keras", quick=True, dataset=tmp / "quick.h5", log=False)
    return tmp / "quick.keras", tmp / "quick.h5", time.perf_counter() - t0


def test_quick_recipe_scores_fall_with_the_level(quick: tuple[Path, Path, float]) -> None:
    from scipy.stats import spearmanr

    from tomokit_iqa.dataset import read_dataset
    from tomokit_iqa.recipes.tiqa import QUICK_HELD

    model, data, seconds = quick
    assert seconds < 240  # 2 minutes on an idle 2-core machine; slack for a busy one
    d = read_dataset(data)
    held = np.isin(d["source_id"], QUICK_HELD)
    scorer = TIQA.from_file(model, data_range=1.0, n_crops=8, crops="grid")
    pred = scorer.score(d["images"][held])
    for t in ("blur", "noise", "ring"):
        m = d["distortion"][held] == t
        rho = spearmanr(pred[m], -d["level"][held][m]).statistic
        assert rho >= 0.8, (t, rho)


def test_save_load_gives_identical_scores(quick: tuple[Path, Path, float], tmp_path: Path) -> None:
    from tomokit_iqa.dataset import read_dataset

    model, data, _ = quick
    imgs = read_dataset(data)["images"][:5]
    a = TIQA.from_file(model, data_range=1.0)
    copy = a.save(tmp_path / "copy.keras").path
    b = tomokit.load("scorer", "tiqa", model=str(copy), data_range=1.0)
    np.testing.assert_array_equal(a.score(imgs), b.score(imgs))
    # deterministic crops for a seed; any size works (a large slice, a small one padded)
    big = np.random.default_rng(0).random((300, 200)).astype(np.float32)
    s1, s2 = a.score(big), a.score(big)
    np.testing.assert_array_equal(s1, s2)
    assert np.isfinite(a.score(big[:40, :50])).all()


def test_bad_input(quick: tuple[Path, Path, float]) -> None:
    model, _, _ = quick
    s = TIQA.from_file(model, data_range=1.0)
    with pytest.raises(InvalidInputError, match="constant"):
        s.score(np.full((64, 64), 0.3, np.float32))
    with pytest.raises(InvalidInputError, match="smaller than the minimum"):
        s.score(np.random.default_rng(0).random((10, 64)).astype(np.float32))
    bad = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="non-finite"):
        s.score(bad)
    with pytest.raises(InvalidInputError, match="outside"):
        s.score(np.random.default_rng(0).random((64, 64)).astype(np.float32) * 4)
    with pytest.raises(InvalidInputError, match="data_range"):
        tomokit.load("scorer", "tiqa", model=str(model), data_range=float("inf"))
    # a model file of another scorer
    with pytest.raises(InvalidInputError):
        RankIQA(model=str(model), data_range=1.0).score(np.random.default_rng(0).random((64, 64)))


def test_no_model_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TIQA, "default_model", None)  # as before the recipe has run
    with pytest.raises(InvalidInputError, match="no model"):
        TIQA(data_range=1.0).score(np.random.default_rng(0).random((64, 64)))
    with pytest.raises(InvalidInputError, match="no model"):  # RankIQA ships none
        RankIQA(data_range=1.0).score(np.random.default_rng(0).random((64, 64)))


def test_train_command_runs_both_stages_and_score_command_uses_it(
    quick: tuple[Path, Path, float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tomokit.cli import main

    _, data, _ = quick
    out = tmp_path / "cli.keras"
    rc = main(["train", "scorer", "tiqa", "--data", str(data), "-o", str(out), "-q",
               "--param", "data_range=1.0", "--train", "backbone=small",
               "--train", "input_size=64", "--train", "channels=1", "--train", "head_width=8",
               "--train", "small_width=4", "--train", "rank_epochs=1", "--train", "epochs=1",
               "--train", "device=cpu"])
    assert rc == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["component"]["name"] == "tiqa" and side["train"]["stage"] == "both"
    assert "rank" in side["report"]["extra"]
    assert "srocc_level_blur" in side["validation"]
    assert not any(tmp_path.glob(".cli.keras.partial.d/*/*"))  # checkpoints cleared
    capsys.readouterr()
    from tomokit_iqa.dataset import read_dataset

    np.save(tmp_path / "v.npy", read_dataset(data)["images"][:3])
    assert main(["score", str(tmp_path / "v.npy"), "--scorer", "tiqa", "--param",
                 f"model={out}", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["higher_is_better"] is True and len(report["volumes"][0]["scores"]) == 3


def test_rankiqa_is_the_vgg16_variant() -> None:
    from tomokit_iqa.tiqa import RankIQATrainParams, build_network

    t = RankIQATrainParams()
    assert (t.backbone, t.margin, t.rank_reduction, t.head_width) == ("vgg16", 10.0, "rankiqa", 4096)
    net = build_network("vgg16", input_size=32, channels=3, head_width=8)
    assert net.output_shape == (None, 1)
    assert any(layer.name == "vgg16" for layer in net.layers)


def test_shipped_model_loads_safely_and_its_scores_fall_with_the_level() -> None:
    """The shipped model (if the recipe has written it) loads with safe_mode=True through
    the default ``tiqa`` scorer and ranks the distortion levels of a crop of battery tile
    r1c1, a reference the recipe never trains on."""
    from scipy.stats import spearmanr

    from tomokit.learn import check_model_file, find_model
    from tomokit_iqa.dataset import prepare_reference
    from tomokit_iqa.recipes.references import battery_slice

    if TIQA.default_model is None:
        pytest.skip("no shipped TIQA model (python -m tomokit_iqa.recipes.tiqa writes it)")
    path = find_model(TIQA.default_model)
    info = check_model_file(path, component=("scorer", "tiqa"))
    assert path.stat().st_size <= 25 * 2**20
    assert "battery195_r1c1" in info["references"]["held_out"]
    assert "battery195_r1c1" not in info["references"]["train"]
    scorer = tomokit.load("scorer", "tiqa", data_range=1.0, n_crops=4, crops="grid")
    crop, _ = prepare_reference(battery_slice()[512:, 512:], resize=255, crop=224, rng=7)
    for t in ("blur", "noise", "ring"):
        dist = tomokit.load("distortion", t)
        imgs = np.stack([crop] + [dist.apply(crop, level=k, rng=k) for k in range(1, 6)])
        s = scorer.score(imgs.astype(np.float32))
        rho = spearmanr(s, -np.arange(6)).statistic
        assert rho >= 0.8, (t, s.round(3).tolist())
