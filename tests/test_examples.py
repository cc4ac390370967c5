"""Every example pipeline in examples/ validates and runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tomokit.pipeline import load_pipeline, read_results, run_pipeline

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_there_are_examples():
    assert any(p.name == "demo.yaml" for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path: Path, tmp_path: Path):
    pipeline = load_pipeline(path)
    summary = run_pipeline(pipeline, tmp_path / f"{path.stem}.h5")
    results = read_results(summary.output)
    assert set(results) == {o.split(".")[0] for o in pipeline.outputs}


def test_demo_orders_degradations_sensibly(tmp_path: Path):
    demo = next(p for p in EXAMPLES if p.name == "demo.yaml")
    values = run_pipeline(load_pipeline(demo), tmp_path / "demo.h5").values
    for step in ("ssim_blurred", "ssim_noisy", "ssim_rings"):
        assert 0.0 < float(values[step]) < 1.0
    for step in ("gmsd_blurred", "gmsd_noisy", "gmsd_rings"):
        assert float(values[step]) > 0.0
