"""Learned components: training contract, model files, devices, tiled inference.

A learned component is its network plus its recipe; everything else lives here:

- :class:`KerasComponent` (a mixin on :class:`tomokit.Trainable`): ``fit`` with seeds,
  schedule, early stopping, progress and resumable per-epoch checkpoints, ``save`` with a
  JSON sidecar, ``from_file`` with overrides, a lazily loaded and checked ``network``,
  ``predict`` in batches on the resolved device;
- :class:`LearnedParams`, :class:`TrainParams`, :class:`TrainReport`, :class:`TrainData`;
- model files (:func:`save_model`, :func:`load_model`, :func:`check_model_file`,
  :func:`model_info`, :func:`find_model`, :class:`ModelFile`) and shipped models (the
  ``tomokit_models`` hook, :class:`tomokit.specs.ModelSpec`);
- devices (:func:`resolve_device`, :func:`astra_device`, :func:`device_scope`, ...);
- :func:`predict_tiled`, :func:`sample_patches`, :func:`aggregate_scores`,
  :func:`choose_batch_size`.

Importing this package does not import TensorFlow or Keras; they are imported when a
network is built, loaded or run.
"""

from __future__ import annotations

from tomokit.learn._batching import choose_batch_size
from tomokit.learn._component import KerasComponent
from tomokit.learn._data import TrainData
from tomokit.learn._devices import (
    DeviceFallbackWarning,
    astra_device,
    dask_gpu_worker,
    device_scope,
    distribution_strategy,
    gpu_count,
    resolve_device,
    set_mixed_precision,
)
from tomokit.learn._files import (
    MODEL_FORMAT,
    ModelFile,
    check_model_file,
    file_sha256,
    find_model,
    load_model,
    model_info,
    save_model,
    sidecar_path,
)
from tomokit.learn._params import LearnedParams, TrainParams, TrainReport
from tomokit.learn._task import TrainTask, TrainTaskParams, default_checkpoint_dir, train_component
from tomokit.learn._tiles import aggregate_scores, predict_tiled, sample_patches
from tomokit.learn._training import (
    Checkpoint,
    CheckpointCallback,
    ProgressCallback,
    TrainCallback,
    TrainState,
)
from tomokit.specs import ModelSpec

__all__ = [
    "MODEL_FORMAT",
    "Checkpoint",
    "CheckpointCallback",
    "DeviceFallbackWarning",
    "KerasComponent",
    "LearnedParams",
    "ModelFile",
    "ModelSpec",
    "ProgressCallback",
    "TrainCallback",
    "TrainData",
    "TrainParams",
    "TrainReport",
    "TrainState",
    "TrainTask",
    "TrainTaskParams",
    "aggregate_scores",
    "astra_device",
    "check_model_file",
    "choose_batch_size",
    "dask_gpu_worker",
    "default_checkpoint_dir",
    "device_scope",
    "distribution_strategy",
    "file_sha256",
    "find_model",
    "gpu_count",
    "load_model",
    "model_info",
    "predict_tiled",
    "resolve_device",
    "sample_patches",
    "save_model",
    "set_mixed_precision",
    "sidecar_path",
    "train_component",
]
