"""The one-command recipe (benchmarks/segmentation_train.py) runs end to end (1 epoch)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

pytest.importorskip("keras")
pytest.importorskip("tomokit_iqa")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "segmentation_train.py"


@pytest.mark.slow
def test_quick_recipe_script_one_epoch(tmp_path: Path, capsys):
    main = runpy.run_path(str(SCRIPT))["main"]
    out = tmp_path / "m.keras"
    assert main(["--quick", "--epochs", "1", "--count", "4", "--workdir", str(tmp_path),
                 "--out", str(out), "--device", "cpu"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 1 and summary["seconds_per_epoch"] > 0
    info = json.loads(out.with_suffix(".json").read_text())
    assert "f1/noise/3" in info["validation"]
    assert not list(tmp_path.glob(".*.partial.d"))  # the checkpoint is removed once saved
