"""Shared machinery of the full-reference observers: input checks, ``data_range``,
MATLAB-compatible rounding, down-sampling and filtering.

Every observer works on a stack ``(N, H, W)`` (or ``(N, H, W, 3)`` for colour) in one
vectorised pass; a 2-D image is a stack of one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Observer, Params
from tomokit.components import SliceMapper

__all__ = [
    "FRObserver",
    "FRParams",
    "Scaling",
    "matlab_downsample",
    "matlab_round",
    "rgb_to_grey",
    "gradient_magnitude",
    "taps3",
]

#: ITU-R BT.601 luma weights, as MATLAB ``FeatureSIM.m`` and the README's grey conversion.
LUMA = (0.299, 0.587, 0.114)


class FRParams(Params):
    """Parameters every full-reference observer has."""

    data_range: float | None = Field(
        None,
        gt=0,
        description=(
            "Range of the pixel values (the white level: 255 for 8-bit, 1.0 for [0, 1] floats). "
            "None: the maximum of the integer dtype (255 for uint8, 65535 for uint16); float "
            "input then needs an explicit value."
        ),
    )


def matlab_round(x: float) -> int:
    """MATLAB ``round``: halves go away from zero (Python's ``round`` goes to even)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def auto_downsample_factor(shape: tuple[int, ...]) -> int:
    """``f = max(1, round(min(H, W) / 256))`` of ``ssim.m`` and ``FeatureSIM.m``."""
    return max(1, matlab_round(min(shape[-2], shape[-1]) / 256.0))


def _index(ndim: int, axis: int, sl: slice | int) -> tuple[slice | int, ...]:
    idx: list[slice | int] = [slice(None)] * ndim
    idx[axis] = sl
    return tuple(idx)


def _block_mean_axis(
    x: np.ndarray, f: int, axis: int, symmetric: bool, dtype: Any = None
) -> np.ndarray:
    """One axis of :func:`matlab_downsample`: output ``j`` averages input rows
    ``j*f - (f-1)//2 + k`` for ``k < f`` (zero or mirrored outside), summed slice by slice."""
    n = x.shape[axis]
    p = (f - 1) // 2
    n_out = -(-n // f)
    shape = list(x.shape)
    shape[axis] = n_out
    acc = np.zeros(shape, dtype=dtype or x.dtype)
    nd = x.ndim
    for k in range(f):
        j_lo = 0 if k >= p else 1
        j_hi = min(n_out - 1, (n - 1 + p - k) // f)
        if j_hi >= j_lo:
            r_lo = j_lo * f - p + k
            r_hi = j_hi * f - p + k
            acc[_index(nd, axis, slice(j_lo, j_hi + 1))] += x[
                _index(nd, axis, slice(r_lo, r_hi + 1, f))
            ]
        if symmetric:  # rows outside the image: MATLAB 'symmetric' mirrors, edge included
            for j in (*range(0, j_lo), *range(j_hi + 1, n_out)):
                r = j * f - p + k
                r = -r - 1 if r < 0 else 2 * n - r - 1
                acc[_index(nd, axis, j)] += x[_index(nd, axis, r)]
    acc *= 1.0 / f
    return acc


def matlab_downsample(
    x: np.ndarray,
    f: int,
    *,
    padding: Literal["zeros", "symmetric"],
    axes: tuple[int, int] = (-2, -1),
    dtype: Any = None,
) -> np.ndarray:
    """Average filter of size ``f`` then every ``f``-th pixel, exactly as MATLAB does it.

    ``conv2(X, ones(f)/f^2, 'same')`` (``padding="zeros"``, as ``FeatureSIM.m``, ``GMSD.m``,
    ``MDSI.m``) and ``imfilter(X, ones(f)/f^2, 'symmetric', 'same')`` (``padding="symmetric"``,
    as ``ssim.m``) both average the window ``[i - (f-1)//2, i + f//2]`` around pixel ``i``;
    ``X(1:f:end, 1:f:end)`` keeps ``i = 0, f, 2f, ...``. Only the kept pixels are computed,
    in ``dtype`` (default: ``x``'s, which must then be floating).
    """
    if f <= 1:
        return x if dtype is None else x.astype(dtype)
    out = x
    for a in axes:
        out = _block_mean_axis(out, f, a % x.ndim, padding == "symmetric", dtype)
    return out


def taps3(x: np.ndarray, a: float, b: float, c: float, axis: int) -> np.ndarray:
    """``out[i] = a x[i-1] + b x[i] + c x[i+1]`` along ``axis``, zero outside: MATLAB
    ``conv2(X, k, 'same')`` with the 3-tap kernel ``k = [c b a]`` (convolution flips it)."""
    nd = x.ndim
    out = x * b if b != 0 else np.zeros_like(x)
    lo, hi = _index(nd, axis, slice(1, None)), _index(nd, axis, slice(None, -1))
    out[lo] += x[hi] if a == 1 else a * x[hi]
    out[hi] += x[lo] if c == 1 else c * x[lo]
    return out


def gradient_magnitude(x: np.ndarray, smooth: tuple[float, float, float]) -> np.ndarray:
    """Magnitude of the separable gradient ``smooth^T [1 0 -1]`` and its transpose over the
    last two axes, zero border (Prewitt: ``(1, 1, 1) / 3``; Scharr: ``(3, 10, 3) / 16``)."""
    s0, s1, s2 = smooth
    gx = taps3(taps3(x, s0, s1, s2, -2), 1.0, 0.0, -1.0, -1)
    gy = taps3(taps3(x, 1.0, 0.0, -1.0, -2), s0, s1, s2, -1)
    gx *= gx
    gy *= gy
    gx += gy
    return np.sqrt(gx, out=gx)


def rgb_to_grey(rgb: np.ndarray) -> np.ndarray:
    """``Y = 0.299 R + 0.587 G + 0.114 B`` of an ``(..., 3)`` array, not rounded."""
    r, g, b = LUMA
    return r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]


def similarity(a: np.ndarray, b: np.ndarray, c: float) -> np.ndarray:
    """The ``(2ab + c) / (a^2 + b^2 + c)`` similarity every one of these indices uses."""
    return (2.0 * a * b + c) / (a * a + b * b + c)


def _validate_one(arr: Any, name: str, check_finite: bool = True) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype == object or a.dtype.kind not in "uif":
        raise InvalidInputError(
            f"{name}: expected an integer or float image, got dtype {a.dtype}; "
            "convert it with numpy (for example image.astype(np.float32))"
        )
    if a.size == 0:
        raise InvalidInputError(f"{name}: image is empty (shape {a.shape})")
    if check_finite and a.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(a)))
        if bad:
            raise InvalidInputError(f"{name}: {bad} non-finite value(s) (NaN or Inf)")
    return a


