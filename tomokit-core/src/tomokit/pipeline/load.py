"""Read a pipeline file and check it completely before anything runs.

Structure is checked by the pydantic models, meaning by this module: components exist,
their params validate against their own ``Params``, inputs refer to pipeline inputs or
earlier steps, files exist. Every problem names the file, the line and the key, and
suggests the close match for a misspelt key or name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tomokit.components import KINDS, Component, Params
from tomokit.errors import PipelineError, PluginError
from tomokit.pipeline.model import InputSpec, PipelineModel, StepModel
from tomokit.pipeline.yamlfile import LocatedData, load_yaml
from tomokit.registry import Registry, get_registry

__all__ = ["LoadedPipeline", "ResolvedStep", "load_pipeline", "parse_pipeline"]

Loc = tuple[str | int, ...]


@dataclass
class ResolvedStep:
    """A step whose component class, params and inputs are known and valid."""

    index: int
    id: str
    kind: str
    name: str
    cls: type[Component]
    params: Params
    inputs: dict[str, str]
    seed: int | None
    line: int | None


@dataclass
class LoadedPipeline:
    """A validated pipeline: the model, its steps resolved, and where it came from."""

    model: PipelineModel
    steps: list[ResolvedStep]
    inputs: dict[str, InputSpec]
    text: str
    file: str
    base_dir: Path
    located: LocatedData = field(repr=False)

    @property
    def outputs(self) -> list[str]:
        return self.model.outputs if self.model.outputs is not None else [s.id for s in self.steps]


def load_pipeline(path: str | Path, *, registry: Registry | None = None) -> LoadedPipeline:
    """Read and validate the pipeline file at ``path``."""
    p = Path(path)
    if not p.exists():
        raise PipelineError("pipeline file not found", file=str(path))
    if p.is_dir():
        raise PipelineError("is a directory, not a pipeline file", file=str(path))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PipelineError(f"not a UTF-8 text file ({exc.reason})", file=str(path)) from None
    return parse_pipeline(text, file=str(path), base_dir=p.parent, registry=registry)


def parse_pipeline(
    text: str,
    *,
    file: str = "<pipeline>",
    base_dir: str | Path = ".",
    registry: Registry | None = None,
) -> LoadedPipeline:
    """Validate pipeline ``text``; ``file`` is used in messages, ``base_dir`` for paths."""
    located = load_yaml(text, file)
    if not isinstance(located.data, dict):
        raise PipelineError(
            "a pipeline file must be a mapping with at least 'steps'", file=file, line=1
        )
    try:
        model = PipelineModel.model_validate(located.data)
    except ValidationError as exc:
        raise PipelineError(file=file, problems=_structure_problems(exc, located)) from None
    checker = _Checker(model, located, file, Path(base_dir), registry or get_registry())
    return checker.check(text)


# --------------------------------------------------------------------- structure
_MODELS: dict[str, type[BaseModel]] = {}


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that describes the mapping at ``loc`` (for key suggestions)."""
    from tomokit.executors import ExecutorConfig

    if len(loc) == 0:
        return PipelineModel
    if len(loc) == 2 and loc[0] == "steps":
        return StepModel
    if len(loc) == 2 and loc[0] == "inputs":
        return InputSpec
    if loc == ("executor",):
        return ExecutorConfig
    return None


def _is_tag(segment: Any, value: Any) -> bool:
    return isinstance(segment, str) and (
        segment in ("str", "int", "InputSpec") or "[" in segment
    ) and not (isinstance(value, dict) and segment in value)


def _tag_matches(tag: str, value: Any) -> bool:
    if tag == "str":
        return isinstance(value, str)
    if tag.startswith("list"):
        return isinstance(value, list)
    return isinstance(value, dict)


def _clean_loc(loc: Loc, data: Any) -> tuple[Loc, bool]:
    """Drop pydantic's union-member tags from ``loc``; False if the tag is the wrong branch."""
    out: list[str | int] = []
    value = data
    for seg in loc:
        if _is_tag(seg, value):
            if not _tag_matches(str(seg), value):
                return tuple(out), False
            continue
        out.append(seg)
        try:
            value = value[seg]
        except (KeyError, IndexError, TypeError):
            value = None
    return tuple(out), True


def _dotted(loc: Loc) -> str:
    text = ""
    for seg in loc:
        text += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if text else str(seg))
    return text


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(choices)}"


