"""Keras pieces of ``cnn_reconstruct`` (imported only when its network is built or loaded).

The network is the AI4SD report's supervised reconstructor (super_tomo_py
``models/cnn_reconstruct``), written from its description. :class:`EmbeddingBank` is an
identity layer on the dense features that carries, as non-trainable weights, the
training set's embeddings and the out-of-distribution threshold, so they travel inside
the ``.keras`` file (no pickle, no extra file).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["EmbeddingBank", "build_cnn_reconstruct", "rmse_loss"]

BANK_LAYER = "ood_bank"


@keras.saving.register_keras_serializable(package="tomokit_recon")
def rmse_loss(y_true: Any, y_pred: Any) -> Any:
    """Root mean squared error over the whole batch (the report's loss)."""
    y_true = ops.cast(y_true, y_pred.dtype)
    return ops.sqrt(ops.mean(ops.square(y_pred - y_true)) + 1e-12)


@keras.saving.register_keras_serializable(package="tomokit_recon")
class EmbeddingBank(keras.layers.Layer):
    """Identity on ``(batch, d)`` features; holds ``bank (capacity, d)``, ``count`` (rows of
    the bank in use), ``threshold`` (the flagging distance) and ``k`` (neighbours)."""

    def __init__(self, capacity: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.capacity = int(capacity)

    def build(self, input_shape: Any) -> None:
        d = int(input_shape[-1])
        self.bank = self.add_weight(shape=(self.capacity, d), initializer="zeros",
                                    trainable=False, name="bank")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
        self.threshold = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="threshold")
        self.k = self.add_weight(shape=(), initializer="ones", trainable=False, name="k")

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "capacity": self.capacity}


def build_cnn_reconstruct(
    sino_shape: tuple[int, int],
    size: int,
    *,
    conv_filters: int = 64,
    dense_units: int = 1000,
    dense_layers: int = 4,
    dropout: float = 0.1,
    refine_filters: int = 128,
    bank_capacity: int = 1024,
) -> keras.Model:
    """Sinogram ``(angles, detectors, 1)`` -> image ``(size, size, 1)``.

    4 x Conv(conv_filters, 3x3, stride 2, ReLU) -> flatten -> ``dense_layers`` x
    [Dense(dense_units, ReLU) -> Dropout], each block fed by the previous one (the
    published code feeds every dropout the flattened tensor, which disconnects its dense
    layers; the OOD bank sits on the first block's output) -> Dense(size^2) -> reshape -> 3 x Conv(refine_filters, 3x3, ReLU) -> Conv(1).
    The input is divided by the detector count so line integrals of a [0, 1] image are of
    order 1.
    """
    angles, detectors = int(sino_shape[0]), int(sino_shape[1])
    inp = keras.Input((angles, detectors, 1), name="sinogram")
    x = keras.layers.Rescaling(1.0 / detectors, name="line_integral_scale")(inp)
    for i in range(4):
        x = keras.layers.Conv2D(conv_filters, 3, strides=2, padding="same", activation="relu",
                                name=f"encode{i + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i in range(dense_layers):
        x = keras.layers.Dense(dense_units, activation="relu", name=f"dense{i + 1}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
        if i == 0:  # the first dense block's features: the most input-specific
            x = EmbeddingBank(bank_capacity, name=BANK_LAYER)(x)
    x = keras.layers.Dense(size * size, name="to_image")(x)
    x = keras.layers.Reshape((size, size, 1), name="image_grid")(x)
    for i in range(3):
        x = keras.layers.Conv2D(refine_filters, 3, padding="same", activation="relu",
                                name=f"refine{i + 1}")(x)
    out = keras.layers.Conv2D(1, 3, padding="same", name="image")(x)
    return keras.Model(inp, out, name="cnn_reconstruct")
