"""Issue 16 item 14: hostile YAML gives exit 2 with file:line, fast, in bounded memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tomokit.cli import main
from tomokit.errors import PipelineError
from tomokit.pipeline import load_pipeline

BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps: [*i]
"""


def _load(tmp_path: Path, text: str) -> PipelineError:
    f = tmp_path / "p.yaml"
    f.write_text(text)
    t0 = time.monotonic()
    with pytest.raises(PipelineError) as info:
        load_pipeline(f)
    assert time.monotonic() - t0 < 5
    assert str(info.value).startswith(f"{f}:")
    return info.value


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    err = _load(tmp_path, BOMB)
    assert "alias" in err.bare_message and err.line is not None


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    err = _load(tmp_path, "steps: &s\n  - id: a\n    params: *s\n")
    assert "recursive" in err.bare_message and err.line == 1  # the anchor's line


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_refused(tmp_path: Path, opener: str, closer: str) -> None:
    err = _load(tmp_path, "steps: " + opener * 5000 + "1" + closer * 5000 + "\n")
    assert "nested" in err.bare_message and err.line == 1


def test_block_nesting_is_refused(tmp_path: Path) -> None:
    text = "steps:\n" + "".join(" " * i + "- \n" for i in range(1, 300)) + "\n"
    err = _load(tmp_path, text)
    assert "nested" in err.bare_message


def test_python_tag_on_a_key_is_refused(tmp_path: Path) -> None:
    err = _load(tmp_path, "steps: []\n? !!python/object/apply:os.system [echo hi]\n: 1\n")
    assert "python" in err.bare_message and err.line == 2


def test_huge_integer_is_refused(tmp_path: Path) -> None:
    err = _load(tmp_path, "seed: " + "9" * 5000 + "\nsteps: []\n")
    assert "digits" in err.bare_message and err.line == 1


def test_huge_integer_key_is_refused(tmp_path: Path) -> None:
    err = _load(tmp_path, "steps: []\n? " + "9" * 5000 + "\n: 1\n")
    assert "digits" in err.bare_message and err.line == 2


def test_large_file_is_refused(tmp_path: Path) -> None:
    err = _load(tmp_path, "steps: []\n# " + "x" * (2 * 2**20) + "\n")
    assert "too large" in err.bare_message


def test_validate_dev_zero_is_refused_fast(capsys) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    t0 = time.monotonic()
    assert main(["validate", "/dev/zero"]) == 2
    assert time.monotonic() - t0 < 5
    assert "/dev/zero" in capsys.readouterr().err