#: Working memory one vectorised call may use (bytes).
_WORK_BUDGET = 512 * 2**20

_SINGLE_OK = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "float16", "float32")}


def _work_dtype(*dtypes: np.dtype) -> type[np.floating]:
    """float32 where it holds the input exactly (8/16-bit integers, float16/32), else
    float64. The index computations promote to float64 where single precision is not
    exact enough (SSIM statistics, final sums)."""
    return np.float32 if all(d in _SINGLE_OK for d in dtypes) else np.float64


@dataclass(frozen=True)
class Scaling:
    r"""How one call's raw input maps to the index's working values.

    The raw stacks stay untouched (and unconverted) until an observer reduces them: it
    either :meth:`convert`\ s them or :meth:`downsample`\ s them first, so the
    full-resolution float copy is skipped when the index works on a smaller image.
    """

    #: Multiply the raw values by this to get ``[0, scale]``.
    factor: float
    #: Working precision: float32 for 8/16-bit and float16/32 input, else float64.
    dtype: type[np.floating]
    #: ``data_range`` of the raw input.
    data_range: float

    def convert(self, a: np.ndarray) -> np.ndarray:
        """A new array ``a * factor`` in the working precision."""
        return np.multiply(a, self.factor, dtype=self.dtype)

    def downsample(
        self,
        a: np.ndarray,
        f: int,
        *,
        padding: Literal["zeros", "symmetric"],
        axes: tuple[int, int] = (-2, -1),
    ) -> np.ndarray:
        """:func:`matlab_downsample` of the raw ``a``, then scaled (a new array)."""
        if f <= 1:
            return self.convert(a)
        out = matlab_downsample(a, f, padding=padding, axes=axes, dtype=self.dtype)
        if self.factor != 1.0:
            out *= self.factor
        return out


