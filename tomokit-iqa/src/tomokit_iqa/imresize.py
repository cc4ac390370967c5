"""MATLAB ``imresize`` (bicubic, antialiased) in numpy.

BRISQUE's second scale is ``imresize(I, 0.5)`` of MATLAB, whose defaults are the Keys
cubic kernel (a = -0.5), antialiasing when shrinking (the kernel is stretched by
``1/scale``), mirrored borders and one axis at a time, rows first. Any other resampler
(scikit-image, OpenCV, PIL) gives slightly different pixels and so different features;
this module reproduces MATLAB's weights to rounding error, written from the documented
algorithm (``contributions`` of ``imresize.m``).
"""

from __future__ import annotations

import math

import numpy as np

from tomokit import InvalidInputError

__all__ = ["cubic", "imresize", "resize_weights"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


def resize_weights(
    in_length: int, out_length: int, scale: float, *, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(weights, indices)`` of shape ``(out_length, taps)``: output ``i`` is
    ``sum_k weights[i, k] * input[indices[i, k]]`` (0-based indices, borders mirrored)."""
    width = 4.0
    if scale < 1 and antialias:
        width = width / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)
    else:
        kernel = cubic
    u = np.arange(1, out_length + 1, dtype=np.float64)
    # the output pixel's centre in input coordinates (1-based, MATLAB)
    x = u / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(x - width / 2.0)
    taps = math.ceil(width) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = kernel(x[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    # mirror out-of-range indices: aux = [1..n, n..1]
    aux = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx0 = aux[np.mod(idx.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], idx0[:, keep]


def _resize_axis(x: np.ndarray, out_length: int, scale: float, axis: int) -> np.ndarray:
    """Resample one axis as a sparse (out x in) matrix product, image by image."""
    from scipy.sparse import csr_matrix

    n = x.shape[axis]
    w, idx = resize_weights(n, out_length, scale)
    rows = np.repeat(np.arange(out_length), w.shape[1])
    mat = csr_matrix((w.ravel(), (rows, idx.ravel())), shape=(out_length, n))  # sums mirrored duplicates
    moved = np.moveaxis(x, axis, -2)  # (..., n, other)
    flat = moved.reshape(-1, *moved.shape[-2:])
    out = np.stack([np.asarray(mat @ img) for img in flat])
    return np.moveaxis(out.reshape(*moved.shape[:-2], out_length, moved.shape[-1]), -2, axis)


def imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """``imresize(image, scale)`` of MATLAB for a float image or an ``(N, H, W)`` stack
    (bicubic, antialiased, output ``ceil(scale * size)``; rows first, then columns)."""
    if not (math.isfinite(scale) and scale > 0):
        raise InvalidInputError(f"scale: expected a positive finite number, got {scale}")
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise InvalidInputError(f"image: expected (H, W) or (N, H, W), got shape {arr.shape}")
    h, w = arr.shape[-2:]
    out_h, out_w = math.ceil(scale * h), math.ceil(scale * w)
    out = _resize_axis(arr, out_h, scale, arr.ndim - 2)
    return _resize_axis(out, out_w, scale, arr.ndim - 1)
