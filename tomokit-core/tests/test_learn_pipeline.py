"""A learned component in pipelines: trained by the ``train`` task, used by a later step
through ``model: {from: train.model}``, embedded in the results, reused by --resume,
and identical under the local and Dask executors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from learned_for_tests import TinyDenoiser, patches, write_patches

from tomokit.io import write_array
from tomokit.learn import ModelFile, TrainTask
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline
from tomokit.testing import isolated_registry

PIPELINE = """
seed: 1
inputs:
  noisy: {{path: noisy.h5, dataset: /data}}
steps:
  - id: train
    task: train
    params:
      component: {{kind: filter, name: tiny_denoiser}}
      train: {{epochs: 4, batch_size: 16, seed: 0}}
      data: {data}
  - id: denoised
    filter: tiny_denoiser
    params: {{model: {{from: train.model}}, device: cpu}}
    inputs: [noisy]
executor: {{kind: {executor}, workers: 2, block_slices: 4}}
"""


@pytest.fixture
def registry():
    with isolated_registry(TinyDenoiser, TrainTask) as reg:
        yield reg


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_patches(tmp_path / "train.h5", n=96, seed=0)
    test = patches(16, seed=7)
    write_array(tmp_path / "noisy.h5", test["noisy"], dataset="/data")
    np.save(tmp_path / "clean.npy", test["clean"])
    return tmp_path


def _pipeline(workdir: Path, executor: str = "local"):
    text = PIPELINE.format(data=workdir / "train.h5", executor=executor)
    return parse_pipeline(text, file=str(workdir / "p.yaml"), base_dir=workdir)


def test_pipeline_trains_then_uses_the_model(registry, workdir):
    summary = run_pipeline(_pipeline(workdir), workdir / "out.h5")
    _, denoised = summary.steps
    assert denoised.streamed and denoised.slices == 16
    res = read_results(workdir / "out.h5")
    model = res["train"]["model"]
    assert isinstance(model, ModelFile) and Path(model.path).is_file()
    assert Path(model.path).parent == workdir / "out.models" / "train"
    clean = np.load(workdir / "clean.npy")
    noisy = patches(16, seed=7)["noisy"]
    before = float(np.mean((noisy - clean) ** 2))
    after = float(np.mean((res["denoised"] - clean) ** 2))
    assert after < 0.8 * before, (after, before)  # it learned to denoise

    # the results file holds the model: it still loads when the models folder is gone
    import shutil

    shutil.rmtree(workdir / "out.models")
    again = read_results(workdir / "out.h5")["train"]["model"]
    assert again.sha256 == model.sha256 and Path(again.path).is_file()

    # --resume: nothing changed, nothing runs (not even the training)
    resumed = run_pipeline(_pipeline(workdir), workdir / "out.h5", resume=True)
    assert resumed.reused == ["train", "denoised"]


def test_local_and_dask_give_identical_denoised_volumes(registry, workdir):
    pytest.importorskip("distributed")
    run_pipeline(_pipeline(workdir), workdir / "local.h5")
    run_pipeline(_pipeline(workdir, "dask"), workdir / "dask.h5")
    a, b = read_results(workdir / "local.h5"), read_results(workdir / "dask.h5")
    # deterministic training: the same weights (the files differ in Keras' save date)
    wa = TinyDenoiser(model=a["train"]["model"].path).network.get_weights()
    wb = TinyDenoiser(model=b["train"]["model"].path).network.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))
    assert np.array_equal(a["denoised"], b["denoised"])


def test_resume_keys_on_model_file_content_and_component_code(registry, workdir, tmp_path):
    import json
    import sys
    import textwrap

    from tomokit.learn import sidecar_path
    from tomokit.pipeline._hashing import _CODE_HASHES, code_hash, step_hashes

    run_pipeline(_pipeline(workdir), workdir / "out.h5")
    model = Path(read_results(workdir / "out.h5")["train"]["model"].path)
    text = f"""
inputs: {{noisy: {{path: noisy.h5, dataset: /data}}}}
steps:
  - {{id: denoised, filter: tiny_denoiser, params: {{model: {model}}}, inputs: [noisy]}}
"""
    p = parse_pipeline(text, file=str(workdir / "q.yaml"), base_dir=workdir)
    before = step_hashes(p)["denoised"]
    info = json.loads(sidecar_path(model).read_text())
    info["note"] = "retrained"
    sidecar_path(model).write_text(json.dumps(info))
    assert step_hashes(p)["denoised"] != before  # the model file's content is in the hash

    # a component's source is in the hash: editing the module changes it
    mod = tmp_path / "edited_component.py"
    mod.write_text(textwrap.dedent("""
        import tomokit
        class Edited(tomokit.Task):
            def run(self, inputs, *, rng):
                return {"x": 1}
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        import edited_component

        first = code_hash(edited_component.Edited)
        mod.write_text(mod.read_text().replace('{"x": 1}', '{"x": 2}'))
        _CODE_HASHES.clear()
        assert code_hash(edited_component.Edited) != first
    finally:
        sys.path.remove(str(tmp_path))