def _structure_problems(exc: ValidationError, located: LocatedData) -> list[tuple[int | None, str]]:
    problems: list[tuple[int | None, str]] = []
    seen: set[tuple[Loc, str]] = set()
    for err in exc.errors():
        loc, ok = _clean_loc(tuple(err["loc"]), located.data)
        if not ok or (loc, err["type"]) in seen:
            continue
        seen.add((loc, err["type"]))
        line = located.line(loc)
        where = _dotted(loc)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            model = _model_at(loc[:-1])
            hint = _suggest(key, list(model.model_fields)) if model else ""
            parent = _dotted(loc[:-1]) or "the pipeline"
            problems.append((line, f"unknown key {key!r} in {parent}{hint}"))
        elif err["type"] == "missing":
            parent = _dotted(loc[:-1]) or "the pipeline"
            problems.append((line, f"missing required key {str(loc[-1])!r} in {parent}"))
        elif err["type"] == "string_pattern_mismatch" and loc[-1] == "id":
            problems.append(
                (
                    line,
                    f"{where}: step id {err['input']!r} must start with a letter or '_' and "
                    "contain only letters, digits and '_'",
                )
            )
        elif err["type"] == "too_short" and loc == ("steps",):
            problems.append((line, "steps: the pipeline needs at least one step"))
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append((line, f"{where}: {message}"))
    # a misspelt key is also reported as the missing key it should have been: keep one
    suggested = {m.split("did you mean ")[-1].rstrip("?") for _, m in problems if "did you mean" in m}
    problems = [
        (ln, m)
        for ln, m in problems
        if not (m.startswith("missing required key") and m.split()[3] in suggested)
    ]
    problems.sort(key=lambda p: p[0] or 0)
    return problems


