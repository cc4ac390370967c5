"""A tiny real Keras component for the learn tests: a two-layer residual CNN that
denoises 32 x 32 patches (and a test plugin that ships a model of it)."""

from __future__ import annotations

import os

# the machine is shared: keep TensorFlow to a few threads (before it is imported)
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

import tomokit
from tomokit.hookspecs import hookimpl
from tomokit.learn import KerasComponent, LearnedParams, ModelSpec, TrainData, TrainParams

NOISE = 0.1


class DenoiseTrain(TrainParams):
    """The denoiser's recipe: defaults small enough for a test."""

    epochs: int = Field(3, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    validation_fraction: float = Field(0.25, ge=0, lt=1)


class TinyDenoiser(KerasComponent, tomokit.Filter):
    """Residual two-layer CNN: noisy patch in, clean patch out."""

    name = "tiny_denoiser"
    Params = LearnedParams
    TrainParams = DenoiseTrain

    def build_network(self, train: TrainParams, data: TrainData) -> Any:
        import keras

        inp = keras.Input((None, None, 1))
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
        # zero-initialised last layer: the network starts as the identity (the noisy input)
        x = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros")(x)
        return keras.Model(inp, keras.layers.Add()([inp, x]), name="tiny_denoiser")

    def batches(
        self, data: TrainData, train: TrainParams, *, rng: np.random.Generator, training: bool
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for b in data.batches(train.batch_size, names=["noisy", "clean"], rng=rng,
                              shuffle=training):
            x, y = b["noisy"][..., None], b["clean"][..., None]
            if training and train.augment:
                flip = rng.random(len(x)) < 0.5
                x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
            yield x, y

    def filter(self, image: np.ndarray) -> np.ndarray:
        return self.predict(np.asarray(image, np.float32)[None, ..., None])[0, ..., 0]


def patches(n: int = 96, size: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """Clean patches (discs on gradients), their noisy copies and a source id each (two
    crops per source)."""
    from tomokit.testing import sample_image

    rng = np.random.default_rng(seed)
    clean = np.stack([sample_image((size, size), seed=seed * 1000 + i // 2) for i in range(n)])
    noisy = (clean + rng.normal(0, NOISE, clean.shape)).astype(np.float32)
    return {"noisy": noisy, "clean": clean.astype(np.float32),
            "source_id": np.array([f"ref{i // 2}" for i in range(n)])}


def write_patches(path: Path, n: int = 96, seed: int = 0) -> Path:
    """The patches as an HDF5 dataset laid out like an IQA dataset (``source_id``)."""
    import h5py

    data = patches(n, seed=seed)
    with h5py.File(path, "w") as f:
        f["noisy"] = data["noisy"]
        f["clean"] = data["clean"]
        f.create_dataset("source_id", data=data["source_id"].astype(object),
                         dtype=h5py.string_dtype())
        f.attrs["format"] = "test-denoise/1"
    return path


def fake_sidecar(model: Path, *, kind: str = "filter", name: str = "tiny_denoiser") -> None:
    """Write a valid-looking sidecar for a .keras file written by Keras directly (to test
    what the checks refuse)."""
    from tomokit.learn import MODEL_FORMAT, file_sha256, sidecar_path

    info = {"format": MODEL_FORMAT, "component": {"kind": kind, "name": name}, "params": {},
            "model": {"file": model.name, "sha256": file_sha256(model),
                      "bytes": model.stat().st_size}}
    sidecar_path(model).write_text(json.dumps(info))


class ShippingPlugin:
    """A test plugin that ships one model inside the package ``shipped_models_pkg``."""

    @staticmethod
    @hookimpl
    def tomokit_models() -> list[ModelSpec]:
        return [ModelSpec("testpkg/denoiser", "shipped_models_pkg:models/denoiser.keras",
                          "A tiny denoiser shipped by a test plugin")]


def make_shipping_package(root: Path, model: Path) -> Path:
    """A package folder ``root/shipped_models_pkg`` holding ``model`` and its sidecar."""
    import shutil

    from tomokit.learn import sidecar_path

    pkg = root / "shipped_models_pkg"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(model, pkg / "models" / "denoiser.keras")
    shutil.copy(sidecar_path(model), pkg / "models" / "denoiser.json")
    return pkg
