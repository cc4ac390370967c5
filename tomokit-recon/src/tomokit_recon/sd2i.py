"""SD2I and SD2Iu: self-supervised reconstruction by a generator trained per sinogram.

A network maps a single constant to an image; it is trained so that the forward
projection of that image matches the measured sinogram (loss
``(1 - mu) MAE + mu (1 - SSIM)`` on sinograms, mu = 0.84). No training data are needed,
and on angularly undersampled scans it beats FBP, SIRT and CGLS (Dong et al., Digital
Discovery 2 (2023) 967, Tables 1 and 2). SD2Iu generates at a quarter of the size and
upsamples twice, which makes it far smaller than SD2I.

TensorFlow is imported only when :meth:`reconstruct` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import Params, Reconstructor, Sinogram
from tomokit_recon.classical import check_sinogram

__all__ = ["SD2I", "SD2IParams", "SD2Iu", "SD2IuParams"]


class _CommonParams(Params):
    iterations: int = Field(6000, ge=1, description="Maximum training iterations (paper: 6000).")
    learning_rate: float = Field(5e-4, gt=0, description="Adam learning rate (paper: 5e-4).")
    schedule: Literal["plateau", "cosine"] = Field(
        "plateau",
        description="'plateau': halve the rate when the loss stalls (paper); 'cosine': linear "
        "warm-up then cosine decay to min_lr over `iterations` (converges sooner with a "
        "larger learning_rate).",
    )
    lr_factor: float = Field(0.5, gt=0, lt=1, description="Plateau schedule: rate multiplier.")
    lr_patience: int = Field(
        100, ge=1, description="Plateau schedule: iterations without improvement before a cut."
    )
    min_lr: float = Field(1e-6, ge=0, description="Lowest learning rate.")
    warmup: int = Field(50, ge=1, description="Cosine schedule: warm-up iterations.")
    mu: float = Field(0.84, ge=0, le=1, description="Weight of (1 - SSIM) in the loss.")
    patience: int = Field(
        500, ge=0, description="Stop when the loss has not improved by min_delta for this many "
        "iterations (0 disables early stopping)."
    )
    min_delta: float = Field(1e-5, ge=0, description="Smallest loss change that counts.")
    seed: int = Field(0, description="Seed of the weight initialisation (repeatable runs).")
    constant: float = Field(1.0, description="The network's single constant input.")
    projector: Literal["line", "strip", "linear"] = Field(
        "linear", description="ASTRA projector whose sparse matrix is the forward operator."
    )
    ssim_max_val: float = Field(
        1.0, gt=0, description="SSIM dynamic range on sinograms scaled to a peak of 1."
    )
    size: int | None = Field(
        None, ge=8, description="Side of the square output image; default the detector count."
    )
    max_seconds: float | None = Field(
        None, gt=0, description="Optional wall-clock budget; training stops when it is spent."
    )
    progress: bool = Field(True, description="Show a progress bar (rich) while training.")
    log_every: int = Field(
        500, ge=0, description="Log the loss every this many iterations (0: never)."
    )


class SD2IuParams(_CommonParams):
    k: int = Field(8, ge=4, le=8, description="Channels of the reshaped Dense output (4..8).")
    dense_units: int = Field(64, ge=1, description="Units of the three hidden Dense layers.")
    filters: int = Field(64, ge=1, description="Filters of the 3x3 convolutions.")


class SD2IParams(_CommonParams):
    k: int = Field(4, ge=1, le=8, description="Channels of the reshaped Dense output.")
    dense_units: int = Field(128, ge=1, description="Units of the three hidden Dense layers.")
    filters: int = Field(
        64, ge=1, description="Filters of the last hidden convolution (the first two have 2x)."
    )


class _SD2IBase(Reconstructor):
    upsample: ClassVar[bool] = True

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        #: The last run's :class:`~tomokit_recon._sd2i_tf.TrainResult` (losses, rates).
        self.history: Any = None
        #: Optional ``callback(iteration, loss, image)`` called every ``callback_every``
        #: iterations while training (monitoring; not part of the validated Params).
        self.callback: Callable[[int, float, np.ndarray], None] | None = None
        self.callback_every: int = 100

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        """Train a fresh generator on ``sinogram`` and return its (masked, non-negative)
        image at the lowest sinogram loss; :attr:`history` keeps the losses."""
        sino = check_sinogram(sinogram)
        from tomokit_recon import _sd2i_tf

        p = self.params
        assert isinstance(p, SD2IuParams | SD2IParams)
        size = sino.n_detectors if p.size is None else p.size
        result = _sd2i_tf.train(
            sino,
            size=size,
            upsample=self.upsample,
            k=p.k,
            dense_units=p.dense_units,
            filters=p.filters,
            iterations=p.iterations,
            learning_rate=p.learning_rate,
            schedule=p.schedule,
            lr_factor=p.lr_factor,
            lr_patience=p.lr_patience,
            min_lr=p.min_lr,
            warmup=p.warmup,
            mu=p.mu,
            patience=p.patience,
            min_delta=p.min_delta,
            seed=p.seed,
            constant=p.constant,
            projector=p.projector,
            ssim_max_val=p.ssim_max_val,
            max_seconds=p.max_seconds,
            progress=p.progress,
            log_every=p.log_every,
            callback=self.callback,
            callback_every=self.callback_every,
        )
        self.history = result
        return result.image


class SD2Iu(_SD2IBase):
    """SD2I with upsampling (the paper's scalable variant)."""

    summary: ClassVar[str] = "Self-supervised SD2I with upsampling (TensorFlow)"
    Params = SD2IuParams
    upsample: ClassVar[bool] = True


class SD2I(_SD2IBase):
    """SD2I without upsampling: Dense to the full image size, then convolutions."""

    summary: ClassVar[str] = "Self-supervised SD2I without upsampling (TensorFlow)"
    Params = SD2IParams
    upsample: ClassVar[bool] = False
