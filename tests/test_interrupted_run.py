"""A run killed with SIGKILL leaves no results file that looks complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import tomokit
    from tomokit.pipeline import parse_pipeline, run_pipeline

    class Slow(tomokit.Task):
        name = "slow"
        input_names = ("image",)
        def run(self, inputs, *, rng):
            time.sleep(60)
            return {"image": np.asarray(inputs["image"])}

    tomokit.get_registry().register(Slow)
    text = '''
    inputs: {img: img.npy}
    steps:
      - {id: noisy, distortion: noise, params: {level: 1}, inputs: [img]}
      - {id: slow, task: slow, inputs: {image: noisy}}
    '''
    pipeline = parse_pipeline(text, file="p.yaml", base_dir=sys.argv[1])
    run_pipeline(pipeline, sys.argv[1] + "/out.h5",
                 on_step=lambda r: print("done", r.id, flush=True))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_leaves_no_complete_looking_file(tmp_path: Path):
    np.save(tmp_path / "img.npy", np.random.default_rng(0).random((16, 16)).astype(np.float32))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first step has finished; the slow one runs
        assert line.startswith("done noisy"), line
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    names = sorted(os.listdir(tmp_path))
    assert "out.h5" not in names
    # the hidden lock file may stay: an OS lock dies with its process, so it is not stale
    partial = [n for n in names if n not in ("img.npy", ".out.h5.lock")]
    assert all(n.startswith(".out.h5.partial") for n in partial), names
