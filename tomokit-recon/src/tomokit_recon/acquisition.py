"""Acquisition simulation: forward projection and sinogram-domain distortions.

A simulated acquisition goes image -> :class:`ForwardProject` (a projector) -> sinogram
distortions -> a reconstructor. Every distortion takes a :class:`tomokit.Sinogram` and
returns a new one (the input is never modified); levels 1..5 map to the documented parameters in each
class's ``LEVELS``; with ``level`` unset the continuous parameter is used. Results are
deterministic for a seed.

Sinogram values are line integrals in units of (image value x pixel). The noise and gain
models act on transmitted intensities ``I = I0 exp(-scale * p)``; ``scale`` turns a line
integral ``p`` into a dimensionless attenuation. By default it is chosen so the largest
line integral of the sinogram attenuates by ``max_attenuation`` (2.0, i.e. 13.5 %
transmission), so the same level gives comparable noise whatever the image units.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import Distortion, InvalidInputError, Params, Projector, Sinogram
from tomokit.components import SliceMapper, check_image
from tomokit_recon._astra import forward_project as _astra_forward
from tomokit_recon._astra import parallel_angles

__all__ = [
    "DeadPixels",
    "DetectorBlur",
    "DetectorGain",
    "ForwardProject",
    "PhotonNoise",
    "Undersample",
    "simulate_sinogram",
]


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _as_sinogram(obj: Any, who: str) -> Sinogram:
    if not isinstance(obj, Sinogram):
        raise InvalidInputError(
            f"{who}: expected a tomokit.Sinogram, got {type(obj).__name__}; project an image "
            "first (projector 'forward_project') or build one with tomokit_recon.make_sinogram"
        )
    if not np.all(np.isfinite(obj.data)):
        raise InvalidInputError(f"{who}: sinogram data contain non-finite values")
    return obj


def simulate_sinogram(
    image: Any,
    *,
    n_angles: int = 180,
    angle_range_deg: float = 180.0,
    n_detectors: int | None = None,
    detector_spacing: float = 1.0,
    center_offset: float = 0.0,
    projector: Literal["line", "strip", "linear"] = "linear",
    device: Literal["auto", "cpu", "gpu"] = "cpu",
) -> Sinogram:
    """Parallel-beam sinogram of a square 2-D ``image`` (ASTRA forward projection).

    Angles are ``n_angles`` equally spaced values in ``[0, angle_range_deg)``; the detector
    has ``n_detectors`` pixels (default the image width).
    """
    img = check_image(image, name="image", ndim=(2,))
    if img.shape[0] != img.shape[1]:
        raise InvalidInputError(f"image: forward projection needs a square image, got {img.shape}")
    n_det = img.shape[1] if n_detectors is None else int(n_detectors)
    if n_det < 1:
        raise InvalidInputError(f"n_detectors must be >= 1, got {n_det}")
    angles = parallel_angles(n_angles, angle_range=np.deg2rad(angle_range_deg))
    template = Sinogram(
        data=np.zeros((len(angles), n_det), np.float32),
        angles=angles,
        detector_spacing=detector_spacing,
        center_offset=center_offset,
    )
    data = _astra_forward(img, template, projector=projector, device=device)
    return template.with_data(data)


class _LevelParams(Params):
    level: int | None = Field(
        None, ge=1, le=5, description="Severity 1..5 (documented values); unset: the "
        "continuous parameter below."
    )


class _SinogramDistortion(Distortion):
    """Base of the sinogram-domain distortions: ``apply(sinogram, level, rng) -> Sinogram``."""

    domain: ClassVar[Literal["image", "sinogram"]] = "sinogram"
    #: level -> value of the continuous parameter
    LEVELS: ClassVar[dict[int, float]] = {}
    #: name of the continuous parameter in Params
    PARAM: ClassVar[str] = ""

    def value(self, level: int | None = None) -> float:
        """The continuous parameter for ``level`` (or Params.level, or the Params value)."""
        lvl = level if level is not None else getattr(self.params, "level", None)
        if lvl is None:
            return float(getattr(self.params, self.PARAM))
        if int(lvl) not in self.LEVELS:
            raise InvalidInputError(f"{self.name or type(self).__name__}: level must be 1..5, got {lvl}")
        return float(self.LEVELS[int(lvl)])

    def apply(  # type: ignore[override]
        self,
        image: Sinogram,
        level: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> Sinogram:
        sino = _as_sinogram(image, self.name or type(self).__name__)
        return self._distort(sino, self.value(level), _rng(rng))

    def _distort(self, sino: Sinogram, value: float, rng: np.random.Generator) -> Sinogram:
        raise NotImplementedError

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        return self.apply(inputs["image"], None, rng)


class _IntensityParams(_LevelParams):
    scale: float | None = Field(
        None, gt=0, description="Multiplier from sinogram values to dimensionless attenuation "
        "(mu times pixel size); unset: chosen so the largest value attenuates by "
        "max_attenuation."
    )
    max_attenuation: float = Field(
        2.0, gt=0, description="Attenuation of the most absorbing ray when scale is unset."
    )


def _scale(sino: Sinogram, params: Any) -> float:
    if params.scale is not None:
        return float(params.scale)
    peak = float(np.max(np.abs(sino.data)))
    return float(params.max_attenuation) / peak if peak > 0 else 1.0


class PhotonNoiseParams(_IntensityParams):
    i0: float = Field(1e4, gt=0, description="Incident photons per detector pixel and angle.")


class PhotonNoise(_SinogramDistortion):
    """Poisson (photon-counting) noise for ``i0`` incident photons per detector pixel.

    Counts ``N ~ Poisson(i0 exp(-scale p))`` become ``p' = -ln(max(N, 1) / i0) / scale``
    (a pixel that counts no photon is read as one count, as flat-field corrections do).
    Levels: I0 = 1e5, 3e4, 1e4, 3e3, 1e3.
    """

    summary: ClassVar[str] = "Poisson photon noise for incident count I0 (levels 1e5 .. 1e3)"
    Params = PhotonNoiseParams
    LEVELS: ClassVar[dict[int, float]] = {1: 1e5, 2: 3e4, 3: 1e4, 4: 3e3, 5: 1e3}
    PARAM: ClassVar[str] = "i0"

    def _distort(self, sino: Sinogram, value: float, rng: np.random.Generator) -> Sinogram:
        s = _scale(sino, self.params)
        expected = value * np.exp(-s * sino.data.astype(np.float64))
        counts = rng.poisson(expected).astype(np.float64)
        data = -np.log(np.maximum(counts, 1.0) / value) / s
        return sino.with_data(data.astype(np.float32))


class DetectorGainParams(_IntensityParams):
    sigma: float = Field(
        0.01, ge=0, lt=0.5, description="Relative standard deviation of the per-pixel gain."
    )


class DetectorGain(_SinogramDistortion):
    """Per-detector-pixel gain errors left after flat-fielding: every column's transmitted
    intensity is multiplied by ``g_j ~ 1 + N(0, sigma)`` for all angles, which FBP turns
    into concentric rings. Levels: sigma = 0.002, 0.005, 0.01, 0.02, 0.05.
    """

    summary: ClassVar[str] = "Per-detector gain errors (ring artefacts), sigma 0.2 % .. 5 %"
    Params = DetectorGainParams
    LEVELS: ClassVar[dict[int, float]] = {1: 0.002, 2: 0.005, 3: 0.01, 4: 0.02, 5: 0.05}
    PARAM: ClassVar[str] = "sigma"

    def _distort(self, sino: Sinogram, value: float, rng: np.random.Generator) -> Sinogram:
        s = _scale(sino, self.params)
        gain = np.clip(1.0 + value * rng.standard_normal(sino.n_detectors), 0.05, None)
        data = sino.data.astype(np.float64) - np.log(gain)[None, :] / s
        return sino.with_data(data.astype(np.float32))


class DeadPixelsParams(_LevelParams):
    fraction: float = Field(
        0.01, ge=0, le=0.5, description="Fraction of detector pixels that are defective."
    )
    mode: Literal["dead", "hot"] = Field(
        "dead", description="'dead': the pixel reads the flat field (line integral 0); 'hot': "
        "it reads as fully absorbing (the sinogram maximum)."
    )


class DeadPixels(_SinogramDistortion):
    """Defective detector pixels: whole columns of the sinogram stuck at one value, which
    reconstruct as rings (or half-rings). At least one pixel is defective when the fraction
    is > 0. Levels: fraction = 0.005, 0.01, 0.02, 0.04, 0.08.
    """

    summary: ClassVar[str] = "Defective detector pixels (dead or hot columns), 0.5 % .. 8 %"
    Params = DeadPixelsParams
    LEVELS: ClassVar[dict[int, float]] = {1: 0.005, 2: 0.01, 3: 0.02, 4: 0.04, 5: 0.08}
    PARAM: ClassVar[str] = "fraction"

    def _distort(self, sino: Sinogram, value: float, rng: np.random.Generator) -> Sinogram:
        n = sino.n_detectors
        count = 0 if value == 0 else max(1, round(value * n))
        cols = rng.choice(n, size=min(count, n), replace=False)
        data = np.array(sino.data, dtype=np.float32, copy=True)
        p = self.params
        assert isinstance(p, DeadPixelsParams)
        data[:, cols] = 0.0 if p.mode == "dead" else float(np.max(sino.data))
        out = sino.with_data(data)
        out.extra["defective_pixels"] = np.sort(cols).tolist()
        return out


class UndersampleParams(_LevelParams):
    step: int = Field(2, ge=1, description="Keep every step-th angle (1 keeps all).")
    start: int = Field(0, ge=0, description="Index of the first angle kept.")


class Undersample(_SinogramDistortion):
    """Angular undersampling: keep every ``step``-th projection (a faster, lower-dose scan).
    Levels: step = 2, 3, 4, 6, 8."""

    summary: ClassVar[str] = "Angular undersampling: keep every n-th angle (2 .. 8)"
    Params = UndersampleParams
    LEVELS: ClassVar[dict[int, float]] = {1: 2, 2: 3, 3: 4, 4: 6, 5: 8}
    PARAM: ClassVar[str] = "step"

    def _distort(self, sino: Sinogram, value: float, rng: np.random.Generator) -> Sinogram:
        p = self.params
        assert isinstance(p, UndersampleParams)
        step = int(value)
        if p.start >= sino.n_angles:
            raise InvalidInputError(
                f"undersample: start={p.start} but the sinogram has {sino.n_angles} angles"
            )
        idx = np.arange(p.start, sino.n_angles, step)
        return sino.with_data(np.array(sino.data[idx], copy=True), sino.angles[idx])


class DetectorBlurParams(_LevelParams):
    sigma: float = Field(
        1.0, ge=0, description="Gaussian standard deviation along the detector, in pixels."
    )


class DetectorBlur(_SinogramDistortion):
    """Detector point-spread function: Gaussian blur of every projection along the
    detector axis (scintillator/optics blur; ``nearest`` edges).
    Levels: sigma = 0.5, 1, 1.5, 2, 3 detector pixels."""

    summary: ClassVar[str] = "Gaussian detector blur along each projection (0.5 .. 3 px)"
    Params = DetectorBlurParams
    LEVELS: ClassVar[dict[int, float]] = {1: 0.5, 2: 1.0, 3: 1.5, 4: 2.0, 5: 3.0}
    PARAM: ClassVar[str] = "sigma"

    def _distort(self, sino: Sinogram, value: float, rng: np.random.Generator) -> Sinogram:
        if value == 0:
            return sino.with_data(np.array(sino.data, copy=True))
        from scipy.ndimage import gaussian_filter1d

        data = gaussian_filter1d(sino.data.astype(np.float32), value, axis=1, mode="nearest")
        return sino.with_data(data)


class ForwardProjectParams(Params):
    n_angles: int = Field(180, ge=1, description="Number of projection angles.")
    angle_range_deg: float = Field(
        180.0, gt=0, le=360.0, description="Angular range in degrees, endpoint excluded."
    )
    n_detectors: int | None = Field(
        None, ge=1, description="Detector pixels; default the image width."
    )
    detector_spacing: float = Field(1.0, gt=0, description="Detector pitch in image pixels.")
    center_offset: float = Field(
        0.0, description="Rotation axis offset from the detector centre, in detector pixels."
    )
    projector: Literal["line", "strip", "linear"] = Field(
        "linear", description="ASTRA CPU projector used for the line integrals."
    )
    device: Literal["auto", "cpu", "gpu"] = Field("cpu", description="ASTRA device.")


class ForwardProject(Projector):
    """Parallel-beam forward projection of a square image into a :class:`tomokit.Sinogram`
    (ASTRA). A projector, not a distortion: it changes the domain (image -> sinogram)
    and degrades nothing; the sinogram distortions come after it."""

    summary: ClassVar[str] = "Image -> parallel-beam sinogram (ASTRA forward projection)"
    Params = ForwardProjectParams

    def project(self, image: np.ndarray) -> Sinogram:
        if isinstance(image, Sinogram):
            raise InvalidInputError("forward_project: input is already a sinogram; pass an image")
        p = self.params
        assert isinstance(p, ForwardProjectParams)
        return simulate_sinogram(
            image,
            n_angles=p.n_angles,
            angle_range_deg=p.angle_range_deg,
            n_detectors=p.n_detectors,
            detector_spacing=p.detector_spacing,
            center_offset=p.center_offset,
            projector=p.projector,
            device=p.device,
        )

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        image = inputs["image"]
        if isinstance(image, Sinogram):
            raise InvalidInputError("forward_project: input is already a sinogram; pass an image")
        arr = np.asarray(image)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 2:
            raise InvalidInputError(
                f"forward_project: expected one 2-D image, got shape {arr.shape}; "
                "a sinogram is 2-D, so project a volume slice by slice"
            )
        return self.project(arr)
