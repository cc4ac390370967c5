"""Developer sessions: tests, lint, typecheck, docs, demo, bench.

Run ``nox -s tests`` (or ``nox -l`` to list). Each session installs the repository's
packages editable from ``requirements-dev.txt`` into its own virtualenv.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True

REQUIREMENTS = "requirements-dev.txt"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (all packages and the cross-package tests)."""
    session.install("-r", REQUIREMENTS)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on every package's sources (configured in pyproject.toml)."""
    session.install("-r", REQUIREMENTS)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    session.install("-r", REQUIREMENTS)
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def demo(session: nox.Session) -> None:
    """Run the quick-start demo pipeline on the bundled battery slice."""
    session.install("-r", REQUIREMENTS)
    session.run("tomokit", "run", "examples/demo.yaml", "-o", "results/demo.h5")


@nox.session
def bench(session: nox.Session) -> None:
    """Run a benchmark script: ``nox -s bench -- benchmarks/NAME.py [args]``."""
    session.install("-r", REQUIREMENTS, "-r", "benchmarks/requirements.txt")
    if not session.posargs:
        session.error("name a script: nox -s bench -- benchmarks/plugins_list_time.py")
    session.run("python", *session.posargs)
