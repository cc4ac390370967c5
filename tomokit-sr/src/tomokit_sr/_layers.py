"""Keras layers of the tomokit-sr networks (imports Keras: import this module lazily).

Registered under the package ``tomokit_sr`` so that ``.keras`` files load with
``safe_mode=True`` (no Lambda layers, no pickled code).
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["BilinearUpsample", "PixelShuffle"]


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


@keras.saving.register_keras_serializable(package="tomokit_sr")
class BilinearUpsample(keras.layers.Layer):
    """Bilinear upsampling by an integer ``factor`` with half-pixel centres
    (``tf.image.resize``; equal to ``scipy.ndimage.zoom(order=1, grid_mode=True,
    mode="nearest")``). Unlike ``keras.layers.UpSampling2D`` it takes the size from the
    tensor at run time, so one traced graph serves every image size."""

    def __init__(self, factor: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor: expected an integer >= 1, got {factor}")
        self.factor = int(factor)

    def call(self, inputs: Any) -> Any:
        import tensorflow as tf

        size = tf.shape(inputs)[1:3] * self.factor
        return tf.image.resize(inputs, size, method="bilinear")

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        b, h, w, c = input_shape
        f = self.factor
        return (b, None if h is None else h * f, None if w is None else w * f, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor}
