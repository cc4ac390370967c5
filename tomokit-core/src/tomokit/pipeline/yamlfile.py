"""Safe YAML loading that remembers the line of every key and value.

``load_yaml`` returns plain Python data plus a map from a path of keys/indices (the
same shape as a pydantic error ``loc``) to a 1-based line number, so that every later
validation error can name the file and line.

Hostile files are bounded: the file size (:data:`MAX_BYTES`, read no further, so
``/dev/zero`` fails at once), the nesting depth (:data:`MAX_DEPTH`, checked on the token
stream before the recursive composer runs), the number of values after expanding aliases
(:data:`MAX_NODES`: an alias bomb of a few hundred bytes is refused, not expanded),
recursive aliases, tags on keys and integers with thousands of digits. Each is a
:class:`~tomokit.errors.PipelineError` with the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as _FsPath
from typing import Any

import yaml

from tomokit.errors import PipelineError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "LocatedData", "load_yaml", "read_text"]

Path = tuple[str | int, ...]

#: Largest pipeline file read (a pipeline is a page of text, not data).
MAX_BYTES = 1 * 2**20
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64
#: Most values (scalars, lists, mappings) after expanding aliases.
MAX_NODES = 100_000
#: Most digits of an integer (seeds have 19).
MAX_DIGITS = 100


def read_text(path: str | _FsPath) -> str:
    """The text of a pipeline file, reading at most :data:`MAX_BYTES` (+1 to tell)."""
    p = _FsPath(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PipelineError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    if len(data) > MAX_BYTES:
        raise PipelineError(
            f"file too large for a pipeline (more than {MAX_BYTES // 2**20} MiB)",
            file=str(path),
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PipelineError(f"not a UTF-8 text file ({exc.reason})", file=str(path)) from None


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` from the (iterative) token stream,
    before PyYAML's recursive composer could overflow the stack."""
    starts = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
              yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
    ends = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, starts):
                depth += 1
                if depth > MAX_DEPTH:
                    raise PipelineError(
                        f"values nested more than {MAX_DEPTH} levels deep",
                        file=file, line=token.start_mark.line + 1,
                    )
            elif isinstance(token, ends):
                depth -= 1
    except yaml.YAMLError:
        return  # a syntax error: the composer reports it with its line


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
    if len(text) > MAX_BYTES:
        raise PipelineError(
            f"file too large for a pipeline (more than {MAX_BYTES // 2**20} MiB)", file=file
        )
    _check_depth(text, file)
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
    except RecursionError:
        raise PipelineError(f"values nested too deeply (at most {MAX_DEPTH} levels)",
                            file=file) from None
    out = LocatedData(data=None)
    if node is None:
        raise PipelineError("the file is empty; a pipeline needs at least 'steps'", file=file, line=1)
    out.data = _Converter(out, file).convert(node, ())
    return out


class _Converter:
    """Node graph -> data, counting values (aliases expand) and refusing cycles."""

    def __init__(self, out: LocatedData, file: str) -> None:
        self.out = out
        self.file = file
        self.count = 0
        self.active: set[int] = set()  # ids of the nodes on the current path

    def convert(self, node: yaml.Node, path: Path) -> Any:
        line = node.start_mark.line + 1
        self.count += 1
        if self.count > MAX_NODES:
            raise PipelineError(
                f"more than {MAX_NODES} values after expanding YAML aliases (an alias bomb?); "
                "write the values out or use fewer aliases",
                file=self.file, line=line,
            )
        if len(path) > MAX_DEPTH:
            raise PipelineError(f"values nested more than {MAX_DEPTH} levels deep",
                                file=self.file, line=line)
        if id(node) in self.active:
            raise PipelineError("recursive YAML alias (a value that contains itself)",
                                file=self.file, line=line)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self.active.add(id(node))
            try:
                return _convert(node, path, self.out, self.file, self)
            finally:
                self.active.discard(id(node))
        return _convert(node, path, self.out, self.file, self)


def _scalar(node: yaml.Node, file: str) -> Any:
    """Construct a scalar the safe way; tags, huge integers and bad values name the line."""
    line = node.start_mark.line + 1
    if (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int"
            and sum(c.isdigit() for c in node.value) > MAX_DIGITS):
        raise PipelineError(
            f"integer with {sum(c.isdigit() for c in node.value)} digits (at most "
            f"{MAX_DIGITS})", file=file, line=line,
        )
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise PipelineError(f"invalid YAML value: {exc.problem}", file=file, line=line) from None
    except (ValueError, OverflowError) as exc:
        raise PipelineError(f"invalid YAML value: {exc}", file=file, line=line) from None


def _convert(node: yaml.Node, path: Path, out: LocatedData, file: str,
             conv: _Converter | None = None) -> Any:
    conv = conv if conv is not None else _Converter(out, file)
    out.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not key_node.tag.startswith("tag:yaml.org,2002:") or "python" in key_node.tag:
                raise PipelineError(
                    f"the tag {key_node.tag!r} is not allowed (pipeline files hold plain data)",
                    file=file, line=key_node.start_mark.line + 1,
                )
            if isinstance(key_node, yaml.MappingNode | yaml.SequenceNode):
                raise PipelineError(
                    "a mapping key must be a plain value", file=file, line=key_node.start_mark.line + 1
                )
            key = _scalar(key_node, file)  # the safe way, tags refused with the line
            if type(key) not in (str, int, float, bool, type(None)):
                raise PipelineError(f"a mapping key must be a plain value, not "
                                    f"{type(key).__name__}", file=file,
                                    line=key_node.start_mark.line + 1)
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
            result[key] = conv.convert(value_node, child)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [conv.convert(item, (*path, i)) for i, item in enumerate(node.value)]
    return _scalar(node, file)
