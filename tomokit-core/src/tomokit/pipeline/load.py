"""Read a pipeline file and check it completely before anything runs.

Structure is checked by the pydantic models, meaning by this module: components exist,
their params validate against their own ``Params``, inputs refer to pipeline inputs or
earlier steps, files exist. Every problem names the file, the line and the key, and
suggests the close match for a misspelt key or name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tomokit.components import KINDS, Component, Params
from tomokit.errors import PipelineError, PluginError, did_you_mean, validation_message
from tomokit.pipeline._refs import ALL, format_label, split_candidate, split_ref
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
    inputs: dict[str, str | list[str]]
    seed: int | None
    line: int | None
    #: Params taken from earlier steps' results: ``{param: reference}``; ``params`` then
    #: holds only the others (validated again, complete, when the step runs).
    param_refs: dict[str, str] = field(default_factory=dict)
    raw_params: dict[str, Any] = field(default_factory=dict)
    #: For a sweep candidate: the step id written in the file and the candidate label.
    group: str = ""
    label: str = ""

    def references(self) -> list[str]:
        """Every reference this step reads: its inputs and its param references."""
        refs: list[str] = []
        for ref in self.inputs.values():
            refs.extend(ref if isinstance(ref, list) else [ref])
        return refs + list(self.param_refs.values())


@dataclass
class _Candidate:
    """One component configuration a step (or one entry of its sweep) expands to."""

    kind: str
    name: str
    cls: type[Component]
    params: dict[str, Any]
    label: str
    params_loc: tuple[str | int, ...]
    inputs: dict[str, str] = field(default_factory=dict)  # swept inputs


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

    def output_steps(self) -> set[str]:
        """Ids of the steps whose results are saved (a sweep's id names all candidates)."""
        from tomokit.pipeline._refs import split_ref

        named = {split_ref(o)[0] for o in self.outputs}
        return {s.id for s in self.steps if s.id in named or (s.group and s.group in named)}


def load_pipeline(path: str | Path, *, registry: Registry | None = None) -> LoadedPipeline:
    """Read and validate the pipeline file at ``path``."""
    p = Path(path)
    if not p.exists():
        raise PipelineError("pipeline file not found", file=str(path))
    if p.is_dir():
        raise PipelineError("is a directory, not a pipeline file", file=str(path))
    from tomokit.pipeline.yamlfile import read_text

    text = read_text(p)  # bounded: /dev/zero or a huge file fails at once
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
    if len(loc) == 4 and loc[0] == "steps" and loc[2] == "sweep":
        from tomokit.pipeline.model import SweepEntry

        return SweepEntry
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


def _is_param_ref(value: Any) -> bool:
    """A param value ``{from: step.key}``: taken from an earlier step's result."""
    return isinstance(value, dict) and list(value) == ["from"] and isinstance(value["from"], str)


def _suggest(word: str, choices: list[str]) -> str:
    return did_you_mean(word, choices) or f"; allowed: {', '.join(choices)}"


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
        self._check_types(steps, inputs)
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
                continue
            from tomokit.pipeline._inputs import probe_input

            found = probe_input(self.base_dir, name, spec)
            if found is not None:
                key, message = found
                where: Loc = loc if isinstance(self.model.inputs[name], str) else (
                    "inputs", name, key)
                self.problem(where, message)
        return inputs

    #: Step kinds whose results are never sinograms (images, labels, numbers).
    _NOT_SINOGRAMS = ("reconstructor", "observer", "scorer", "segmenter", "super_resolver",
                      "phantom")

    def _check_types(self, steps: list[ResolvedStep], inputs: dict[str, InputSpec]) -> None:
        """A reconstructor's ``sinogram`` must be one: an input with ``angles:`` or a raw
        scan, or a step that may produce one (what ``run`` would reject after the
        earlier steps)."""
        from tomokit.pipeline._inputs import _is_scan

        kinds = {s.id: s.kind for s in steps}
        for rs in steps:
            if rs.kind != "reconstructor" or "sinogram" not in rs.inputs:
                continue
            ref = rs.inputs["sinogram"]
            for r in ref if isinstance(ref, list) else [ref]:
                base = split_candidate(split_ref(r)[0])[0]
                what = ""
                if base in inputs:
                    spec = inputs[base]
                    path = self.base_dir / spec.path
                    if (spec.angles is None and spec.format not in ("dxchange", "nxtomo")
                            and not (spec.dataset is None and _is_scan(path))):
                        what = (f"input {base!r} is a plain array; give the input "
                                "'angles: uniform-180' (or an angles dataset) to read it as "
                                "a sinogram, or read a DXchange/NXtomo scan")
                else:
                    kind = kinds.get(base) or kinds.get(split_ref(r)[0])
                    if kind in self._NOT_SINOGRAMS:
                        what = (f"step {base!r} ({kind}) gives an image, not a sinogram; "
                                "add a projector step (for example forward_project) between")
                if what:
                    loc: Loc = ("steps", rs.index, "inputs")
                    self.problem(loc, f"step {rs.id!r}: input 'sinogram' needs a sinogram: "
                                      f"{what}")

    def _check_steps(self, input_names: set[str]) -> list[ResolvedStep]:
        resolved: list[ResolvedStep] = []
        first_line: dict[str, int | None] = {}
        self.all_ids = {s.id: i for i, s in enumerate(self.model.steps)}
        self.input_names = input_names
        #: sweep groups: step id -> candidate labels, in order
        self.groups: dict[str, list[str]] = {}
        #: every resolved (or expanded) id -> its component class
        self.classes: dict[str, type[Component]] = {}
        self.failed: set[str] = set()
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
            entries = self._entries(step, i)
            mapped = self._mapped_labels(step, i) if entries is not None else None
            if entries is None or mapped is None:
                self.failed.add(step.id)  # reported; steps that read it are not checked
                continue
            if mapped and (len(entries) > 1 or entries[0].label):
                self.problem(
                    (*loc, "sweep"),
                    f"step {step.id!r} both sweeps params and maps over candidates; "
                    "split it into two steps",
                )
                continue
            swept = step.sweep is not None
            expanded: list[ResolvedStep] = []
            for cand in entries:
                labels = mapped if mapped else [cand.label]
                for lab in labels:
                    sid = f"{step.id}[{lab}]" if (mapped or swept) else step.id
                    rs = self._resolve_one(step, i, sid, cand, lab if (mapped or swept) else None)
                    if rs is not None:
                        rs.group = step.id if (mapped or swept) else ""
                        rs.label = lab if (mapped or swept) else ""
                        expanded.append(rs)
            if mapped or swept:
                self.groups[step.id] = mapped or [e.label for e in entries]
            for rs in expanded:
                self.classes[rs.id] = rs.cls
            resolved.extend(expanded)
        return resolved

    def _component_of(self, keys: Any, loc: Loc, what: str) -> tuple[str, str, type[Component]] | None:
        kinds = keys.kinds_set()
        if not kinds:
            choices = ", ".join(f"'{k}: NAME'" for k in KINDS)
            self.problem(loc, f"{what} names no component; add one of {choices}")
            return None
        if len(kinds) > 1:
            self.problem(
                (*loc, kinds[1]),
                f"{what} names {len(kinds)} components ({', '.join(kinds)}); a step runs exactly one",
            )
            return None
        kind = kinds[0]
        name = str(getattr(keys, kind))
        try:
            cls = self.registry.resolve(kind, name)
        except PluginError as exc:
            self.problem((*loc, kind), f"{what}: {exc}")
            return None
        return kind, name, cls

    def _entries(self, step: StepModel, i: int) -> list[_Candidate] | None:
        """The candidates of a step: one, or one per combination of its sweep."""
        loc: Loc = ("steps", i)
        if isinstance(step.sweep, list):
            if step.kinds_set():
                self.problem(
                    (*loc, step.kinds_set()[0]),
                    f"step {step.id!r}: with a list under 'sweep', name the components in "
                    "the list, not on the step",
                )
                return None
            if not step.sweep:
                self.problem((*loc, "sweep"), f"step {step.id!r}: 'sweep' lists no components")
                return None
            out = []
            for j, entry in enumerate(step.sweep):
                eloc: Loc = (*loc, "sweep", j)
                found = self._component_of(entry, eloc, f"step {step.id!r}: sweep entry {j + 1}")
                if found is None:
                    return None
                base = {**step.params, **entry.params}
                combos = self._grid(entry.grid, found, (*eloc, "grid"), step.id)
                if combos is None:
                    return None
                for combo in combos:
                    prefix = found[1] if len(step.sweep) > 1 else ""
                    out.append(self._candidate(found, base, combo, format_label(combo, prefix),
                                               (*eloc, "params")))
            labels = [c.label for c in out]
            dup = sorted({lab for lab in labels if labels.count(lab) > 1})
            if dup:
                self.problem((*loc, "sweep"),
                             f"step {step.id!r}: sweep makes candidate {dup[0]!r} twice")
                return None
            return out
        found = self._component_of(step, loc, f"step {step.id!r}")
        if found is None:
            return None
        if step.sweep is None:
            return [_Candidate(*found, dict(step.params), "", (*loc, "params"))]
        combos = self._grid(step.sweep, found, (*loc, "sweep"), step.id)
        if combos is None:
            return None
        return [self._candidate(found, step.params, c, format_label(c), (*loc, "params"))
                for c in combos]

    @staticmethod
    def _candidate(found: tuple[str, str, type[Component]], base: dict[str, Any],
                   combo: dict[str, Any], label: str, params_loc: Loc) -> _Candidate:
        """A candidate: grid keys naming inputs replace inputs, the others are params."""
        cls = found[2]
        inputs = {k: str(v) for k, v in combo.items() if k in cls.input_names}
        params = {k: v for k, v in combo.items() if k not in inputs}
        return _Candidate(*found, {**base, **params}, label, params_loc, inputs)

    def _grid(self, grid: dict[str, list[Any]], found: tuple[str, str, type[Component]],
              loc: Loc, step_id: str) -> list[dict[str, Any]] | None:
        import itertools

        kind, name, cls = found
        fields = list(cls.Params.model_fields)
        for key, values in grid.items():
            if key in cls.input_names:
                if not all(isinstance(v, str) for v in values):
                    self.problem((*loc, key), f"step {step_id!r}: a sweep over input {key!r} "
                                 "lists references (step ids or input names)")
                    return None
            elif key not in fields:
                self.problem((*loc, key), f"step {step_id!r}: sweep over unknown param {key!r} "
                             f"of {kind} {name!r}{_suggest(key, fields) if fields else ''}")
                return None
            if not values:
                self.problem((*loc, key), f"step {step_id!r}: sweep of {key!r} has no values")
                return None
        keys = list(grid)
        return [dict(zip(keys, combo, strict=True))
                for combo in itertools.product(*(grid[k] for k in keys))]

    def _mapped_labels(self, step: StepModel, i: int) -> list[str] | None:
        """Labels of the sweep this step maps over (``x[*]`` in a single-valued input);
        ``[]`` when it maps over none; ``None`` after reporting a problem."""
        found = step.component()
        cls: type[Component] | None = None
        if found is not None:
            try:
                cls = self.registry.resolve(*found)
            except PluginError:
                return []  # reported by _component_of
        collections = set(cls.collection_inputs) if cls is not None else set()
        items = (list(zip(cls.input_names, step.inputs, strict=False)) if cls is not None else [])\
            if isinstance(step.inputs, list) else list(step.inputs.items())
        labels: list[str] | None = None
        for key, ref in items:
            if key in collections or not isinstance(ref, str):
                continue
            group, cand = split_candidate(split_ref(ref)[0])
            if cand != ALL:
                continue
            if group not in self.groups:
                continue  # reported when the inputs are checked
            if labels is not None and labels != self.groups[group]:
                self.problem(("steps", i, "inputs", key),
                             f"step {step.id!r}: input {key!r} maps over {group!r}, whose "
                             "candidates differ from the other mapped input's")
                return None
            labels = self.groups[group]
        return labels or []

    def _resolve_one(self, step: StepModel, i: int, sid: str, cand: _Candidate,
                     label: str | None) -> ResolvedStep | None:
        kind, name, cls, raw, params_loc = cand.kind, cand.name, cand.cls, cand.params, \
            cand.params_loc
        refs = {k: v["from"] for k, v in raw.items() if _is_param_ref(v)}
        plain = {k: v for k, v in raw.items() if k not in refs}
        params = self._check_params(step, i, kind, name, cls, plain, params_loc, set(refs))
        for key, ref in refs.items():
            if key not in cls.Params.model_fields:
                hint = _suggest(key, list(cls.Params.model_fields))
                self.problem((*params_loc, key), f"unknown param {key!r} for {kind} {name!r}{hint}")
                params = None
            elif not self._check_ref(step, i, f"param {key!r}", ref, (*params_loc, key, "from"),
                                     label):
                params = None
        step_inputs = self._check_step_inputs(step, i, cls, label, cand.inputs)
        if params is None or step_inputs is None:
            return None
        return ResolvedStep(
            index=i, id=sid, kind=kind, name=name, cls=cls, params=params, inputs=step_inputs,
            seed=step.seed, line=self.located.line(("steps", i)),
            param_refs={k: self._concrete(r, label) for k, r in refs.items()}, raw_params=raw,
        )

    def _concrete(self, ref: str, label: str | None) -> str:
        """``x[*]`` in a mapped step's single input means the candidate with its label."""
        base, key = split_ref(ref)
        group, cand = split_candidate(base)
        if cand == ALL and label is not None:
            return f"{group}[{label}]" + (f".{key}" if key else "")
        return ref

    def _check_params(
        self, step: StepModel, i: int, kind: str, name: str, cls: type[Component],
        raw: dict[str, Any], params_loc: Loc, from_refs: set[str],
    ) -> Params | None:
        try:
            return cls.Params.model_validate(raw)
        except ValidationError as exc:
            ok_missing = True
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "params"
                if err["type"] == "missing" and key in from_refs:
                    continue
                ok_missing = False
                loc: Loc = (*params_loc, *err["loc"])
                if err["type"] == "extra_forbidden":
                    hint = _suggest(str(err["loc"][-1]), list(cls.Params.model_fields))
                    self.problem(loc, f"unknown param {key!r} for {kind} {name!r}{hint}")
                elif err["type"] == "missing":
                    self.problem(params_loc, f"{kind} {name!r} needs param {key!r}")
                elif not err["loc"]:  # a check across params
                    self.problem(loc, f"params of {kind} {name!r}: {validation_message(dict(err))}")
                else:
                    self.problem(loc, f"param {key!r} of {kind} {name!r}: "
                                      f"{validation_message(dict(err))}")
            if ok_missing:  # only params that come from earlier steps are missing
                return cls.Params.model_construct(**raw)
            return None

    def _check_ref(self, step: StepModel, i: int, what: str, ref: str, loc: Loc,
                   label: str | None, collection: bool = False) -> bool:
        """Check one reference of step ``i``; report and return False when it is wrong."""
        base, key = split_ref(ref)
        group, cand = split_candidate(base)
        if group in self.input_names and cand is None:
            if key:
                self.problem(loc, f"step {step.id!r}: {what} refers to input {group!r}, which "
                             f"has no output {key!r}")
                return False
            return True
        if group == step.id:
            self.problem(loc, f"step {step.id!r}: {what} refers to the step itself")
            return False
        if group in self.all_ids and self.all_ids[group] > i:
            later = self.located.line(("steps", self.all_ids[group], "id"))
            self.problem(loc, f"step {step.id!r}: {what} refers to step {group!r}, which comes "
                         f"later (line {later}); steps run in order")
            return False
        if group not in self.all_ids:
            known = sorted(self.input_names | {s for s, j in self.all_ids.items() if j < i})
            self.problem(loc, f"step {step.id!r}: {what} refers to unknown {group!r}"
                         + (_suggest(group, known) if known else
                            "; no inputs or earlier steps exist"))
            return False
        if group in self.failed:
            return False
        labels = self.groups.get(group)
        if labels is None and cand is not None:
            self.problem(loc, f"step {step.id!r}: {what} refers to {base!r}, but {group!r} is "
                         "not a sweep; refer to it as " + repr(group))
            return False
        if labels is not None:
            if cand is None:
                self.problem(loc, f"step {step.id!r}: {what} refers to {group!r}, a sweep of "
                             f"{len(labels)} candidates; refer to one as '{group}[LABEL]' or "
                             f"to all as '{group}[*]'")
                return False
            if cand != ALL and cand not in labels:
                self.problem(loc, f"step {step.id!r}: {what} refers to unknown candidate "
                             f"{base!r}{_suggest(cand, labels)}")
                return False
        target = f"{group}[{labels[0]}]" if labels else group
        cls = self.classes.get(target)
        if cls is not None and key and cls.outputs and key not in cls.outputs:
            self.problem(loc, f"step {step.id!r}: {what} refers to output {key!r} of {group!r}, "
                         f"but {cls.kind} {cls.name or cls.__name__!r} has outputs "
                         f"{', '.join(cls.outputs)}{did_you_mean(key, cls.outputs)}")
            return False
        return True

    def _check_step_inputs(
        self, step: StepModel, i: int, cls: type[Component], label: str | None,
        swept: dict[str, str] | None = None,
    ) -> dict[str, str | list[str]] | None:
        loc: Loc = ("steps", i, "inputs")
        swept = swept or {}
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
            mapping: dict[str, str | list[str]] = dict(zip(expected, step.inputs, strict=False))
            locs: dict[str, Loc] = {k: (*loc, j) for j, k in enumerate(mapping)}
        else:
            mapping = dict(step.inputs)
            locs = {k: (*loc, k) for k in mapping}
            for key in mapping:
                if key not in expected:
                    hint = _suggest(key, expected) if expected else "; it takes no inputs"
                    self.problem(locs[key], f"step {step.id!r}: unknown input {key!r}{hint}")
                    ok = False
        for key, swept_ref in swept.items():
            mapping[key] = swept_ref
            locs[key] = ("steps", i, "sweep", key)
        for key in expected:
            if not ok:  # an unknown input name was reported; a missing one would repeat it
                break
            if key not in mapping and key not in cls.optional_inputs:
                where: Loc = loc if self.located.line(loc) is not None else ("steps", i)
                self.problem(where, f"step {step.id!r}: missing input {key!r}")
                ok = False
        out: dict[str, str | list[str]] = {}
        for key, ref in mapping.items():
            if key not in expected:
                continue
            collection = key in cls.collection_inputs
            refs = ref if isinstance(ref, list) else [ref]
            if isinstance(ref, list) and not collection:
                self.problem(locs[key], f"step {step.id!r}: input {key!r} takes one value, "
                             f"not a list (inputs that take several: "
                             f"{', '.join(cls.collection_inputs) or 'none'})")
                ok = False
                continue
            concrete: list[str] = []
            for j, r in enumerate(refs):
                rloc = (*locs[key], j) if isinstance(ref, list) else locs[key]
                if not self._check_ref(step, i, f"input {key!r}", r, rloc, label, collection):
                    ok = False
                    continue
                concrete.extend(self._expand(r) if collection else [self._concrete(r, label)])
            out[key] = concrete if collection else concrete[0] if concrete else ""
        return out if ok else None

    def _expand(self, ref: str) -> list[str]:
        """``x[*].key`` -> one reference per candidate of ``x``."""
        base, key = split_ref(ref)
        group, cand = split_candidate(base)
        if cand != ALL:
            return [ref]
        suffix = f".{key}" if key else ""
        return [f"{group}[{lab}]{suffix}" for lab in self.groups[group]]

    def _check_outputs(self) -> None:
        if self.model.outputs is None:
            return
        ids = [s.id for s in self.model.steps]
        for j, out in enumerate(self.model.outputs):
            group, cand = split_candidate(split_ref(out)[0])
            if group not in ids:
                self.problem(("outputs", j), f"output {out!r} is not a step id{_suggest(out, ids)}")
            elif cand is not None and cand not in self.groups.get(group, []):
                labels = self.groups.get(group, [])
                self.problem(("outputs", j), f"output {out!r}: unknown candidate"
                             + (_suggest(cand, labels) if labels else f"; {group!r} is not a sweep"))
