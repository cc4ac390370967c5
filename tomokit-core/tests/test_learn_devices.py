"""The device policy: auto falls back with one warning, gpu without one is an error;
the GPU path where a GPU exists."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from learned_for_tests import TinyDenoiser, patches

from tomokit.errors import InvalidInputError
from tomokit.learn import (
    DeviceFallbackWarning,
    _devices,
    astra_device,
    dask_gpu_worker,
    device_scope,
    gpu_count,
    resolve_device,
)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setenv("TOMOKIT_FORCE_NO_GPU", "1")
    _devices._reset_for_tests()
    yield
    _devices._reset_for_tests()


def test_auto_falls_back_with_one_warning(no_gpu):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve_device("auto") == "cpu"
        assert resolve_device("auto") == "cpu"
        assert astra_device("auto") == "cpu"
    assert [type(w.message) for w in caught] == [DeviceFallbackWarning]


def test_gpu_without_one_is_a_clear_error(no_gpu):
    with pytest.raises(InvalidInputError, match="gpu requested but TensorFlow sees no GPU"):
        resolve_device("gpu")
    with pytest.raises(InvalidInputError, match="gpu requested"):
        astra_device("gpu")
    with pytest.raises(InvalidInputError, match="gpu requested"):
        TinyDenoiser(device="gpu").device  # noqa: B018


def test_cpu_needs_no_tensorflow_and_bad_choice():
    assert resolve_device("cpu") == "cpu" and astra_device("cpu") == "cpu"
    with pytest.raises(InvalidInputError, match="auto, cpu or gpu"):
        resolve_device("tpu")


def test_dask_worker_resources():
    spec = dask_gpu_worker(1)
    assert spec == {"resources": {"GPU": 1}, "env": {"CUDA_VISIBLE_DEVICES": "1"}}
    assert dask_gpu_worker()["env"] == {}


def _has_gpu() -> bool:
    try:
        return gpu_count() > 0
    except ModuleNotFoundError:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _has_gpu(), reason="no GPU visible to TensorFlow")
def test_gpu_path_trains_and_predicts(tmp_path):
    import tensorflow as tf

    assert resolve_device("auto") == "gpu" and resolve_device("gpu") == "gpu"
    data = patches(32)
    from tomokit.learn import TrainData

    td = TrainData.from_arrays(noisy=data["noisy"], clean=data["clean"],
                               sources=data["source_id"])
    comp = TinyDenoiser(device="gpu")
    report = comp.fit(td, train={"epochs": 1, "device": "gpu", "mixed_precision": True})
    assert report.device == "gpu"
    with device_scope("gpu"):
        assert "GPU" in tf.constant(1.0).device
    out = comp.predict(data["noisy"][..., None])
    assert out.shape == data["noisy"][..., None].shape and np.all(np.isfinite(out))
    model = comp.save(tmp_path / "gpu.keras")
    again = TinyDenoiser.from_file(model.path, device="gpu")
    np.testing.assert_allclose(again.predict(data["noisy"][..., None]), out, atol=1e-2)
