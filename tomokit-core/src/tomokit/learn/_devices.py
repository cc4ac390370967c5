"""One device policy for TensorFlow and ASTRA: ``auto | cpu | gpu``.

Why one place: a lab's node either has a usable GPU or not, and every learned component
(and ASTRA's CUDA algorithms) must take the same decision, warn once, and fail the same
clear way when a GPU is demanded but absent. TensorFlow is imported only when a device
is actually resolved.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any, Literal

from tomokit.errors import InvalidInputError

__all__ = [
    "DeviceFallbackWarning",
    "astra_device",
    "dask_gpu_worker",
    "device_scope",
    "distribution_strategy",
    "gpu_count",
    "resolve_device",
    "set_mixed_precision",
]

Resolved = Literal["cpu", "gpu"]

_LOCK = threading.Lock()
_WARNED = False
_GPUS: int | None = None


class DeviceFallbackWarning(UserWarning):
    """``device: auto`` found no GPU and runs on the CPU (issued once per process)."""


def gpu_count() -> int:
    """Number of GPUs TensorFlow sees (memory growth switched on for each, once)."""
    global _GPUS
    with _LOCK:
        if _GPUS is not None:
            return _GPUS
        if os.environ.get("TOMOKIT_FORCE_NO_GPU"):  # lets tests exercise the fallback
            _GPUS = 0
            return 0
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            # without growth TensorFlow reserves (almost) all GPU memory at first use,
            # which starves ASTRA and any other process sharing the card
            with contextlib.suppress(RuntimeError):  # already initialised: keep as is
                tf.config.experimental.set_memory_growth(gpu, True)
        _GPUS = len(gpus)
        return _GPUS


def _reset_for_tests() -> None:
    """Forget the cached GPU count and the warning (tests toggle TOMOKIT_FORCE_NO_GPU)."""
    global _GPUS, _WARNED
    with _LOCK:
        _GPUS = None
        _WARNED = False


def resolve_device(choice: str = "auto", *, what: str = "device") -> Resolved:
    """``"auto"`` -> ``"gpu"`` if TensorFlow sees one, else ``"cpu"`` with one
    :class:`DeviceFallbackWarning` per process; ``"gpu"`` without one is an
    :class:`~tomokit.errors.InvalidInputError`; ``"cpu"`` is returned as is (and does
    not import TensorFlow)."""
    global _WARNED
    if choice not in ("auto", "cpu", "gpu"):
        raise InvalidInputError(f"{what}: expected auto, cpu or gpu, got {choice!r}")
    if choice == "cpu":
        return "cpu"
    n = gpu_count()
    if n:
        return "gpu"
    if choice == "gpu":
        raise InvalidInputError(
            f"{what}: gpu requested but TensorFlow sees no GPU (install the 'tf' extra, which "
            "brings GPU-capable tensorflow, check nvidia-smi and CUDA_VISIBLE_DEVICES), or use "
            "device: auto or cpu"
        )
    with _LOCK:
        if not _WARNED:
            _WARNED = True
            warnings.warn(
                "device auto: no GPU visible to TensorFlow, running on the CPU",
                DeviceFallbackWarning,
                stacklevel=2,
            )
    return "cpu"


def astra_device(choice: str = "auto") -> Literal["cpu", "cuda"]:
    """The same policy for ASTRA: ``"cuda"`` (use the ``*_CUDA`` algorithms) or ``"cpu"``.

    A GPU visible to TensorFlow is taken as visible to ASTRA; when TensorFlow is not
    installed, ASTRA's own ``astra.use_cuda()`` decides.
    """
    if choice not in ("auto", "cpu", "gpu"):
        raise InvalidInputError(f"device: expected auto, cpu or gpu, got {choice!r}")
    if choice == "cpu":
        return "cpu"
    try:
        return "cuda" if resolve_device(choice) == "gpu" else "cpu"
    except ModuleNotFoundError:
        try:
            import astra
        except ModuleNotFoundError:
            return _no_gpu(choice)
        if astra.use_cuda():
            return "cuda"
        return _no_gpu(choice)


def _no_gpu(choice: str) -> Literal["cpu"]:
    global _WARNED
    if choice == "gpu":
        raise InvalidInputError("device: gpu requested but no CUDA device is usable")
    with _LOCK:
        if not _WARNED:
            _WARNED = True
            warnings.warn("device auto: no GPU usable, running on the CPU",
                          DeviceFallbackWarning, stacklevel=3)
    return "cpu"


@contextlib.contextmanager
def device_scope(device: str) -> Iterator[None]:
    """Run the Keras work inside on ``device`` (``"cpu"``/``"gpu"``, already resolved)."""
    import tensorflow as tf

    gpu_count()  # memory growth must be set before TensorFlow touches a GPU, even for CPU work
    name = "/GPU:0" if device == "gpu" else "/CPU:0"
    with tf.device(name):
        yield


@contextlib.contextmanager
def set_mixed_precision(enabled: bool, device: str) -> Iterator[bool]:
    """Use the ``mixed_float16`` Keras policy inside (only on a GPU; on a CPU it would be
    slower and less accurate). Yields whether it is on. Models built inside keep it."""
    if not enabled or device != "gpu":
        yield False
        return
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield True
    finally:
        keras.config.set_dtype_policy(previous)


def distribution_strategy(device: str, *, distribute: bool = False) -> Any:
    """A ``tf.distribute`` strategy: mirrored over every GPU when ``distribute`` and more
    than one is visible, else the default one-device strategy of ``device``."""
    import tensorflow as tf

    if distribute and device == "gpu" and gpu_count() > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.OneDeviceStrategy("/GPU:0" if device == "gpu" else "/CPU:0")


def dask_gpu_worker(gpu: int | None = None) -> dict[str, Any]:
    """How to start a Dask worker that owns one GPU.

    Returns ``{"resources": {"GPU": 1}, "env": {"CUDA_VISIBLE_DEVICES": "<gpu>"}}``: start
    one worker per GPU with that environment and ``--resources GPU=1`` (or pass both to
    ``LocalCUDACluster``-like launchers), and submit GPU work with
    ``resources={"GPU": 1}`` so that two model calls never share a card.
    """
    env = {} if gpu is None else {"CUDA_VISIBLE_DEVICES": str(int(gpu))}
    return {"resources": {"GPU": 1}, "env": env}
