"""benchmarks/choose_validation.py at a tiny size (BRISQUE scorers and Otsu; TIQA joins
when a model is installed or given): the comparison it reports is consistent."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("tomokit_recon.filters")
pytest.importorskip("tomokit_iqa")
pytest.importorskip("tomokit_seg")
pytest.importorskip("tomokit_phantom")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "choose_validation.py"


def test_validation_reports_gaps_to_the_oracle(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("choose_validation", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["choose_validation"] = mod
    spec.loader.exec_module(mod)
    cands = tmp_path / "c.yaml"
    cands.write_text("candidates:\n  - none\n  - filter: median\n    grid: {size: [3]}\n"
                     "  - filter: gaussian\n    grid: {sigma: [2.0]}\n"
                     "  - filter: ring_removal_polar\n    grid: {radial_size: [11]}\n")
    out = tmp_path / "v.json"
    assert mod.main(["--quick", "--cases", "2", "--candidates", str(cands),
                     "--tiqa-model", str(tmp_path / "none.keras"), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())  # strict JSON
    summary = doc["summary"]
    assert summary["cases"] == 2 and len(doc["cases"]) == 2
    assert {c["phantom"] for c in doc["cases"]} == {"electrode", "jelly_roll"}
    oracle = summary["mean_f1"]["oracle"]
    for method in ("none", "brisque", "brisque_tomo"):
        assert summary["mean_f1"][method] <= oracle + 1e-12
        assert summary["mean_gap_to_oracle"][method] == pytest.approx(
            oracle - summary["mean_f1"][method])
        assert 0.0 <= summary["picks_oracle"][method] <= 1.0
    for case in doc["cases"]:
        assert case["f1"][case["oracle"]] == max(case["f1"].values())
        # BRISQUE (LIVE): lower is better, so its pick has the lowest mean score
        live = case["mean_scores"]["brisque"]
        assert case["picks"]["brisque"] == min(live, key=lambda c: live[c])
        tomo = case["mean_scores"]["brisque_tomo"]
        assert case["picks"]["brisque_tomo"] == max(tomo, key=lambda c: tomo[c])
    assert "tiqa" not in summary["mean_f1"]  # the model file given does not exist
    assert "picks oracle" in capsys.readouterr().out
