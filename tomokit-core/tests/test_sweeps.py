"""Sweeps, mapping over candidates, the select task and param references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from components_for_tests import Disc, MeanAbs, Shift, Stats

from tomokit.errors import PipelineError, RunError
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline
from tomokit.selection import Select, parse_label, rank_candidates
from tomokit.testing import isolated_registry

SWEEP = """
seed: 3
inputs:
  vol: vol.npy
steps:
  - id: shifted
    sweep:
      - distortion: shift
        grid: {offset: [0.3, 0.1, 0.2]}
        params: {noise: 0.01}
      - distortion: shift
        grid: {level: [5]}
    inputs: [vol]
  - id: err
    observer: mean_abs
    inputs: {reference: vol, distorted: "shifted[*]"}
  - id: best
    task: select
    params: {higher_is_better: false}
    inputs: {candidates: "shifted[*]", scores: "err[*]"}
  - id: stats
    task: stats
    inputs: {image: best.best}
  - id: again
    distortion: shift
    params: {offset: {from: stats.mean}}
    inputs: [vol]
"""


@pytest.fixture
def registry():
    with isolated_registry(Shift, MeanAbs, Disc, Stats, Select) as reg:
        yield reg


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    np.save(tmp_path / "vol.npy", np.random.default_rng(0).random((3, 12, 10)).astype(np.float32))
    return tmp_path


def _pipeline(workdir: Path, text: str):
    return parse_pipeline(text, file=str(workdir / "p.yaml"), base_dir=workdir)


def test_sweep_expands_into_named_candidates(registry, workdir):
    p = _pipeline(workdir, """
inputs: {vol: vol.npy}
steps:
  - id: shifted
    distortion: shift
    params: {noise: 0.01}
    sweep: {offset: [0.3, 0.1]}
    inputs: [vol]
  - id: err
    observer: mean_abs
    inputs: {reference: vol, distorted: "shifted[*]"}
  - id: best
    task: select
    params: {higher_is_better: false}
    inputs: {candidates: "shifted[*]", scores: "err[*]"}
""")
    ids = [s.id for s in p.steps]
    assert ids[:4] == ["shifted[offset=0.3]", "shifted[offset=0.1]", "err[offset=0.3]",
                       "err[offset=0.1]"]
    assert p.steps[0].params.offset == 0.3 and p.steps[0].params.noise == 0.01
    assert p.steps[2].inputs == {"reference": "vol", "distorted": "shifted[offset=0.3]"}
    assert p.steps[4].inputs["candidates"] == ["shifted[offset=0.3]", "shifted[offset=0.1]"]


def test_multi_component_sweep_select_and_param_reference(registry, workdir):
    p = _pipeline(workdir, SWEEP)
    labels = ["shift:offset=0.3", "shift:offset=0.1", "shift:offset=0.2", "shift:level=5"]
    assert [s.id for s in p.steps if s.group == "shifted"] == [f"shifted[{x}]" for x in labels]
    summary = run_pipeline(p, workdir / "out.h5")
    res = read_results(workdir / "out.h5")
    vol = np.load(workdir / "vol.npy")
    errs = [float(np.mean(res[f"err[{x}]"])) for x in labels]
    ranking = res["best"]["ranking"]
    assert [c.decode() for c in ranking["candidate"]] == [labels[k] for k in np.argsort(errs)]
    assert ranking["rank"].tolist() == [1, 2, 3, 4]
    assert res["best"]["name"] == "shift:offset=0.1"
    assert np.array_equal(res["best"]["best"], res["shifted[shift:offset=0.1]"])
    assert parse_label(res["best"]["name"]) == {"component": "shift", "offset": 0.1}
    # the param reference took the mean of the selected candidate
    mean = float(res["stats"]["mean"])
    assert np.allclose(res["again"], vol + mean, atol=1e-6)
    assert summary.steps[-1].id == "again"


def test_param_reference_is_validated_when_it_runs(registry, workdir):
    text = SWEEP.replace("{from: stats.mean}", "{from: stats.label}")
    with pytest.raises(RunError, match=r"step 'again' \(distortion 'shift'\): param offset "
                                       r"\(from stats.label\)"):
        run_pipeline(_pipeline(workdir, text), workdir / "out.h5")
    assert not (workdir / "out.h5").exists()


def test_resume_reuses_candidates_and_follows_param_references(registry, workdir):
    p = _pipeline(workdir, SWEEP)
    run_pipeline(p, workdir / "out.h5")
    again = run_pipeline(p, workdir / "out.h5", resume=True)
    assert len(again.reused) == len(again.steps)
    # change one candidate: its score, the select, and everything downstream rerun
    changed = _pipeline(workdir, SWEEP.replace("[0.3, 0.1, 0.2]", "[0.3, 0.05, 0.2]"))
    third = run_pipeline(changed, workdir / "out.h5", resume=True)
    rerun = {s.id for s in third.steps if not s.reused}
    assert rerun == {"shifted[shift:offset=0.05]", "err[shift:offset=0.05]", "best", "stats",
                     "again"}


def test_outputs_name_a_whole_sweep_or_one_candidate(registry, workdir):
    text = SWEEP + "outputs: [err, 'shifted[shift:level=5]']\n"
    run_pipeline(_pipeline(workdir, text), workdir / "out.h5")
    assert sorted(read_results(workdir / "out.h5")) == sorted(
        ["shifted[shift:level=5]", "err[shift:offset=0.3]", "err[shift:offset=0.1]",
         "err[shift:offset=0.2]", "err[shift:level=5]"])
    with pytest.raises(PipelineError, match="unknown candidate"):
        _pipeline(workdir, SWEEP + "outputs: ['err[nope]']\n")


def test_mapping_over_two_sweeps_with_different_candidates_is_an_error(registry, workdir):
    text = """
