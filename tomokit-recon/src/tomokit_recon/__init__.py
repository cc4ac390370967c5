"""Tomographic reconstruction: FBP/SIRT/SART/CGLS through ASTRA, acquisition simulation, SD2I.

Importing this package does not import ASTRA or TensorFlow.
"""

from __future__ import annotations

from tomokit_recon._astra import make_sinogram, parallel_angles
from tomokit_recon.acquisition import simulate_sinogram
from tomokit_recon.evaluation import reconstruction_metrics

__all__ = ["make_sinogram", "parallel_angles", "reconstruction_metrics", "simulate_sinogram"]
