"""References between steps: ``step``, ``step.output``, sweep candidates ``step[label]``
and ``step[*]``, and turning a referenced value into what a component receives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tomokit.errors import RunError

__all__ = [
    "ALL",
    "candidate_label",
    "format_label",
    "resolve_ref",
    "split_candidate",
    "split_ref",
]

#: The candidate part of a reference that means "every candidate of a sweep".
ALL = "*"


def split_ref(ref: str) -> tuple[str, str]:
    """``'a[w=0.1].labels'`` -> ``('a[w=0.1]', 'labels')``: the step and the output key
    (``''`` for the step's single or default output). Dots inside brackets are kept."""
    depth = 0
    for i, ch in enumerate(ref):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "." and depth == 0:
            return ref[:i], ref[i + 1 :]
    return ref, ""


def split_candidate(base: str) -> tuple[str, str | None]:
    """``'denoise[median:size=3]'`` -> ``('denoise', 'median:size=3')``; no brackets ->
    ``(base, None)``."""
    if base.endswith("]") and "[" in base:
        group, _, rest = base.partition("[")
        return group, rest[:-1]
    return base, None


def candidate_label(ref: str) -> str:
    """The label under which a collection input holds ``ref``: the candidate part of a
    sweep reference (so candidates and their scores match), else the reference itself."""
    _, label = split_candidate(split_ref(ref)[0])
    return label if label is not None else ref


def format_label(entries: Mapping[str, Any], prefix: str = "") -> str:
    """``{'weight': 0.1}`` -> ``'weight=0.1'``; with ``prefix`` ``'tv_denoise:weight=0.1'``."""
    parts = [f"{k}={_fmt(v)}" for k, v in entries.items()]
    body = ",".join(parts)
    if prefix:
        return f"{prefix}:{body}" if body else prefix
    return body


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace("/", "|").replace("[", "(").replace("]", ")")


def resolve_ref(ref: str, values: Mapping[str, Any], default_output: str | None = None) -> Any:
    """The value ``ref`` names in ``values`` (step id -> value). A bare reference to a
    step with several outputs means its ``default_output`` (or ``image``)."""
    base, key = split_ref(ref)
    value = values[base]
    if isinstance(value, Mapping):
        if not key:
            for name in (default_output, "image"):
                if name and name in value:
                    return value[name]
            raise RunError(
                f"{base!r} has several outputs ({', '.join(value)}); refer to one as '{base}.KEY'"
            )
        if key not in value:
            raise RunError(f"{base!r} has no output {key!r}; it has {', '.join(value)}")
        return value[key]
    if key:
        raise RunError(f"{base!r} has a single output; refer to it as {base!r}, not {ref!r}")
    return value
