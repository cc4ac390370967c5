"""The runner with executors: volumes streamed by block, scans by row, local == dask,
--resume with content hashes (also after SIGKILL), progress and JSON logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import pytest
import tifffile

from tomokit import Observer, Scorer, load
from tomokit.cli import main
from tomokit.executors import get_executor
from tomokit.io import open_scan, write_array
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline
from tomokit.testing import isolated_registry

PIPELINE = """
seed: 3
inputs:
  vol: {path: vol.h5, dataset: /exchange/data}
steps:
  - id: noisy
    distortion: noise
    params: {level: 2}
    inputs: {image: vol}
  - id: error
    observer: mse
    params: {data_range: 1.0}
    inputs: {reference: vol, distorted: noisy}
executor: {kind: local, workers: 2, block_slices: 5}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    vol = np.random.default_rng(0).random((12, 16, 16)).astype(np.float32)
    write_array(tmp_path / "vol.h5", vol, dataset="/exchange/data")
    return tmp_path


def _run(workdir: Path, text: str = PIPELINE, name: str = "out.h5", **kwargs):
    pipeline = parse_pipeline(text, file=str(workdir / "p.yaml"), base_dir=workdir)
    return run_pipeline(pipeline, workdir / name, **kwargs)


def test_volume_is_streamed_by_block_and_equals_the_in_memory_result(workdir: Path) -> None:
    advances: dict[str, list[int]] = {}

    def progress(step_id: str, total: int):
        advances[step_id] = []
        return advances[step_id].append

    summary = _run(workdir, progress=progress)
    noisy, error = summary.steps
    assert noisy.streamed and noisy.slices == 12 and error.streamed
    assert advances["noisy"] == [5, 5, 2]  # one block at a time, never the whole volume
    results = read_results(workdir / "out.h5")
    # the same step on the whole array in memory, with the step's seed
    vol = np.random.default_rng(0).random((12, 16, 16)).astype(np.float32)
    expected = load("distortion", "noise", level=2).run_step(
        {"image": vol}, rng=np.random.default_rng(noisy.seed)
    )
    assert np.array_equal(results["noisy"], expected)
    mse = load("observer", "mse", data_range=1.0)
    assert np.array_equal(results["error"], [mse.compare(a, b) for a, b in zip(vol, expected,
                                                                                  strict=True)])
    assert np.array_equal(summary.values["noisy"], expected)
    assert not [p for p in os.listdir(workdir) if p.startswith(".")]  # work files removed


def test_results_identical_for_block_sizes_and_worker_counts(workdir: Path) -> None:
    first = read_results(_run(workdir, name="a.h5").output)
    for i, ex in enumerate(({"block_slices": 1, "workers": 1}, {"block_slices": 12},
                            {"block_memory": "4KiB", "workers": 3})):
        with get_executor(ex) as executor:
            other = read_results(_run(workdir, name=f"b{i}.h5", executor=executor).output)
        for key in first:
            assert np.array_equal(first[key], other[key]), (ex, key)


def test_local_and_dask_executors_give_identical_results(workdir: Path) -> None:
    pytest.importorskip("distributed")
    local = _run(workdir, name="local.h5")
    dask = _run(workdir, PIPELINE.replace("kind: local", "kind: dask"), name="dask.h5")
    assert dask.executor.startswith("dask") and local.executor.startswith("local")
    a, b = read_results(workdir / "local.h5"), read_results(workdir / "dask.h5")
    assert set(a) == set(b) == {"noisy", "error"}
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key])


def test_dxchange_scan_streamed_row_by_row_into_a_reconstructor(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "scan.h5", "w") as h5:
        h5["/exchange/data"] = rng.uniform(200, 900, (20, 4, 16)).astype(np.float32)
        h5["/exchange/data_white"] = rng.uniform(950, 1000, (3, 4, 16)).astype(np.float32)
        h5["/exchange/data_dark"] = rng.uniform(0, 20, (2, 4, 16)).astype(np.float32)
        h5["/exchange/theta"] = np.linspace(0, 180, 20, endpoint=False)
    text = """
inputs: {scan: scan.h5}
steps:
  - {id: recon, reconstructor: backprojection, inputs: {sinogram: scan}}
executor: {block_slices: 3}
"""
    summary = _run(tmp_path, text)
    assert summary.steps[0].streamed and summary.steps[0].slices == 4
    got = read_results(tmp_path / "out.h5")["recon"]
    comp = load("reconstructor", "backprojection")
    with open_scan(tmp_path / "scan.h5") as scan:
        expected = np.stack([comp.reconstruct(s) for s in scan.iter_sinograms()])
    assert got.shape == (4, 16, 16) and np.array_equal(got, expected)