class FRObserver(Observer):
    """Base of tomokit's full-reference observers.

    Subclasses implement :meth:`_compare_stack`, which receives the validated raw stacks
    ``(N, H, W)`` (``(N, H, W, 3)`` with ``color=True``) and a :class:`Scaling` that
    converts them to the working precision with ``data_range`` mapped to ``scale`` (255
    for indices whose constants are defined on 8-bit images).
    """

    Params: ClassVar[type[Params]] = FRParams
    #: The white level the index's constants assume; :class:`Scaling` maps to it.
    scale: ClassVar[float] = 255.0
    #: Smallest image side the index can handle.
    min_size: ClassVar[int] = 1
    #: Working memory per input pixel (bytes, rough); batches are processed in chunks of
    #: at most ``_WORK_BUDGET`` bytes.
    bytes_per_pixel: ClassVar[int] = 64
    #: False where the index's own pass over the pixels detects NaN/Inf (PSNR, MSE): the
    #: separate finiteness scan is skipped, and the index raises the same error itself.
    checks_finite: ClassVar[bool] = True

    # -- inputs ----------------------------------------------------------------------
    def _color(self) -> bool:
        return bool(getattr(self.params, "color", False))

    def _data_range(self, ref: np.ndarray, dist: np.ndarray) -> float:
        from tomokit.components import resolve_data_range

        return resolve_data_range(getattr(self.params, "data_range", None), ref, dist,
                                  who=self.name or type(self).__name__)

    def _prepare(
        self, reference: Any, distorted: Any
    ) -> tuple[np.ndarray, np.ndarray, bool, Scaling]:
        """Validate and stack (no copy); returns ``(ref, dist, was_single, scaling)``."""
        ref = _validate_one(reference, "reference", self.checks_finite)
        dist = _validate_one(distorted, "distorted", self.checks_finite)
        color = self._color()
        core = 3 if color else 2
        for name, a in (("reference", ref), ("distorted", dist)):
            # a grey batch of images 3 or 4 pixels wide is taken for an RGB(A) image
            rgb_like = not color and a.ndim == 3 and a.shape[-1] in (3, 4)
            if a.ndim not in (core, core + 1) or (color and a.shape[-1] != 3) or rgb_like:
                want = "(H, W, 3) or (N, H, W, 3)" if color else "(H, W) or (N, H, W)"
                hint = ""
                if rgb_like:
                    hint = (
                        "; it looks like an RGB image: set the param color to true (a "
                        "pipeline step's 'color: true', tomokit compare --param color=true, "
                        "color=True in Python)"
                        if "color" in type(self.params).model_fields
                        else "; it looks like an RGB image: convert it to grey "
                        "(Y = 0.299 R + 0.587 G + 0.114 B)"
                    )
                raise InvalidInputError(f"{name}: expected shape {want}, got {a.shape}{hint}")
        if ref.shape != dist.shape:
            if ref.ndim == core and dist.ndim == core + 1 and dist.shape[1:] == ref.shape:
                ref = np.broadcast_to(ref, dist.shape)
            else:
                raise InvalidInputError(
                    f"reference shape {ref.shape} and distorted shape {dist.shape} differ; "
                    "pass images of the same size"
                )
        h, w = (ref.shape[-3], ref.shape[-2]) if color else (ref.shape[-2], ref.shape[-1])
        if min(h, w) < self.min_size:
            raise InvalidInputError(
                f"{self.name or type(self).__name__}: images must be at least "
                f"{self.min_size}x{self.min_size} pixels, got {h}x{w}"
            )
        data_range = self._data_range(ref, dist)
        scaling = Scaling(
            factor=self.scale / data_range,
            dtype=_work_dtype(ref.dtype, dist.dtype),
            data_range=data_range,
        )
        single = ref.ndim == core
        if single:
            ref, dist = ref[None], dist[None]
        return ref, dist, single, scaling

    # -- API -------------------------------------------------------------------------
    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float | np.ndarray:
        """Quality of ``distorted`` against ``reference``: a float for 2-D images, one
        value per slice for ``(N, H, W)`` batches (``(N, H, W, 3)`` with ``color=True``)."""
        ref, dist, single, scaling = self._prepare(reference, distorted)
        # vectorised over the batch, in chunks that bound the working memory of big stacks
        pixels = int(np.prod(ref.shape[1:]))
        step = max(1, _WORK_BUDGET // (self.bytes_per_pixel * pixels))
        values = np.concatenate(
            [
                np.asarray(
                    self._compare_stack(ref[i : i + step], dist[i : i + step], scaling),
                    dtype=np.float64,
                ).reshape(-1)
                for i in range(0, len(ref), step)
            ]
        )
        return float(values[0]) if single else values

    def _compare_stack(self, ref: np.ndarray, dist: np.ndarray, scaling: Scaling) -> np.ndarray:
        """One value per slice of the raw stacks ``ref`` and ``dist`` (read only)."""
        raise NotImplementedError

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        """Compare the whole stack at once (vectorised), keeping integer dtypes so that
        ``data_range=None`` still means the dtype's maximum."""
        out = self.compare(inputs["reference"], inputs["distorted"])
        return np.float64(out) if np.ndim(out) == 0 else np.asarray(out, dtype=np.float64)
