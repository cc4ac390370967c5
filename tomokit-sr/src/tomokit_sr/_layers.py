"""Keras layers of the tomokit-sr networks (imports Keras: import this module lazily).

Registered under the package ``tomokit_sr`` so that ``.keras`` files load with
``safe_mode=True`` (no Lambda layers, no pickled code).
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["PixelShuffle"]


@keras.saving.register_keras_serializable(package="tomokit_sr")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution upsampling (Shi et al. 2016): ``(B, h, w, r^2 C)`` ->
    ``(B, r h, r w, C)`` by ``tf.nn.depth_to_space`` (the TensorFlow channel order)."""

    def __init__(self, scale: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(scale) != scale or scale < 1:
            raise ValueError(f"scale: expected an integer >= 1, got {scale}")
        self.scale = int(scale)

    def call(self, inputs: Any) -> Any:
        import tensorflow as tf

        return tf.nn.depth_to_space(inputs, self.scale)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        b, h, w, c = input_shape
        r = self.scale

        def mul(v: Any) -> Any:
            return None if v is None else v * r

        return (b, mul(h), mul(w), None if c is None else c // (r * r))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}
