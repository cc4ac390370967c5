"""ganrec: a few iterations on 32 px lower the generator's L1 loss; normalised images."""

from __future__ import annotations

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_recon import simulate_sinogram

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def case():
    from tomokit_recon.cnn import phantom_images

    truth = 2.5 * phantom_images("random_shapes", 1, 32, seed=3)[0]  # peak 2.5, not 1
    return truth, simulate_sinogram(truth, n_angles=32)


def test_l1_falls_and_image_is_normalised(case) -> None:
    _, sino = case
    rec = tomokit.load("reconstructor", "ganrec", iterations=25, seed=0)
    image = rec.reconstruct(sino)
    hist = rec.history
    assert image.shape == (32, 32) and np.all(np.isfinite(image))
    assert len(hist.l1) == 25 and len(hist.discriminator) == 25
    assert np.mean(hist.l1[-5:]) < 0.7 * np.mean(hist.l1[:5]), hist.l1
    assert hist.l1[hist.best_iteration] == min(hist.l1)
    # GANrec's normalisation: minimum 0, no physical units (the truth peaks at 2.5)
    assert image.min() == pytest.approx(0.0, abs=1e-6)
    scaled = tomokit.load("reconstructor", "ganrec", iterations=25, seed=0, rescale=True)
    image2 = scaled.reconstruct(sino)
    np.testing.assert_allclose(image2 / image2.max(), image / image.max(), rtol=1e-4, atol=1e-5)


def test_normalize_sinogram_and_bad_input() -> None:
    from tomokit_recon._ganrec_tf import normalize_sinogram

    x = normalize_sinogram(np.arange(12.0).reshape(3, 4) * 7 + 3)
    assert x.min() == 0.0 and x.max() == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="sinogram"):
        tomokit.load("reconstructor", "ganrec", iterations=1).reconstruct(np.zeros((8, 8)))
