"""A real distributed run: ``dask scheduler`` and two ``dask worker`` processes started
from dask's own command line, in another folder than the client, as on a cluster.

A ``LocalCluster`` hides problems a cluster has: its workers inherit the client's
working folder and ``sys.path``. Here the client runs an example pipeline from its own
folder with relative input paths, through ``executor: {kind: dask, address: ...}``,
and the results must equal the local executor's bit for bit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from tomokit.executors import get_executor
from tomokit.pipeline import load_pipeline, read_results, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "scan_reconstruct.yaml"
#: Seconds the scheduler and workers get to start (a loaded CI machine is slow).
START_TIMEOUT = 60.0


def _dask_cli() -> str | None:
    """The ``dask`` command of this interpreter's environment (else one on PATH)."""
    here = Path(sys.executable).with_name("dask")
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("dask")


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc`` and whatever it started (its own session): TERM, then KILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def dask_processes(folder: Path, n_workers: int = 2) -> Iterator[str]:
    """Start a scheduler on 127.0.0.1 (a free port the OS picks) and ``n_workers``
    single-threaded workers, all with ``folder`` as working directory; yield the
    scheduler's address once every worker has registered. The processes are always
    ended; should this process die first, the scheduler's idle timeout and the workers'
    death timeout end them."""
    distributed = pytest.importorskip("distributed", reason="needs tomokit-core[dask]")
    cli = _dask_cli()
    if cli is None:
        pytest.skip("the 'dask' command line is not installed (pip install 'tomokit-core[dask]')")
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a fresh login

    def start(name: str, *args: str) -> None:
        log = folder / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([cli, *args], cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        procs.append((proc, log))

    def logs() -> str:
        return "\n".join(f"--- {log.name} (exit {p.poll()}):\n{_tail(log)}" for p, log in procs)

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
              "--scheduler-file", str(scheduler_file), "--idle-timeout", "300")
        deadline = time.monotonic() + START_TIMEOUT
        address = None
        while address is None:
            with contextlib.suppress(OSError, ValueError, KeyError):
                address = json.loads(scheduler_file.read_text())["address"]
            if address is None:
                if procs[0][0].poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the dask scheduler did not start\n{logs()}")
                time.sleep(0.1)
        for i in range(n_workers):
            start(f"worker{i}", "worker", address, "--name", f"worker{i}", "--nthreads", "1",
                  "--no-nanny", "--no-dashboard", "--death-timeout", "60",
                  "--local-directory", str(folder / f"worker{i}"))
        with distributed.Client(address, timeout=f"{START_TIMEOUT}s") as client:
            try:
                client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
            except (TimeoutError, OSError) as exc:
                pytest.fail(f"{n_workers} dask workers did not register ({exc})\n{logs()}")
        yield address
    finally:
        for proc, _ in reversed(procs):
            _stop(proc)


def test_example_on_scheduler_and_workers_started_elsewhere(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    import distributed

    def opened_on_worker() -> list[str]:
        """The files a worker's tasks opened (the executor's reader cache); local, so
        that it travels by value: workers cannot import this test module."""
        from tomokit.executors import _base

        return sorted({str(r.path) for r in _base._READERS.values()})

    # the client's folder: the example pipeline and its scan, paths relative to it
    client_dir = tmp_path / "client"
    (client_dir / "data").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "data" / "scan_dxchange.h5", client_dir / "data")
    spec = yaml.safe_load(EXAMPLE.read_text())
    monkeypatch.chdir(client_dir)

    with dask_processes(tmp_path / "cluster") as address:
        spec["executor"] = {"kind": "dask", "address": address, "block_slices": 2}
        Path("scan_reconstruct.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        pipeline = load_pipeline(Path("scan_reconstruct.yaml"))  # relative, as users type it
        # the scan as the client names it: relative to its folder, not the workers'
        assert not (pipeline.base_dir / pipeline.inputs["scan"].path).is_absolute()

        on_cluster = run_pipeline(pipeline, Path("on_cluster.h5"))  # the file's executor
        assert on_cluster.executor.startswith(f"dask at {address}"), on_cluster.executor
        with distributed.Client(address, timeout="30s") as client:
            opened = client.run(opened_on_worker)
        assert len(opened) == 2
        # the workers read the scan themselves, by its absolute path
        assert set().union(*opened.values()) == {str(client_dir / "data" / "scan_dxchange.h5")}

    with get_executor(kind="local", workers=2, block_slices=2) as local:
        here = run_pipeline(pipeline, Path("local.h5"), executor=local)
    assert here.executor.startswith("local"), here.executor

    got, want = read_results(on_cluster.output), read_results(here.output)
    assert set(got) == set(want) == {"fbp", "sirt"}
    for name in want:
        a, b = np.asarray(got[name]), np.asarray(want[name])
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), f"{name}: the cluster's result differs from local"
