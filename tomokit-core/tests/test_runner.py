from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

from tomokit.errors import InvalidInputError, RunError
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline

PIPELINE = """
seed: 5
inputs:
  vol: vol.npy
steps:
  - id: shifted
    distortion: shift
    params: {noise: 0.05}
    inputs: [vol]
  - id: diff
    observer: mean_abs
    inputs: {reference: vol, distorted: shifted}
  - id: stats
    task: stats
    inputs: {image: shifted}
  - id: disc
    phantom: disc
    params: {size: 16}
  - id: disc_stats
    task: stats
    inputs: {image: disc.labels}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    vol = np.random.default_rng(0).random((3, 12, 10)).astype(np.float32)
    np.save(tmp_path / "vol.npy", vol)
    return tmp_path


def _run(workdir: Path, text: str = PIPELINE, name: str = "out.h5", **kwargs):
    pipeline = parse_pipeline(text, file=str(workdir / "p.yaml"), base_dir=workdir)
    return run_pipeline(pipeline, workdir / name, **kwargs)


def test_runs_and_writes_results_with_provenance(registry, workdir):
    summary = _run(workdir)
    assert [s.id for s in summary.steps] == ["shifted", "diff", "stats", "disc", "disc_stats"]
    results = read_results(workdir / "out.h5")
    vol = np.load(workdir / "vol.npy")
    assert results["shifted"].shape == vol.shape
    # per-slice observer on a volume: one value per slice, each about the 0.1 offset
    assert results["diff"].shape == (3,)
    assert np.allclose(results["diff"], 0.1, atol=0.02)
    assert results["stats"]["label"] == "ok"
    assert results["disc"]["labels"].dtype == np.uint8
    assert results["disc_stats"]["max"] == 1.0
    with h5py.File(workdir / "out.h5") as h5:
        assert h5.attrs["pipeline"] == PIPELINE
        assert "tomokit-core" in json.loads(h5.attrs["versions"])
        node = h5["steps/shifted"]
        assert json.loads(node.attrs["params"])["noise"] == 0.05
        assert node.attrs["kind"] == "distortion" and node.attrs["component"] == "shift"
        assert int(node.attrs["seed"]) == summary.steps[0].seed


def test_seeded_runs_repeat_and_seeds_matter(registry, workdir):
    _run(workdir, name="a.h5")
    _run(workdir, name="b.h5")
    _run(workdir, PIPELINE.replace("seed: 5", "seed: 6"), name="c.h5")
    a, b, c = (read_results(workdir / n)["shifted"] for n in ("a.h5", "b.h5", "c.h5"))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_slices_differ_in_noise_and_mapper_gives_same_result(registry, workdir):
    serial = _run(workdir, name="s.h5").values["shifted"]
    with ThreadPoolExecutor(2) as pool:
        threaded = _run(
            workdir, name="t.h5", mapper=lambda fn, items: list(pool.map(fn, items))
        ).values["shifted"]
    assert np.array_equal(serial, threaded)
    noise = serial - np.load(workdir / "vol.npy")
    assert not np.allclose(noise[0], noise[1])


def test_outputs_select_what_is_saved(registry, workdir):
    _run(workdir, PIPELINE + "outputs: [diff]\n")
    assert set(read_results(workdir / "out.h5")) == {"diff"}


def test_refuses_to_overwrite_an_input(registry, workdir):
    before = (workdir / "vol.npy").read_bytes()
    with pytest.raises(InvalidInputError, match="is one of the pipeline's inputs"):
        _run(workdir, name="vol.npy")
    assert (workdir / "vol.npy").read_bytes() == before


def test_failed_step_leaves_no_output(registry, workdir):
    text = PIPELINE + "  - id: bad\n    task: stats\n    inputs: {image: stats.missing}\n"
    with pytest.raises(RunError, match="'stats' has no output 'missing'"):
        _run(workdir, text)
    visible = [n for n in os.listdir(workdir) if not n.startswith(".")]
    assert visible == ["vol.npy"]
    # the steps that finished keep their checkpoints, so --resume does not redo them
    assert sorted(os.listdir(workdir / ".out.h5.partial.d")) == [
        "diff.h5", "disc.h5", "disc_stats.h5", "shifted.h5", "stats.h5"]
    with pytest.raises(RunError):
        _run(workdir, text, resume=True)
    fixed = _run(workdir, text.replace("stats.missing", "stats.max"), resume=True)
    assert fixed.reused == ["shifted", "diff", "stats", "disc", "disc_stats"]


def test_step_failure_names_step_and_component(registry, workdir):
    np.save(workdir / "other.npy", np.zeros((5, 5), np.float32))
    text = """
inputs: {vol: vol.npy, other: other.npy}
steps:
  - id: diff
    observer: mean_abs
    inputs: {reference: vol, distorted: other}
"""
    with pytest.raises(RunError, match=r"step 'diff' \(observer 'mean_abs'\) failed: .*differ"):
        _run(workdir, text)
    assert not (workdir / "out.h5").exists()


def test_run_pipeline_locks_its_output_against_a_second_run(tmp_path: Path) -> None:
    """The Python API takes the output lock as the CLI does (re-entrant in one thread):
    a second run into the same output, from another thread, fails at once."""
    import threading

    from tomokit.io._guard import output_lock

    text = "steps:\n  - {id: ph, phantom: shepp_logan, params: {size: 16}}\n"
    pipeline = parse_pipeline(text, file=str(tmp_path / "p.yaml"), base_dir=tmp_path)
    out = tmp_path / "out.h5"
    errors: list[BaseException] = []
    with output_lock(out):
        run_pipeline(pipeline, out)  # the same thread: re-entrant
        assert out.is_file()

        def other() -> None:
            try:
                run_pipeline(pipeline, out)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(errors) == 1 and "another tomokit run" in str(errors[0])
    run_pipeline(pipeline, out)  # released
