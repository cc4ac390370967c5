"""Issue 16 item 11 (and 1 for reports): the iqa-evaluate command and the iqa_evaluate
task select the same rows and give the same figures; reports go through the guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tomokit_iqa")


def _table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 40
    labels = rng.random(n)
    scores = labels + rng.normal(0, 0.2, n)
    groups = np.array(["blur", "noise", "reference", "ring"] * (n // 4))
    labels[groups == "reference"] = 1.0
    scores[groups == "reference"] = rng.random((groups == "reference").sum()) * 3
    lines = ["score,mine,distortion"] + [f"{a},{b},{c}" for a, b, c in zip(labels, scores,
                                                                          groups, strict=True)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_command_and_task_give_the_same_plcc(tmp_path: Path, capsys) -> None:
    from tomokit.api import load
    from tomokit.cli import main

    table = _table(tmp_path)
    report = tmp_path / "r.json"
    assert main(["iqa-evaluate", str(table), "--scores", "mine", "--json", str(report)]) == 0
    cli = json.loads(report.read_text())["overall"]
    data = np.genfromtxt(table, delimiter=",", names=True, dtype=None, encoding="utf-8")
    task = load("task", "iqa_evaluate")
    out = task.run({"scores": data["mine"], "labels": data["score"],
                    "groups": data["distortion"]}, rng=np.random.default_rng(0))
    assert out["n"] == cli["n"] == 30
    assert out["plcc"] == pytest.approx(cli["plcc"], abs=1e-12)


def test_report_output_is_guarded(tmp_path: Path, capsys) -> None:
    from tomokit.cli import main

    table = _table(tmp_path)
    assert main(["iqa-evaluate", str(table), "--scores", "mine", "--json", str(table)]) == 2
    assert table.read_text().startswith("score,mine")
    other = tmp_path / "notes.json"
    other.write_text("{}")
    assert main(["iqa-evaluate", str(table), "--scores", "mine", "--json", str(other)]) == 2
    assert other.read_text() == "{}"
