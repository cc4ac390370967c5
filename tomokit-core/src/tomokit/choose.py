"""Quality-guided pre-processing: ``tomokit choose``.

A number, not a person, picks the pre-processing of a volume. Candidate chains of
filters (a candidates file, or the default set in ``tomokit/data/default_candidates.yaml``)
are applied to a deterministic sample of slices, each result is scored by a no-reference
scorer (``tiqa`` by default, ``brisque``, ``brisque_tomo``) or by a full-reference
observer against a reference volume, the candidates are ranked by the core's ``select``
task, and the best chain is applied to the whole volume, streamed slice by slice.

``tomokit choose`` does not run its own loop: it *builds a pipeline* (a sample step, a
sweep of candidate chains, a scorer mapped over them, ``select``, and the chosen chain
over the volume) and runs it with the core runner, so the results file is an ordinary
tomokit results file (``tomokit report`` shows the ranking with a thumbnail per
candidate) and the pipeline it ran is stored in it. The three components the built
pipeline needs are defined here:

* ``filter: chain`` applies filters in order, given as text (``none``,
  ``median(size=3)``, ``ring_removal_polar(radial_size=21)+tv_denoise(weight=0.05)``);
  intensity params are fractions of its ``data_range``, so the chain chosen on the
  normalised sample applies unchanged to the volume in its own units;
* ``task: choose_sample`` reads a few evenly spaced slices of a file (never the whole
  volume) and maps them to [0, 1] by their 0.5..99.5 percentile window;
* ``task: choose_preview`` keeps a full-resolution central crop of the middle slice of
  a candidate, the thumbnail a person looks at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import typer
from pydantic import Field, field_validator, model_validator

from tomokit.components import Filter, Params, Task
from tomokit.errors import InvalidInputError, PipelineError, did_you_mean

__all__ = [
    "DEFAULT_CANDIDATES",
    "Chain",
    "ChainParams",
    "ChoosePreview",
    "ChooseSample",
    "build_pipeline",
    "choose",
    "choose_command",
    "format_chain",
    "load_candidates",
    "parse_chain",
    "sample_indices",
]

#: The default candidate set, a package data file.
DEFAULT_CANDIDATES = Path(__file__).resolve().parent / "data" / "default_candidates.yaml"

#: Default number of sample slices (fewer when the volume has fewer).
DEFAULT_SLICES = 8

ChainSteps = list[tuple[str, dict[str, Any]]]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(@[A-Za-z_][A-Za-z0-9_]*)?")


# ------------------------------------------------------------------- chain text
def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if any(c in text for c in "()+,=/[]") or not text:
        raise InvalidInputError(f"chain: value {text!r} cannot be written in a chain")
    return text


def format_chain(steps: ChainSteps) -> str:
    """``[('median', {'size': 3})]`` -> ``'median(size=3)'``; no steps -> ``'none'``."""
    if not steps:
        return "none"
    parts = []
    for name, params in steps:
        body = ",".join(f"{k}={_fmt_value(v)}" for k, v in params.items())
        parts.append(f"{name}({body})" if body else name)
    return "+".join(parts)


def parse_chain(text: str) -> ChainSteps:
    """The inverse of :func:`format_chain`; a leading ``chain=`` (a candidate label, as
    ``select`` names its best) is accepted. Values are read as YAML scalars."""
    import yaml

    body = text.strip()
    if body.startswith("chain="):
        body = body[len("chain="):]
    if body in ("none", ""):
        return []
    steps: ChainSteps = []
    for part in body.split("+"):
        part = part.strip()
        name, _, rest = part.partition("(")
        name = name.strip()
        if not _NAME.fullmatch(name):
            raise ValueError(f"chain {text!r}: {part!r} is not 'filter' or 'filter(key=value,...)'")
        params: dict[str, Any] = {}
        if rest:
            if not rest.endswith(")"):
                raise ValueError(f"chain {text!r}: {part!r} lacks its closing ')'")
            for item in filter(None, (s.strip() for s in rest[:-1].split(","))):
                key, eq, value = item.partition("=")
                if not eq or not key.strip():
                    raise ValueError(f"chain {text!r}: {item!r} is not key=value")
                try:
                    params[key.strip()] = yaml.safe_load(value)
                except yaml.YAMLError:
                    params[key.strip()] = value
        steps.append((name, params))
    return steps


def _scaled(cls: type[Any], params: Mapping[str, Any], data_range: float,
            data_min: float) -> dict[str, Any]:
    """A filter's params in the units of the data: ``data_range`` (a fraction of the
    window, 1 by default) times the window, ``data_min`` shifted to the window's low end."""
    out = dict(params)
    fields = cls.Params.model_fields
    if "data_range" in fields:
        out["data_range"] = float(out.get("data_range", 1.0)) * data_range
    if "data_min" in fields:
        out["data_min"] = data_min + float(out.get("data_min", 0.0)) * data_range
    return out


