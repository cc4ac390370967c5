"""Sections: consecutive per-slice steps over a volume fused into one pass; only the
requested outputs are written; identical results; resume per section."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from components_for_tests import MeanAbs, Shift

from tomokit.io import write_array
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline
from tomokit.pipeline._sections import sections
from tomokit.testing import isolated_registry

CHAIN = """
seed: 4
inputs:
  vol: {path: vol.h5, dataset: /data}
steps:
  - {id: a, distortion: shift, params: {noise: 0.1}, inputs: [vol]}
  - {id: b, distortion: shift, params: {noise: 0.1, offset: -0.2}, inputs: [a]}
  - {id: c, distortion: shift, params: {noise: 0.1}, inputs: [b]}
  - {id: d, distortion: shift, params: {noise: 0.1}, inputs: [c]}
  - id: err
    observer: mean_abs
    inputs: {reference: vol, distorted: d}
outputs: [d, err]
executor: {workers: 2, block_slices: 3}
"""


@pytest.fixture
def registry():
    with isolated_registry(Shift, MeanAbs) as reg:
        yield reg


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    vol = np.random.default_rng(0).random((20, 16, 16)).astype(np.float32)
    write_array(tmp_path / "vol.h5", vol, dataset="/data")
    return tmp_path


def _pipeline(workdir: Path, text: str = CHAIN):
    return parse_pipeline(text, file=str(workdir / "p.yaml"), base_dir=workdir)


def test_four_per_slice_steps_form_one_section(registry, workdir):
    p = _pipeline(workdir)
    assert {k: [s.id for s in v] for k, v in sections(p, p.output_steps()).items()} == {
        "a": ["a", "b", "c", "d"]}
    # a requested intermediate ends a section; so does a second reader
    p2 = _pipeline(workdir, CHAIN.replace("outputs: [d, err]", "outputs: [b, d, err]"))
    assert [[s.id for s in v] for v in sections(p2, p2.output_steps()).values()] == [
        ["a", "b"], ["c", "d"]]
    p3 = _pipeline(workdir, CHAIN.replace("distorted: d}", "distorted: c}"))
    assert [[s.id for s in v] for v in sections(p3, p3.output_steps()).values()] == [
        ["a", "b", "c"]]


def test_fused_run_writes_only_the_outputs_and_equals_the_unfused_one(registry, workdir):
    written: list[str] = []
    real = h5py.File

    class Spy(real):  # every HDF5 file opened for writing
        def __init__(self, name: Any, mode: str = "r", *args: Any, **kwargs: Any) -> None:
            if mode != "r":
                written.append(os.path.basename(str(name)))
            super().__init__(name, mode, *args, **kwargs)

    h5py.File = Spy  # type: ignore[misc]
    try:
        fused = run_pipeline(_pipeline(workdir), workdir / "fused.h5")
    finally:
        h5py.File = real  # type: ignore[misc]
    assert not any(n.startswith((".a.", ".b.", ".c.", "a.h5", "b.h5", "c.h5")) for n in written)
    assert [r.summary.startswith("fused") for r in fused.steps] == [True, True, True, False,
                                                                     False]
    assert fused.steps[3].streamed and fused.steps[3].slices == 20
    unfused = run_pipeline(_pipeline(workdir), workdir / "plain.h5", fuse=False)
    assert not any(r.summary.startswith("fused") for r in unfused.steps)
    a, b = read_results(workdir / "fused.h5"), read_results(workdir / "plain.h5")
    assert set(a) == set(b) == {"d", "err"}
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    vol = np.random.default_rng(0).random((20, 16, 16)).astype(np.float32)
    assert np.allclose(a["d"].mean(), vol.mean() + 0.1, atol=0.01)


def test_resume_reuses_a_whole_section(registry, workdir):
    run_pipeline(_pipeline(workdir), workdir / "out.h5")
    again = run_pipeline(_pipeline(workdir), workdir / "out.h5", resume=True)
    assert again.reused == ["a", "b", "c", "d", "err"]
    changed = _pipeline(workdir, CHAIN.replace("offset: -0.2", "offset: -0.3"))
    third = run_pipeline(changed, workdir / "out.h5", resume=True)
    assert third.reused == []  # b changed: the section, and err after it, run again
