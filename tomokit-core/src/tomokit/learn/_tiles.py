"""Tiled inference and patch sampling: running a fixed-input model over larger images.

Why blended tiles: a network trained on 256 x 256 crops must run on 2,560 x 2,560
slices without holding the whole activation volume in memory. Tiles overlap, and in the
overlap each output pixel is a smooth (raised-cosine) blend of the tiles that cover it,
with zero weight near a tile's inner edges, where a convolution sees padding instead of
image. Tile origins are multiples of ``multiple`` (the network's total downsampling), so
for a fully convolutional network whose receptive-field radius is at most ``margin`` the
result equals whole-image inference away from the image borders, and the seams vanish.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

from tomokit.errors import InvalidInputError

__all__ = ["aggregate_scores", "predict_tiled", "sample_patches", "tile_origins"]


def tile_origins(length: int, tile: int, step: int) -> list[int]:
    """Starts of tiles of ``tile`` pixels every ``step`` covering ``length`` (padded)."""
    if length <= tile:
        return [0]
    return [i * step for i in range(math.ceil((length - tile) / step) + 1)]


def _ramp(n: int, overlap: int, margin: int, left: bool, right: bool) -> np.ndarray:
    """1-D weights of a tile: 0 within ``margin`` of an inner edge, a raised cosine up to
    ``overlap - margin``, 1 elsewhere; an edge on the image border keeps weight 1."""
    w = np.ones(n, dtype=np.float64)
    width = overlap - 2 * margin
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width) if width > 0 else np.ones(0)
    profile = np.concatenate([np.zeros(margin), ramp])
    if left:
        w[: len(profile)] = np.minimum(w[: len(profile)], profile)
    if right:
        w[n - len(profile):] = np.minimum(w[n - len(profile):], profile[::-1])
    return w


def predict_tiled(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    tile: int = 256,
    overlap: int = 32,
    multiple: int = 32,
    margin: int | None = None,
    scale: int = 1,
    batch_size: int = 8,
    pad_mode: Literal["reflect", "edge", "constant"] = "reflect",
) -> np.ndarray:
    """Run ``fn`` (a batch ``(n, t, t[, C])`` -> ``(n, s*t, s*t[, C'])``) over the 2-D
    ``image`` (or ``(H, W, C)``) in overlapping tiles and blend them.

    ``tile`` and ``overlap`` are multiples of ``multiple``; an image side smaller than a
    tile is padded (``pad_mode``) up to a multiple of ``multiple``, and so is the last row
    and column of tiles. ``margin`` (default ``overlap // 4``) is the inner-edge band a
    tile's output is ignored in. ``scale`` is the output/input size ratio (super-
    resolution). Returns ``(s*H, s*W[, C'])`` float32.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim not in (2, 3):
        raise InvalidInputError(f"image: expected (H, W) or (H, W, C), got shape {img.shape}")
    for name, value in (("tile", tile), ("multiple", multiple), ("scale", scale),
                        ("batch_size", batch_size)):
        if value < 1:
            raise InvalidInputError(f"{name}: expected >= 1, got {value}")
    if tile % multiple or overlap % multiple:
        raise InvalidInputError(
            f"tile ({tile}) and overlap ({overlap}) must be multiples of multiple ({multiple})"
        )
    if not 0 <= overlap < tile:
        raise InvalidInputError(f"overlap: expected 0 <= overlap < tile ({tile}), got {overlap}")
    margin = overlap // 4 if margin is None else margin
    if margin < 0 or (overlap and 2 * margin >= overlap):
        raise InvalidInputError(f"margin: expected 0 <= 2*margin < overlap, got {margin}")
    h, w = img.shape[:2]
    step = tile - overlap
    th = min(tile, -(-h // multiple) * multiple)
    tw = min(tile, -(-w // multiple) * multiple)
    ys, xs = tile_origins(h, th, step), tile_origins(w, tw, step)
    ph, pw = ys[-1] + th, xs[-1] + tw
    pad = [(0, ph - h), (0, pw - w)] + ([(0, 0)] if img.ndim == 3 else [])
    padded = np.pad(img, pad, mode=pad_mode) if (ph > h or pw > w) else img
    boxes = [(y, x) for y in ys for x in xs]
    acc: np.ndarray | None = None
    weight = np.zeros((ph * scale, pw * scale), dtype=np.float64)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        batch = np.stack([padded[y : y + th, x : x + tw] for y, x in chunk])
        pred = np.asarray(fn(batch), dtype=np.float32)
        if pred.shape[0] != len(chunk) or pred.shape[1:3] != (th * scale, tw * scale):
            raise InvalidInputError(
                f"predict_tiled: fn returned shape {pred.shape} for tiles {batch.shape}; "
                f"expected ({len(chunk)}, {th * scale}, {tw * scale}[, C])"
            )
        if acc is None:
            acc = np.zeros((ph * scale, pw * scale, *pred.shape[3:]), dtype=np.float64)
        for (y, x), out in zip(chunk, pred, strict=True):
            wy = _ramp(th * scale, overlap * scale, margin * scale, y > 0, y + th < ph)
            wx = _ramp(tw * scale, overlap * scale, margin * scale, x > 0, x + tw < pw)
            wt = np.outer(wy, wx)
            sl = (slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale))
            weight[sl] += wt
            acc[sl] += out * (wt[..., None] if out.ndim == 3 else wt)
    assert acc is not None
    norm = weight if acc.ndim == 2 else weight[..., None]
    result = acc / np.maximum(norm, 1e-12)
    return result[: h * scale, : w * scale].astype(np.float32)


def sample_patches(
    image: np.ndarray,
    size: int = 224,
    n: int = 30,
    *,
    rng: np.random.Generator | int | None = 0,
    mode: Literal["random", "grid"] = "random",
) -> np.ndarray:
    """Crops ``(n, size, size)`` of a 2-D image for a scorer that takes fixed inputs.

    ``random``: ``n`` crops at uniformly drawn positions, deterministic for a seed.
    ``grid``: an evenly spaced ``k x k`` grid with ``k = ceil(sqrt(n))`` (``k * k``
    crops, the first and last flush with the borders). An image smaller than ``size`` is
    reflect-padded.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise InvalidInputError(f"image: expected a 2-D image, got shape {img.shape}")
    if size < 1 or n < 1:
        raise InvalidInputError(f"size and n: expected >= 1, got size={size}, n={n}")
    h, w = img.shape
    if h < size or w < size:
        img = np.pad(img, [(0, max(0, size - h)), (0, max(0, size - w))], mode="reflect")
        h, w = img.shape
    if mode == "grid":
        k = math.ceil(math.sqrt(n))
        ys = np.linspace(0, h - size, k).round().astype(int)
        xs = np.linspace(0, w - size, k).round().astype(int)
        pos = [(y, x) for y in ys for x in xs]
    elif mode == "random":
        gen = np.random.default_rng(rng)
        pos = list(zip(gen.integers(0, h - size + 1, n), gen.integers(0, w - size + 1, n),
                       strict=True))
    else:
        raise InvalidInputError(f"mode: expected random or grid, got {mode!r}")
    return np.stack([img[y : y + size, x : x + size] for y, x in pos])


def aggregate_scores(scores: np.ndarray, how: Literal["mean", "median"] = "mean",
                     *, axis: int = -1) -> np.ndarray:
    """One score from per-patch scores (``mean`` or ``median`` along ``axis``)."""
    arr = np.asarray(scores, dtype=np.float64)
    if how == "mean":
        return np.mean(arr, axis=axis)
    if how == "median":
        return np.median(arr, axis=axis)
    raise InvalidInputError(f"aggregate: expected mean or median, got {how!r}")
