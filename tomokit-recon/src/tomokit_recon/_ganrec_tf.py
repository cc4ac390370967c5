"""TensorFlow side of ``ganrec``: generator, discriminator and the per-sinogram GAN loop.

Yang, De Andrade, Wong, et al., "Tomographic reconstruction with a generative adversarial
network", J. Synchrotron Rad. 27 (2020) 486 (code: XYangXRay/ganrec). Written from the
paper's and the issue's description; no code is taken from it. The reprojection is
tomokit-recon's sparse ASTRA operator (:class:`tomokit_recon._sd2i_tf.SparseRadon`),
shared with SD2I, so both methods see the same forward model.

GANrec's normalisations are kept on purpose (they are the limitation SD2I removes): the
measured sinogram is standardised and min-max scaled to [0, 1], the generated image is
standardised, divided by its maximum and shifted to a minimum of 0, and its reprojection
is min-max scaled before the L1 comparison. The image therefore has no physical units.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from tomokit import Sinogram
from tomokit_recon._sd2i_tf import SparseRadon

__all__ = ["GANResult", "build_discriminator", "build_generator", "normalize_sinogram", "train"]


def normalize_sinogram(data: np.ndarray) -> np.ndarray:
    """GANrec's input normalisation: standardise, then min-max to [0, 1]."""
    x = np.asarray(data, np.float64)
    x = (x - x.mean()) / (x.std() or 1.0)
    span = x.max() - x.min()
    return ((x - x.min()) / (span if span > 0 else 1.0)).astype(np.float32)


def _nor_image(img: tf.Tensor) -> tf.Tensor:
    """Standardise, divide by the maximum, shift the minimum to 0 (GANrec's image)."""
    mean, var = tf.nn.moments(img, axes=list(range(len(img.shape))))
    x = (img - mean) / tf.sqrt(var + 1e-12)
    x = x / (tf.reduce_max(x) + 1e-12)
    return x - tf.reduce_min(x)


def _nor_minmax(x: tf.Tensor) -> tf.Tensor:
    return (x - tf.reduce_min(x)) / (tf.reduce_max(x) - tf.reduce_min(x) + 1e-12)


def build_generator(sino_shape: tuple[int, int], size: int, *, dense_units: int = 128,
                    filters: int = 32, dropout: float = 0.25) -> keras.Model:
    """Flattened sinogram -> 3 x [Dense(dense_units), Dropout, LeakyReLU] -> Dense(size^2)
    -> reshape -> Conv(filters; 5, 5, 3) -> ConvTranspose(filters; 5, 5, 3) -> Conv(1)."""
    a, d = sino_shape
    inp = keras.Input((a, d, 1))
    x = keras.layers.Flatten()(inp)
    for _ in range(3):
        x = keras.layers.Dense(dense_units)(x)
        x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Dense(size * size)(x)
    x = keras.layers.Reshape((size, size, 1))(x)
    for k in (5, 5, 3):
        x = keras.layers.Conv2D(filters, k, padding="same", activation="relu")(x)
    for k in (5, 5, 3):
        x = keras.layers.Conv2DTranspose(filters, k, padding="same", activation="relu")(x)
    out = keras.layers.Conv2D(1, 3, padding="same")(x)
    return keras.Model(inp, out, name="ganrec_generator")


def build_discriminator(sino_shape: tuple[int, int]) -> keras.Model:
    """Sinogram -> 4 x [strided Conv, Conv] (16, 32, 64, 128 filters) -> Dense 256 ->
    Dense 128 -> one logit (real or reprojected)."""
    a, d = sino_shape
    inp = keras.Input((a, d, 1))
    x = inp
    for f in (16, 32, 64, 128):
        x = keras.layers.Conv2D(f, 5, strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Conv2D(f, 3, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256)(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Dense(128)(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    out = keras.layers.Dense(1)(x)
    return keras.Model(inp, out, name="ganrec_discriminator")


@dataclass
class GANResult:
    """The image at the lowest L1 loss and the losses per iteration."""

    image: np.ndarray
    l1: list[float] = field(default_factory=list)
    generator: list[float] = field(default_factory=list)
    discriminator: list[float] = field(default_factory=list)
    best_iteration: int = 0
    iterations: int = 0
    seconds: float = 0.0
    stopped: str = "iterations"


def train(
    sino: Sinogram,
    *,
    size: int,
    iterations: int,
    generator_lr: float,
    discriminator_lr: float,
    l1_weight: float,
    dense_units: int,
    filters: int,
    dropout: float,
    seed: int,
    projector: str,
    max_seconds: float | None,
) -> GANResult:
    """Fit a fresh GAN to ``sino``; return GANrec's (normalised) image at the lowest L1."""
    t0 = time.perf_counter()
    keras.utils.set_random_seed(int(seed))
    shape = (int(sino.n_angles), int(sino.n_detectors))
    op = SparseRadon(sino, size, projector=projector)
    gen = build_generator(shape, size, dense_units=dense_units, filters=filters, dropout=dropout)
    disc = build_discriminator(shape)
    g_opt = keras.optimizers.Adam(learning_rate=generator_lr)
    d_opt = keras.optimizers.Adam(learning_rate=discriminator_lr)
    target = tf.constant(normalize_sinogram(sino.data)[None, :, :, None])
    weight = tf.constant(float(l1_weight), tf.float32)

    def ce(logits: tf.Tensor, label: float) -> tf.Tensor:
        labels = tf.fill(tf.shape(logits), label)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels,
                                                                      logits=logits))

    @tf.function(reduce_retracing=True)
    def step() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            image = _nor_image(gen(target, training=True)[0, :, :, 0])
            pred = _nor_minmax(op(image))[None, :, :, None]
            real = disc(target, training=True)
            fake = disc(pred, training=True)
            l1 = tf.reduce_mean(tf.abs(target - pred))
            g_loss = ce(fake, 1.0) + weight * l1
            d_loss = ce(real, 1.0) + ce(fake, 0.0)
        g_grads = g_tape.gradient(g_loss, gen.trainable_variables)
        d_grads = d_tape.gradient(d_loss, disc.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, gen.trainable_variables, strict=True))
        d_opt.apply_gradients(zip(d_grads, disc.trainable_variables, strict=True))
        return l1, g_loss, d_loss, image

    result = GANResult(image=np.zeros((size, size), np.float32))
    best = math.inf
    best_image: Any = None
    for it in range(int(iterations)):
        l1_t, g_t, d_t, image_t = step()
        l1 = float(l1_t)
        if not math.isfinite(l1):
            result.stopped = "non-finite loss"
            break
        result.l1.append(l1)
        result.generator.append(float(g_t))
        result.discriminator.append(float(d_t))
        result.iterations = it + 1
        if l1 < best:
            best, best_image, result.best_iteration = l1, image_t, it
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            result.stopped = f"time budget of {max_seconds:g} s"
            break
    if best_image is not None:
        result.image = np.asarray(best_image.numpy(), np.float32)
    result.seconds = time.perf_counter() - t0
    return result
