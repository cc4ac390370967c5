"""Exceptions: invalid input (exit status 2) versus failures while running (exit 1)."""

from __future__ import annotations

from typing import Any

__all__ = ["InvalidInputError", "PipelineError", "PluginError", "RunError", "TomokitError",
           "did_you_mean", "validation_message"]


class TomokitError(Exception):
    """Base of every error tomokit raises on purpose."""


class InvalidInputError(TomokitError, ValueError):
    """Bad input: a file, an array, a parameter. The CLI exits with status 2."""


class PluginError(InvalidInputError):
    """An unknown, ambiguous or broken component or plugin."""


class PipelineError(InvalidInputError):
    """A pipeline file that cannot be used.

    ``problems`` lists ``(line, message)`` pairs in file order; the text names the file
    and line of each, one per line.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        line: int | None = None,
        problems: list[tuple[int | None, str]] | None = None,
    ) -> None:
        self.file = file
        self.problems: list[tuple[int | None, str]] = (
            list(problems) if problems else [(line, message or "invalid pipeline")]
        )
        lines = []
        for ln, msg in self.problems:
            where = ""
            if file is not None:
                where = f"{file}:{ln}: " if ln is not None else f"{file}: "
            lines.append(f"{where}{msg}")
        super().__init__("\n".join(lines))

    @property
    def line(self) -> int | None:
        """Line of the first problem."""
        return self.problems[0][0]

    @property
    def bare_message(self) -> str:
        """Message of the first problem, without file and line."""
        return self.problems[0][1]


class RunError(TomokitError, RuntimeError):
    """A failure while running a pipeline step. The CLI exits with status 1."""


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``: the one hint
    that every message about a misspelt name ends with."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def validation_message(err: dict[str, Any]) -> str:
    """The text of one pydantic error, without pydantic's ``"Value error, "`` prefix on
    a validator's own message (which already says what is wrong)."""
    msg = str(err.get("msg", ""))
    if err.get("type") in ("value_error", "assertion_error"):
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg
