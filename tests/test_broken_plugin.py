"""A plugin whose module raises on import is listed as broken; everything else works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PIPES = Path(__file__).parent / "pipelines"


def _env_with_broken_plugin(tmp_path: Path) -> dict[str, str]:
    dist = tmp_path / "labplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: labplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tomokit]\nlabplug = labplug_plugin\n")
    (tmp_path / "labplug_plugin.py").write_text(
        "import tomokit\nraise RuntimeError('calibration table missing')\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return env


def _tomokit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tomokit.cli", *args], capture_output=True, text=True, env=env
    )


def test_broken_plugin_is_listed_with_reason(tmp_path):
    env = _env_with_broken_plugin(tmp_path)
    proc = _tomokit(["plugins", "list", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    (broken,) = [r for r in rows if r["plugin"] == "labplug"]
    assert broken["status"].startswith("broken: RuntimeError: calibration table missing")
    assert broken["distribution"] == "labplug"
    assert any(r["name"] == "ssim" and r["status"] == "ok" for r in rows)


def test_pipeline_not_using_it_still_runs(tmp_path):
    env = _env_with_broken_plugin(tmp_path)
    out = tmp_path / "out.h5"
    proc = _tomokit(["run", str(PIPES / "valid" / "blur_and_compare.yaml"), "-o", str(out)], env)
    assert proc.returncode == 0, proc.stderr
    assert out.exists()


def test_disabled_broken_plugin_is_not_imported(tmp_path):
    env = _env_with_broken_plugin(tmp_path)
    proc = _tomokit(["--disable-plugin", "labplug", "plugins", "list", "--format", "json"], env)
    rows = json.loads(proc.stdout)
    (row,) = [r for r in rows if r["plugin"] == "labplug"]
    assert row["status"] == "disabled: disabled by the user"
