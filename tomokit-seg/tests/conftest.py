"""Shared phantoms: labelled electrodes, clean and acquired (projected, noisy, reconstructed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def electrode(seed: int, size: int = 128, three: bool = False):
    import tomokit

    # three phases: binder halfway between pore and active material, so that grey-value
    # methods can find it (at 30 keV it is 0.34/cm against NMC's 27.5/cm)
    params = {"attenuation": (0.0, 2.0, 1.0)} if three else {"cbd_fraction": 0.0}
    return tomokit.load("phantom", "electrode", size=size, **params).generate((size, size), seed)


@pytest.fixture(scope="session")
def two_phase():
    """(acquired image, labels) of a two-phase electrode: a good lab scan (i0 1e4)."""
    from tomokit_phantom import acquire

    s = electrode(1)
    return acquire(s, rng=1).image, s.labels


@pytest.fixture(scope="session")
def three_phase():
    """(image, labels) of a three-phase electrode (pore, active, carbon binder) with
    Gaussian noise."""
    s = electrode(2, three=True)
    noise = np.random.default_rng(2).normal(0.0, 0.1, s.image.shape)
    return (s.image + noise).astype(np.float32), s.labels
