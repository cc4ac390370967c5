"""Method-benchmark phantoms: the modified Shepp-Logan head and scikit-image random shapes.

Why: reconstruction and segmentation methods are compared on these in the literature;
here they come at any size with exact per-pixel labels, which scikit-image's own
``shepp_logan_phantom()`` (a fixed 400x400 image) and ``random_shapes`` (bounding boxes
only) do not give.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from tomokit import Phantom, PhantomParams, PhantomSample
from tomokit_phantom._common import as_rng, check_shape, make_sample, resolve_attenuation

__all__ = [
    "SHAPE_PHASES",
    "SHEPP_LOGAN_ELLIPSES",
    "RandomShapes",
    "RandomShapesParams",
    "SheppLogan",
    "SheppLoganParams",
    "random_shapes",
    "shepp_logan",
]

#: Modified Shepp-Logan ellipses (Toft, *The Radon Transform*, 1996, table 3.1; the
#: version of scikit-image's ``shepp_logan_phantom``): intensity, semi-axes a and b,
#: centre x0 and y0, rotation in degrees; coordinates in [-1, 1], y pointing up.
SHEPP_LOGAN_ELLIPSES: tuple[tuple[float, float, float, float, float, float], ...] = (
    (1.0, 0.69, 0.92, 0.0, 0.0, 0.0),
    (-0.8, 0.6624, 0.8740, 0.0, -0.0184, 0.0),
    (-0.2, 0.1100, 0.3100, 0.22, 0.0, -18.0),
    (-0.2, 0.1600, 0.4100, -0.22, 0.0, 18.0),
    (0.1, 0.2100, 0.2500, 0.0, 0.35, 0.0),
    (0.1, 0.0460, 0.0460, 0.0, 0.1, 0.0),
    (0.1, 0.0460, 0.0460, 0.0, -0.1, 0.0),
    (0.1, 0.0460, 0.0230, -0.08, -0.605, 0.0),
    (0.1, 0.0230, 0.0230, 0.0, -0.606, 0.0),
    (0.1, 0.0230, 0.0460, 0.06, -0.605, 0.0),
)


def _sl_sum(h: int, w: int) -> np.ndarray:
    """Sum of the ellipses at pixel centres (each evaluated in its bounding box only)."""
    y = 1.0 - (np.arange(h) + 0.5) * 2.0 / h  # y up
    x = (np.arange(w) + 0.5) * 2.0 / w - 1.0
    out = np.zeros((h, w), dtype=np.float64)
    for val, a, b, x0, y0, deg in SHEPP_LOGAN_ELLIPSES:
        t = math.radians(deg)
        c, s = math.cos(t), math.sin(t)
        ry, rx = math.hypot(a * s, b * c), math.hypot(a * c, b * s)  # half extents
        rows = np.flatnonzero(np.abs(y - y0) <= ry + 1e-9)
        cols = np.flatnonzero(np.abs(x - x0) <= rx + 1e-9)
        if rows.size == 0 or cols.size == 0:
            continue
        yy = y[rows[0] : rows[-1] + 1, None] - y0
        xx = x[None, cols[0] : cols[-1] + 1] - x0
        u = xx * c + yy * s
        v = -xx * s + yy * c
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] += val * inside
    return np.round(out, 6)


@lru_cache(maxsize=1)
def _sl_levels() -> tuple[float, ...]:
    """Every intensity level of the phantom (found once on a fine grid)."""
    return tuple(float(v) for v in np.unique(_sl_sum(1024, 1024)))


class SheppLoganParams(PhantomParams):
    """Parameters of :class:`SheppLogan`."""

    scale: float = Field(
        1.0, gt=0,
        description="Attenuation in 1/cm of intensity 1 (the skull); every level is scaled by it.",
    )

    # no extra fields: attenuation of each level is scale * level


class SheppLogan(Phantom):
    """Modified Shepp-Logan head phantom at any size; labels index its intensity levels."""

    summary: ClassVar[str] = "Modified Shepp-Logan phantom (Toft) at any size, with labels"
    Params: ClassVar[type[SheppLoganParams]] = SheppLoganParams  # type: ignore[assignment]

    def generate(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> PhantomSample:
        assert isinstance(self.params, SheppLoganParams)
        return shepp_logan(shape, rng, self.params)


def shepp_logan(
    shape: tuple[int, int],
    rng: np.random.Generator | int | None = None,
    params: SheppLoganParams | None = None,
) -> PhantomSample:
    """The modified Shepp-Logan phantom rasterised at pixel centres (``rng`` is unused:
    the phantom is fixed)."""
    p = params or SheppLoganParams()
    h, w = check_shape(shape)
    as_rng(rng)
    levels = np.asarray(_sl_levels())
    values = _sl_sum(h, w)
    labels = np.searchsorted(levels, values).astype(np.uint8)
    phases = tuple(f"level_{v:.2f}" for v in levels)
    att = resolve_attenuation(None, [p.scale * v for v in levels], phases)
    return make_sample(labels, phases, att, info={"generator": "shepp_logan", "levels": list(levels)})


SHAPE_PHASES: tuple[str, ...] = ("background", "rectangle", "circle", "triangle", "ellipse")
_SHAPES = SHAPE_PHASES[1:]


class RandomShapesParams(PhantomParams):
    """Parameters of :class:`RandomShapes` (as ``skimage.draw.random_shapes``)."""

    min_shapes: int = Field(3, ge=1, description="Fewest shapes per image.")
    max_shapes: int = Field(10, ge=1, description="Most shapes per image.")
    min_size: int | None = Field(None, ge=2, description="Smallest shape size in px; default min(H, W)/10.")
    max_size: int | None = Field(None, ge=2, description="Largest shape size in px; default min(H, W)/3.")
    shape: Literal["rectangle", "circle", "triangle", "ellipse"] | None = Field(
        None, description="Only this shape; None mixes all four."
    )
    attenuation: tuple[float, ...] | None = Field(
        None,
        description="Linear attenuation in 1/cm per class (background, rectangle, circle, "
        "triangle, ellipse); default (0, 1, 2, 3, 4).",
    )

    @model_validator(mode="after")
    def _order(self) -> RandomShapesParams:
        if self.max_shapes < self.min_shapes:
            raise ValueError("max_shapes must be >= min_shapes")
        if self.min_size is not None and self.max_size is not None and self.max_size < self.min_size:
            raise ValueError("max_size must be >= min_size")
        return self


def random_shapes(
    shape: tuple[int, int],
    rng: np.random.Generator | int | None = None,
    params: RandomShapesParams | None = None,
) -> PhantomSample:
    """Shapes drawn by ``skimage.draw.random_shapes`` one at a time, painted in order
    (later shapes occlude earlier ones), so every pixel's shape class is known."""
    from skimage.draw import random_shapes as _sk_random_shapes

    p = params or RandomShapesParams()
    h, w = check_shape(shape)
    gen = as_rng(rng)
    att = resolve_attenuation(p.attenuation, (0.0, 1.0, 2.0, 3.0, 4.0), SHAPE_PHASES)
    side = min(h, w)
    min_size = p.min_size if p.min_size is not None else max(3, side // 10)
    max_size = p.max_size if p.max_size is not None else max(min_size + 1, side // 3)
    min_size, max_size = min(min_size, side - 1), min(max_size, side)
    n = int(gen.integers(p.min_shapes, p.max_shapes + 1))
    labels = np.zeros((h, w), dtype=np.uint8)
    drawn: list[dict[str, Any]] = []
    for _ in range(n):
        kind = p.shape or _SHAPES[int(gen.integers(len(_SHAPES)))]
        img, found = _sk_random_shapes(
            (h, w), max_shapes=1, min_shapes=1, min_size=min_size, max_size=max_size,
            num_channels=1, channel_axis=None, shape=kind, intensity_range=(0, 0),
            allow_overlap=True, num_trials=100, rng=int(gen.integers(2**31)),
        )
        if not found:
            continue
        labels[img == 0] = SHAPE_PHASES.index(kind)
        drawn.append({"shape": kind, "bbox": [list(map(int, b)) for b in found[0][1]]})
    return make_sample(labels, SHAPE_PHASES, att, info={"generator": "random_shapes", "shapes": drawn})


class RandomShapes(Phantom):
    """scikit-image random shapes (rectangles, circles, triangles, ellipses) with exact
    per-pixel shape-class labels."""

    summary: ClassVar[str] = "scikit-image random shapes with per-pixel class labels"
    Params: ClassVar[type[RandomShapesParams]] = RandomShapesParams  # type: ignore[assignment]

    def generate(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> PhantomSample:
        assert isinstance(self.params, RandomShapesParams)
        return random_shapes(shape, rng, self.params)
