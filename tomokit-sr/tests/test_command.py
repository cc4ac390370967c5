"""``tomokit upscale``: files in, files out, cubes a block of channels at a time."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import tomokit
from tomokit.cli import main


@pytest.fixture(scope="module")
def pair():
    from tomokit_phantom import chemical_pair, generate

    p = chemical_pair(generate("catalyst", 64, 2), factor=4, q=np.linspace(1, 6, 20))
    return p


def test_upscale_cube_hdf5_block_by_block(pair, tmp_path, capsys, monkeypatch):
    low = tmp_path / "low.h5"
    with h5py.File(low, "w") as h5:
        h5["cube"] = pair.cube_low
    np.save(tmp_path / "guide.npy", pair.absorption)
    out = tmp_path / "high.h5"
    seen: list[int] = []
    cls = tomokit.get_registry().resolve("super_resolver", "joint_bilateral")
    original = cls.upscale

    def spy(self, low, guide=None):
        seen.append(np.asarray(low).shape[-1])
        return original(self, low, guide)

    monkeypatch.setattr(cls, "upscale", spy)
    rc = main(["upscale", str(low), "--guide", str(tmp_path / "guide.npy"),
               "--super-resolver", "joint_bilateral", "--channel-block", "8", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert seen == [8, 8, 4]  # 20 channels streamed in blocks of 8
    with h5py.File(out, "r") as h5:
        result = h5["data"][()]
        assert h5["data"].attrs["super_resolver"] == "joint_bilateral"
    expected = tomokit.load("super_resolver", "joint_bilateral").upscale(
        pair.cube_low, pair.absorption)
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_upscale_chw_npy_and_2d(pair, tmp_path, capsys):
    np.save(tmp_path / "maps.npy", pair.maps_low)  # (P, h, w)
    np.save(tmp_path / "guide.npy", pair.absorption)
    out = tmp_path / "maps_high.npy"
    assert main(["upscale", str(tmp_path / "maps.npy"), "--layout", "chw", "--guide",
                 str(tmp_path / "guide.npy"), "--super-resolver", "guided_filter",
                 "--param", "eps=0.001", "-o", str(out)]) == 0
    result = np.load(out)
    ref = tomokit.load("super_resolver", "guided_filter", eps=0.001).upscale(
        np.moveaxis(pair.maps_low, 0, -1), pair.absorption)
    np.testing.assert_allclose(result, ref, atol=1e-6)
    np.save(tmp_path / "one.npy", pair.maps_low[0])
    assert main(["upscale", str(tmp_path / "one.npy"), "--factor", "2",
                 "-o", str(tmp_path / "one_x2.tif")]) == 0
    assert tomokit.io.read_array(tmp_path / "one_x2.tif").shape == (32, 32)


def test_upscale_errors_exit_2(pair, tmp_path, capsys):
    np.save(tmp_path / "low.npy", pair.maps_low[0])
    np.save(tmp_path / "bad_guide.npy", np.zeros((30, 30), np.float32))
    rc = main(["upscale", str(tmp_path / "low.npy"), "--guide", str(tmp_path / "bad_guide.npy"),
               "--super-resolver", "guided_filter", "-o", str(tmp_path / "o.npy")])
    assert rc == 2
    assert "not factor 4 x the low-resolution size" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / ".o.npy.partial").exists()
    assert main(["upscale", str(tmp_path / "low.npy"), "--factor", "3",
                 "-o", str(tmp_path / "o.npy")]) == 2
    assert main(["upscale", str(tmp_path / "missing.npy"), "-o", str(tmp_path / "o.npy")]) == 2
    assert main(["upscale", str(tmp_path / "low.npy"), "--param", "nokey",
                 "-o", str(tmp_path / "o.npy")]) == 2


def test_pipeline_step_with_stack_of_cubes(tmp_path):
    """chemical_pair (count 2) -> joint_bilateral as pipeline steps, as docs show."""
    from tomokit.pipeline import parse_pipeline, read_results, run_pipeline

    text = """
seed: 0
steps:
  - id: pair
    task: chemical_pair
    params: {phantom: catalyst, size: 64, count: 2, factor: 4, channels: 8, counts: 10000}
  - id: high
    super_resolver: joint_bilateral
    params: {factor: 4}
    inputs: {low: pair.chemical_low, guide: pair.absorption}
"""
    out = tmp_path / "r.h5"
    run_pipeline(parse_pipeline(text, base_dir=tmp_path), out)
    res = read_results(out)
    high = np.asarray(res["high"])
    assert high.shape == (2, 64, 64, 8)
    ref = tomokit.load("super_resolver", "joint_bilateral").upscale(
        res["pair"]["chemical_low"][1], res["pair"]["absorption"][1])
    np.testing.assert_allclose(high[1], ref, atol=1e-6)


def test_pipeline_streams_stacks_of_slices_from_files(tmp_path):
    """Volumes from files are stacks of slices (N, h, w) with guides (N, f h, f w),
    streamed a block of slices at a time: each slice is upscaled with its guide."""
    from tomokit.pipeline import parse_pipeline, read_results, run_pipeline

    rng = np.random.default_rng(0)
    low = rng.random((5, 8, 8)).astype(np.float32)
    guide = rng.random((5, 32, 32)).astype(np.float32)
    with h5py.File(tmp_path / "maps.h5", "w") as h5:
        h5["low"] = low
        h5["guide"] = guide
    text = """
inputs:
  low: {path: maps.h5, dataset: low}
  guide: {path: maps.h5, dataset: guide}
steps:
  - id: high
    super_resolver: guided_filter
    inputs: {low: low, guide: guide}
"""
    out = tmp_path / "r.h5"
    run_pipeline(parse_pipeline(text, base_dir=tmp_path), out)
    high = np.asarray(read_results(out)["high"])
    assert high.shape == (5, 32, 32)
    m = tomokit.load("super_resolver", "guided_filter")
    np.testing.assert_allclose(high[3], m.upscale(low[3], guide[3]), atol=1e-5)
