"""Shared fixtures: a small Shepp-Logan phantom and its sinograms."""

from __future__ import annotations

import numpy as np
import pytest


def phantom(n: int) -> np.ndarray:
    """scikit-image's Shepp-Logan phantom rescaled to ``n x n``, values in [0, 1]."""
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    img = resize(shepp_logan_phantom(), (n, n), anti_aliasing=True)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="session")
def phantom48() -> np.ndarray:
    return phantom(48)


@pytest.fixture(scope="session")
def sino48(phantom48: np.ndarray):
    from tomokit_recon import simulate_sinogram

    return simulate_sinogram(phantom48, n_angles=90)
