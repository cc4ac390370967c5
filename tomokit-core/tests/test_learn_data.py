"""TrainData reads the project's HDF5 datasets (IQA and phantom layouts) in batches."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

from tomokit.errors import InvalidInputError
from tomokit.learn import TrainData


def _iqa_like(path, n_sources=5, per=4):
    n = n_sources * per
    with h5py.File(path, "w") as f:
        f["images"] = np.random.default_rng(0).random((n, 16, 16), dtype=np.float32)
        f["score"] = np.arange(n, dtype=np.float64)
        f["level"] = np.tile(np.arange(per), n_sources).astype(np.int16)
        f["source"] = np.repeat(np.arange(n_sources), per).astype(np.int32)
        f.create_dataset("source_id", data=[f"img{i // per}" for i in range(n)],
                         dtype=h5py.string_dtype())
        f.create_dataset("distortion", data=["blur"] * n, dtype=h5py.string_dtype())
        f["observers/ssim"] = np.linspace(0, 1, n)
        f.attrs["format"] = "tomokit-iqa-dataset/1"
    return path


def _phantom_like(path, n=6):
    with h5py.File(path, "w") as f:
        f["images"] = np.random.default_rng(1).random((n, 16, 16), dtype=np.float32)
        f["labels"] = np.zeros((n, 16, 16), np.uint8)
        f["seeds"] = np.arange(n, dtype=np.uint64)
        f["maps/particle_id"] = np.ones((n, 16, 16), np.int32)
        f.attrs["format"] = "tomokit-phantom/1"
        f.attrs["phases"] = '["pore", "solid"]'
    return path


def test_iqa_layout(tmp_path):
    data = TrainData.from_hdf5(_iqa_like(tmp_path / "iqa.h5"))
    assert len(data) == 20
    assert {"images", "score", "observers/ssim", "distortion"} <= set(data.names)
    assert data.shape("images") == (16, 16)
    assert list(data.sources[:5]) == ["img0"] * 4 + ["img1"]
    rows = data.read("score", [7, 2, 2])
    assert rows.tolist() == [7.0, 2.0, 2.0]
    assert data.read("distortion", [0]).tolist() == ["blur"]
    train, val = data.split(0.4, seed=0)
    assert len(set(val.sources)) == 2 and not set(train.sources) & set(val.sources)
    assert np.array_equal(val["score"], data.read("score", val.rows))
    seen = np.concatenate([b["score"] for b in train.batches(3, names=["score"], rng=0)])
    assert sorted(seen.tolist()) == sorted(train["score"].tolist())
    again = np.concatenate([b["score"] for b in train.batches(3, names=["score"], rng=0)])
    assert np.array_equal(seen, again)
    s = data.summary()
    assert s["rows"] == 20 and s["sources"] == 5 and len(s["sha256"]) == 64
    assert s["format"] == "tomokit-iqa-dataset/1"
    clone = pickle.loads(pickle.dumps(train))
    assert np.array_equal(clone["images"], train["images"])


def test_phantom_layout_each_sample_its_own_source(tmp_path):
    data = TrainData.from_hdf5(_phantom_like(tmp_path / "ph.h5"))
    assert {"images", "labels", "maps/particle_id", "seeds"} <= set(data.names)
    assert len(set(data.sources)) == 6
    only = TrainData.from_hdf5(tmp_path / "ph.h5", names=["images", "labels"])
    assert only.names == ["images", "labels"]
    with pytest.raises(InvalidInputError, match="no row-aligned dataset"):
        TrainData.from_hdf5(tmp_path / "ph.h5", names=["clean"])


def test_in_memory_and_errors(tmp_path):
    data = TrainData.from_arrays(x=np.zeros((4, 2)), y=np.ones(4), sources=["a", "a", "b", "b"])
    train, val = data.split(0.5, seed=0)
    assert len(train) == 2 and len(val) == 2
    with pytest.raises(InvalidInputError, match="differ in length"):
        TrainData.from_arrays(x=np.zeros(3), y=np.zeros(4))
    with pytest.raises(InvalidInputError, match="no such file"):
        TrainData.from_hdf5(tmp_path / "missing.h5")
    (tmp_path / "t.h5").write_text("x")
    with pytest.raises(InvalidInputError, match="not an HDF5 file"):
        TrainData.from_hdf5(tmp_path / "t.h5")
    with pytest.raises(InvalidInputError, match="has no array"):
        data.read("z")
