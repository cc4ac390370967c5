"""Zarr v3 stores: the format, workers writing their own slices (threads and Dask
processes), and streamed checkpoints kept in Zarr (identical results to HDF5
checkpoints, resume, a lost store recomputed, results still one HDF5 file)."""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from tomokit.errors import InvalidInputError
from tomokit.executors import get_executor
from tomokit.io import create_volume, open_volume, read_array, write_array
from tomokit.io._zarr import array_paths, create_store
from tomokit.pipeline import parse_pipeline, read_results, run_pipeline


def test_roundtrip_region_writes_from_threads_and_pickled(tmp_path: Path) -> None:
    vol = np.random.default_rng(1).random((9, 7, 5)).astype(np.float32)
    path = tmp_path / "v.zarr"
    with create_volume(path, vol.shape, vol.dtype) as w:
        region = pickle.loads(pickle.dumps(w.region()))  # as a worker process gets it
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda i: region.write(i, vol[i:i + 1]), range(9)))
    assert os.listdir(tmp_path) == ["v.zarr"]  # the temporary store was renamed
    with open_volume(path) as r:
        assert r.format_name == "zarr" and r.shape == vol.shape and not r.locked_reads
        assert np.array_equal(r.read(), vol)
        assert np.array_equal(pickle.loads(pickle.dumps(r)).read(slice(2, 5)), vol[2:5])
    assert np.array_equal(read_array(path), vol)


def test_chunks_are_one_slice_and_codecs(tmp_path: Path) -> None:
    vol = np.zeros((4, 32, 32), np.uint8)
    vol[:, 8:24, 8:24] = 1
    write_array(tmp_path / "raw.zarr", vol)
    write_array(tmp_path / "lz4.zarr", vol, codec="blosc-lz4")
    chunks = sorted(p.relative_to(tmp_path / "raw.zarr").as_posix()
                    for p in (tmp_path / "raw.zarr").rglob("*") if p.is_file()
                    and p.name != "zarr.json")
    assert chunks == [f"c/{i}/0/0" for i in range(4)]

    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())

    assert size(tmp_path / "lz4.zarr") < size(tmp_path / "raw.zarr") / 4
    assert np.array_equal(read_array(tmp_path / "lz4.zarr"), vol)
    with pytest.raises(InvalidInputError, match="codec must be one of"):
        write_array(tmp_path / "x.zarr", vol, codec="gzip")


def test_overwrite_missing_array_and_bad_block(tmp_path: Path) -> None:
    path = tmp_path / "v.zarr"
    write_array(path, np.ones((2, 3, 3), np.float32))
    with pytest.raises(InvalidInputError, match="already exists"):
        write_array(path, np.zeros((2, 3, 3), np.float32))
    write_array(path, np.zeros((5, 3, 3), np.float32), overwrite=True)
    assert read_array(path).shape == (5, 3, 3)
    create_store(tmp_path / "g.zarr", {"value/a": ((3, 4, 4), np.float32),
                                       "value/b": ((3, 2, 2), np.int16)})
    assert array_paths(tmp_path / "g.zarr") == ["value/a", "value/b"]
    with pytest.raises(InvalidInputError, match="pass dataset="):
        open_volume(tmp_path / "g.zarr")
    with pytest.raises(InvalidInputError, match=r"no such array.*value/a"):
        open_volume(tmp_path / "g.zarr", dataset="value/c")
    with create_volume(tmp_path / "w.zarr", (3, 4, 4), np.float32) as w, \
            pytest.raises(InvalidInputError, match="does not fit"):
        w.write(2, np.zeros((2, 4, 4), np.float32))


def _step(s: np.ndarray) -> np.ndarray:
    return (np.sqrt(s) * 3 + np.roll(s, 1, axis=0)).astype(np.float32)


@pytest.mark.parametrize("cfg", [{"kind": "local", "workers": 1},
                                 {"kind": "local", "workers": 2},
                                 {"kind": "dask", "workers": 2}])
def test_workers_write_their_own_slices(tmp_path: Path, cfg: dict[str, Any]) -> None:
    if cfg["kind"] == "dask":
        pytest.importorskip("distributed")
    vol = np.random.default_rng(2).random((11, 8, 8)).astype(np.float32)
    write_array(tmp_path / "in.h5", vol, dataset="/data")
    expected = np.stack([_step(s) for s in vol])
    seen: list[int] = []
    client_writes: list[int] = []
    with get_executor(cfg, block_slices=3) as ex, open_volume(tmp_path / "in.h5") as r, \
            create_volume(tmp_path / "out.zarr", r.shape, np.float32) as w:
        original = w.write
        w.write = lambda a, d: (client_writes.append(a), original(a, d))  # type: ignore
        assert ex.map_blocks(_step, r, sink=w, progress=seen.append) is None
    assert client_writes == []  # every slice was stored by the task that computed it
    assert seen == [3, 3, 3, 2]
    assert np.array_equal(read_array(tmp_path / "out.zarr"), expected)


