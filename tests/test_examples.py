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
    assert set(results) == pipeline.output_steps()


def test_demo_orders_degradations_sensibly(tmp_path: Path):
    demo = next(p for p in EXAMPLES if p.name == "demo.yaml")
    values = run_pipeline(load_pipeline(demo), tmp_path / "demo.h5").values
    for step in ("ssim_blurred", "ssim_noisy", "ssim_rings"):
        assert 0.0 < float(values[step]) < 1.0
    for step in ("gmsd_blurred", "gmsd_noisy", "gmsd_rings"):
        assert float(values[step]) > 0.0


def test_scan_example_recovers_the_simulated_slices(tmp_path: Path):
    """The raw DXchange scan of examples/data/make_scan.py reconstructs to its phantom."""
    import numpy as np

    import tomokit
    import tomokit.metrics
    from tomokit.metrics import circle_mask

    scan = next(p for p in EXAMPLES if p.name == "scan_reconstruct.yaml")
    values = run_pipeline(load_pipeline(scan), tmp_path / "scan.h5").values
    phantom = tomokit.load("phantom", "shepp_logan").generate((64, 64), 0).image
    truth = np.roll(phantom / phantom.max() * 0.05, -2, axis=0)  # row 0 of the scan
    mask = circle_mask((64, 64), 28)
    for name, min_plcc in (("fbp", 0.7), ("sirt", 0.8)):  # photon noise limits both
        rec = np.asarray(values[name])[0]
        # flats/darks normalisation and -log give absolute attenuation back ...
        assert abs(rec[mask].mean() / truth[mask].mean() - 1) < 0.02, name
        # ... and the structure of the slice
        assert tomokit.metrics.plcc(rec[mask], truth[mask]) > min_plcc, name