def _filter_class(name: str) -> type[Filter]:
    from tomokit.registry import get_registry

    cls = get_registry().resolve("filter", name)
    if not issubclass(cls, Filter):  # pragma: no cover - the registry checks kinds
        raise InvalidInputError(f"filter {name!r} is not a filter")
    if getattr(cls, "domain", "image") != "image":
        raise InvalidInputError(
            f"filter {name!r} works on sinograms; a chain works on reconstructed slices "
            "(use ring_removal_polar for rings there)"
        )
    return cls


def _build_filters(steps: ChainSteps, data_range: float, data_min: float) -> list[Filter]:
    out = []
    for name, params in steps:
        cls = _filter_class(name)
        try:
            out.append(cls(_scaled(cls, params, data_range, data_min)))
        except Exception as exc:
            raise InvalidInputError(f"filter {name!r}: {_short(exc)}") from None
    return out


def _short(exc: Exception) -> str:
    """A pydantic error in one line: ``param 'size': Input should be ...``."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(
            (f"param {'.'.join(map(str, e['loc']))!r}: " if e["loc"] else "") + e["msg"]
            for e in exc.errors())
    return str(exc)


# ------------------------------------------------------------------ components
class ChainParams(Params):
    """A chain of image filters applied in order."""

    chain: str = Field(
        description="Filters in order: 'none', 'median(size=3)', or "
        "'ring_removal_polar(radial_size=21)+tv_denoise(weight=0.05)' (a candidate label "
        "'chain=...' is accepted)."
    )
    data_range: float = Field(
        1.0, gt=0,
        description="Intensity scale: every filter's data_range is this times its own (1 by "
        "default), so params chosen on [0, 1] data apply to data in other units.",
    )
    data_min: float = Field(0.0, description="Low end of the intensity window (for clahe).")
    clip: bool = Field(False, description="Clip the result to [data_min, data_min + data_range].")
    rescale: bool = Field(
        False, description="Map [data_min, data_min + data_range] to [0, 1] after the filters "
        "(clipped): a fixed window that makes reconstructions scoreable.",
    )

    @field_validator("data_range", "data_min")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be finite")
        return value

    @model_validator(mode="after")
    def _check_chain(self) -> ChainParams:
        try:
            _build_filters(parse_chain(self.chain), self.data_range, self.data_min)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        return self


class Chain(Filter):
    """Apply image filters in order; ``none`` returns the image unchanged (as float32)."""

    name: ClassVar[str] = "chain"
    summary: ClassVar[str] = "Image filters applied in order (the candidates of tomokit choose)"
    Params: ClassVar[type[Params]] = ChainParams

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        p = self.params
        assert isinstance(p, ChainParams)
        self.steps = parse_chain(p.chain)
        self.filters = _build_filters(self.steps, p.data_range, p.data_min)
        self.thread_safe = all(f.thread_safe for f in self.filters)  # type: ignore[misc]

    def filter(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        assert isinstance(p, ChainParams)
        out = np.asarray(image, dtype=np.float32)
        for f in self.filters:
            out = np.asarray(f.filter(out), dtype=np.float32)
        if p.rescale:
            out = np.clip((out - p.data_min) / p.data_range, 0.0, 1.0).astype(np.float32)
        elif p.clip:
            out = np.clip(out, p.data_min, p.data_min + p.data_range)
        return out if out is not image else out.copy()


def sample_indices(n: int, count: int) -> np.ndarray:
    """``count`` evenly spaced slice indices of ``n``, centred in equal parts (so the
    first and last slices, often blank, are avoided): ``floor((k + 0.5) n / count)``."""
    if not 1 <= count <= n:
        raise InvalidInputError(f"--slices {count}: the volume has {n} slice(s); give 1..{n}")
    return np.floor((np.arange(count) + 0.5) * n / count).astype(np.int64)


class ChooseSampleParams(Params):
    """Which slices of which file, and their intensity window."""

    path: str = Field(description="Image or volume file (relative to the pipeline file).")
    dataset: str | None = Field(None, description="Dataset inside an HDF5 file.")
    slices: int = Field(DEFAULT_SLICES, ge=1, description="Number of evenly spaced slices.")
    window: list[float] | None = Field(
        None, min_length=2, max_length=2,
        description="Intensity window [low, high] mapped to [0, 1]; default: the 0.5 and "
        "99.5 percentiles of the sampled slices.",
    )


class ChooseSample(Task):
    """A deterministic sample of slices of a file, read alone, mapped to [0, 1].

    Outputs ``sample`` (``(N, H, W)`` float32 in [0, 1], clipped), ``indices``, ``window``
    (``[low, high]`` in the file's units), ``low`` and ``scale`` (``high - low``).
    """

    name: ClassVar[str] = "choose_sample"
    summary: ClassVar[str] = "Evenly spaced slices of a volume, windowed to [0, 1]"
    Params: ClassVar[type[Params]] = ChooseSampleParams
    outputs: ClassVar[tuple[str, ...]] = ("sample", "indices", "window", "low", "scale")
    base_dir: Path = Path(".")

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        from tomokit import io

        p = self.params
        assert isinstance(p, ChooseSampleParams)
        path = Path(p.path) if Path(p.path).is_absolute() else self.base_dir / p.path
        with io.open_volume(path, dataset=p.dataset) as reader:
            if reader.dtype.kind not in "biuf":
                raise InvalidInputError(f"{p.path}: holds {reader.dtype} data, not real numbers")
            shape = reader.slice_shape
            if len(shape) != 2:
                raise InvalidInputError(
                    f"{p.path}: slices of shape {tuple(shape)} are not grey 2-D images")
            idx = sample_indices(len(reader), p.slices)
            sample = np.stack([np.asarray(reader.read(int(i)), dtype=np.float64) for i in idx])
        if not np.all(np.isfinite(sample)):
            raise InvalidInputError(f"{p.path}: the sampled slices hold NaN or Inf")
        if p.window is not None:
            low, high = float(p.window[0]), float(p.window[1])
        else:
            low, high = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
        if not high > low:
            raise InvalidInputError(
                f"{p.path}: the sampled slices are constant (window {low:g}..{high:g})")
        scaled = np.clip((sample - low) / (high - low), 0.0, 1.0).astype(np.float32)
        return {"sample": scaled, "indices": idx, "window": np.array([low, high]),
                "low": low, "scale": high - low}


class ChoosePreviewParams(Params):
    """How much of a candidate a person sees."""

    size: int = Field(256, ge=16, le=4096, description="Side of the central crop in pixels.")


class ChoosePreview(Task):
    """The middle slice of a stack (or a 2-D image), cropped about its centre to
    ``size`` pixels at full resolution: noise and blur stay visible in a thumbnail."""

    name: ClassVar[str] = "choose_preview"
    summary: ClassVar[str] = "Central full-resolution crop of a candidate's middle slice"
    Params: ClassVar[type[Params]] = ChoosePreviewParams
    input_names: ClassVar[tuple[str, ...]] = ("image",)

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        p = self.params
        assert isinstance(p, ChoosePreviewParams)
        arr = np.asarray(inputs["image"])
        if arr.ndim == 3:
            arr = arr[arr.shape[0] // 2]
        if arr.ndim != 2:
            raise InvalidInputError(f"choose_preview: expected an image, got shape {arr.shape}")
        h, w = arr.shape
        top, left = max(0, (h - p.size) // 2), max(0, (w - p.size) // 2)
        return {"image": np.ascontiguousarray(arr[top:top + p.size, left:left + p.size])}

    def run_step(self, inputs: Mapping[str, Any], *, rng: np.random.Generator,
                 mapper: Any = None) -> Any:
        """One unnamed value (an image), so a report shows it beside its rank."""
        return self.run(inputs, rng=rng)["image"]


# ------------------------------------------------------------------ candidates
def _expand_entry(entry: Any, loc: tuple[Any, ...], located: Any, file: str,
                  problems: list[tuple[int | None, str]]) -> list[ChainSteps]:
    """One candidates entry -> its chains (every combination of its grids)."""
    import itertools

    from tomokit.errors import PluginError
    from tomokit.registry import get_registry

    def bad(where: tuple[Any, ...], message: str) -> list[ChainSteps]:
        problems.append((located.line(where), message))
        return []

    if entry == "none" or entry is None:
        return [[]]
    if not isinstance(entry, dict):
        return bad(loc, f"candidate {loc[-1] + 1}: write 'none', a mapping with 'filter', "
                        "or a mapping with 'chain'")
    if "chain" in entry:
        extra = sorted(set(entry) - {"chain"})
        if extra:
            return bad((*loc, extra[0]), f"unknown key {extra[0]!r} beside 'chain'")
        links = entry["chain"]
        if not isinstance(links, list) or not links:
            return bad((*loc, "chain"), "'chain' lists the filters in order")
        options = []
        for j, link in enumerate(links):
            found = _expand_entry(link, (*loc, "chain", j), located, file, problems)
            if not found:
                return []
            if any(len(c) != 1 and c for c in found) or link == "none":
                return bad((*loc, "chain", j), "a chain lists single filters, not 'none' "
                                               "or other chains")
            options.append([c[0] for c in found])
        return [list(combo) for combo in itertools.product(*options)]
    allowed = {"filter", "params", "grid"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        return bad((*loc, unknown[0]), f"unknown key {unknown[0]!r} in a candidate"
                   + did_you_mean(unknown[0], sorted(allowed | {"chain"})))
    name = entry.get("filter")
    if not isinstance(name, str):
        return bad(loc, "a candidate names its 'filter' (or is 'none' or a 'chain')")
    registry = get_registry()
    try:
        cls = _filter_class(name)
    except PluginError:
        names = [s.name for s in registry.specs("filter")]
        return bad((*loc, "filter"), f"unknown filter {name!r}{did_you_mean(name, names)}")
    except InvalidInputError as exc:
        return bad((*loc, "filter"), str(exc))
    params = entry.get("params") or {}
    grid = entry.get("grid") or {}
    for key, value in (("params", params), ("grid", grid)):
        if not isinstance(value, dict):
            return bad((*loc, key), f"{key!r} of filter {name!r} is a mapping")
    fields = list(cls.Params.model_fields)
    for key in [*params, *grid]:
        if key not in fields:
            where = "params" if key in params else "grid"
            return bad((*loc, where, key), f"unknown param {key!r} for filter {name!r}"
                       + did_you_mean(str(key), fields))
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            return bad((*loc, "grid", key), f"grid {key!r} of filter {name!r} lists values")
    keys = list(grid)
    chains = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        merged = {**params, **dict(zip(keys, combo, strict=True))}
        try:
            cls(_scaled(cls, merged, 1.0, 0.0))
            format_chain([(name, merged)])
        except Exception as exc:
            at: tuple[Any, ...] = (*loc, "grid") if grid else (*loc, "params")
            return bad(at, f"filter {name!r} {merged}: {_short(exc)}")
        chains.append([(name, merged)])
    return chains


def load_candidates(path: str | Path | None = None) -> list[str]:
    """The candidate chains of a candidates file (default: the built-in set), as chain
    texts in file order, duplicates dropped. Problems name the file and line."""
    from tomokit.pipeline.yamlfile import load_yaml

    p = Path(path) if path is not None else DEFAULT_CANDIDATES
    file = str(path) if path is not None else "default_candidates.yaml"
    if not p.is_file():
        raise InvalidInputError(f"--candidates {p}: no such file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"--candidates {p}: cannot read it ({exc})") from None
    located = load_yaml(text, file)
    data = located.data
    if not isinstance(data, dict) or "candidates" not in data:
        raise PipelineError("a candidates file is a mapping with a 'candidates' list",
                            file=file, line=1)
    extra = sorted(set(data) - {"candidates", "description"})
    if extra:
        raise PipelineError(f"unknown key {extra[0]!r}; a candidates file has 'candidates' "
                            "(and an optional 'description')", file=file,
                            line=located.line((extra[0],)))
    entries = data["candidates"]
    if not isinstance(entries, list) or not entries:
        raise PipelineError("'candidates' lists at least one candidate", file=file,
                            line=located.line(("candidates",)))
    problems: list[tuple[int | None, str]] = []
    chains: list[str] = []
    for i, entry in enumerate(entries):
        for steps in _expand_entry(entry, ("candidates", i), located, file, problems):
            text_ = format_chain(steps)
            if text_ not in chains:
                chains.append(text_)
    if problems:
        raise PipelineError(file=file, problems=problems)
    return chains


# ------------------------------------------------------------------- pipeline
def _observer_or_scorer(name: str) -> tuple[str, type[Any]]:
    from tomokit.errors import PluginError
    from tomokit.registry import get_registry

    reg = get_registry()
    for kind in ("scorer", "observer"):
        try:
            return kind, reg.resolve(kind, name)
        except PluginError:
            continue
    names = sorted({s.name for k in ("scorer", "observer") for s in reg.specs(k)})
    raise InvalidInputError(f"--scorer {name!r}: no scorer or observer of that name"
                            + did_you_mean(name, names) + f" (installed: {', '.join(names)})")


def build_pipeline(
    path: str | Path, chains: Sequence[str], *, scorer: str = "tiqa",
    scorer_params: Mapping[str, Any] | None = None, reference: str | Path | None = None,
    slices: int = DEFAULT_SLICES, dataset: str | None = None, seed: int = 0,
    preview: int = 256,
) -> str:
    """The YAML text of the pipeline ``tomokit choose`` runs.

    Steps: ``sample`` (``choose_sample``), ``candidate`` (a sweep of ``chain`` over
    ``chains`` on the sample, clipped to [0, 1]), ``score`` (the scorer mapped over the
    candidates, or the observer against ``reference``'s sample in the same window),
    ``preview`` (``choose_preview`` of each candidate), ``ranking`` (``select``) and
    ``chosen`` (the best chain over the whole input, streamed)."""
    import yaml

    kind, cls = _observer_or_scorer(scorer)
    if kind == "observer" and reference is None:
        raise InvalidInputError(f"--scorer {scorer!r} is a full-reference observer; give "
                                "--reference REF (the same volume without the artefacts)")
    if kind == "scorer" and reference is not None:
        raise InvalidInputError(f"--reference is for observers; {scorer!r} is a no-reference "
                                "scorer")
    source = str(Path(path).absolute())
    volume: dict[str, Any] = {"path": source}
    sample_params: dict[str, Any] = {"path": source, "slices": slices}
    if dataset is not None:
        volume["dataset"] = dataset
        sample_params["dataset"] = dataset
    score_params = {"data_range": 1.0, **dict(scorer_params or {})}
    steps: list[dict[str, Any]] = [
        {"id": "sample", "task": "choose_sample", "params": sample_params},
        {"id": "candidate", "filter": "chain", "params": {"clip": True},
         "sweep": {"chain": list(chains)}, "inputs": {"image": "sample.sample"}},
    ]
    if kind == "observer":
        ref_params: dict[str, Any] = {"path": str(Path(reference).absolute()),  # type: ignore[arg-type]
                                      "slices": slices, "window": {"from": "sample.window"}}
        if dataset is not None:
            ref_params["dataset"] = dataset
        steps.append({"id": "reference", "task": "choose_sample", "params": ref_params})
        steps.append({"id": "score", "observer": scorer, "params": score_params,
                      "inputs": {"reference": "reference.sample", "distorted": "candidate[*]"}})
    else:
        steps.append({"id": "score", "scorer": scorer, "params": score_params,
                      "inputs": {"images": "candidate[*]"}})
    steps += [
        {"id": "preview", "task": "choose_preview", "params": {"size": preview},
         "inputs": {"image": "candidate[*]"}},
        {"id": "ranking", "task": "select",
         "params": {"higher_is_better": bool(getattr(cls, "higher_is_better", True))},
         "inputs": {"candidates": "preview[*]", "scores": "score[*]"}},
        {"id": "chosen", "filter": "chain",
         "params": {"chain": {"from": "ranking.name"}, "data_range": {"from": "sample.scale"},
                    "data_min": {"from": "sample.low"}},
         "inputs": {"image": "volume"}},
    ]
    doc = {
        "name": "choose",
        "description": f"tomokit choose: {len(chains)} candidate chains on {slices} slice(s) "
                       f"of {Path(path).name}, scored by {scorer}; the best over the whole input",
        "seed": seed,
        "inputs": {"volume": volume},
        "steps": steps,
        "outputs": ["sample", "score", "preview", "ranking", "chosen"],
    }
    return yaml.safe_dump(doc, sort_keys=False, width=1000)


def _check_model(kind: str, name: str, params: Mapping[str, Any]) -> None:
    """A learned scorer without a model is one clear error before anything runs."""
    import tomokit

    try:
        component = tomokit.load(kind, name, **dict(params))
    except InvalidInputError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"--scorer {name}: {_short(exc)}") from None
    probe = getattr(component, "model_path_or_none", None)
    if probe is None:
        return
    try:
        found = probe()
    except Exception:
        found = None
    if found is None:
        given = params.get("model")
        what = f"model {given!r} not found" if given else "no model installed"
        raise InvalidInputError(
            f"--scorer {name}: {what} (train the shipped one with its recipe, or pass "
            f"--param model=FILE.keras); use --scorer brisque to choose without a model"
        )


def choose(
    path: str | Path, output: str | Path, *, candidates: str | Path | None = None,
    scorer: str = "tiqa", scorer_params: Mapping[str, Any] | None = None,
    reference: str | Path | None = None, slices: int | None = None,
    dataset: str | None = None, report: str | Path | None = None, overwrite: bool = False,
    on_step: Any = None, preview: int = 256,
) -> dict[str, Any]:
    """Run ``tomokit choose``: returns ``{'best', 'ranking', 'output', 'report',
    'pipeline'}`` with ``ranking`` a list of ``(rank, chain, score)``."""
    from tomokit import io
    from tomokit.io._guard import RESULTS_SUFFIXES, check_output, is_tomokit_results
    from tomokit.pipeline import parse_pipeline, read_results, run_pipeline

    src = Path(path)
    if not src.exists():
        raise InvalidInputError(f"{src}: no such file")
    if reference is not None and not Path(reference).exists():
        raise InvalidInputError(f"--reference {reference}: no such file")
    chains = load_candidates(candidates)
    kind, _ = _observer_or_scorer(scorer)
    params = {"data_range": 1.0, **dict(scorer_params or {})}
    _check_model(kind, scorer, params)
    with io.open_volume(src, dataset=dataset) as reader:
        n = len(reader)
        if len(reader.slice_shape) != 2:
            raise InvalidInputError(
                f"{src}: slices of shape {tuple(reader.slice_shape)} are not grey 2-D images")
    if reference is not None:
        with io.open_volume(Path(reference), dataset=dataset) as ref:
            if ref.shape != reader.shape:
                raise InvalidInputError(f"--reference {reference}: shape {ref.shape} differs "
                                        f"from {src}'s {reader.shape}")
    count = min(DEFAULT_SLICES, n) if slices is None else slices
    sample_indices(n, count)  # --slices out of range: one error, before any work
    inputs: list[Any] = [src] + ([Path(candidates)] if candidates is not None else []) + (
        [Path(reference)] if reference is not None else [])
    out = check_output(output, what="-o", suffixes=RESULTS_SUFFIXES,
                       format_name="HDF5 results", inputs=inputs, overwrite=overwrite,
                       replaceable=is_tomokit_results)
    html = None
    if report is not None:
        from tomokit.report import check_report_output

        html = check_report_output(report, results=out, inputs=inputs, overwrite=overwrite)
    text = build_pipeline(src, chains, scorer=scorer, scorer_params=scorer_params,
                          reference=reference, slices=count, dataset=dataset, preview=preview)
    pipeline = parse_pipeline(text, file="<tomokit choose>", base_dir=Path.cwd())
    run_pipeline(pipeline, out, on_step=on_step)  # takes the output lock itself
    results = read_results(out)
    table = results["ranking"]["ranking"]
    ranking = [(int(r["rank"]), r["candidate"].decode().removeprefix("chain="),
                float(r["score"])) for r in table]
    written = None
    if html is not None:
        from tomokit.report import write_report

        written = write_report(out, html)
    return {"best": ranking[0][1], "ranking": ranking, "output": out, "report": written,
            "pipeline": text}


def _parse_param(items: Sequence[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise InvalidInputError(f"--param {item!r}: write KEY=VALUE")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key] = value
    return out


def choose_command(
    path: Annotated[Path, typer.Argument(help="An image or a volume (TIFF stack, HDF5, .npy, ...).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Results file to write (.h5).")],
    candidates: Annotated[Path | None, typer.Option("--candidates", help="Candidates YAML (default: the built-in denoising and ring-removal "
        "set; docs/choosing.md).")] = None,
    scorer: Annotated[str, typer.Option("--scorer", help="Scorer (tiqa, brisque, brisque_tomo) or, with --reference, an "
        "observer (ssim, ...).")] = "tiqa",
    reference: Annotated[Path | None, typer.Option("--reference", help="Reference volume for a full-reference observer.")] = None,
    slices: Annotated[int | None, typer.Option("--slices", help=f"Number of sample slices (default {DEFAULT_SLICES}, or all of a "
        "smaller volume).")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset inside an HDF5 input (and reference).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Scorer parameter KEY=VALUE (repeatable), e.g. model=my_tiqa.keras.")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Also write the HTML report of the results.")] = None,
    save_pipeline: Annotated[Path | None, typer.Option("--save-pipeline", help="Also write the pipeline it runs (YAML).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files tomokit did not write.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No step lines.")] = False,
) -> None:
    """Choose the pre-processing of a volume by a quality score: candidate filter chains
    on a sample of slices, scored and ranked; the best applied to the whole volume."""
    from tomokit.io._guard import check_output, write_text

    if save_pipeline is not None:
        check_output(save_pipeline, what="--save-pipeline", suffixes=(".yaml", ".yml"),
                     format_name="a pipeline", inputs=[path], overwrite=overwrite)

    def show(record: Any) -> None:
        if not quiet:
            typer.echo(f"  {record.id}: {record.summary} ({record.seconds:.1f} s)", err=True)

    result = choose(path, output, candidates=candidates, scorer=scorer,
                    scorer_params=_parse_param(param or []), reference=reference,
                    slices=slices, dataset=dataset, report=report, overwrite=overwrite,
                    on_step=show)
    if save_pipeline is not None:
        write_text(save_pipeline, result["pipeline"])
    width = max(len(c) for _, c, _ in result["ranking"])
    typer.echo(f"{'rank':>4}  {'candidate':<{width}}  {scorer}")
    for rank, chain, score in result["ranking"]:
        typer.echo(f"{rank:>4}  {chain:<{width}}  {score:.4g}")
    typer.echo(f"best: {result['best']}; wrote {result['output']}"
               + (f" and {result['report']}" if result["report"] else ""))
