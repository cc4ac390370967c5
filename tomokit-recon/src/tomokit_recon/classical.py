"""Classical reconstructions through the ASTRA toolbox: FBP, SIRT, SART and CGLS.

Each runs ASTRA's CPU algorithm with the chosen projector (``line``, ``strip`` or
``linear``), or the ``_CUDA`` variant when ``device`` resolves to a GPU.

References: van Aarle et al., "Fast and flexible X-ray tomography using the ASTRA
toolbox", Opt. Express 24 (2016) 25129; Kak & Slaney, "Principles of Computerized
Tomographic Imaging" (1988) for FBP, SIRT and SART.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, Reconstructor, Sinogram
from tomokit_recon._astra import run_algorithm

__all__ = ["CGLS", "FBP", "SART", "SIRT", "check_sinogram"]

FilterName = Literal["ram-lak", "shepp-logan", "cosine", "hamming", "hann"]


def check_sinogram(sinogram: Any, *, name: str = "sinogram") -> Sinogram:
    """Return ``sinogram`` if it is a :class:`tomokit.Sinogram` with finite data.

    ``Sinogram`` itself checks the angle count and finiteness on construction; this also
    catches arrays passed where a sinogram is needed.
    """
    if not isinstance(sinogram, Sinogram):
        raise InvalidInputError(
            f"{name}: expected a tomokit.Sinogram (data plus angles), got "
            f"{type(sinogram).__name__}; build one with tomokit_recon.make_sinogram(data, "
            "angles=...)"
        )
    data = np.asarray(sinogram.data)
    if data.shape[0] != len(sinogram.angles):
        raise InvalidInputError(
            f"{name}: {data.shape[0]} projection rows but {len(sinogram.angles)} angles"
        )
    if not np.all(np.isfinite(data)):
        raise InvalidInputError(f"{name}: data contain non-finite values (NaN or Inf)")
    return sinogram


class _AstraParams(Params):
    projector: Literal["line", "strip", "linear"] = Field(
        "linear",
        description="ASTRA CPU projector: 'line' (line-length weights), 'strip' (area "
        "weights) or 'linear' (Joseph interpolation). Ignored on the GPU.",
    )
    device: Literal["auto", "cpu", "gpu"] = Field(
        "cpu",
        description="'cpu' (default), 'gpu' (CUDA ASTRA; an error if none) or 'auto' "
        "(GPU when ASTRA has CUDA, else CPU with a warning).",
    )
    size: int | None = Field(
        None, ge=2, le=16384,
        description="Side of the square output image; default the detector count.",
    )


class _AstraReconstructor(Reconstructor):
    """An ASTRA reconstructor: its output side is known before the run."""

    @classmethod
    def memory_estimate(cls, params: Params) -> int | None:
        size = getattr(params, "size", None)
        # the volume, ASTRA's working copies (pixel weights, residual), the returned copy
        return None if size is None else 16 * int(size) ** 2


class FBPParams(_AstraParams):
    filter: FilterName = Field(
        "ram-lak", description="Filter of the ramp: ram-lak, shepp-logan, cosine, hamming, hann."
    )


class FBP(_AstraReconstructor):
    """Filtered back-projection (ASTRA ``FBP``/``FBP_CUDA``)."""

    summary: ClassVar[str] = "Filtered back-projection (ASTRA)"
    Params = FBPParams

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        sino = check_sinogram(sinogram)
        p = self.params
        assert isinstance(p, FBPParams)
        return run_algorithm(
            "FBP",
            sino,
            size=p.size,
            projector=p.projector,
            device=p.device,
            cfg_extra={"FilterType": p.filter},
        )


class SIRTParams(_AstraParams):
    iterations: int = Field(200, ge=1, le=100_000, description="Number of SIRT iterations.")
    non_negative: bool = Field(
        False, description="Clip negative values after every iteration (ASTRA MinConstraint=0)."
    )


class SIRT(_AstraReconstructor):
    """Simultaneous iterative reconstruction technique (ASTRA ``SIRT``/``SIRT_CUDA``)."""

    summary: ClassVar[str] = "SIRT (ASTRA)"
    Params = SIRTParams

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        sino = check_sinogram(sinogram)
        p = self.params
        assert isinstance(p, SIRTParams)
        opts = {"MinConstraint": 0.0} if p.non_negative else None
        return run_algorithm(
            "SIRT", sino, size=p.size, projector=p.projector, device=p.device,
            iterations=p.iterations, options=opts,
        )


class SARTParams(_AstraParams):
    iterations: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Number of full sweeps over all projection angles (ASTRA's SART updates "
        "from one angle per iteration, so it runs iterations * n_angles of them).",
    )
    order: Literal["random", "sequential"] = Field(
        "random", description="Order of the angles within a sweep (random is seeded)."
    )
    seed: int = Field(0, description="Seed of the random angle order.")
    non_negative: bool = Field(
        False, description="Clip negative values after every update (ASTRA MinConstraint=0)."
    )


class SART(_AstraReconstructor):
    """Simultaneous algebraic reconstruction technique (ASTRA ``SART``/``SART_CUDA``)."""

    summary: ClassVar[str] = "SART (ASTRA), iterations counted in sweeps over all angles"
    Params = SARTParams

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        sino = check_sinogram(sinogram)
        p = self.params
        assert isinstance(p, SARTParams)
        n = sino.n_angles
        if p.order == "random":
            rng = np.random.default_rng(p.seed)
            order = np.concatenate([rng.permutation(n) for _ in range(p.iterations)])
        else:
            order = np.tile(np.arange(n), p.iterations)
        opts: dict[str, Any] = {
            "ProjectionOrder": "custom",
            "ProjectionOrderList": order.astype(np.int32),
        }
        if p.non_negative:
            opts["MinConstraint"] = 0.0
        return run_algorithm(
            "SART", sino, size=p.size, projector=p.projector, device=p.device,
            iterations=p.iterations * n, options=opts,
        )


class CGLSParams(_AstraParams):
    iterations: int = Field(
        50, ge=1, le=100_000, description="Number of CGLS iterations (ASTRA's CGLS has no constraints)."
    )


class CGLS(_AstraReconstructor):
    """Conjugate gradient least squares (ASTRA ``CGLS``/``CGLS_CUDA``)."""

    summary: ClassVar[str] = "CGLS (ASTRA)"
    Params = CGLSParams

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        sino = check_sinogram(sinogram)
        p = self.params
        assert isinstance(p, CGLSParams)
        return run_algorithm(
            "CGLS", sino, size=p.size, projector=p.projector, device=p.device,
            iterations=p.iterations,
        )
