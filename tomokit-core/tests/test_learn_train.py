"""Training a real (tiny) Keras component: via the API, the CLI and the train task;
deterministic on CPU; a SIGKILLed run resumes to the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from learned_for_tests import TinyDenoiser, patches, write_patches

import tomokit
from tomokit.cli import main
from tomokit.errors import InvalidInputError
from tomokit.learn import (
    Checkpoint,
    ModelFile,
    TrainCallback,
    TrainData,
    TrainReport,
    check_model_file,
    default_checkpoint_dir,
    sidecar_path,
)
from tomokit.testing import check_trainable, isolated_registry

TESTS = Path(__file__).parent
RECIPE = {"epochs": 4, "batch_size": 16, "learning_rate": 3e-3, "device": "cpu", "seed": 3}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_patches(tmp_path_factory.mktemp("data") / "patches.h5", n=96)


def test_fit_learns_and_beats_the_noisy_input(dataset, tmp_path):
    comp = TinyDenoiser(device="cpu")
    seen: list[int] = []

    class Epochs(TrainCallback):
        def on_epoch_end(self, state, logs):
            seen.append(state.epoch)

    report = comp.fit(str(dataset), train=RECIPE, callbacks=[Epochs()])
    assert isinstance(report, TrainReport) and report.epochs_run == 4 and seen == [0, 1, 2, 3]
    assert report.device == "cpu" and report.resumed_from is None
    assert report.n_train == 72 and report.n_validation == 24  # 25 % of 48 sources, 2 rows each
    assert set(report.history) >= {"loss", "val_loss", "learning_rate"}
    test = patches(32, seed=9)  # unseen images
    denoised = comp.predict(test["noisy"][..., None])[..., 0]
    mse_in = np.mean((test["noisy"] - test["clean"]) ** 2)
    mse_out = np.mean((denoised - test["clean"]) ** 2)
    assert mse_out < 0.7 * mse_in, (mse_out, mse_in)
    # as a Filter on a 2-D image, and identical after save / from_file
    model = comp.save(tmp_path / "den.keras")
    info = check_model_file(model.path, component=("filter", "tiny_denoiser"))
    assert info["train"]["epochs"] == 4 and info["data"]["train"]["sha256"]
    assert info["validation"]["loss"] == pytest.approx(report.validation["loss"])
    assert info["report"]["history"]["loss"] == report.history["loss"]
    loaded = TinyDenoiser.from_file(model.path)
    img = test["noisy"][0]
    assert np.array_equal(loaded.filter(img), comp.filter(img))


def test_training_is_deterministic_on_cpu(dataset):
    recipe = {**RECIPE, "epochs": 1}
    a, b = TinyDenoiser(device="cpu"), TinyDenoiser(device="cpu")
    a.fit(str(dataset), train=recipe)
    b.fit(str(dataset), train=recipe)
    for va, vb in zip(a.network.variables, b.network.variables, strict=True):
        assert np.array_equal(va.numpy(), vb.numpy())


def test_validation_split_by_source(dataset):
    data = TrainData.from_hdf5(dataset)
    train, val = data.split(0.25, seed=1)
    assert len(train) + len(val) == len(data)
    assert not set(train.sources) & set(val.sources)
    assert len(set(val.sources)) == 12


def test_schedules_and_early_stopping(dataset):
    comp = TinyDenoiser(device="cpu")
    report = comp.fit(str(dataset), train={**RECIPE, "epochs": 3, "schedule": "step",
                                           "lr_steps": [1, 2], "lr_factor": 0.5,
                                           "steps_per_epoch": 2})
    assert report.history["learning_rate"] == pytest.approx([3e-3, 1.5e-3, 7.5e-4])
    stop = comp.fit(str(dataset), train={**RECIPE, "epochs": 50, "learning_rate": 1e-9,
                                         "early_stopping": 1, "steps_per_epoch": 1})
    assert stop.stopped_early and stop.epochs_run < 50
    with pytest.raises(InvalidInputError, match="train params"):
        comp.fit(str(dataset), train={"epochs": 0})


def test_check_trainable(dataset):
    check_trainable(TinyDenoiser, str(dataset), train={"steps_per_epoch": 2})


def test_cli_train_writes_model_and_refuses_overwriting_inputs(dataset, tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("train:\n  epochs: 2\n  steps_per_epoch: 2\n  seed: 1\nparams:\n  device: cpu\n")
    out = tmp_path / "models" / "den.keras"
    with isolated_registry(TinyDenoiser):
        code = main(["train", "filter", "tiny_denoiser", "--data", str(dataset), "--config",
                     str(config), "-o", str(out), "--quiet"])
        assert code == 0, capsys.readouterr().err
        info = json.loads(sidecar_path(out).read_text())
        assert info["train"]["epochs"] == 2 and info["params"]["device"] == "cpu"
        assert not default_checkpoint_dir(out).exists()  # removed once saved
        assert main(["train", "filter", "tiny_denoiser", "--data", str(dataset), "-o",
                     str(dataset)]) == 2
        assert "must end in .keras" in capsys.readouterr().err
        clash = tmp_path / "clash.keras"
        clash.write_bytes(b"")
        assert main(["train", "filter", "tiny_denoiser", "--data", str(clash), "-o",
                     str(clash)]) == 2
        assert "is an input file" in capsys.readouterr().err
        assert main(["train", "filter", "tiny_denoiser", "--data", str(dataset), "-o",
                     str(tmp_path / "x.keras"), "--train", "epochs=0"]) == 2
        assert "epochs" in capsys.readouterr().err
        assert not (tmp_path / "x.keras").exists()


def test_train_task_outputs_a_model_file(dataset, tmp_path):
    from tomokit.learn import TrainTask

    with isolated_registry(TinyDenoiser, TrainTask):
        task = tomokit.load("task", "train", {
            "component": {"kind": "filter", "name": "tiny_denoiser", "params": {"device": "cpu"}},
            "train": {"epochs": 1, "steps_per_epoch": 2},
            "data": str(dataset),
            "output": str(tmp_path / "task.keras"),
        })
        out = task.run({}, rng=np.random.default_rng(0))
        assert isinstance(out["model"], ModelFile) and Path(out["model"].path).is_file()
        den = tomokit.load("filter", "tiny_denoiser", model=str(out["model"]), device="cpu")
        assert den.filter(patches(1)["noisy"][0]).shape == (32, 32)
        with pytest.raises(InvalidInputError, match=r"not trainable|epochs"):
            tomokit.load("task", "train", {"component": {"kind": "filter", "name": "tiny_denoiser"},
                                           "train": {"epochs": -1}})


SCRIPT = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    from learned_for_tests import TinyDenoiser
    from tomokit.learn import TrainCallback

    class Kill(TrainCallback):
        def on_batch_end(self, state, logs):
            if state.epoch == 2 and state.step == 1:  # mid-epoch 3, after 2 checkpoints
                os.kill(os.getpid(), signal.SIGKILL)

    recipe = dict(epochs=4, batch_size=16, learning_rate=3e-3, device="cpu", seed=3,
                  steps_per_epoch=3, augment=True)
    mode, data, ckpt, out = sys.argv[1:5]
    comp = TinyDenoiser(device="cpu")
    report = comp.fit(data, train=recipe, checkpoint_dir=ckpt,
                      callbacks=[Kill()] if mode == "kill" else [])
    np.savez(out, *[v.numpy() for v in comp.network.variables])
    print("resumed_from", report.resumed_from)
    if mode == "resume":  # the uninterrupted run, in the same process
        fresh = TinyDenoiser(device="cpu")
        fresh.fit(data, train=recipe, checkpoint_dir=ckpt + "-fresh")
        np.savez(out + "-fresh.npz", *[v.numpy() for v in fresh.network.variables])
""")


