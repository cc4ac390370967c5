"""The examples in the README and docs/ work: Python blocks run, pipeline blocks validate.

A Python block whose first line is ``# doc: skip`` is not run (used only for blocks
that need a long run time or a GPU; they say so).
"""

from __future__ import annotations

import os
import re
import runpy
from pathlib import Path

import pytest

from tomokit.pipeline import parse_pipeline

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(lang: str) -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.S | re.M):
            line = text[: m.start()].count("\n") + 1
            found.append((page.relative_to(ROOT).as_posix(), line, m.group(1)))
    return found


PYTHON = [b for b in _blocks("python") if not b[2].startswith("# doc: skip")]
PIPELINES = [b for b in _blocks("yaml") if re.search(r"^steps:", b[2], re.M)]


@pytest.mark.parametrize("page,line,code", PYTHON, ids=[f"{p}:{n}" for p, n, _ in PYTHON])
def test_python_block_runs(page: str, line: int, code: str, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = tmp_path / "block.py"
    script.write_text(code)
    runpy.run_path(str(script), run_name="__main__")


@pytest.mark.parametrize("page,line,text", PIPELINES, ids=[f"{p}:{n}" for p, n, _ in PIPELINES])
def test_pipeline_block_validates(page: str, line: int, text: str):
    parse_pipeline(text, file=f"{page}:{line}", base_dir=ROOT / "examples")


def test_readme_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    lines = {ln.strip() for b in blocks for ln in b.splitlines() if ln.strip()}
    test_line = next(ln for ln in lines if ln.endswith("python -m pytest"))
    assert test_line in {ln.strip() for ln in ci.splitlines()}
    install = "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && "
    assert test_line.startswith(install)
    demo_line = next(ln for ln in lines if ln.startswith(install) and "examples/demo.yaml" in ln)
    assert demo_line.endswith("tomokit run examples/demo.yaml -o results/demo.h5")
    assert os.path.exists(ROOT / "examples" / "demo.yaml")


@pytest.mark.parametrize("command", ["choose", "segment"])
def test_readme_command_with_a_shipped_model_runs(command: str, tmp_path) -> None:
    """The README's `tomokit choose` and `tomokit segment` lines, as written (outputs under
    a temporary folder instead of results/), with the shipped models."""
    import shlex

    from tomokit.cli import main

    readme = (ROOT / "README.md").read_text()
    line = next(ln.strip() for b in re.findall(r"```bash\n(.*?)```", readme, re.S)
                for ln in b.splitlines() if ln.strip().startswith(f".venv/bin/tomokit {command} "))
    argv = [a.replace("examples/", f"{ROOT}/examples/", 1).replace("results/", f"{tmp_path}/", 1)
            for a in shlex.split(line.split("#")[0])[1:]]
    assert main([*argv, "-q"] if command == "choose" else argv) == 0
    out = argv[argv.index("-o") + 1]
    assert os.path.getsize(out) > 0
    if command == "choose":
        assert os.path.getsize(argv[argv.index("--report") + 1]) > 0
    else:
        assert os.listdir(argv[argv.index("--png") + 1])
