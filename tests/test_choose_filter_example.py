"""examples/choose_filter.yaml, the research-workflow example: sweep 3 filters x 3
settings, score each candidate, select the best; resumed after SIGKILL mid-sweep, and
identical under the local and Dask executors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tomokit.pipeline import load_pipeline, parse_pipeline, read_results, run_pipeline

pytest.importorskip("tomokit_recon.filters")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "choose_filter.yaml"

# Runs the example and blocks for good once four candidates are checkpointed, so the
# parent can SIGKILL it exactly mid-sweep.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from tomokit.pipeline import load_pipeline, run_pipeline
    done = []
    def on_step(record):
        print("done", record.id, flush=True)
        if record.id.startswith("filtered["):
            done.append(record.id)
            if len(done) == 4:
                time.sleep(600)
    run_pipeline(load_pipeline(sys.argv[1]), sys.argv[2], on_step=on_step)
    """
)


def _same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        if isinstance(a[key], dict):
            _same(a[key], b[key])
        else:
            assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("plain") / "out.h5"
    run_pipeline(load_pipeline(EXAMPLE), out)
    return read_results(out)


def test_example_selects_a_filter_better_than_none(uninterrupted: dict) -> None:
    best = uninterrupted["best"]
    ranking = best["ranking"]
    assert len(ranking) == 9 and ranking["rank"].tolist() == list(range(1, 10))
    assert best["name"] == ranking["candidate"][0].decode()
    scores = [float(uninterrupted[f"ssim[{c.decode()}]"]) for c in ranking["candidate"]]
    assert scores == sorted(scores, reverse=True) == ranking["score"].tolist()
    assert scores[0] > float(uninterrupted["ssim_unfiltered"]) + 0.01


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_sweep_then_resume_equals_the_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict
) -> None:
    out = tmp_path / "out.h5"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(EXAMPLE), str(out)],
                            stdout=subprocess.PIPE, text=True)
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.split()[1])
            if sum(s.startswith("filtered[") for s in seen) == 4:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()
    summary = run_pipeline(load_pipeline(EXAMPLE), out, resume=True)
    assert set(summary.reused) == set(seen)  # the finished steps, and only them
    assert len([s for s in summary.reused if s.startswith("filtered[")]) == 4
    _same(read_results(out), uninterrupted)


def test_dask_gives_the_same_results(tmp_path: Path, uninterrupted: dict) -> None:
    pytest.importorskip("distributed")
    text = EXAMPLE.read_text() + "executor: {kind: dask, workers: 2}\n"
    pipeline = parse_pipeline(text, file=str(EXAMPLE), base_dir=EXAMPLE.parent)
    run_pipeline(pipeline, tmp_path / "dask.h5")
    _same(read_results(tmp_path / "dask.h5"), uninterrupted)
