"""The TIQA distortions: Gaussian blur, additive Gaussian noise and ring artefacts.

Levels 1..5 follow the seed code of Zhang et al., "Self-supervised image quality assessment
for X-ray tomographic images of Li-ion battery", npj Computational Materials 8, 2022
(TomoIQA, ``add_distortion.py``):

====== ============== ================= ===============
level  blur sigma     noise variance    ring c
====== ============== ================= ===============
1      1.2            0.001             0.10
2      2.5            0.006             0.13
3      6.5            0.022             0.15
4      15.2           0.088             0.18
5      33.2           1.00              0.20
====== ============== ================= ===============

Sigmas are in pixels; variances are on the ``[0, 1]`` scale and are multiplied by
``data_range**2`` for other ranges. Every distortion takes a 2-D image or a ``(N, H, W)``
batch of any float (or integer) dtype, returns a new array and never modifies its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from tomokit import Distortion, InvalidInputError, Params
from tomokit.components import check_image, check_within_range, resolve_data_range

__all__ = [
    "BLUR_SIGMAS",
    "NOISE_VARIANCES",
    "RING_COEFFICIENTS",
    "GaussianBlur",
    "GaussianNoise",
    "RingArtifact",
    "ring_radii",
]

#: Gaussian blur sigma (pixels) of levels 1..5 (TomoIQA ``blur_sigma``).
BLUR_SIGMAS: tuple[float, ...] = (1.2, 2.5, 6.5, 15.2, 33.2)
#: Noise variance of levels 1..5 on the [0, 1] scale (TomoIQA ``noise_variance``).
NOISE_VARIANCES: tuple[float, ...] = (0.001, 0.006, 0.022, 0.088, 1.00)
#: Ring artefact coefficient c of levels 1..5 (TomoIQA ``coefficients``).
RING_COEFFICIENTS: tuple[float, ...] = (0.10, 0.13, 0.15, 0.18, 0.20)

#: Reference image side for which the ring geometry defaults are given (TIQA crops).
_RING_REFERENCE_SIDE = 224

_DEFAULT_LEVEL = 3


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(None if rng is None else int(rng))
    raise InvalidInputError(
        f"rng: expected a numpy Generator, an int seed or None, got {type(rng).__name__}"
    )


def _float_copy(image: Any) -> np.ndarray:
    """Checked float copy of ``image`` (float32 stays float32, others become float64)."""
    arr = check_image(image, name="image")
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.array(arr, dtype=dtype, copy=True)


def _range_of(component: Any, image: Any) -> float:
    """The core's data_range policy; float images default to [0, 1] for distortions."""
    return resolve_data_range(getattr(component.params, "data_range", None), image,
                              default=1.0, who=component.name or type(component).__name__)


def _check_level(level: Any) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= 5:
        raise InvalidInputError(f"level: expected an integer 1..5 (or None), got {level!r}")
    return int(level)


class _LevelParams(Params):
    level: int | None = Field(
        None,
        ge=1,
        le=5,
        description="Distortion level 1..5 of the TIQA table. When neither `level` nor the "
        "continuous parameter is set, level 3 is used.",
    )
    data_range: float | None = Field(
        None,
        gt=0,
        description="Value range of the images: they lie in [0, data_range]. None: the "
        "integer dtype's maximum, 1.0 for float images (data above it are an error).",
    )


class _TableDistortion(Distortion):
    """Shared level resolution: ``apply(level=)`` > ``params.level`` > continuous > level 3."""

    table: ClassVar[tuple[float, ...]] = ()
    continuous: ClassVar[str] = ""

    def value_for(self, level: int | None = None) -> float:
        """The continuous parameter used for ``level`` (or for the configured params)."""
        if level is not None:
            return self.table[_check_level(level) - 1]
        p: Any = self.params
        if p.level is not None:
            return self.table[p.level - 1]
        value = getattr(p, self.continuous)
        if value is not None:
            return float(value)
        return self.table[_DEFAULT_LEVEL - 1]


def _both_set(params: Any, name: str) -> Any:
    if params.level is not None and getattr(params, name) is not None:
        raise ValueError(f"set either `level` or `{name}`, not both")
    return params