inputs: {vol: vol.npy}
steps:
  - {id: a, distortion: shift, sweep: {offset: [0.1, 0.2]}, inputs: [vol]}
  - {id: b, distortion: shift, sweep: {offset: [0.1, 0.3]}, inputs: [vol]}
  - id: c
    observer: mean_abs
    inputs: {reference: "a[*]", distorted: "b[*]"}
"""
    with pytest.raises(PipelineError, match="whose candidates differ"):
        _pipeline(workdir, text)


def test_rank_candidates_combines_metrics_by_weights():
    ssim = {"a": 0.9, "b": 0.8, "c": 0.7}
    mse = {"a": 0.3, "b": 0.1, "c": 0.2}
    ranked, combined, table = rank_candidates([ssim, mse], [True, False], [1.0, 1.0])
    # a: (1 + 0)/2, b: (0.5 + 1)/2, c: (0 + 0.5)/2
    assert ranked == ["b", "a", "c"]
    assert np.allclose(combined, [0.75, 0.5, 0.25])
    assert table[0].tolist() == [0.8, 0.1]
    ranked, _, _ = rank_candidates([ssim, mse], [True, False], [1.0, 0.0])
    assert ranked == ["a", "b", "c"]
    ranked, _, _ = rank_candidates([{"a": np.nan, "b": 0.5}], [True], [1.0])
    assert ranked == ["b", "a"]  # NaN ranks last


def test_inputs_enter_by_fingerprint_and_resume_falls_back_to_content(registry, workdir):
    import json
    import os

    import h5py

    from tomokit.pipeline._hashing import _FILE_HASHES, step_hashes

    p = _pipeline(workdir, SWEEP)
    _FILE_HASHES.clear()
    run_pipeline(p, workdir / "out.h5")
    assert not _FILE_HASHES  # without --resume no input is read whole to hash it
    with h5py.File(workdir / "out.h5") as h5:
        inputs = json.loads(h5.attrs["inputs"])
    assert inputs["vol"]["bytes"] == (workdir / "vol.npy").stat().st_size
    assert "samples" in inputs["vol"]["fingerprint_kind"]
    # touched but unchanged: the fingerprint moves, the content hash recognises it
    run_pipeline(p, workdir / "out.h5", resume=True)  # stores content hashes
    before = step_hashes(p)
    st = (workdir / "vol.npy").stat()
    os.utime(workdir / "vol.npy", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert step_hashes(p) != before
    again = run_pipeline(p, workdir / "out.h5", resume=True)
    assert len(again.reused) == len(again.steps)
    # changed content: everything reruns
    vol = np.load(workdir / "vol.npy")
    np.save(workdir / "vol.npy", vol + 1)
    third = run_pipeline(p, workdir / "out.h5", resume=True)
    assert third.reused == []
