"""``ganrec``: an unsupervised GAN fitted per sinogram (GANrec, Yang et al. 2020).

The generator maps the (normalised) sinogram to an image; the image is reprojected by
tomokit-recon's sparse ASTRA operator (the one SD2I uses), and the generator is trained
so that a discriminator cannot tell the reprojection from the measurement while the L1
distance between them falls (generator loss ``CE(fake, 1) + 100 L1``; discriminator
``CE(real, 1) + CE(fake, 0)``; Adam 1e-3 and 1e-5; 1000 iterations). Like sd2i it needs
no training data, only time per sinogram.

GANrec normalises the sinogram and the image (see :mod:`tomokit_recon._ganrec_tf`), so
its image has arbitrary units: a peak-normalised, non-negative map. That is the
limitation SD2I removes, and it is kept here. ``rescale=True`` (a tomokit addition, off
by default) multiplies the image by the least-squares factor that makes its projection
match the measured sinogram.

TensorFlow is imported only when :meth:`reconstruct` runs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import Params, Reconstructor, Sinogram
from tomokit_recon.classical import check_sinogram

__all__ = ["GANrec", "GANrecParams"]


class GANrecParams(Params):
    iterations: int = Field(1000, ge=1, description="Training iterations (GANrec: 1000).")
    generator_lr: float = Field(1e-3, gt=0, description="Adam rate of the generator.")
    discriminator_lr: float = Field(1e-5, gt=0, description="Adam rate of the discriminator.")
    l1_weight: float = Field(100.0, ge=0, description="Weight of L1(sinogram, reprojection).")
    dense_units: int = Field(128, ge=1, le=100_000, description="Units of the 3 dense layers.")
    filters: int = Field(32, ge=1, le=1024, description="Filters of the convolutions.")
    dropout: float = Field(0.25, ge=0, lt=1, description="Dropout after each dense layer.")
    seed: int = Field(0, description="Weight initialisation seed (repeatable runs).")
    projector: Literal["line", "strip", "linear"] = Field(
        "linear", description="ASTRA projector whose sparse matrix is the reprojection.")
    size: int | None = Field(None, ge=8, description="Output side; default the detector count.")
    rescale: bool = Field(
        False, description="Scale the normalised image so its projection fits the measured "
        "sinogram in least squares (tomokit addition; GANrec itself does not).")
    max_seconds: float | None = Field(None, gt=0, description="Optional wall-clock budget.")


class GANrec(Reconstructor):
    """GANrec (Yang et al., J. Synchrotron Rad. 27 (2020) 486), fitted per sinogram."""

    name: ClassVar[str] = "ganrec"
    summary: ClassVar[str] = "GANrec: GAN fitted per sinogram (TensorFlow; normalised image)"
    Params = GANrecParams

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        #: The last run's :class:`~tomokit_recon._ganrec_tf.GANResult` (losses per iteration).
        self.history: Any = None

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        """Train a fresh GAN on ``sinogram``; the image at the lowest L1 loss."""
        sino = check_sinogram(sinogram)
        from tomokit_recon import _ganrec_tf

        p = self.params
        assert isinstance(p, GANrecParams)
        size = sino.n_detectors if p.size is None else p.size
        result = _ganrec_tf.train(
            sino, size=size, iterations=p.iterations, generator_lr=p.generator_lr,
            discriminator_lr=p.discriminator_lr, l1_weight=p.l1_weight,
            dense_units=p.dense_units, filters=p.filters, dropout=p.dropout, seed=p.seed,
            projector=p.projector, max_seconds=p.max_seconds,
        )
        self.history = result
        image = result.image
        if p.rescale:
            from tomokit_recon._astra import forward_project

            proj = forward_project(image, sino, projector=p.projector).astype(np.float64)
            den = float(np.sum(proj * proj))
            scale = float(np.sum(proj * np.asarray(sino.data, np.float64))) / den if den else 0.0
            image = (image * scale).astype(np.float32)
        return image
