"""Exceptions: invalid input (exit status 2) versus failures while running (exit 1)."""

from __future__ import annotations

__all__ = ["InvalidInputError", "PipelineError", "PluginError", "RunError", "TomokitError"]


class TomokitError(Exception):
    """Base of every error tomokit raises on purpose."""


class InvalidInputError(TomokitError, ValueError):
    """Bad input: a file, an array, a parameter. The CLI exits with status 2."""


class PluginError(InvalidInputError):
    """An unknown, ambiguous or broken component or plugin."""


class PipelineError(InvalidInputError):
    """A pipeline file that cannot be used; the message names file, line and key."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")
        self.bare_message = message


class RunError(TomokitError, RuntimeError):
    """A failure while running a pipeline step. The CLI exits with status 1."""