PIPELINE = """
seed: 5
inputs:
  vol: {path: vol.h5, dataset: /exchange/data}
executor: {kind: local, workers: 2, block_slices: BLOCK, checkpoint_format: FORMAT}
steps:
  - id: noisy
    distortion: noise
    params: {level: 2}
    inputs: {image: vol}
  - id: blurred
    distortion: blur
    params: {level: 1}
    inputs: {image: noisy}
  - id: error
    observer: mse
    params: {data_range: 1.0}
    inputs: {reference: vol, distorted: blurred}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    vol = np.random.default_rng(0).random((10, 16, 16)).astype(np.float32)
    write_array(tmp_path / "vol.h5", vol, dataset="/exchange/data")
    return tmp_path


def _text(fmt: str = "zarr", block: int = 3) -> str:
    return PIPELINE.replace("FORMAT", fmt).replace("BLOCK", str(block))


def _run(workdir: Path, text: str, name: str = "out.h5", **kwargs: Any) -> Any:
    pipeline = parse_pipeline(text, file=str(workdir / "p.yaml"), base_dir=workdir)
    return run_pipeline(pipeline, workdir / name, fuse=False, **kwargs)


def test_zarr_checkpoints_give_the_results_of_hdf5_ones(workdir: Path) -> None:
    _run(workdir, _text("zarr", 3), "z.h5")
    _run(workdir, _text("zarr", 4), "z4.h5")
    _run(workdir, _text("hdf5", 3), "h.h5")
    z, z4, h = (read_results(workdir / n) for n in ("z.h5", "z4.h5", "h.h5"))
    for key in ("noisy", "blurred", "error"):
        assert np.array_equal(z[key], h[key]) and np.array_equal(z4[key], h[key]), key
    with h5py.File(workdir / "z.h5") as f:  # the results are one HDF5 file, as before
        assert f["steps/blurred"].shape == (10, 16, 16)
        assert f["steps/blurred"].attrs["kind"] == "distortion"
    assert sorted(n for n in os.listdir(workdir)) == ["h.h5", "vol.h5", "z.h5", "z4.h5"]


def test_failed_run_keeps_zarr_checkpoints_for_resume_and_a_lost_store_is_recomputed(
        workdir: Path) -> None:
    def progress(step_id: str, total: int) -> Any:
        if step_id == "error":  # the run dies once both volumes are checkpointed
            raise RuntimeError("stopped")
        return lambda n: None

    with pytest.raises(RuntimeError, match="stopped"):
        _run(workdir, _text(), progress=progress)
    work = workdir / ".out.h5.partial.d"
    stores = workdir / ".out.h5.partial.d-zarr"
    assert sorted(os.listdir(stores)) == ["blurred.zarr", "noisy.zarr"]
    assert sorted(os.listdir(work)) == ["blurred.h5", "noisy.h5"]
    import shutil

    shutil.rmtree(stores / "blurred.zarr")  # a lost store: its step runs again
    summary = _run(workdir, _text(), resume=True)
    assert "noisy" in summary.reused and "blurred" not in summary.reused
    fresh = _run(workdir, _text(), "fresh.h5")
    assert fresh.reused == []
    a, b = read_results(workdir / "out.h5"), read_results(workdir / "fresh.h5")
    for key in ("noisy", "blurred", "error"):
        assert np.array_equal(a[key], b[key]), key
    assert not stores.exists() and not work.exists()


def test_direct_chunk_files_are_plain_zarr(tmp_path: Path) -> None:
    """Slices written and read as plain chunk files agree with zarr itself both ways;
    a chunk never written reads as the fill value, a truncated one is an error."""
    import zarr

    vol = np.random.default_rng(4).random((6, 5, 4)).astype(">f8")  # big-endian input
    with create_volume(tmp_path / "d.zarr", vol.shape, np.float64) as w:
        assert w.region()._handles()[1] is not None  # the direct path is taken
        w.write(0, vol[:4])  # slices 4 and 5 never written
    assert np.array_equal(zarr.open_array(str(tmp_path / "d.zarr"), mode="r")[:4], vol[:4])
    with open_volume(tmp_path / "d.zarr") as r:
        got = r.read()
    assert got.dtype == np.float64 and np.array_equal(got[:4], vol[:4])
    assert not got[4:].any()
    z = zarr.open_array(str(tmp_path / "d.zarr"), mode="r+")
    z[5] = vol[5]  # written by zarr, read as a plain file
    with open_volume(tmp_path / "d.zarr") as r:
        assert np.array_equal(r.read(5), vol[5])
    chunk = tmp_path / "d.zarr" / "c" / "2" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:10])
    with open_volume(tmp_path / "d.zarr") as r, pytest.raises(InvalidInputError, match="truncated"):
        r.read(2)
    with create_volume(tmp_path / "c.zarr", vol.shape, np.float64, codec="blosc-lz4") as w:
        assert w.region()._handles()[1] is None  # compressed: through zarr
        w.write(0, vol)
    assert np.array_equal(read_array(tmp_path / "c.zarr"), vol)


def test_a_fresh_run_removes_the_stores_of_an_earlier_failed_one(workdir: Path) -> None:
    def stop_at(step: str) -> Any:
        def progress(step_id: str, total: int) -> Any:
            if step_id == step:
                raise RuntimeError("stopped")
            return lambda n: None
        return progress

    stores = workdir / ".out.h5.partial.d-zarr"
    with pytest.raises(RuntimeError):
        _run(workdir, _text(), progress=stop_at("error"))
    assert sorted(os.listdir(stores)) == ["blurred.zarr", "noisy.zarr"]
    with pytest.raises(RuntimeError):  # not --resume: the old checkpoints are dropped
        _run(workdir, _text(), progress=stop_at("noisy"))
    assert not stores.exists() or os.listdir(stores) == []


def test_contiguous_hdf5_regions_are_written_by_the_tasks_and_read_by_h5py(
        tmp_path: Path) -> None:
    """Worker-written HDF5: slices land by file offset (any order, any dtype kind that
    HDF5 stores as raw bytes), h5py reads them back; a block that does not fit is an
    error; the file is allocated, not filled (sparse until written)."""
    import pickle

    from tomokit.io._contiguous import create_contiguous

    vol = np.random.default_rng(1).random((7, 5, 3)).astype(">f4")  # big-endian input
    mask = vol > 0.5
    regions = create_contiguous(tmp_path / "c.h5", {"value/a": (vol.shape, vol.dtype),
                                                     "value/m": (mask.shape, bool)},
                                {"hash": "x"})
    a = pickle.loads(pickle.dumps(regions["value/a"]))  # as a worker process gets it
    a.write(4, vol[4:])
    a.write(0, vol[:4])
    regions["value/m"].write(0, mask)
    with h5py.File(tmp_path / "c.h5") as f:
        assert f.attrs["hash"] == "x" and f["value/a"].dtype == np.float32
        assert np.array_equal(f["value/a"][:], vol) and np.array_equal(f["value/m"][:], mask)
    with pytest.raises(InvalidInputError, match="does not fit"):
        a.write(6, vol[:2])


OUTPUTS_ONLY = PIPELINE.replace("steps:", "outputs: [blurred, error]\nsteps:")


def test_auto_checkpoints_outputs_in_hdf5_written_by_tasks_and_renamed_into_the_results(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto``: the intermediate volume goes to Zarr, the wanted one to a contiguous HDF5
    file that the tasks write and the results file takes by rename (no copy)."""
    from tomokit.io import _contiguous
    from tomokit.pipeline import _streaming

    # big enough (>= 1 MiB) for the results file to be the renamed checkpoint
    vol = np.random.default_rng(0).random((10, 128, 256)).astype(np.float32)
    write_array(workdir / "vol.h5", vol, dataset="/exchange/data", overwrite=True)
    ref = read_results(_run_fresh(workdir, "zarr"))
    written: list[int] = []
    original = _contiguous.ContiguousRegion.write
    monkeypatch.setattr(_contiguous.ContiguousRegion, "write",
                        lambda self, s, d: (written.append(len(d)), original(self, s, d))[1])
    copied: list[str] = []
    monkeypatch.setattr(_streaming, "copy_store_value",
                        lambda *a, **k: copied.append(a[2]))
    text = OUTPUTS_ONLY.replace("FORMAT", "auto").replace("BLOCK", "3")
    stores: list[str] = []
    real_commit = _streaming._VolumeSink.commit

    def commit(self: Any) -> None:
        stores.append(f"{self.path.stem}:{self.fmt}")
        real_commit(self)

    monkeypatch.setattr(_streaming._VolumeSink, "commit", commit)
    _run(workdir, text, "auto.h5")
    assert stores == ["noisy:zarr", "blurred:hdf5"]
    assert sum(written) == 10 and copied == []
    got = read_results(workdir / "auto.h5")
    assert np.array_equal(got["blurred"], ref["blurred"])
    assert np.array_equal(got["error"], ref["error"])


def _run_fresh(workdir: Path, fmt: str) -> Path:
    _run(workdir, OUTPUTS_ONLY.replace("FORMAT", fmt).replace("BLOCK", "3"), f"{fmt}.h5")
    return workdir / f"{fmt}.h5"
