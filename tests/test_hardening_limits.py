"""Issue 16 "Must show": hostile inputs fail fast, with a clear message, under a memory cap.

One subprocess runs every case through the CLI with ``RLIMIT_AS`` capped; each case must
end with its exit status and message within its time bound (the cap would turn an
unbounded expansion or allocation into a crash, a MemoryError or a SIGABRT instead).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

CAP = 3 * 2**30  # address space: enough for numpy, h5py, astra; not for the bad cases

BOMB = "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9 if p else ['x'] * 9)}]\n"
    for p, c in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
) + "steps: [*i]\n"

SCRIPT = textwrap.dedent("""
    import io, json, sys, time, contextlib
    from tomokit.cli import main
    out = {}
    for name, argv in json.loads(sys.argv[1]).items():
        err = io.StringIO()
        t0 = time.monotonic()
        with contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except BaseException as exc:  # what must not happen
                code = f"{type(exc).__name__}: {exc}"
        out[name] = {"code": code, "seconds": time.monotonic() - t0, "err": err.getvalue()}
    print(json.dumps(out))
""")


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    import h5py

    d = tmp_path_factory.mktemp("limits")
    (d / "bomb.yaml").write_text(BOMB)
    (d / "deep.yaml").write_text("steps: " + "[" * 20000 + "]" * 20000 + "\n")
    (d / "digits.yaml").write_text("seed: " + "7" * 5000 + "\nsteps: []\n")
    with h5py.File(d / "sino.h5", "w") as h5:
        h5["sino"] = np.random.default_rng(0).random((90, 64)).astype(np.float32)
    inputs = "inputs: {sino: {path: sino.h5, dataset: /sino, angles: uniform-180}}\n"
    (d / "big_recon.yaml").write_text(
        inputs + "steps:\n  - id: rec\n    reconstructor: sirt\n"
        "    params: {size: 16384, iterations: 1}\n    inputs: [sino]\n")
    (d / "iterations.yaml").write_text(
        inputs + "steps:\n  - id: rec\n    reconstructor: sart\n"
        "    params: {iterations: 100000000}\n    inputs: [sino]\n")
    (d / "phantoms.yaml").write_text(
        "steps:\n  - id: ph\n    phantom: shepp_logan\n    params: {size: 4096, count: 1000}\n")
    (d / "workers.yaml").write_text(
        "executor: {kind: local, workers: 1000000}\nsteps:\n  - id: ph\n"
        "    phantom: shepp_logan\n")
    two = "".join(f"  - id: ph{k}\n    phantom: shepp_logan\n"
                  "    params: {size: 2048, count: 128}\n" for k in range(2))
    (d / "two_phantoms.yaml").write_text("steps:\n" + two)  # each fits alone, not both
    cases = {
        "bomb": ["validate", str(d / "bomb.yaml")],
        "dev_zero": ["validate", "/dev/zero"],
        "deep": ["validate", str(d / "deep.yaml")],
        "digits": ["validate", str(d / "digits.yaml")],
        "big_recon": ["run", "-q", str(d / "big_recon.yaml"), "-o", str(d / "r1.h5")],
        "iterations": ["validate", str(d / "iterations.yaml")],
        "phantoms": ["run", "-q", str(d / "phantoms.yaml"), "-o", str(d / "r2.h5")],
        "workers": ["validate", str(d / "workers.yaml")],
        "two_phantoms": ["run", "-q", str(d / "two_phantoms.yaml"), "-o", str(d / "r3.h5")],
    }
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(cases)], cwd=d,
                          capture_output=True, text=True, timeout=120, preexec_fn=_cap)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case,code,message,seconds", [
    ("bomb", 2, "alias bomb", 5),
    ("dev_zero", 2, "file too large", 5),
    ("deep", 2, "nested more than", 5),
    ("digits", 2, "5000 digits", 5),
    ("big_recon", 2, "this run needs about 4.0 GiB of memory (step 'rec' "
                     "(reconstructor sirt): 4.0 GiB; streaming blocks", 10),
    ("iterations", 2, "less than or equal to 10000", 5),
    ("phantoms", 2, "count x size^2", 5),
    ("workers", 2, "less than or equal to 1024", 5),
    ("two_phantoms", 2, "this run needs about 5.2 GiB of memory (step 'ph0' (phantom "
                        "shepp_logan): 2.6 GiB; step 'ph1'", 5),
])
def test_bounded_case_fails_fast_with_a_clear_message(results, case, code, message,
                                                      seconds) -> None:
    r = results[case]
    assert r["code"] == code, r
    assert message in r["err"], r["err"]
    assert r["seconds"] < seconds, r
