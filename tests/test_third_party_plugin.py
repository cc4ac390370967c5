"""The example third-party plugin (examples/tomokit-example-plugin), installed like any
other package, is found through its entry point and works in a pipeline."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

import tomokit
from tomokit.pipeline import load_pipeline, read_results, run_pipeline
from tomokit.testing import check_component

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_installed_through_entry_point():
    eps = {ep.name: ep for ep in metadata.entry_points(group="tomokit")}
    assert eps["example"].value == "tomokit_example_plugin.plugin"
    specs = {(s.kind, s.name): s for s in tomokit.get_registry().specs()}
    assert specs[("distortion", "salt_pepper")].distribution == "tomokit-example-plugin"
    assert specs[("reconstructor", "backprojection")].plugin == "example"


def test_salt_pepper_contract_and_statistics():
    cls = tomokit.component_class("distortion", "salt_pepper")
    check_component(cls)
    img = np.full((200, 200), 0.5, np.float32)
    out = tomokit.load("distortion", "salt_pepper").apply(img, 4, 0)
    hit = out != 0.5
    assert abs(hit.mean() - 0.1) < 0.01  # level 4 corrupts 10 % of the pixels
    assert set(np.unique(out[hit])) <= {0.0, 1.0}


def _point_sinogram(x0: float, y0: float, n_det: int = 65, n_angles: int = 90):
    """Sinogram of a point at (x0, y0): at angle theta it lands at x cos + y sin."""
    angles = np.linspace(0, np.pi, n_angles, endpoint=False)
    data = np.zeros((n_angles, n_det), np.float32)
    centre = (n_det - 1) / 2
    for i, th in enumerate(angles):
        t = x0 * np.cos(th) + y0 * np.sin(th) + centre
        lo = int(np.floor(t))
        data[i, lo] += 1 - (t - lo)
        data[i, lo + 1] += t - lo
    return tomokit.Sinogram(data=data, angles=angles)


def test_backprojection_puts_a_point_back_where_it_was():
    sino = _point_sinogram(10.0, 5.0)
    image = tomokit.load("reconstructor", "backprojection").reconstruct(sino)
    row, col = np.unravel_index(np.argmax(image), image.shape)
    centre = (image.shape[0] - 1) / 2
    assert (col - centre, centre - row) == (10, 5)


def test_pipeline_with_the_plugin(tmp_path):
    pipeline = load_pipeline(EXAMPLES / "third_party_plugin.yaml")
    summary = run_pipeline(pipeline, tmp_path / "out.h5")
    results = read_results(summary.output)
    assert results["speckled"].shape == (64, 64)
    assert float(results["damage"]) < 1.0
