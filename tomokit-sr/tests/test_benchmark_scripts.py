"""benchmarks/sr_table.py and benchmarks/sr_figure.py (the docs' table and Fig. 10) at a
tiny size with the shipped models: they run and report what they compute."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("keras")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_sr_table_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert _module("sr_table").main(["--methods", "bicubic,joint_bilateral,edsr,chemisr",
                                     "--phantoms", "1", "--size", "64",
                                     "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    figs = doc["methods"]
    assert set(figs) == {"bicubic", "joint_bilateral", "edsr", "chemisr"}
    assert doc["chemisr_over_edsr"] == pytest.approx(figs["chemisr"]["mse"] / figs["edsr"]["mse"])
    assert all(f["seconds_520"] > 0 for f in figs.values())
    rob = doc["robustness"]
    assert set(rob) == {"aligned", "shift 1 px", "shift 2 px", "shift 4 px", "shift 2,2 px",
                        "other phantom"}
    assert rob["aligned"]["chemisr"] == pytest.approx(figs["chemisr"]["mse"])
    # joint bilateral trusts its guide: a misregistered one must cost it
    assert rob["shift 2 px"]["joint_bilateral"] > rob["aligned"]["joint_bilateral"]
    assert "report: 0.775" in capsys.readouterr().out


def test_sr_figure_small(tmp_path: Path) -> None:
    out = tmp_path / "fig.png"
    assert _module("sr_figure").main(["-o", str(out), "--size", "64"]) == 0
    assert out.stat().st_size > 10_000
