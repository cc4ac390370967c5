"""The examples in the README and docs/ work: Python blocks run, pipeline blocks validate.

A Python block whose first line is ``# doc: skip`` is not run (used only for blocks
that need a long run time or a GPU; they say so).
"""

from __future__ import annotations

import os
import re
import runpy
from pathlib import Path

import numpy as np
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
    demo_line = next(ln for ln in lines if ln.startswith(install) and "tomokit run" in ln)
    assert demo_line == install + DEMO


DEMO = (".venv/bin/tomokit run examples/quickstart.yaml -o results/quickstart.h5 "
        "--report results/quickstart.html")


def test_readme_demo_runs_the_quality_guided_choice(tmp_path) -> None:
    """The README's main job, as written (outputs under a temporary folder): the shipped
    TIQA chooses among the candidates on the damaged slice, the choice beats no
    pre-processing by SSIM against the clean slice, D-LinkNet segments it, and the
    report shows the ranking with its thumbnails."""
    import shlex

    from tomokit.cli import main
    from tomokit.pipeline import read_results

    argv = [a.replace("examples/", f"{ROOT}/examples/", 1).replace("results/", f"{tmp_path}/", 1)
            for a in shlex.split(DEMO)[1:]]
    assert main([*argv, "-q"]) == 0
    results = read_results(tmp_path / "quickstart.h5")
    best = results["ranking"]["name"]
    ssim = {row["candidate"].decode(): float(row["score"])
            for row in results["oracle"]["ranking"]}
    assert best in ssim and best != "chain=none"
    assert ssim[best] > ssim["chain=none"] + 0.01
    assert set(np.unique(results["segmented"]["labels"])) == {0, 1}
    page = (tmp_path / "quickstart.html").read_text()
    assert page.count("<img") >= 14 + 3 and "ranking" in page


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