class GaussianBlur(_TableDistortion):
    """Gaussian blur with ``scipy.ndimage.gaussian_filter`` (boundary mode ``nearest``,
    truncated at 4 sigma), as ``skimage.filters.gaussian`` in the TomoIQA code.

    Blur acts within each slice of a batch; ``data_range`` does not change it.
    """

    table = BLUR_SIGMAS
    continuous = "sigma"

    class Params(_LevelParams):
        sigma: float | None = Field(
            None, gt=0, description="Gaussian sigma in pixels, used when `level` is not set."
        )
        truncate: float = Field(4.0, gt=0, description="Kernel radius in sigmas.")

        @model_validator(mode="after")
        def _one(self) -> Any:
            return _both_set(self, "sigma")

    def apply(
        self,
        image: np.ndarray,
        level: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """Return a blurred copy of ``image`` (2-D or a batch); ``rng`` is not used."""
        from scipy.ndimage import gaussian_filter

        arr = _float_copy(image)
        sigma = self.value_for(level)
        sigmas = (sigma, sigma) if arr.ndim == 2 else (0.0, sigma, sigma)
        p: Any = self.params
        out = gaussian_filter(arr, sigma=sigmas, mode="nearest", truncate=p.truncate)
        return np.asarray(out, dtype=arr.dtype)


class GaussianNoise(_TableDistortion):
    """Additive zero-mean Gaussian noise of variance ``v * data_range**2``, clipped to
    ``[0, data_range]``, as ``skimage.util.random_noise(mode="gaussian")`` in TomoIQA."""

    table = NOISE_VARIANCES
    continuous = "variance"

    class Params(_LevelParams):
        variance: float | None = Field(
            None,
            gt=0,
            description="Noise variance on the [0, 1] scale, used when `level` is not set.",
        )
        clip: bool = Field(True, description="Clip the result to [0, data_range].")

        @model_validator(mode="after")
        def _one(self) -> Any:
            return _both_set(self, "variance")

    def apply(
        self,
        image: np.ndarray,
        level: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """Return a noisy copy of ``image``; deterministic for a seed."""
        top = _range_of(self, image)
        arr = _float_copy(image)
        gen = _as_generator(rng)
        p: Any = self.params
        if p.clip:
            check_within_range(arr, top, who=self.name)
        std = np.sqrt(self.value_for(level)) * top
        out = arr + gen.normal(0.0, std, size=arr.shape)
        if p.clip:
            np.clip(out, 0.0, top, out=out)
        return out.astype(arr.dtype, copy=False)


def ring_radii(
    rng: np.random.Generator | int | None = None,
    *,
    start: float = 5.0,
    min_step: float = 3.0,
    max_step: float = 10.0,
    max_radius: float = 100.0,
    max_rings: int = 20,
    integer_steps: bool = True,
) -> np.ndarray:
    """Inner radii of the ring artefacts: ``start``, then random steps in
    ``[min_step, max_step]`` while the radius stays ``<= max_radius``, at most ``max_rings``.

    As in TomoIQA (``random.randint(3, 10)``, both ends included) steps are integers unless
    ``integer_steps`` is false.
    """
    gen = _as_generator(rng)
    if not 0 < min_step <= max_step:
        raise InvalidInputError(
            f"ring steps: need 0 < min_step <= max_step, got {min_step}, {max_step}"
        )
    radii: list[float] = []
    radius = float(start)
    while radius <= max_radius and len(radii) < max_rings:
        radii.append(radius)
        if integer_steps:
            step = float(gen.integers(int(np.ceil(min_step)), int(np.floor(max_step)) + 1))
        else:
            step = float(gen.uniform(min_step, max_step))
        radius += step
    return np.asarray(radii, dtype=np.float64)


class RingArtifact(_TableDistortion):
    """Concentric ring artefacts around the rotation centre.

    Pixels whose distance ``d`` from the centre satisfies ``r_i <= d < r_i + width`` are
    multiplied by ``1 - c`` (even ``i``, the first ring is dark) or ``1 + c`` (odd ``i``),
    then the image is clipped to ``[0, data_range]``. The inner radii ``r_i`` start at
    ``start_radius`` and grow by random integer steps in ``[min_step, max_step]`` up to
    ``max_radius`` (at most ``max_rings`` rings), as in TomoIQA's ``generate_labels.py``.
    The default centre is ``(H // 2, W // 2)``, the pixel the TomoIQA code uses.

    With ``scale_to_size`` the radii, steps and maximum radius are given for a 224-pixel
    image (the TIQA crop) and multiplied by ``min(H, W) / 224``; the ring width stays in
    pixels. ``radii`` fixes the rings instead of drawing them (for example to reproduce an
    artefact). The TomoIQA crops in the test data were made with ``start_radius=20``,
    ``min_step=5``, ``max_step=25`` and ``max_radius=400`` (its ``add_distortion.py``).
    """

    table = RING_COEFFICIENTS
    continuous = "c"

    class Params(_LevelParams):
        c: float | None = Field(
            None,
            gt=0,
            lt=1,
            description="Ring coefficient c (rings multiply by 1 +/- c), used when `level` "
            "is not set.",
        )
        center: tuple[float, float] | None = Field(
            None, description="Rotation centre (row, column); default (H // 2, W // 2)."
        )
        width: float = Field(2.0, gt=0, description="Ring width in pixels.")
        start_radius: float = Field(5.0, ge=0, description="Inner radius of the first ring.")
        min_step: float = Field(3.0, gt=0, description="Smallest radius step between rings.")
        max_step: float = Field(10.0, gt=0, description="Largest radius step between rings.")
        max_radius: float = Field(100.0, gt=0, description="No ring starts beyond this radius.")
        max_rings: int = Field(20, ge=1, description="At most this many rings.")
        scale_to_size: bool = Field(
            False,
            description="Radii, steps and max_radius are for a 224-pixel image and are "
            "scaled by min(H, W) / 224.",
        )
        radii: tuple[float, ...] | None = Field(
            None, description="Fixed inner radii (pixels) instead of random ones."
        )
        first: Literal["dark", "bright"] = Field(
            "dark", description="Whether the innermost ring is darker (1 - c) or brighter."
        )
        clip: bool = Field(True, description="Clip the result to [0, data_range].")

        @model_validator(mode="after")
        def _one(self) -> Any:
            if self.min_step > self.max_step:
                raise ValueError("min_step must be <= max_step")
            return _both_set(self, "c")

    def draw_radii(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """The inner ring radii for an image of ``shape`` (random unless ``radii`` is set)."""
        p: Any = self.params
        if p.radii is not None:
            return np.asarray(p.radii, dtype=np.float64)
        scale = min(shape) / _RING_REFERENCE_SIDE if p.scale_to_size else 1.0
        return ring_radii(
            rng,
            start=p.start_radius * scale,
            min_step=p.min_step * scale,
            max_step=p.max_step * scale,
            max_radius=p.max_radius * scale,
            max_rings=p.max_rings,
            integer_steps=not p.scale_to_size
            and float(p.min_step).is_integer()
            and float(p.max_step).is_integer(),
        )

    def ring_factor(
        self,
        shape: tuple[int, int],
        *,
        c: float,
        radii: Sequence[float] | np.ndarray,
    ) -> np.ndarray:
        """The multiplicative ring field (1 outside the rings) for an image of ``shape``."""
        p: Any = self.params
        h, w = shape
        cy, cx = (h // 2, w // 2) if p.center is None else p.center
        yy, xx = np.ogrid[:h, :w]
        dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        factor = np.ones(shape, dtype=np.float64)
        sign0 = -1.0 if p.first == "dark" else 1.0
        for i, r in enumerate(radii):
            sign = sign0 if i % 2 == 0 else -sign0
            factor[(dist >= r) & (dist < r + p.width)] = 1.0 + sign * c
        return factor

    def apply(
        self,
        image: np.ndarray,
        level: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """Return a copy of ``image`` with rings; each slice of a batch gets its own radii."""
        top = _range_of(self, image)
        arr = _float_copy(image)
        gen = _as_generator(rng)
        p: Any = self.params
        if p.clip:
            check_within_range(arr, top, who=self.name)
        c = self.value_for(level)
        stack = arr[None] if arr.ndim == 2 else arr
        out = np.empty_like(stack)
        for i, sl in enumerate(stack):
            radii = self.draw_radii(sl.shape, gen)
            out[i] = sl * self.ring_factor(sl.shape, c=c, radii=radii)
        if p.clip:
            np.clip(out, 0.0, top, out=out)
        return out[0] if arr.ndim == 2 else out