def test_resume_reuses_unchanged_steps_and_recomputes_changed_ones(workdir: Path) -> None:
    first = _run(workdir)
    before = read_results(workdir / "out.h5")
    again = _run(workdir, resume=True)
    assert again.reused == ["noisy", "error"]
    assert np.array_equal(again.values["error"], before["error"])
    after = read_results(workdir / "out.h5")
    for key in before:
        assert np.array_equal(before[key], after[key])
    with h5py.File(workdir / "out.h5") as h5:
        assert json.loads(h5.attrs["step_hashes"]).keys() == {"noisy", "error"}
        assert bool(h5["steps/noisy"].attrs["reused"])
        assert float(h5["steps/noisy"].attrs["seconds"]) == pytest.approx(first.steps[0].seconds)
    # a changed param recomputes that step only
    text = PIPELINE.replace("data_range: 1.0", "data_range: 2.0")
    changed = _run(workdir, text, resume=True)
    assert changed.reused == ["noisy"]
    fresh = read_results(_run(workdir, text, name="fresh.h5").output)
    assert np.array_equal(read_results(workdir / "out.h5")["error"], fresh["error"])
    # a changed upstream step recomputes its dependents too
    assert _run(workdir, text.replace("level: 2", "level: 3"), resume=True).reused == []
    # changed input content recomputes everything downstream
    write_array(workdir / "vol.h5", np.zeros((12, 16, 16), np.float32), dataset="/exchange/data",
                overwrite=True)
    assert _run(workdir, resume=True).reused == []
    # without --resume nothing is reused
    assert _run(workdir).reused == []


SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    import tomokit
    from tomokit.pipeline import parse_pipeline, run_pipeline

    class Slow(tomokit.Task):
        name = "slow"
        input_names = ("image",)
        def run(self, inputs, *, rng):
            time.sleep(float(os.environ.get("SLOW", "0")))
            image = np.asarray(inputs["image"])
            return {"mean": image.mean(axis=(1, 2)), "noise": rng.normal(size=3)}

    tomokit.get_registry().register(Slow)
    text = '''
    seed: 1
    inputs: {vol: {path: vol.h5, dataset: /exchange/data}}
    steps:
      - {id: noisy, distortion: noise, params: {level: 1}, inputs: [vol]}
      - {id: slow, task: slow, inputs: {image: noisy}}
    executor: {block_slices: 4}
    '''
    pipeline = parse_pipeline(text, file="p.yaml", base_dir=sys.argv[1])
    summary = run_pipeline(pipeline, sys.argv[1] + "/" + sys.argv[2], resume=len(sys.argv) > 3,
                           on_step=lambda r: print("done", r.id, flush=True))
    print("reused", ",".join(summary.reused), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_equals_an_uninterrupted_run(workdir: Path) -> None:
    env = {**os.environ, "SLOW": "60"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(workdir), "out.h5"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the streamed step is done; the slow one runs
        assert line.startswith("done noisy"), line
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (workdir / "out.h5").exists()
    assert (workdir / ".out.h5.partial.d" / "noisy.h5").exists()  # the finished step
    env["SLOW"] = "0"
    resumed = subprocess.run([sys.executable, "-c", SCRIPT, str(workdir), "out.h5", "resume"],
                             capture_output=True, text=True, env=env, check=True)
    assert "reused noisy\n" in resumed.stdout and "done slow" in resumed.stdout
    subprocess.run([sys.executable, "-c", SCRIPT, str(workdir), "clean.h5"],
                   capture_output=True, text=True, env=env, check=True)
    a, b = read_results(workdir / "out.h5"), read_results(workdir / "clean.h5")
    assert np.array_equal(a["noisy"], b["noisy"])
    for key in ("mean", "noise"):
        assert np.array_equal(a["slow"][key], b["slow"][key])
    assert sorted(os.listdir(workdir)) == ["clean.h5", "out.h5", "vol.h5"]


def test_cli_resume_quiet_log_json_and_executor(workdir: Path, capsys) -> None:
    (workdir / "p.yaml").write_text(PIPELINE)
    out, log = workdir / "r.h5", workdir / "logs" / "run.json"
    assert main(["run", str(workdir / "p.yaml"), "-o", str(out), "--log-json", str(log)]) == 0
    captured = capsys.readouterr()
    assert "slices/s" in captured.err and "done noisy" in captured.err
    entry = json.loads(log.read_text())
    assert entry["error"] is None and entry["executor"].startswith("local")
    assert [s["id"] for s in entry["steps"]] == ["noisy", "error"]
    assert entry["steps"][0]["slices"] == 12 and entry["steps"][0]["slices_per_s"] > 0
    assert main(["run", str(workdir / "p.yaml"), "-o", str(out), "--resume", "--quiet",
                 "--log-json", str(log)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert [s["reused"] for s in json.loads(log.read_text())["steps"]] == [True, True]
    assert main(["run", str(workdir / "p.yaml"), "-o", str(out), "--resume"]) == 0
    assert "reused 2 step(s): noisy, error" in capsys.readouterr().err
    assert main(["run", str(workdir / "p.yaml"), "-o", str(out), "--executor", "spark"]) == 2
    assert "--executor 'spark'" in capsys.readouterr().err
    (workdir / "bad.yaml").write_text(PIPELINE.replace("data_range: 1.0", "data_range: 1.0, x: 1"))
    assert main(["run", str(workdir / "bad.yaml"), "-o", str(workdir / "b.h5"),
                 "--log-json", str(log)]) == 2
    assert "x" in json.loads(log.read_text())["error"]


class SliceMAE(Observer):
    """A per-slice observer (the base run_step): streamed slice pairs."""

    name: ClassVar[str] = "slice_mae"
    higher_is_better: ClassVar[bool] = False

    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return float(np.mean(np.abs(reference - distorted)))


class Brightness(Scorer):
    """A batch scorer that records the batch sizes it was given."""

    name: ClassVar[str] = "brightness"
    batches: ClassVar[list[int]] = []

    def score(self, images: np.ndarray) -> np.ndarray:
        Brightness.batches.append(len(images))
        return np.asarray(images, dtype=np.float64).mean(axis=(1, 2))


def test_tiff_folder_normalised_per_slice_observer_and_batched_scorer(tmp_path: Path) -> None:
    vol = np.random.default_rng(4).integers(0, 65535, (12, 10, 8), dtype=np.uint16)
    (tmp_path / "stack").mkdir()
    for i, s in enumerate(vol):
        tifffile.imwrite(tmp_path / "stack" / f"s{i}.tif", s)
    text = """
inputs: {vol: {path: stack, normalize: true}}
steps:
  - {id: noisy, distortion: noise, params: {level: 1}, inputs: {image: vol}}
  - {id: mae, observer: slice_mae, inputs: {reference: vol, distorted: noisy}}
  - {id: bright, scorer: brightness, inputs: {images: noisy}}
executor: {block_slices: 5}
"""
    Brightness.batches.clear()
    with isolated_registry(SliceMAE, Brightness, entry_points=True):
        summary = _run(tmp_path, text)
    assert all(s.streamed for s in summary.steps)
    assert Brightness.batches == [5, 5, 2]  # one block per batch
    res = read_results(tmp_path / "out.h5")
    scaled = vol.astype(np.float32) / np.float32(65535)  # normalize: true
    noisy = load("distortion", "noise", level=1).run_step(
        {"image": scaled}, rng=np.random.default_rng(summary.steps[0].seed)
    )
    assert np.array_equal(res["noisy"], noisy)
    assert np.array_equal(res["mae"], [np.mean(np.abs(a - b)) for a, b in zip(scaled, noisy,
                                                                               strict=True)])
    assert np.array_equal(res["bright"], noisy.astype(np.float64).mean(axis=(1, 2)))