@pytest.mark.slow
def test_sigkill_mid_training_resumes_to_identical_weights(dataset, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    killed = subprocess.run([sys.executable, str(script), "kill", str(dataset), str(ckpt),
                             str(tmp_path / "a.npz")], capture_output=True, text=True, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    state, _ = Checkpoint(ckpt).load()  # type: ignore[misc]
    assert state["epoch"] == 2
    resumed = subprocess.run([sys.executable, str(script), "resume", str(dataset), str(ckpt),
                              str(tmp_path / "b.npz")], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed_from 2" in resumed.stdout
    with np.load(tmp_path / "b.npz") as b, np.load(tmp_path / "b.npz-fresh.npz") as f:
        assert b.files == f.files
        for k in b.files:
            assert np.array_equal(b[k], f[k]), k


def test_cli_sigint_exits_130_keeps_checkpoint_and_resumes(dataset, tmp_path, capsys,
                                                           monkeypatch):
    out = tmp_path / "int.keras"
    original = TinyDenoiser.batches
    count = {"n": 0}

    def interrupted(self, data, train, *, rng, training):  # type: ignore[no-untyped-def]
        for batch in original(self, data, train, rng=rng, training=training):
            if training:
                count["n"] += 1
                if count["n"] == 5:  # first step of epoch 3 (2 steps per epoch)
                    signal.raise_signal(signal.SIGINT)  # as Ctrl-C does
            yield batch

    args = ["train", "filter", "tiny_denoiser", "--data", str(dataset), "-o", str(out),
            "--train", "epochs=3", "--train", "steps_per_epoch=2", "--train", "device=cpu",
            "--param", "device=cpu"]
    with isolated_registry(TinyDenoiser):
        monkeypatch.setattr(TinyDenoiser, "batches", interrupted)
        assert main(args) == 130
        assert "run the same command again to resume" in capsys.readouterr().err
        assert not out.exists() and not sidecar_path(out).exists()
        state, _ = Checkpoint(default_checkpoint_dir(out)).load()  # type: ignore[misc]
        assert state["epoch"] == 2
        monkeypatch.setattr(TinyDenoiser, "batches", original)
        assert main(args) == 0
        assert "resumed after epoch 2" in capsys.readouterr().err
        assert out.is_file() and not default_checkpoint_dir(out).exists()
