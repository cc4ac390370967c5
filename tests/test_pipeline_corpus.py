"""Every invalid pipeline in tests/pipelines/invalid gives its exact message and line.

Each file ends with ``# expect-line: N`` and ``# expect: MESSAGE`` (the first problem).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tomokit.errors import PipelineError
from tomokit.pipeline import load_pipeline

HERE = Path(__file__).parent / "pipelines"
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
VALID = sorted((HERE / "valid").glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(INVALID) >= 25


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_pipeline_message_and_line(path: Path):
    text = path.read_text()
    line = int(re.search(r"^# expect-line: (\d+)$", text, re.M).group(1))
    message = re.search(r"^# expect: (.*)$", text, re.M).group(1)
    with pytest.raises(PipelineError) as info:
        load_pipeline(path)
    assert info.value.bare_message == message
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_pipelines_load(path: Path):
    pipeline = load_pipeline(path)
    assert pipeline.steps
