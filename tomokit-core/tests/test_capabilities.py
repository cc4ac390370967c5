"""Declared capabilities read by the runner: named outputs streamed one volume each,
serial calls for components that are not thread-safe, preferred batch sizes."""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import Any, ClassVar

import numpy as np
import pytest

from tomokit import Distortion, Scorer, Segmenter
from tomokit.io import write_array
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline
from tomokit.testing import isolated_registry


class Bands(Segmenter):
    """Three intensity bands with soft memberships (a real, if simple, segmenter)."""

    name = "bands"
    batch_size: ClassVar[int | None] = 4
    calls: ClassVar[list[int]] = []

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        type(self).calls.append(len(images))
        centres = np.array([0.2, 0.5, 0.8], dtype=np.float32)
        d = -((images[..., None] - centres) ** 2) / 0.02
        e = np.exp(d - d.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class Counting(Distortion):
    """Adds 1; records how many calls overlap (it is declared not thread-safe)."""

    name = "counting"
    thread_safe: ClassVar[bool] = False
    active = 0
    most = 0
    lock = threading.Lock()

    def apply(self, image: np.ndarray, level: int | None = None, rng: Any = None) -> np.ndarray:
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.most = max(cls.most, cls.active)
        time.sleep(0.002)
        with cls.lock:
            cls.active -= 1
        return np.asarray(image, dtype=np.float32) + 1


class MeanScore(Scorer):
    name = "mean_score"
    batch_size: ClassVar[int | None] = 3
    calls: ClassVar[list[int]] = []

    def score(self, images: np.ndarray) -> np.ndarray:
        type(self).calls.append(len(images))
        return np.asarray(images).mean(axis=(1, 2))


@pytest.fixture
def registry():
    with isolated_registry(Bands, Counting, MeanScore) as reg:
        yield reg


SEGMENT = """
inputs:
  vol: {path: vol.h5, dataset: /data}
steps:
  - id: seg
    segmenter: bands
    inputs: {images: vol}
  - id: score_unsure
    scorer: mean_score
    inputs: {images: seg.uncertainty}
executor: {block_memory: 256KiB}
"""


def test_three_output_segmenter_streams_a_volume_beyond_its_block_budget(registry, tmp_path):
    vol = np.random.default_rng(0).random((128, 64, 64)).astype(np.float32)  # 2 MiB
    write_array(tmp_path / "vol.h5", vol, dataset="/data")
    p = parse_pipeline(SEGMENT, file=str(tmp_path / "p.yaml"), base_dir=tmp_path)
    run_pipeline(p, tmp_path / "warm.h5")  # imports and caches, before memory is traced
    Bands.calls.clear()
    MeanScore.calls.clear()
    peaks: dict[str, int] = {}

    def on_step(record: Any) -> None:  # peak memory while each step ran
        peaks[record.id] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()

    tracemalloc.start()
    summary = run_pipeline(p, tmp_path / "out.h5", on_step=on_step)
    tracemalloc.stop()
    peak = max(peaks.values())
    seg = summary.steps[0]
    assert seg.streamed and seg.slices == 128
    assert max(Bands.calls) == 4 and sum(Bands.calls) == 128  # the declared batch size
    assert max(MeanScore.calls) == 3
    # all outputs together are 32x the block budget; the run stays near the budget
    outputs_bytes = vol.size * (1 + 4 * 3 + 4)
    assert outputs_bytes > 8 * 2**20
    assert peak < 2**20 + 1.5 * 2**20, peak
    res = read_results(tmp_path / "out.h5")
    expected = Bands().run_step({"images": vol}, rng=np.random.default_rng(0))
    assert set(res["seg"]) == {"labels", "probabilities", "uncertainty"}
    for key in ("labels", "probabilities", "uncertainty"):
        assert res["seg"][key].dtype == expected[key].dtype
        assert np.array_equal(res["seg"][key], expected[key]), key
    assert res["seg"]["probabilities"].shape == (128, 64, 64, 3)
    assert np.allclose(res["score_unsure"], expected["uncertainty"].mean(axis=(1, 2)), atol=1e-6)


def test_uncertainty_is_normalised_entropy(registry):
    probs = np.array([[[[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]]], dtype=np.float32)
    from tomokit.components import normalized_entropy

    h = normalized_entropy(probs)
    assert np.allclose(h, [[[0.0, 1.0]]], atol=1e-5)


def test_not_thread_safe_component_is_called_serially(registry, tmp_path):
    vol = np.random.default_rng(1).random((24, 8, 8)).astype(np.float32)
    write_array(tmp_path / "vol.h5", vol, dataset="/data")
    text = """
inputs: {vol: {path: vol.h5, dataset: /data}}
steps:
  - {id: plus, distortion: counting, inputs: [vol]}
executor: {workers: 2, block_slices: 2}
"""
    p = parse_pipeline(text, file=str(tmp_path / "p.yaml"), base_dir=tmp_path)
    Counting.most = 0
    run_pipeline(p, tmp_path / "out.h5")
    assert Counting.most == 1
    assert np.array_equal(read_results(tmp_path / "out.h5")["plus"], vol + 1)
    # in memory too (a 3-D array input, mapped over slices)
    np.save(tmp_path / "vol.npy", vol)
    Counting.most = 0
    run_pipeline(parse_pipeline(text.replace("{path: vol.h5, dataset: /data}", "vol.npy")
                                .replace("block_slices: 2", "block_slices: 100"),
                                file=str(tmp_path / "p.yaml"), base_dir=tmp_path),
                 tmp_path / "mem.h5")
    assert Counting.most == 1


def test_bare_reference_to_a_segmenter_means_its_labels(registry, tmp_path):
    np.save(tmp_path / "img.npy", np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    text = """
inputs: {img: img.npy}
steps:
  - {id: seg, segmenter: bands, inputs: [img]}
  - {id: s, scorer: mean_score, inputs: [seg]}
"""
    res = run_pipeline(parse_pipeline(text, file=str(tmp_path / "p.yaml"), base_dir=tmp_path),
                       tmp_path / "out.h5").values
    labels = res["seg"]["labels"]
    assert labels.shape == (8, 8) and set(np.unique(labels)) == {0, 1, 2}
    assert np.isclose(res["s"][0], labels.mean())
