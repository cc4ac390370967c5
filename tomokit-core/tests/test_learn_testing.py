"""tomokit.testing: check_component covers every kind (bad components fail), and the
pytest plugin gives a registry fixture."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tomokit
from tomokit.components import PhantomSample, Sinogram
from tomokit.testing import check_component, sample_sinogram


class GoodSinoNoise(tomokit.Distortion):
    domain = "sinogram"

    def apply(self, image: Any, level: Any = None, rng: Any = None) -> Any:
        noise = np.random.default_rng(rng).normal(0, 0.01, image.data.shape)
        return image.with_data(image.data + noise)


class MutatingSinoNoise(tomokit.Distortion):
    """Mutates its input and ignores the seed: the old check passed it."""

    domain = "sinogram"

    def apply(self, image: Any, level: Any = None, rng: Any = None) -> Any:
        image.data[...] += np.random.default_rng().normal(0, 0.01, image.data.shape).astype(np.float32)
        return image


class UnseededSinoNoise(tomokit.Distortion):
    domain = "sinogram"

    def apply(self, image: Any, level: Any = None, rng: Any = None) -> Any:
        return image.with_data(image.data + np.random.default_rng().random(image.data.shape))


class BackProjection(tomokit.Reconstructor):
    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        n = sinogram.n_detectors
        return np.tile(sinogram.data.mean(0), (n, 1)).astype(np.float32)


class StringReconstructor(tomokit.Reconstructor):
    def reconstruct(self, sinogram: Sinogram) -> Any:
        return "an image"


class WrongSizeReconstructor(tomokit.Reconstructor):
    def reconstruct(self, sinogram: Sinogram) -> Any:
        return np.zeros((3, 3), np.float32)


class Smooth(tomokit.Filter):
    def filter(self, image: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        return ndimage.uniform_filter(image, 3)


class InPlaceFilter(tomokit.Filter):
    def filter(self, image: np.ndarray) -> np.ndarray:
        image *= 0.5
        return image


class Project(tomokit.Projector):
    def project(self, image: np.ndarray) -> Sinogram:
        return Sinogram(np.stack([image.sum(0), image.sum(1)]), np.array([0.0, np.pi / 2]))


class MeanScore(tomokit.Scorer):
    def score(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images).mean(axis=(1, 2))


class OneScore(tomokit.Scorer):
    def score(self, images: np.ndarray) -> np.ndarray:
        return np.array([1.0])


class Threshold(tomokit.Segmenter):
    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        p = np.clip(images, 0, 1)[..., None]
        return np.concatenate([1 - p, p], -1)


class BadProbs(tomokit.Segmenter):
    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return np.stack([images * 3, images], -1)


class Nearest(tomokit.SuperResolver):
    def upscale(self, low: np.ndarray, guide: Any = None) -> np.ndarray:
        return np.asarray(low, np.float32).repeat(2, 0).repeat(2, 1)


class Blobs(tomokit.Phantom):
    def generate(self, shape: tuple[int, int], rng: Any = None) -> PhantomSample:
        img = np.random.default_rng(rng).random(shape).astype(np.float32)
        return PhantomSample(img, (img > 0.5).astype(np.uint8), ("a", "b"))


@pytest.mark.parametrize("cls", [GoodSinoNoise, BackProjection, Smooth, Project, MeanScore,
                                 Threshold, Nearest, Blobs])
def test_good_components_pass(cls):
    check_component(cls)


@pytest.mark.parametrize("cls,message", [
    (MutatingSinoNoise, "not deterministic|modified its input"),
    (UnseededSinoNoise, "not deterministic"),
    (StringReconstructor, "returned str"),
    (WrongSizeReconstructor, r"expected \(48, 48\)"),
    (InPlaceFilter, "modified its input|not deterministic"),
    (OneScore, "shape"),
    (BadProbs, r"outside \[0, 1\]"),
])
def test_bad_components_fail(cls, message):
    with pytest.raises(AssertionError, match=message):
        check_component(cls)


def test_sample_sinogram():
    s = sample_sinogram(30, 40)
    assert s.data.shape == (30, 40) and np.all(np.isfinite(s.data)) and s.data.max() > 0


def test_pytest_plugin_registry_fixture(tomokit_registry):
    tomokit_registry.register(Smooth, name="smooth_test")
    assert isinstance(tomokit.load("filter", "smooth_test"), Smooth)
    assert [s.name for s in tomokit_registry.specs()] == ["smooth_test"]
