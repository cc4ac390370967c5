"""examples/choose_preprocessing.yaml (the pipeline form of tomokit choose) and
examples/iqa_seg_study.yaml (the IQA-segmentation study at CI size, written by
benchmarks/iqa_seg_study.py): what they compute, not only that they run (that is
tests/test_examples.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tomokit.pipeline import load_pipeline, run_pipeline

pytest.importorskip("tomokit_recon.filters")
pytest.importorskip("tomokit_iqa")
pytest.importorskip("tomokit_seg")
pytest.importorskip("tomokit_phantom")

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_choose_preprocessing_picks_a_filter_the_oracle_rates_above_none(tmp_path: Path) -> None:
    values = run_pipeline(load_pipeline(ROOT / "examples" / "choose_preprocessing.yaml"),
                          tmp_path / "choose.h5").values
    best, oracle = values["best"], values["oracle"]
    assert len(best["ranking"]) == len(oracle["ranking"]) == 9
    ssim = {k[len("ssim["):-1]: float(v) for k, v in values.items() if k.startswith("ssim[")}
    assert oracle["name"] == max(ssim, key=lambda k: ssim[k])
    # the no-reference choice is a real improvement by the full-reference measure
    assert ssim[best["name"]] > ssim["median:size=1"] + 0.05  # size 1: no pre-processing
    np.testing.assert_array_equal(best["best"], values[f"filtered[{best['name']}]"])


def test_the_study_example_is_the_scripts_ci_pipeline() -> None:
    study = _module("iqa_seg_study")
    text = study.build_study(**study.QUICK, scorer="brisque_tomo")
    assert (ROOT / "examples" / "iqa_seg_study.yaml").read_text() == text


def test_study_script_quick_gives_table_and_figures(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The CI variant: BRISQUE (tomo) and Otsu (the TIQA and D-LinkNet models take minutes
    to train; the script takes --tiqa-model / --dlinknet-model for them)."""
    study = _module("iqa_seg_study")
    assert study.main(["--quick", "--scorer", "brisque_tomo", "--no-dlinknet",
                       "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "0.925 / 0.887" in printed and "0.829 / 0.877" in printed  # the paper, beside
    table = json.loads((tmp_path / "table.json").read_text())
    rows = {(r["phantom"], r["type"]): r for r in table["rows"]}
    assert {p for p, _ in rows} == {"electrode", "jelly_roll", "pooled"}
    for (phantom, _), row in rows.items():
        assert -1.0 <= row["srocc"] <= 1.0 and -1.0 <= row["plcc"] <= 1.0
        assert row["n"] == (16 if phantom == "pooled" else 8)  # 4 levels x 2 slices
    # the segmentation degrades with noise and blur on the electrode, as it must
    for kind in ("noise", "blur"):
        f1 = rows[("electrode", kind)]["f1_by_level"]
        assert f1["1"] > f1["4"] + 0.05, (kind, f1)
    figures = sorted(p.name for p in tmp_path.glob("levels_*.png"))
    assert len(figures) == 6 and "levels_electrode_otsu_ring.png" in figures
    assert (tmp_path / "study.h5").is_file()
