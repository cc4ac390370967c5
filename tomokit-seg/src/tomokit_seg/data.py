"""Training data for segmentation networks, in numpy: normalisation, crops, augmentation,
targets, and a numpy reference of the BCE + Dice loss.

Why numpy: batches are made on the CPU whatever trains the network, must be the same for
a seed, and must be testable without TensorFlow. The network sees images normalised per
slice by robust percentiles (:func:`normalize_image`), in training and in inference alike,
so a model does not depend on the absolute grey values of a scanner or reconstruction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tomokit import InvalidInputError

__all__ = [
    "augment",
    "bce_dice_numpy",
    "categorical_dice_numpy",
    "check_labels",
    "normalize_image",
    "random_crops",
    "targets",
]


def normalize_image(image: np.ndarray, *, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Map the ``low`` and ``high`` percentiles of each slice to 0 and 1 (float32).

    Works on ``(H, W)`` or ``(N, H, W)`` (per slice); a constant slice becomes 0."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        return normalize_image(arr[None], low=low, high=high)[0]
    flat = arr.reshape(len(arr), -1)
    lo, hi = np.percentile(flat, [low, high], axis=1)
    span = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
    return ((arr - lo[:, None, None]) / span[:, None, None]).astype(np.float32)


def check_labels(labels: Any, shape: tuple[int, ...], *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as uint8 after checking shape and integrality (one clear error)."""
    lab = np.asarray(labels)
    if lab.shape != tuple(shape):
        raise InvalidInputError(f"{name}: shape {lab.shape} differs from the image shape {shape}")
    if lab.dtype == np.bool_:
        return lab.astype(np.uint8)
    if not np.issubdtype(lab.dtype, np.number) or np.issubdtype(lab.dtype, np.complexfloating):
        raise InvalidInputError(f"{name}: expected integer class indices, got dtype {lab.dtype}")
    if np.issubdtype(lab.dtype, np.floating) and not (
        np.all(np.isfinite(lab)) and np.all(lab == np.round(lab))
    ):
        raise InvalidInputError(f"{name}: expected integer class indices, got non-integer values")
    if lab.size and (lab.min() < 0 or lab.max() > 255):
        raise InvalidInputError(
            f"{name}: class indices must lie in 0..255, got {lab.min()}..{lab.max()}"
        )
    return lab.astype(np.uint8)


def random_crops(
    images: np.ndarray,
    labels: np.ndarray,
    size: int,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random ``size`` x ``size`` crops of random slices of ``(N, H, W)`` stacks."""
    if images.ndim != 3 or images.shape != labels.shape:
        raise InvalidInputError(
            f"images {images.shape} and labels {labels.shape}: expected equal (N, H, W) shapes"
        )
    _, h, w = images.shape
    if size > min(h, w):
        raise InvalidInputError(f"crop size {size} exceeds the image size {(h, w)}")
    idx = rng.integers(0, len(images), size=n)
    ys = rng.integers(0, h - size + 1, size=n)
    xs = rng.integers(0, w - size + 1, size=n)
    img = np.stack([images[i, y:y + size, x:x + size] for i, y, x in zip(idx, ys, xs, strict=True)])
    lab = np.stack([labels[i, y:y + size, x:x + size] for i, y, x in zip(idx, ys, xs, strict=True)])
    return img, lab


def augment(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    shift: float = 0.05,
    scale: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Random flips, 90-degree rotations and small intensity changes of a batch.

    Each sample of ``(N, S, S)`` images and labels gets the same random flip/rotation (of
    the dihedral group) on both; images also get ``x * (1 + a) + b`` with ``a, b`` uniform
    in ``[-scale, scale]`` and ``[-shift, shift]`` (images normalised to about [0, 1])."""
    out_i = np.empty_like(images, dtype=np.float32)
    out_l = np.empty_like(labels)
    for j in range(len(images)):
        k = int(rng.integers(4))
        flip = bool(rng.integers(2))
        im, lb = np.rot90(images[j], k), np.rot90(labels[j], k)
        if flip:
            im, lb = im[:, ::-1], lb[:, ::-1]
        a = rng.uniform(-scale, scale)
        b = rng.uniform(-shift, shift)
        out_i[j] = im * (1.0 + a) + b
        out_l[j] = lb
    return out_i, out_l


def targets(labels: np.ndarray, classes: int) -> np.ndarray:
    """Network targets ``(N, H, W, 1)`` (2 classes: foreground = label 1) or one-hot
    ``(N, H, W, C)``."""
    if labels.size and int(labels.max()) >= classes:
        raise InvalidInputError(
            f"labels: found class {int(labels.max())}, but the model has {classes} classes"
        )
    if classes == 2:
        return labels[..., None].astype(np.float32)
    return np.eye(classes, dtype=np.float32)[labels.astype(np.int64)]


def _dice(t: np.ndarray, p: np.ndarray, axis: Any = None) -> np.ndarray:
    inter = np.sum(t * p, axis=axis)
    denom = np.sum(t, axis=axis) + np.sum(p, axis=axis)
    return np.where(denom > 0, 2.0 * inter / np.where(denom > 0, denom, 1.0), 1.0)


def bce_dice_numpy(y_true: np.ndarray, y_pred: np.ndarray, eps: float = 1e-7) -> float:
    """Reference of :func:`tomokit_seg.network.bce_dice_loss`: BCE + 1 - batch Dice."""
    t = np.asarray(y_true, np.float64)
    p = np.clip(np.asarray(y_pred, np.float64), eps, 1 - eps)
    bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    return float(bce + 1.0 - _dice(t, np.asarray(y_pred, np.float64)))


def categorical_dice_numpy(y_true: np.ndarray, y_pred: np.ndarray, eps: float = 1e-7) -> float:
    """Reference of :func:`tomokit_seg.network.categorical_dice_loss`."""
    t = np.asarray(y_true, np.float64)
    q = np.asarray(y_pred, np.float64)
    cce = -np.mean(np.sum(t * np.log(np.clip(q, eps, 1.0)), axis=-1))
    axes = tuple(range(t.ndim - 1))
    return float(cce + 1.0 - np.mean(_dice(t, q, axis=axes)))
