"""The memory estimate a run checks before it starts (issue 16, item 13)."""

from __future__ import annotations

import pytest

from tomokit.errors import InvalidInputError
from tomokit.pipeline import _memory, parse_pipeline

TEXT = """
executor: {kind: dask, workers: 8}
steps:
  - {id: ph, phantom: shepp_logan, params: {size: 256, count: 10}}
  - {id: blurred, distortion: blur, params: {level: 1}, inputs: [ph]}
"""


def test_estimate_adds_params_and_workers_and_refuses_what_cannot_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = parse_pipeline(TEXT)
    parts = dict(_memory.run_memory_estimate(pipeline))
    assert parts == {
        "8 Dask worker processes": 8 * _memory.DASK_WORKER_BYTES,
        "step 'ph' (phantom shepp_logan)": 10 * 256 * 256 * 5 + 4 * 256 * 256 * 8,
    }  # a blur says nothing before it sees data; no input file: no streaming blocks
    monkeypatch.setattr(_memory, "available_memory", lambda: 2**40)
    _memory.check_run_memory(pipeline)  # fits
    monkeypatch.setattr(_memory, "available_memory", lambda: 2**30)
    with pytest.raises(InvalidInputError, match=r"needs about 2\.0 GiB of memory \(8 Dask "
                       r"worker processes: 2\.0 GiB; step 'ph' .*only 1\.0 GiB is available"):
        _memory.check_run_memory(pipeline)
    monkeypatch.setattr(_memory, "available_memory", lambda: None)  # unknown: no refusal
    _memory.check_run_memory(pipeline)
