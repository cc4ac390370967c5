"""TensorFlow/Keras 3 side of SD2I: the generator networks, the differentiable forward
operator and the per-sinogram training loop. Imported only when an SD2I model runs.

Dong, Tang, Vamvakeros, et al., "A scalable neural network architecture for
self-supervised tomographic image reconstruction", Digital Discovery 2 (2023) 967.
Written from the paper's description; no code is taken from its GPL reference
implementation.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from tomokit import Sinogram
from tomokit.metrics import circle_mask
from tomokit_recon._astra import projection_matrix

__all__ = ["SparseRadon", "TrainResult", "build_generator", "train"]

log = logging.getLogger("tomokit_recon.sd2i")


class SparseRadon:
    """The forward projection ``A x`` as a TensorFlow op with exact gradients.

    ``A`` is ASTRA's own sparse system matrix for the sinogram geometry, so ``forward``
    equals ASTRA's CPU forward projection of the same image (to float32 round-off) and the
    gradient is the matching back-projection ``A^T g``.
    """

    def __init__(self, template: Sinogram, size: int, *, projector: str = "linear") -> None:
        mat = projection_matrix(template, size, projector=projector).tocoo()
        self.size = int(size)
        self.sino_shape = (template.n_angles, template.n_detectors)
        idx = np.stack([mat.row, mat.col], axis=1).astype(np.int64)
        order = np.lexsort((idx[:, 1], idx[:, 0]))
        self._a = tf.SparseTensor(idx[order], mat.data[order].astype(np.float32), mat.shape)
        # The transpose, kept explicitly: a row-major product is faster than an adjoint one.
        order_t = np.lexsort((idx[:, 0], idx[:, 1]))
        self._at = tf.SparseTensor(
            idx[order_t][:, ::-1].copy(), mat.data[order_t].astype(np.float32), mat.shape[::-1]
        )
        self.nnz = int(mat.nnz)

    def __call__(self, image: tf.Tensor) -> tf.Tensor:
        """Project a ``(size, size)`` image into an ``(angles, detectors)`` sinogram."""
        a, at, shape = self._a, self._at, self.sino_shape

        @tf.custom_gradient
        def _project(x: tf.Tensor) -> Any:
            y = tf.sparse.sparse_dense_matmul(a, tf.reshape(x, (-1, 1)))

            def grad(dy: tf.Tensor) -> tf.Tensor:
                g = tf.sparse.sparse_dense_matmul(at, tf.reshape(dy, (-1, 1)))
                return tf.reshape(g, tf.shape(x))

            return tf.reshape(y, shape), grad

        return _project(image)


def build_generator(
    size: int,
    *,
    upsample: bool,
    k: int,
    dense_units: int,
    filters: int,
) -> keras.Model:
    """The SD2I generator: one constant in, one ``(size, size, 1)`` image out.

    ``upsample=True`` (SD2Iu): 3 Dense(dense_units, relu) -> Dense(ceil(N/4)^2 k) -> reshape
    (N/4, N/4, k) -> nearest x2 -> 3 Conv(filters, 3x3, relu) -> x2 -> crop to N -> 3
    Conv(filters) -> Conv(1). ``upsample=False`` (SD2I): 3 Dense(dense_units) -> Dense(N^2 k)
    -> reshape -> Conv(2 filters, 2 filters, filters) -> Conv(1). Kernels start from a
    N(0, 0.05^2) normal, as in the paper's implementation.
    """
    init = "random_normal"
    inp = keras.Input(shape=(1,))
    x = inp
    for _ in range(3):
        x = keras.layers.Dense(dense_units, activation="relu", kernel_initializer=init)(x)
    if upsample:
        n4 = math.ceil(size / 4)
        x = keras.layers.Dense(n4 * n4 * k, kernel_initializer=init)(x)
        x = keras.layers.Reshape((n4, n4, k))(x)
        x = keras.layers.UpSampling2D(2, interpolation="nearest")(x)
        for _ in range(3):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    kernel_initializer=init)(x)
        x = keras.layers.UpSampling2D(2, interpolation="nearest")(x)
        extra = 4 * n4 - size
        if extra:
            x = keras.layers.Cropping2D(((extra - extra // 2, extra // 2),
                                         (extra - extra // 2, extra // 2)))(x)
        for _ in range(3):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    kernel_initializer=init)(x)
    else:
        x = keras.layers.Dense(size * size * k, kernel_initializer=init)(x)
        x = keras.layers.Reshape((size, size, k))(x)
        for f in (2 * filters, 2 * filters, filters):
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu",
                                    kernel_initializer=init)(x)
    x = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer=init)(x)
    return keras.Model(inp, x, name="sd2iu" if upsample else "sd2i")


@dataclass
class TrainResult:
    """The reconstruction at the lowest sinogram loss, and how training went."""

    image: np.ndarray
    loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_iteration: int = 0
    iterations: int = 0
    stopped: str = "iterations"
    seconds: float = 0.0


def _ssim_window(shape: tuple[int, int]) -> int:
    w = min(11, *shape)
    return w if w % 2 == 1 else w - 1


def train(
    sino: Sinogram,
    *,
    size: int,
    upsample: bool,
    k: int,
    dense_units: int,
    filters: int,
    iterations: int,
    learning_rate: float,
    schedule: str,
    lr_factor: float,
    lr_patience: int,
    min_lr: float,
    warmup: int,
    mu: float,
    patience: int,
    min_delta: float,
    seed: int,
    constant: float,
    projector: str,
    ssim_max_val: float,
    max_seconds: float | None,
    progress: bool,
    log_every: int,
    callback: Callable[[int, float, np.ndarray], None] | None = None,
    callback_every: int = 100,
) -> TrainResult:
    """Fit a fresh generator so that the projection of its image matches ``sino``.

    The loss on sinograms scaled by the measured sinogram's peak (so it does not depend on
    units; the image itself is never normalised) is
    ``(1 - mu) MAE + mu (1 - SSIM)``. Adam; ``schedule='plateau'`` halves the learning rate
    when the loss stalls for ``lr_patience`` iterations (the paper), ``'cosine'`` warms up
    for ``warmup`` iterations then decays to ``min_lr`` by ``iterations``. Training stops
    early when the loss has not improved by ``min_delta`` for ``patience`` iterations.
    ``callback(iteration, loss, image)`` is called every ``callback_every`` iterations (for
    monitoring, for example the error against a known ground truth in a benchmark).
    """
    t0 = time.perf_counter()
    keras.utils.set_random_seed(int(seed))
    op = SparseRadon(sino, size, projector=projector)
    model = build_generator(size, upsample=upsample, k=k, dense_units=dense_units,
                            filters=filters)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    measured = np.asarray(sino.data, dtype=np.float32)
    peak = float(np.max(np.abs(measured))) or 1.0
    target = tf.constant((measured / peak)[None, :, :, None])
    mask = tf.constant(circle_mask((size, size)).astype(np.float32))
    const = tf.constant([[float(constant)]], dtype=tf.float32)
    win = _ssim_window(sino.data.shape)
    inv_peak = tf.constant(1.0 / peak, tf.float32)

    @tf.function(reduce_retracing=True)
    def step() -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            out = model(const, training=True)[0, :, :, 0]
            image = tf.abs(out) * mask
            pred = (op(image) * inv_peak)[None, :, :, None]
            mae = tf.reduce_mean(tf.abs(pred - target))
            ssim = tf.reduce_mean(tf.image.ssim(pred, target, max_val=ssim_max_val,
                                                filter_size=win))
            loss = (1.0 - mu) * mae + mu * (1.0 - ssim)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, image

    def lr_at(it: int, current: float) -> float:
        if schedule == "cosine":
            if it < warmup:
                return learning_rate * (it + 1) / warmup
            frac = (it - warmup) / max(1, iterations - warmup)
            return min_lr + 0.5 * (learning_rate - min_lr) * (1 + math.cos(math.pi * frac))
        return current

    result = TrainResult(image=np.zeros((size, size), np.float32))
    best = math.inf
    best_image: Any = None
    since_best = 0
    plateau_best = math.inf
    plateau_wait = 0
    lr = float(learning_rate)
    bar: Any = None
    task: Any = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("SD2I" + ("u" if upsample else ""), total=iterations)
    try:
        for it in range(iterations):
            new_lr = lr_at(it, lr)
            if new_lr != lr or it == 0:
                lr = new_lr
                optimizer.learning_rate.assign(lr)
            loss_t, image_t = step()
            loss = float(loss_t)
            if not math.isfinite(loss):
                result.stopped = "non-finite loss"
                break
            result.loss.append(loss)
            result.learning_rate.append(lr)
            if loss < best:
                if loss < best - min_delta:
                    since_best = 0
                else:
                    since_best += 1
                best = loss
                best_image = image_t
                result.best_iteration = it
            else:
                since_best += 1
            if schedule == "plateau":
                if loss < plateau_best - min_delta:
                    plateau_best = loss
                    plateau_wait = 0
                else:
                    plateau_wait += 1
                    if plateau_wait >= lr_patience and lr > min_lr:
                        lr = max(lr * lr_factor, min_lr)
                        optimizer.learning_rate.assign(lr)
                        plateau_wait = 0
                        log.debug("iteration %d: learning rate -> %.3g", it, lr)
            if bar is not None:
                bar.update(task, advance=1, description=f"SD2I loss {loss:.4g}")
            if log_every and (it + 1) % log_every == 0:
                log.info("SD2I iteration %d/%d: loss %.5g, lr %.3g", it + 1, iterations, loss, lr)
            result.iterations = it + 1
            if callback is not None and ((it + 1) % callback_every == 0 or it == 0):
                callback(it + 1, loss, image_t.numpy())
            if patience and since_best >= patience:
                result.stopped = f"no improvement for {patience} iterations"
                break
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                result.stopped = f"time budget of {max_seconds:g} s"
                break
    finally:
        if bar is not None:
            bar.stop()
    if best_image is not None:
        result.image = np.asarray(best_image.numpy(), dtype=np.float32)
    result.seconds = time.perf_counter() - t0
    log.info("SD2I finished after %d iterations (%s), best loss %.5g at %d, %.1f s",
             result.iterations, result.stopped, best, result.best_iteration, result.seconds)
    return result
