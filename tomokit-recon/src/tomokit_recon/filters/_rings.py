"""Ring and stripe removal: in the reconstructed image (polar coordinates) and in the
sinogram (Vo's sorting and fitting methods, Muench's wavelet-FFT method), plus the ring
and stripe amplitudes that say how much of an artefact is left.

Why algotom for the sinogram-domain methods: it is the implementation by the author of
the sorting and fitting methods (N. T. Vo, Diamond Light Source / NSLS-II), maintained,
on PyPI as a pure-Python wheel, Apache-2.0 like tomokit, and built on numpy, scipy and
PyWavelets. TomoPy has the same methods but is distributed through conda with compiled
extensions, not as a pip wheel. algotom is imported only when a stripe filter runs (it
pulls in numba, about 2 s).

References: N. T. Vo, R. C. Atwood, M. Drakopoulos, "Superior techniques for eliminating
ring artifacts in X-ray micro-tomography", Opt. Express 26 (2018) 28396 (algorithms 1 and
3); B. Muench, P. Trtik, F. Marone, M. Stampanoni, "Stripe and ring artifact removal with
combined wavelet-Fourier filtering", Opt. Express 17 (2009) 8567.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from tomokit import Filter, InvalidInputError, Params
from tomokit.components import check_image
from tomokit_recon.filters._image import as_float32_image

__all__ = [
    "RingRemovalPolar",
    "StripeFitting",
    "StripeSorting",
    "StripeWaveletFFT",
    "radial_profile",
    "ring_amplitude",
    "stripe_amplitude",
]


# ----------------------------------------------------------------------- measures
def _center(shape: tuple[int, ...], center: tuple[float, float] | None) -> tuple[float, float]:
    if center is None:
        return (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0
    return float(center[0]), float(center[1])


def radial_profile(
    image: Any, *, center: tuple[float, float] | None = None
) -> np.ndarray:
    """Mean of ``image`` over each 1-pixel-wide ring about ``center`` (row, column;
    default the image centre), for radii 1 .. the inscribed circle's radius.

    Pixels are binned by their rounded distance from the centre, with no interpolation,
    so the measure does not share the polar resampling of :class:`RingRemovalPolar`.
    """
    img = check_image(image, ndim=(2,)).astype(np.float64)
    cy, cx = _center(img.shape, center)
    yy, xx = np.indices(img.shape)
    r = np.rint(np.hypot(yy - cy, xx - cx)).astype(np.int64)
    r_max = int(min(img.shape) // 2 - 1)
    inside = (r >= 1) & (r <= r_max)
    counts = np.bincount(r[inside], minlength=r_max + 1)[1:]
    sums = np.bincount(r[inside], weights=img[inside], minlength=r_max + 1)[1:]
    return sums / np.maximum(counts, 1)


def _highpass(profile: np.ndarray, size: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    return profile - median_filter(profile, size=size, mode="nearest")


def ring_amplitude(
    image: Any,
    reference: Any | None = None,
    *,
    center: tuple[float, float] | None = None,
    size: int = 9,
) -> float:
    """How strong the rings of ``image`` are: the standard deviation over radius of the
    high-pass part (profile minus its ``size``-bin running median) of the radial profile
    of ``image - reference`` (or of ``image`` alone).

    Rings are constant along the angle, so the angular mean keeps them at full height
    while noise and non-circular structure average out; the running median takes out
    the slow radial trend (cupping, the object's own radial density). With a
    ring-free ``reference`` (the same scan without detector errors) only the rings and
    what a filter did to the structure are left. Units: those of the image.
    """
    img = check_image(image, ndim=(2,)).astype(np.float64)
    if reference is not None:
        ref = check_image(reference, name="reference", ndim=(2,)).astype(np.float64)
        if ref.shape != img.shape:
            raise InvalidInputError(
                f"reference shape {ref.shape} differs from image shape {img.shape}"
            )
        img = img - ref
    if size < 3:
        raise InvalidInputError(f"size must be >= 3 radial bins, got {size}")
    return float(np.std(_highpass(radial_profile(img, center=center), size)))


def stripe_amplitude(sinogram: Any, reference: Any | None = None, *, size: int = 9) -> float:
    """How strong the stripes of a sinogram (rows = angles) are: the standard deviation
    over detector columns of the high-pass part of the column means of ``sinogram -
    reference`` (or of ``sinogram`` alone); a stripe is a column offset shared by all
    angles, so the column mean keeps it and averages the noise."""
    data = getattr(sinogram, "data", sinogram)
    sino = check_image(data, name="sinogram", ndim=(2,)).astype(np.float64)
    if reference is not None:
        ref = check_image(getattr(reference, "data", reference), name="reference", ndim=(2,))
        if ref.shape != sino.shape:
            raise InvalidInputError(
                f"reference shape {ref.shape} differs from sinogram shape {sino.shape}"
            )
        sino = sino - ref.astype(np.float64)
    if size < 3:
        raise InvalidInputError(f"size must be >= 3 columns, got {size}")
    return float(np.std(_highpass(sino.mean(axis=0), size)))


# ------------------------------------------------------------- image-domain rings
class RingRemovalPolarParams(Params):
    radial_size: int = Field(
        21, ge=3, le=401, description="Running-median window along the radius, px: radial "
        "detail narrower than this and constant along the angle counts as a ring."
    )
    angular_width_deg: float = Field(
        360.0, gt=0, le=360, description="Angular window, degrees, over which a ring's "
        "height is estimated (median); 360: full rings, smaller: partial rings (half-rings "
        "of 180-degree scans)."
    )
    center_row: float | None = Field(
        None, description="Row of the rotation centre in px; default the image centre."
    )
    center_col: float | None = Field(
        None, description="Column of the rotation centre in px; default the image centre."
    )
    order: int = Field(3, ge=0, le=5, description="Spline order of the polar resampling.")


OVERSAMPLE = 2


class RingRemovalPolar(Filter):
    """Ring removal in polar coordinates about the rotation centre.

    The image is resampled onto an (angle, radius) grid, where rings become stripes
    along the angle. Their height at each radius is the median over the angular window,
    minus its running median over ``radial_size`` radii (what is left is narrow in
    radius and constant in angle: the ring). Only that stripe component is transformed
    back and subtracted, so the image itself is never resampled and keeps its
    resolution. Pixels outside the largest circle about the centre are left as they are.
    Concentric structure (a cell can) is indistinguishable from rings by this method.
    """

    summary: ClassVar[str] = "Ring removal in polar coordinates about the rotation centre"
    Params = RingRemovalPolarParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        from scipy.ndimage import map_coordinates, median_filter
        from skimage.transform import warp_polar

        p = self.params
        assert isinstance(p, RingRemovalPolarParams)
        img = as_float32_image(image)
        h, w = img.shape
        cy = (h - 1) / 2.0 if p.center_row is None else p.center_row
        cx = (w - 1) / 2.0 if p.center_col is None else p.center_col
        if not (0 <= cy <= h - 1 and 0 <= cx <= w - 1):
            raise InvalidInputError(
                f"center_row/center_col ({cy}, {cx}) lie outside the {h}x{w} image"
            )
        radius = float(min(cy, cx, h - 1 - cy, w - 1 - cx))
        if radius < 4:
            return img.copy()
        n_r = int(np.ceil(OVERSAMPLE * radius)) + 1
        n_theta = max(8, int(np.ceil(2 * np.pi * radius)))
        polar = warp_polar(
            img.astype(np.float64), center=(cy, cx), radius=radius,
            output_shape=(n_theta, n_r), order=p.order, mode="edge",
        )  # rows: angle k * 2 pi / n_theta; columns: radius j * radius / n_r
        size = min(p.radial_size, n_r) | 1
        detail = polar - median_filter(polar, size=(1, size), mode="nearest")
        width = round(p.angular_width_deg / 360.0 * n_theta)
        if width >= n_theta:
            stripes = np.broadcast_to(np.median(detail, axis=0), polar.shape)
        else:
            stripes = median_filter(detail, size=(max(width, 1), 1), mode="wrap")
        stripes = np.concatenate([stripes, stripes[:1]], axis=0)  # close the circle
        yy, xx = np.indices(img.shape, dtype=np.float64)
        rr = np.hypot(yy - cy, xx - cx)
        theta = np.mod(np.arctan2(yy - cy, xx - cx), 2 * np.pi)
        rows = theta * n_theta / (2 * np.pi)
        cols = rr * n_r / radius
        ring = map_coordinates(stripes, [rows, cols], order=1, mode="nearest")
        ring[rr > radius] = 0.0
        return (img - ring).astype(np.float32)


# ---------------------------------------------------------- sinogram-domain stripes
def _removal() -> Any:
    try:
        from algotom.prep import removal
    except ImportError as exc:  # pragma: no cover - algotom is a dependency
        raise InvalidInputError(
            "algotom is not installed; install tomokit-recon's dependencies (pip install algotom)"
        ) from exc
    return removal


class _StripeFilter(Filter):
    """Base of the sinogram-domain stripe filters: rows are angles, columns detector pixels."""

    domain: ClassVar[Literal["image", "sinogram"]] = "sinogram"

    def filter(self, image: np.ndarray) -> np.ndarray:
        sino = as_float32_image(image, name="sinogram")
        out = np.asarray(self._remove(sino.copy()), dtype=np.float32)
        if not np.all(np.isfinite(out)):  # pragma: no cover - guarded in _remove
            raise InvalidInputError(f"{self.name or type(self).__name__}: non-finite result")
        return out

    def _remove(self, sino: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class StripeSortingParams(Params):
    size: int = Field(
        21, ge=3, le=501, description="Median window across detector columns, px; wider "
        "removes wider stripes (and more structure)."
    )
    dim: Literal[1, 2] = Field(
        1, description="1: median along the detector only; 2: a size x size window."
    )


class StripeSorting(_StripeFilter):
    """Vo's sorting-based stripe removal (algorithm 3 of Vo et al. 2018, algotom's
    ``remove_stripe_based_sorting``): each column is sorted along the angle, the sorted
    image is median-filtered across columns (where stripes are outliers and structure is
    smooth), and the values are put back in their original order. Best on partial and
    full stripes from gain errors."""

    summary: ClassVar[str] = "Stripe removal by sorting + median (Vo 2018, algotom)"
    Params = StripeSortingParams

    def _remove(self, sino: np.ndarray) -> np.ndarray:
        p = self.params
        assert isinstance(p, StripeSortingParams)
        return _removal().remove_stripe_based_sorting(sino, size=p.size, dim=p.dim)  # type: ignore[no-any-return]


class StripeFittingParams(Params):
    order: int = Field(2, ge=1, le=5, description="Order of the polynomial fitted along the angle.")
    sigma: float = Field(
        10.0, gt=0, le=200, description="Gaussian window across columns in Fourier space; "
        "smaller is stronger."
    )
    sort: bool = Field(False, description="Sort each column along the angle before fitting.")
    num_chunk: int = Field(1, ge=1, le=64, description="Fit the angles in this many chunks.")


class StripeFitting(_StripeFilter):
    """Vo's fitting-based stripe removal (algorithm 1 of Vo et al. 2018, algotom's
    ``remove_stripe_based_fitting``): a low-order polynomial fitted along the angle in
    each column carries the stripes; it is smoothed across columns and the sinogram is
    corrected by the ratio. Best on low-frequency (wide, smooth) stripes.

    The correction is multiplicative, which divides by zero in the air columns of a
    line-integral sinogram; the data are therefore shifted by ``offset = mean|p| +
    max(0, -min p)`` before and back after, which makes the correction close to additive,
    as a gain error is in line-integral units."""

    summary: ClassVar[str] = "Stripe removal by polynomial fitting (Vo 2018, algotom)"
    Params = StripeFittingParams

    @staticmethod
    def offset(sino: np.ndarray) -> float:
        """The shift applied before the ratio correction (see the class docstring)."""
        return float(np.mean(np.abs(sino), dtype=np.float64)) + max(0.0, -float(sino.min())) + 1e-6

    def _remove(self, sino: np.ndarray) -> np.ndarray:
        p = self.params
        assert isinstance(p, StripeFittingParams)
        off = self.offset(sino)
        shifted = sino.astype(np.float64) + off
        out = _removal().remove_stripe_based_fitting(
            shifted, order=p.order, sigma=p.sigma, sort=p.sort, num_chunk=p.num_chunk
        )
        return np.asarray(out, dtype=np.float64) - off


class StripeWaveletFFTParams(Params):
    level: int = Field(
        5, ge=1, le=10, description="Wavelet decomposition levels (reduced so the coarsest "
        "sub-band keeps at least 16 px, as algotom does)."
    )
    sigma: float = Field(
        1.0, gt=0, le=100, description="Width of the Gaussian damping of the angular "
        "frequencies of the vertical detail bands; larger is stronger (algotom's size)."
    )
    wavelet: str = Field("db9", description="PyWavelets discrete wavelet name (db9 after Muench).")
    window: Literal["gaussian", "butter"] = Field("gaussian", description="Damping window.")
    sort: bool = Field(False, description="Sort each column along the angle first (Vo 2018).")

    @field_validator("wavelet")
    @classmethod
    def _known_wavelet(cls, value: str) -> str:
        import pywt

        names = pywt.wavelist(kind="discrete")
        if value not in names:
            raise ValueError(f"unknown wavelet {value!r}; PyWavelets has e.g. db4, db9, sym8, coif3")
        return value


class StripeWaveletFFT(_StripeFilter):
    """Muench's combined wavelet-Fourier stripe removal (Muench et al. 2009, algotom's
    ``remove_stripe_based_wavelet_fft``): the sinogram is decomposed into wavelet bands;
    in each band of vertical detail the stripes are the zero angular frequency, which a
    Gaussian notch in the Fourier transform along the angle damps; then the bands are
    recombined."""

    summary: ClassVar[str] = "Stripe removal by wavelet-FFT filtering (Muench 2009, algotom)"
    Params = StripeWaveletFFTParams

    def _remove(self, sino: np.ndarray) -> np.ndarray:
        p = self.params
        assert isinstance(p, StripeWaveletFFTParams)
        pad = min(150, int(0.1 * min(sino.shape)))  # algotom's padding
        if min(sino.shape) + 2 * pad < 32:
            raise InvalidInputError(
                f"stripe_wavelet_fft: the sinogram {sino.shape} is too small for one wavelet "
                "level (each side, padded by 10 %, must have at least 32 pixels)"
            )
        return _removal().remove_stripe_based_wavelet_fft(  # type: ignore[no-any-return]
            sino, level=p.level, size=p.sigma, wavelet_name=p.wavelet,
            window_name=p.window, sort=p.sort,
        )