# ----------------------------------------------------------------------- meaning
class _Checker:
    def __init__(
        self,
        model: PipelineModel,
        located: LocatedData,
        file: str,
        base_dir: Path,
        registry: Registry,
    ) -> None:
        self.model = model
        self.located = located
        self.file = file
        self.base_dir = base_dir
        self.registry = registry
        self.problems: list[tuple[int | None, str]] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((self.located.line(loc), message))

    def check(self, text: str) -> LoadedPipeline:
        inputs = self._check_inputs()
        steps = self._check_steps(set(inputs))
        self._check_outputs()
        if self.problems:
            self.problems.sort(key=lambda p: p[0] or 0)
            raise PipelineError(file=self.file, problems=self.problems)
        return LoadedPipeline(
            model=self.model,
            steps=steps,
            inputs=inputs,
            text=text,
            file=self.file,
            base_dir=self.base_dir,
            located=self.located,
        )

    def _check_inputs(self) -> dict[str, InputSpec]:
        inputs: dict[str, InputSpec] = {}
        for name, spec in self.model.inputs.items():
            spec = InputSpec(path=spec) if isinstance(spec, str) else spec
            inputs[name] = spec
            path = self.base_dir / spec.path
            loc: Loc = ("inputs", name) if isinstance(self.model.inputs[name], str) else (
                "inputs", name, "path"
            )
            if not path.exists():
                self.problem(loc, f"input {name!r}: file not found: {spec.path}")
        return inputs

    def _check_steps(self, input_names: set[str]) -> list[ResolvedStep]:
        resolved: list[ResolvedStep] = []
        first_line: dict[str, int | None] = {}
        all_ids = {s.id: i for i, s in enumerate(self.model.steps)}
        for i, step in enumerate(self.model.steps):
            loc: Loc = ("steps", i)
            if step.id in first_line:
                self.problem(
                    (*loc, "id"),
                    f"duplicate step id {step.id!r} (first at line {first_line[step.id]})",
                )
                continue
            first_line[step.id] = self.located.line((*loc, "id"))
            if step.id in input_names:
                self.problem((*loc, "id"), f"step id {step.id!r} is also the name of an input")
            kinds = step.kinds_set()
            if not kinds:
                choices = ", ".join(f"'{k}: NAME'" for k in KINDS)
                self.problem(loc, f"step {step.id!r} names no component; add one of {choices}")
                continue
            if len(kinds) > 1:
                self.problem(
                    (*loc, kinds[1]),
                    f"step {step.id!r} names {len(kinds)} components ({', '.join(kinds)}); "
                    "a step runs exactly one",
                )
                continue
            kind = kinds[0]
            name = str(getattr(step, kind))
            try:
                cls = self.registry.resolve(kind, name)
            except PluginError as exc:
                self.problem((*loc, kind), f"step {step.id!r}: {exc}")
                continue
            params = self._check_params(step, i, kind, name, cls)
            step_inputs = self._check_step_inputs(step, i, cls, input_names, all_ids)
            if params is None or step_inputs is None:
                continue
            resolved.append(
                ResolvedStep(
                    index=i,
                    id=step.id,
                    kind=kind,
                    name=name,
                    cls=cls,
                    params=params,
                    inputs=step_inputs,
                    seed=step.seed,
                    line=self.located.line(loc),
                )
            )
        return resolved

    def _check_params(
        self, step: StepModel, i: int, kind: str, name: str, cls: type[Component]
    ) -> Params | None:
        try:
            return cls.Params.model_validate(step.params)
        except ValidationError as exc:
            for err in exc.errors():
                loc: Loc = ("steps", i, "params", *err["loc"])
                key = ".".join(str(p) for p in err["loc"]) or "params"
                if err["type"] == "extra_forbidden":
                    hint = _suggest(str(err["loc"][-1]), list(cls.Params.model_fields))
                    self.problem(loc, f"unknown param {key!r} for {kind} {name!r}{hint}")
                elif err["type"] == "missing":
                    self.problem(
                        ("steps", i, "params"),
                        f"{kind} {name!r} needs param {key!r}",
                    )
                else:
                    self.problem(loc, f"param {key!r} of {kind} {name!r}: {err['msg']}")
            return None

    def _check_step_inputs(
        self,
        step: StepModel,
        i: int,
        cls: type[Component],
        input_names: set[str],
        all_ids: dict[str, int],
    ) -> dict[str, str] | None:
        loc: Loc = ("steps", i, "inputs")
        expected = list(cls.input_names)
        ok = True
        if isinstance(step.inputs, list):
            if len(step.inputs) > len(expected):
                self.problem(
                    loc,
                    f"step {step.id!r}: {len(step.inputs)} inputs given, but "
                    f"{cls.kind} {cls.name or cls.__name__!r} takes "
                    f"{len(expected)} ({', '.join(expected) or 'none'})",
                )
                return None
            mapping = dict(zip(expected, step.inputs, strict=False))
            locs = {k: (*loc, j) for j, k in enumerate(mapping)}
        else:
            mapping = dict(step.inputs)
            locs = {k: (*loc, k) for k in mapping}
            for key in mapping:
                if key not in expected:
                    hint = _suggest(key, expected) if expected else "; it takes no inputs"
                    self.problem(locs[key], f"step {step.id!r}: unknown input {key!r}{hint}")
                    ok = False
        for key in expected:
            if not ok:  # an unknown input name was reported; a missing one would repeat it
                break
            if key not in mapping and key not in cls.optional_inputs:
                where: Loc = loc if self.located.line(loc) is not None else ("steps", i)
                self.problem(where, f"step {step.id!r}: missing input {key!r}")
                ok = False
        for key, ref in mapping.items():
            if key not in expected:
                continue
            base = ref.split(".", 1)[0]
            if base in input_names:
                continue
            if base == step.id:
                self.problem(locs[key], f"step {step.id!r}: input {key!r} refers to the step itself")
                ok = False
            elif base in all_ids and all_ids[base] > i:
                later = self.located.line(("steps", all_ids[base], "id"))
                self.problem(
                    locs[key],
                    f"step {step.id!r}: input {key!r} refers to step {base!r}, which comes "
                    f"later (line {later}); steps run in order",
                )
                ok = False
            elif base not in all_ids:
                known = sorted(input_names | {s for s, j in all_ids.items() if j < i})
                self.problem(
                    locs[key],
                    f"step {step.id!r}: input {key!r} refers to unknown {base!r}"
                    + (_suggest(base, known) if known else "; no inputs or earlier steps exist"),
                )
                ok = False
        return mapping if ok else None

    def _check_outputs(self) -> None:
        if self.model.outputs is None:
            return
        ids = [s.id for s in self.model.steps]
        for j, out in enumerate(self.model.outputs):
            if out.split(".", 1)[0] not in ids:
                self.problem(("outputs", j), f"output {out!r} is not a step id{_suggest(out, ids)}")
