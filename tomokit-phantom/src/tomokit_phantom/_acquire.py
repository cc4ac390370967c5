"""Acquired slices: phantom -> projection -> acquisition effects -> reconstruction.

Why: models meant for real scans must be trained and tested on images with the
artefacts of real scans (photon noise, rings from detector errors, streaks from few
angles, blur), while their ground truth (the clean image and its labels) stays exact.

Nothing here re-implements tomography: forward projection, the sinogram distortions and
the reconstructors are tomokit-recon's components, looked up through the registry
(the projector ``forward_project``, ``detector_blur``, ``detector_gain``, ``dead_pixels``,
``photon_noise``, ``undersample``; ``fbp``, ``sirt``, ``sart``, ``cgls``). Install them with
``pip install 'tomokit-phantom[recon]'``.

Units: phantom images are linear attenuation in 1/cm. The sinogram holds
``sum(mu * pixel)``; with a pixel size the photon-noise and gain models get
``scale = pixel size in cm``, so a ray attenuates by ``exp(-integral of mu dl)`` exactly as
in the experiment, and the reconstruction comes back in 1/cm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, PhantomSample, Reconstructor, Sinogram, Task, load
from tomokit_phantom._common import as_rng

__all__ = ["AcquiredSlice", "AcquiredSlices", "AcquisitionParams", "acquire"]


class AcquisitionParams(Params):
    """How a slice is acquired and reconstructed (defaults: a good lab scan)."""

    n_angles: int | None = Field(
        None, ge=2, description="Projections over 180 degrees; default min(pi/2 * N, 720)."
    )
    pixel_size_um: float | None = Field(
        None, gt=0,
        description="Pixel size in micrometres for physical attenuation; default the phantom's "
        "own (jelly_roll) or, if unknown, scaled so the densest ray transmits 13.5 %.",
    )
    i0: float | None = Field(
        1e4, gt=0, description="Incident photons per detector pixel and angle; None: no noise."
    )
    gain_sigma: float = Field(
        0.005, ge=0, lt=0.5, description="Relative per-detector gain error (rings); 0: none."
    )
    dead_fraction: float = Field(0.0, ge=0, le=0.5, description="Fraction of dead detector pixels.")
    blur_sigma: float = Field(0.7, ge=0, description="Detector blur (Gaussian sigma, pixels); 0: none.")
    undersample: int = Field(1, ge=1, description="Keep every n-th angle (1: all).")
    full_field: bool = Field(
        True, description="Detector wide enough for the whole square (N * sqrt 2 pixels); "
        "False: N pixels, so the corners lie outside the field of view (local tomography).",
    )
    reconstructor: str = Field("fbp", description="tomokit reconstructor: fbp, sirt, sart, cgls...")
    reconstructor_params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters of the reconstructor."
    )


@dataclass(frozen=True)
class AcquiredSlice:
    """A reconstructed slice with its exact ground truth."""

    image: np.ndarray
    clean: np.ndarray
    labels: np.ndarray
    phases: tuple[str, ...]
    sinogram: Sinogram
    info: dict[str, Any] = field(default_factory=dict)


def _pixel_size_um(sample: PhantomSample | None, p: AcquisitionParams) -> float | None:
    if p.pixel_size_um is not None:
        return p.pixel_size_um
    if sample is not None and "um_per_px" in sample.info:
        return float(sample.info["um_per_px"])
    return None


def acquire(
    sample: PhantomSample,
    params: AcquisitionParams | Mapping[str, Any] | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    **kwargs: Any,
) -> AcquiredSlice:
    """Simulate the scan of ``sample`` and reconstruct it.

    Effects are applied in the order of a real detector chain: blur (scintillator and
    optics), gain errors and dead pixels (flat-field residue), photon noise, then the
    angular undersampling of a faster scan. Keyword arguments override ``params``.
    """
    if not isinstance(sample, PhantomSample):
        raise InvalidInputError(
            f"sample: expected a tomokit.PhantomSample, got {type(sample).__name__}"
        )
    if isinstance(params, AcquisitionParams):
        merged = {**params.model_dump(), **kwargs}
    else:
        merged = {**dict(params or {}), **kwargs}
    try:
        p = AcquisitionParams.model_validate(merged)
    except Exception as exc:  # pydantic's message names the field
        raise InvalidInputError(f"acquisition params: {exc}") from None
    h, w = sample.image.shape
    if h != w:
        raise InvalidInputError(f"sample: acquisition needs a square image, got {(h, w)}")
    gen = as_rng(rng)
    n_angles = p.n_angles if p.n_angles is not None else int(min(np.ceil(np.pi / 2 * w), 720))
    px_um = _pixel_size_um(sample, p)
    intensity = {"scale": px_um * 1e-4} if px_um is not None else {}

    n_det = int(np.ceil(w * np.sqrt(2))) + 2 if p.full_field else w
    n_det += (n_det - w) % 2  # keep the image centred on the detector
    projector: Any = load("projector", "forward_project", n_angles=n_angles, n_detectors=n_det)
    sino: Sinogram = projector.project(sample.image)
    clean_sino = sino
    steps: list[tuple[str, dict[str, Any]]] = []
    if p.blur_sigma > 0:
        steps.append(("detector_blur", {"sigma": p.blur_sigma}))
    if p.gain_sigma > 0:
        steps.append(("detector_gain", {"sigma": p.gain_sigma, **intensity}))
    if p.dead_fraction > 0:
        steps.append(("dead_pixels", {"fraction": p.dead_fraction}))
    if p.i0 is not None:
        steps.append(("photon_noise", {"i0": p.i0, **intensity}))
    if p.undersample > 1:
        steps.append(("undersample", {"step": p.undersample}))
    for name, kw in steps:
        seed = int(gen.integers(2**63 - 1))
        effect: Any = load("distortion", name, **kw)
        sino = effect.apply(sino, None, np.random.default_rng(seed))
    recon_params = {"size": w, **p.reconstructor_params}
    recon = load("reconstructor", p.reconstructor, **recon_params)
    if not isinstance(recon, Reconstructor):
        raise InvalidInputError(f"reconstructor {p.reconstructor!r} is not a reconstructor")
    image = np.asarray(recon.reconstruct(sino), dtype=np.float32)
    info = {
        "acquisition": p.model_dump(),
        "n_angles_used": sino.n_angles,
        "pixel_size_um": px_um,
        "max_attenuation": float(clean_sino.data.max() * px_um * 1e-4) if px_um else None,
        "effects": [name for name, _ in steps],
    }
    return AcquiredSlice(
        image=image, clean=sample.image, labels=sample.labels, phases=sample.phases,
        sinogram=sino, info=info,
    )


class AcquiredSlicesParams(AcquisitionParams):
    """Parameters of the ``acquired_slices`` task: a phantom and its acquisition."""

    phantom: str = Field("electrode", description="Registered phantom to scan.")
    phantom_params: dict[str, Any] = Field(default_factory=dict, description="Its parameters.")
    size: int = Field(128, ge=16, le=4096, description="Image side in px.")
    count: int = Field(1, ge=1, description="Number of slices.")


class AcquiredSlices(Task):
    """Reconstructed slices with acquisition artefacts, beside their clean images and
    labels: outputs ``image`` (reconstructed), ``clean``, ``labels``."""

    summary: ClassVar[str] = "Phantom -> projection -> acquisition effects -> reconstruction"
    Params: ClassVar[type[AcquiredSlicesParams]] = AcquiredSlicesParams  # type: ignore[assignment]

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        from tomokit_phantom._api import load_phantom

        p = self.params
        assert isinstance(p, AcquiredSlicesParams)
        phantom = load_phantom(p.phantom, p.phantom_params)
        acq = AcquisitionParams.model_validate(
            {k: v for k, v in p.model_dump().items() if k in AcquisitionParams.model_fields}
        )
        out: list[AcquiredSlice] = []
        for _ in range(p.count):
            sample = phantom.generate((p.size, p.size), rng)
            out.append(acquire(sample, acq, rng=rng))

        def stack(get: Any, dtype: Any) -> np.ndarray:
            arr = np.stack([get(a) for a in out]).astype(dtype)
            return arr[0] if p.count == 1 else arr

        return {
            "image": stack(lambda a: a.image, np.float32),
            "clean": stack(lambda a: a.clean, np.float32),
            "labels": stack(lambda a: a.labels, np.uint8),
            "phases": ",".join(out[0].phases),
        }
