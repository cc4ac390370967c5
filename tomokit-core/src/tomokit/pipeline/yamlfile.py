"""Safe YAML loading that remembers the line of every key and value.

``load_yaml`` returns plain Python data plus a map from a path of keys/indices (the
same shape as a pydantic error ``loc``) to a 1-based line number, so that every later
validation error can name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tomokit.errors import PipelineError

__all__ = ["LocatedData", "load_yaml"]

Path = tuple[str | int, ...]


@dataclass
class LocatedData:
    """Parsed YAML with line numbers: ``lines[path]`` is the value's line, ``key_lines[path]``
    the line of the key that introduces it (for mappings)."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    key_lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The best line for ``path``: its key, else its value, else the nearest parent."""
        p = tuple(path)
        while True:
            if p in self.key_lines:
                return self.key_lines[p]
            if p in self.lines:
                return self.lines[p]
            if not p:
                return None
            p = p[:-1]


def load_yaml(text: str, file: str) -> LocatedData:
    """Parse ``text`` with the safe loader; syntax errors and duplicate keys name the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}; {problem}"
            if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
                problem += f" (the construct started at line {exc.context_mark.line + 1})"
        raise PipelineError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"invalid YAML: {exc}", file=file) from None
    out = LocatedData(data=None)
    if node is None:
        raise PipelineError("the file is empty; a pipeline needs at least 'steps'", file=file, line=1)
    out.data = _convert(node, (), out, file)
    return out


def _convert(node: yaml.Node, path: Path, out: LocatedData, file: str) -> Any:
    out.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.MappingNode | yaml.SequenceNode):
                raise PipelineError(
                    "a mapping key must be a plain value", file=file, line=key_node.start_mark.line + 1
                )
            key = yaml.SafeLoader(  # construct the scalar key the safe way
                ""
            ).construct_object(key_node, deep=True)
            if key == "<<":
                raise PipelineError(
                    "YAML merge keys ('<<') are not supported in pipeline files",
                    file=file,
                    line=key_node.start_mark.line + 1,
                )
            if key in result:
                raise PipelineError(
                    f"duplicate key {key!r} (first at line {out.key_lines[(*path, key)]})",
                    file=file,
                    line=key_node.start_mark.line + 1,
                )
            child = (*path, key)
            out.key_lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, child, out, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), out, file) for i, item in enumerate(node.value)]
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise PipelineError(
            f"invalid YAML value: {exc.problem}", file=file, line=node.start_mark.line + 1
        ) from None
