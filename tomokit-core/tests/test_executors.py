"""Executors: ordered parallel map, bounded-memory streaming, identical results."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.fft
import tifffile

from tomokit import Distortion, InvalidInputError
from tomokit.executors import ExecutorConfig, get_executor
from tomokit.io import create_volume, open_scan, open_volume, read_array, write_array


def ramp(s: np.ndarray) -> np.ndarray:
    """A per-slice CPU step: ramp filtering along rows, as filtered back-projection does."""
    freq = np.abs(np.fft.rfftfreq(s.shape[-1])).astype(np.float32)
    return scipy.fft.irfft(scipy.fft.rfft(s, axis=-1) * freq, n=s.shape[-1], axis=-1).astype(
        np.float32
    )


@pytest.fixture
def volume(tmp_path: Path) -> tuple[Path, np.ndarray]:
    a = np.random.default_rng(0).random((23, 16, 32)).astype(np.float32)
    return write_array(tmp_path / "v.h5", a, dataset="/exchange/data"), a


def test_config_defaults_and_validation() -> None:
    cfg = ExecutorConfig()
    assert cfg.kind == "local" and cfg.workers is None and cfg.block_memory == 1 << 30
    assert ExecutorConfig(block_memory="512MiB").block_memory == 512 * 2**20
    # two blocks of input and output of 16 MiB slices (2048 x 2048 float32) in 1 GiB
    assert cfg.slices_per_block(16 * 2**20) == 16
    assert ExecutorConfig(block_slices=5).slices_per_block(16 * 2**20) == 5
    with pytest.raises(InvalidInputError, match=r"address.*kind: dask"):
        get_executor(address="tcp://127.0.0.1:8786")
    with pytest.raises(InvalidInputError, match=r"executor: workers: Input should be greater"):
        get_executor(workers=0)
    with pytest.raises(InvalidInputError, match=r"executor: threads: Extra inputs"):
        get_executor({"threads": 2})
    with pytest.raises(InvalidInputError, match=r"executor: kind"):
        get_executor(kind="spark")


def test_accepts_the_pipeline_executor_section() -> None:
    from tomokit.pipeline import parse_pipeline

    text = (
        "executor: {workers: 3, block_slices: 4, block_memory: 64MiB}\n"
        "steps:\n  - {id: d, phantom: shepp_logan, params: {size: 16}}\n"
    )
    section = parse_pipeline(text).model.executor
    ex = get_executor(section)
    assert ex.kind == "local" and ex.workers == 3 and ex.config.block_slices == 4
    assert int(ex.config.block_memory) == 64 * 2**20


def test_local_map_is_ordered_and_parallel() -> None:
    barrier = threading.Barrier(2, timeout=10)

    def meet(x: int) -> int:
        barrier.wait()  # only returns when two calls run at the same time
        return x * x

    with get_executor(workers=2) as ex:
        assert ex.map(meet, range(8)) == [x * x for x in range(8)]
        assert ex.map(meet, []) == []


def test_errors_propagate(volume: tuple[Path, np.ndarray]) -> None:
    def fail(s: Any) -> Any:
        raise ValueError("bad slice")

    with get_executor(workers=2) as ex, open_volume(volume[0]) as r:
        with pytest.raises(ValueError, match="bad slice"):
            ex.map(fail, [1, 2, 3])
        with pytest.raises(ValueError, match="bad slice"):
            ex.map_blocks(fail, r, block_slices=4)


def test_map_blocks_identical_for_every_block_size_and_worker_count(
    volume: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, a = volume
    expected = np.stack([ramp(s) for s in a])
    with open_volume(path) as r:
        for workers in (1, 2, 3):
            with get_executor(workers=workers) as ex:
                assert np.array_equal(np.stack(ex.map(ramp, list(a))), expected)
                for block in (1, 4, 7, 23, 100):
                    out = ex.map_blocks(ramp, r, block_slices=block)
                    assert np.array_equal(np.stack(out), expected), (workers, block)
        with get_executor(workers=2) as ex:
            part = ex.map_blocks(ramp, r, block_slices=3, start=5, stop=12)
            assert np.array_equal(np.stack(part), expected[5:12])
            target = tmp_path / "out.tif"
            with create_volume(target, r.shape, np.float32) as w:
                assert ex.map_blocks(ramp, r, sink=w, block_slices=5) is None
    assert np.array_equal(read_array(target), expected)


def test_map_blocks_keeps_at_most_two_blocks_in_flight(volume: tuple[Path, np.ndarray]) -> None:
    path, _ = volume
    state = {"read": 0, "stored": 0, "peak": 0}
    lock = threading.Lock()
    with open_volume(path) as r:
        real = r._read_range

        def counting(start: int, stop: int) -> np.ndarray:
            with lock:
                state["read"] += stop - start
                state["peak"] = max(state["peak"], state["read"] - state["stored"])
            return real(start, stop)

        r._read_range = counting  # type: ignore[method-assign]
        seen: list[int] = []

        def sink(start: int, results: list[np.ndarray]) -> None:
            seen.append(start)
            state["stored"] += len(results)

        done: list[int] = []
        with get_executor(workers=3) as ex:
            ex.map_blocks(ramp, r, block_slices=4, sink=sink, progress=done.append)
    assert seen == list(range(0, 23, 4))  # blocks stored in order
    assert sum(done) == 23
    assert state["peak"] <= 2 * 4


def test_block_size_from_memory_budget(volume: tuple[Path, np.ndarray]) -> None:
    path, _ = volume
    with open_volume(path) as r:
        ex = get_executor(block_memory=r.slice_nbytes * 4 * 3)
        assert ex.block_slices(r) == 3
        # with Dask a block's results exist twice (on the worker and here): smaller blocks
        dask = get_executor(kind="dask", block_memory=r.slice_nbytes * 6 * 3)
        assert dask.block_slices(r) == 3


class _Noise(Distortion):
    """A per-slice distortion for checking that components map through executors."""

    summary: ClassVar[str] = "test noise"

    def apply(self, image: np.ndarray, level: int | None = None,
              rng: np.random.Generator | int | None = None) -> np.ndarray:
        g = np.random.default_rng(rng)
        return image + g.normal(0, 0.1, image.shape).astype(image.dtype)


def test_component_run_step_through_the_executor(volume: tuple[Path, np.ndarray]) -> None:
    _, a = volume
    comp = _Noise()
    serial = comp.run_step({"image": a}, rng=np.random.default_rng(5))
    with get_executor(workers=2) as ex:
        threaded = comp.run_step({"image": a}, rng=np.random.default_rng(5), mapper=ex.map)
    assert np.array_equal(serial, threaded)


def test_dask_is_not_imported_unless_used() -> None:
    code = (
        "import sys, tomokit, tomokit.executors, tomokit.io\n"
        "from tomokit.executors import get_executor\n"
        "with get_executor(workers=2) as ex: ex.map(abs, [-1])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_local_and_dask_give_identical_results(tmp_path: Path) -> None:
    """The same per-slice step on a LocalCluster of two worker processes and on threads,
    over an HDF5 volume, a TIFF folder and a DXchange scan streamed as sinograms."""
    pytest.importorskip("distributed")
    import h5py

    rng = np.random.default_rng(3)
    a = rng.random((13, 12, 20)).astype(np.float32)
    h5 = write_array(tmp_path / "v.h5", a)
    folder = tmp_path / "stack"
    folder.mkdir()
    for i, s in enumerate(a):
        tifffile.imwrite(folder / f"{i}.tif", s)
    scan = tmp_path / "scan.h5"
    with h5py.File(scan, "w") as f:
        f["/exchange/data"] = rng.uniform(100, 900, (16, 6, 20)).astype(np.float32)
        f["/exchange/data_white"] = rng.uniform(950, 1000, (3, 6, 20)).astype(np.float32)
        f["/exchange/data_dark"] = rng.uniform(0, 50, (2, 6, 20)).astype(np.float32)
        f["/exchange/theta"] = np.linspace(0, 180, 16, endpoint=False)

    def run(cfg: dict[str, Any]) -> list[np.ndarray]:
        outs = []
        with get_executor(cfg) as ex:
            outs.append(np.stack(ex.map(ramp, list(a))))
            for opener in (lambda: open_volume(h5), lambda: open_volume(folder),
                           lambda: open_scan(scan)):
                with opener() as r:
                    for block in (2, 5):
                        outs.append(np.stack(ex.map_blocks(ramp, r, block_slices=block)))
        return outs

    local = run({"kind": "local", "workers": 2})
    dask = run({"kind": "dask", "workers": 2})
    assert len(local) == len(dask) == 7
    for x, y in zip(local, dask, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert np.array_equal(local[0], local[1])


def test_dask_with_an_existing_scheduler_address(volume: tuple[Path, np.ndarray]) -> None:
    distributed = pytest.importorskip("distributed")
    path, a = volume
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        with get_executor(kind="dask", address=cluster.scheduler_address) as ex, \
                open_volume(path) as r:
            assert ex.workers == 2
            out = ex.map_blocks(ramp, r, block_slices=6)
        assert np.array_equal(np.stack(out), np.stack([ramp(s) for s in a]))


def test_readers_reopen_from_another_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader opened by a relative path travels (pickled, as to a Dask worker) as its
    absolute path: a process in another folder reopens the same file, not a missing one."""
    import pickle
    import shutil

    data = tmp_path / "client"
    (data / "tiffs").mkdir(parents=True)
    a = np.random.default_rng(1).random((4, 8, 8)).astype(np.float32)
    write_array(data / "v.h5", a)
    write_array(data / "v.tif", a)
    for i, s in enumerate(a):
        tifffile.imwrite(data / "tiffs" / f"s{i}.tif", s)
    scan = Path(__file__).resolve().parents[2] / "examples" / "data" / "scan_dxchange.h5"
    shutil.copy(scan, data / "scan.h5")
    monkeypatch.chdir(data)
    readers = [open_volume(p) for p in ("v.h5", "v.tif", "tiffs")] + [open_scan("scan.h5")]
    recipes = [pickle.dumps(r) for r in readers]
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for reader, recipe in zip(readers, recipes, strict=True):
        assert reader.path.is_absolute() and reader.path.parent == data, reader.path
        with pickle.loads(recipe) as again:
            assert again.path == reader.path
            assert np.array_equal(again.read(slice(None)), reader.read(slice(None)))
        reader.close()
