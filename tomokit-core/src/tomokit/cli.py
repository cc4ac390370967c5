"""The ``tomokit`` command line (typer).

Exit status: 0 on success, 2 on invalid input (bad YAML, unknown component, bad params,
missing file), 1 on a failure while running. Errors are one clear message; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from tomokit.components import Distortion, Observer
from tomokit.errors import InvalidInputError, TomokitError
from tomokit.registry import get_registry, reset_registry

__all__ = ["app", "main"]

app = typer.Typer(
    name="tomokit",
    help="Reconstruct, assess, segment and super-resolve X-ray tomography images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plugins_app = typer.Typer(help="List and inspect installed components.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")

out = Console()
err = Console(stderr=True, soft_wrap=True)


class _State:
    debug = False


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _version(value: bool) -> None:
    if value:
        from tomokit import __version__

        typer.echo(f"tomokit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    disable_plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-plugin",
            help="Skip a plugin by name (repeatable; also TOMOKIT_DISABLE_PLUGINS=a,b).",
        ),
    ] = None,
) -> None:
    _State.debug = debug
    if disable_plugin:
        reset_registry(disabled=disable_plugin)


def _dump(data: Any, fmt: Format) -> None:
    if fmt is Format.json:
        from tomokit.io._guard import dumps_json

        typer.echo(dumps_json(data))  # strict JSON: NaN/Infinity become null
    else:
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


# ------------------------------------------------------------------------ plugins
_LIST_FIELDS = ("name", "kind", "plugin", "distribution", "version", "status", "summary")
_LIST_DEFAULT = ("name", "kind", "plugin", "status", "summary")


def _fields(text: str | None, default: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    if text is None:
        return list(default)
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in allowed]
    if unknown or not chosen:
        raise InvalidInputError(f"--fields {text!r}: choose from {', '.join(allowed)}")
    return chosen


def _component_rows(specs: list[Any], status: dict[tuple[str, str, str], str]) -> list[dict]:
    return [
        {"name": s.name, "kind": s.kind, "plugin": s.plugin, "distribution": s.distribution,
         "version": s.version, "status": status.get((s.kind, s.name, s.plugin), "ok"),
         "summary": s.summary}
        for s in specs
    ]


def _print_rows(rows: list[dict], fields: list[str]) -> None:
    table = Table(show_lines=False, box=None, pad_edge=False)
    for col in fields:
        table.add_column(col, overflow="fold", no_wrap=col in ("name", "kind", "status"),
                         ratio=3 if col == "summary" else None)
    for r in rows:
        style = "red" if str(r["status"]).startswith("broken") else None
        table.add_row(*(str(r[c]) for c in fields), style=style)
    out.print(table)


@plugins_app.command("list")
def plugins_list(
    kind: Annotated[str | None, typer.Option(help="Only components of this kind.")] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    fields: Annotated[
        str | None,
        typer.Option("--fields", help="Comma-separated columns of the table (default "
                     f"{','.join(_LIST_DEFAULT)}; also {', '.join(_LIST_FIELDS)})."),
    ] = None,
) -> None:
    """List every installed component, and every plugin that is broken or disabled.

    A component whose module cannot be found is listed as broken (without importing it:
    ``tomokit plugins check`` imports and checks every component).
    """
    from tomokit.components import KINDS
    from tomokit.registry import target_problem

    if kind is not None and kind not in KINDS:
        raise InvalidInputError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    chosen = _fields(fields, _LIST_DEFAULT, _LIST_FIELDS)
    reg = get_registry()
    specs = reg.specs(kind)
    counts: dict[tuple[str, str], int] = {}
    for s in specs:
        counts[(s.kind, s.name)] = counts.get((s.kind, s.name), 0) + 1
    status: dict[tuple[str, str, str], str] = {}
    for s in specs:
        problem = target_problem(s)
        if problem:
            status[(s.kind, s.name, s.plugin)] = f"broken: {problem}"
        elif counts[(s.kind, s.name)] > 1:
            status[(s.kind, s.name, s.plugin)] = "conflict"
    rows = _component_rows(specs, status)
    for p in reg.plugins():
        if p.status != "ok":
            rows.append({"name": "-", "kind": "-", "plugin": p.name,
                         "distribution": p.distribution, "version": p.version,
                         "status": f"{p.status}: {p.reason}", "summary": ""})
    if format is not Format.table:
        _dump(rows, format)
        return
    _print_rows(rows, chosen)


@plugins_app.command("check")
def plugins_check(
    plugin: Annotated[str | None, typer.Argument(help="Only this plugin's components.")] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Import every component, validate its Params defaults and run the contract checks
    of ``tomokit.testing.check_component``; exit 1 when any component fails."""
    from tomokit.testing import check_component, check_defaults

    reg = get_registry()
    specs = [s for s in reg.specs() if plugin is None or s.plugin == plugin]
    known = {p.name for p in reg.plugins()} | {s.plugin for s in reg.specs()}
    if plugin is not None and plugin not in known:
        from tomokit.registry import _unknown

        raise InvalidInputError(_unknown("plugin", plugin, sorted(known)))
    rows = []
    failed = False
    for s in specs:
        row = {"name": s.name, "kind": s.kind, "plugin": s.plugin, "status": "ok"}
        try:
            cls = reg.resolve(s.kind, f"{s.name}@{s.plugin}")
            bad = check_defaults(cls)
            if bad:
                raise AssertionError("; ".join(bad))
            required = [n for n, f in cls.Params.model_fields.items() if f.is_required()]
            if required:
                row["status"] = f"ok (contract checks skipped: required params {required})"
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check_component(cls)
        except Exception as exc:
            failed = True
            row["status"] = f"broken: {type(exc).__name__}: {exc}"
        rows.append(row)
    for p in reg.plugins():
        if p.status == "broken" and (plugin is None or p.name == plugin):
            failed = True
            rows.append({"name": "-", "kind": "-", "plugin": p.name,
                         "status": f"broken: {p.reason}"})
    if format is not Format.table:
        _dump(rows, format)
    else:
        _print_rows(rows, ["name", "kind", "plugin", "status"])
    if failed:
        raise typer.Exit(1)


@plugins_app.command("show")
def plugins_show(
    kind: Annotated[str, typer.Argument(help="Component kind, e.g. observer.")],
    name: Annotated[str, typer.Argument(help="Component name, e.g. ssim.")],
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Show a component's params with their types, defaults and docs."""
    reg = get_registry()
    spec = reg.get_spec(kind, name)
    cls = reg.resolve(kind, name)
    params = []
    for field_name, field_info in cls.Params.model_fields.items():
        params.append(
            {
                "name": field_name,
                "type": _type_name(field_info.annotation),
                "default": "(required)"
                if field_info.is_required()
                else field_info.get_default(call_default_factory=True),
                "description": field_info.description or "",
            }
        )
    info = {
        "kind": spec.kind,
        "name": spec.name,
        "plugin": spec.plugin,
        "distribution": spec.distribution,
        "version": spec.version,
        "target": spec.target,
        "summary": spec.summary,
        "inputs": list(cls.input_names),
        "params": params,
    }
    if format is not Format.table:
        _dump(info, format)
        return
    out.print(f"[bold]{spec.kind} {spec.name}[/bold] ({spec.distribution} {spec.version})")
    out.print(spec.summary)
    doc = (cls.__doc__ or "").strip()
    if doc:
        out.print(doc)
    out.print(f"inputs: {', '.join(cls.input_names) or '(none)'}")
    table = Table(title="params")
    for col in ("name", "type", "default", "description"):
        table.add_column(col, overflow="fold")
    for p in params:
        table.add_row(p["name"], p["type"], repr(p["default"]), p["description"])
    out.print(table)


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None)
    if text and not getattr(annotation, "__args__", None):
        return str(text)
    return str(annotation).replace("typing.", "")


# ---------------------------------------------------------------------- pipelines
@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Pipeline YAML file.")]) -> None:
    """Check a pipeline file completely without running it."""
    from tomokit.pipeline import load_pipeline

    pipeline = load_pipeline(file)
    typer.echo(f"{file}: valid ({len(pipeline.steps)} steps)")


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file (.json) instead.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing file that is not a schema.")
    ] = False,
) -> None:
    """Print the JSON Schema of pipeline files, with every installed component's params."""
    from tomokit.io._guard import JSON_SUFFIXES, check_output, is_tomokit_json, write_text
    from tomokit.pipeline import pipeline_schema

    if output is not None:
        check_output(output, what="--output", suffixes=JSON_SUFFIXES, format_name="JSON",
                     overwrite=overwrite, replaceable=is_tomokit_json)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = json.dumps(pipeline_schema(), indent=2)
    for w in caught:
        err.print(f"warning: {w.message}", style="yellow")
    if output is None:
        typer.echo(text)
    else:
        write_text(output, text + "\n")
        err.print(f"wrote {output}", markup=False)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Results file (HDF5). Default: FILE's stem + .h5."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Where per-slice work runs, overriding the file's executor section: "
            "'local', 'dask' (a LocalCluster) or a Dask scheduler address "
            "(tcp://HOST:PORT).",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Reuse steps whose inputs, params and component versions did not change "
            "(from an interrupted run or an earlier results file at OUTPUT).",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or step lines.")
    ] = False,
    log_json: Annotated[
        Path | None,
        typer.Option("--log-json", help="Write step timings and errors to this JSON file."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace existing OUTPUT / --log-json files that "
                     "an earlier tomokit run did not write."),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the HTML report of the results "
                     "(as `tomokit report`)."),
    ] = None,
) -> None:
    """Run a pipeline and write its results to one HDF5 file.

    Ctrl-C stops the run with exit status 130; finished steps' checkpoints are kept,
    and ``--resume`` continues from them.
    """
    import time

    from tomokit.executors import get_executor
    from tomokit.io._guard import (
        JSON_SUFFIXES,
        RESULTS_SUFFIXES,
        check_output,
        dumps_json,
        is_tomokit_json,
        is_tomokit_results,
        output_lock,
        write_text,
    )
    from tomokit.pipeline import load_pipeline, run_pipeline

    started = time.time()
    records: list[Any] = []
    log: dict[str, Any] = {"format": "tomokit-run-log/1", "pipeline": str(file), "output": None,
                           "resume": resume, "executor": None, "steps": [], "error": None}

    def check_log(inputs: list[Path]) -> None:
        if log_json is not None:
            check_output(log_json, what="--log-json", suffixes=JSON_SUFFIXES,
                         format_name="a JSON log", inputs=inputs, overwrite=overwrite,
                         replaceable=is_tomokit_json)

    log_ok = False
    check_log([file] + ([output] if output is not None else []))  # before any work
    log_ok = True

    def write_log() -> None:
        if log_json is None or not log_ok:
            return
        log["steps"] = [
            {"id": r.id, "kind": r.kind, "component": r.name, "seconds": round(r.seconds, 6),
             "reused": r.reused, "streamed": r.streamed, "slices": r.slices,
             "slices_per_s": round(r.slices / r.seconds, 3) if r.slices and r.seconds else None,
             "summary": r.summary}
            for r in records
        ]
        log["seconds"] = round(time.time() - started, 6)
        write_text(log_json, dumps_json(log) + "\n")

    try:
        pipeline = load_pipeline(file)
        target = output if output is not None else Path(file.stem + ".h5")
        log["output"] = str(target)
        inputs = [Path(pipeline.file)] + [pipeline.base_dir / s.path
                                          for s in pipeline.inputs.values()]
        check_output(target, what="--output", suffixes=RESULTS_SUFFIXES,
                     format_name="HDF5 results", inputs=inputs, overwrite=overwrite,
                     replaceable=is_tomokit_results)
        try:
            check_log([*inputs, target])
        except InvalidInputError:
            log_ok = False
            raise
        if report is not None:
            from tomokit.report import check_report_output

            check_report_output(report, results=target, inputs=inputs, overwrite=overwrite)
        overrides: dict[str, Any] = {}
        if executor is not None:
            if executor in ("local", "dask"):
                overrides["kind"] = executor
                if executor == "local":
                    overrides["address"] = None
            elif "://" in executor:
                overrides.update(kind="dask", address=executor)
            else:
                raise InvalidInputError(
                    f"--executor {executor!r}: use 'local', 'dask' or a scheduler address "
                    "such as tcp://10.0.0.5:8786"
                )
        config = pipeline.model.executor.model_dump(exclude_unset=True)
        config.update(overrides)
        if config.get("kind", "local") == "local":
            config.pop("address", None)
        ex = get_executor(config)
        with output_lock(target), ex, _progress(quiet) as progress:

            def show(record: Any) -> None:
                records.append(record)
                if quiet:
                    return
                from rich.markup import escape

                sid = escape(record.id)  # candidate ids hold brackets: not markup
                if record.reused:
                    err.print(f"[cyan]reused[/cyan] {sid} ({record.kind} {record.name}): "
                              "inputs, params and versions unchanged")
                    return
                rate = (f", {record.slices / record.seconds:.1f} slices/s"
                        if record.slices and record.seconds else "")
                err.print(
                    f"[green]done[/green] {sid} ({record.kind} {record.name}) "
                    f"in {record.seconds:.2f} s{rate}: {escape(record.summary)}"
                )

            summary = run_pipeline(pipeline, target, on_step=show, executor=ex, resume=resume,
                                   progress=progress)
        log["executor"] = summary.executor
    except KeyboardInterrupt:
        log["error"] = "KeyboardInterrupt: interrupted"
        write_log()
        err.print(
            "interrupted: finished steps are kept as checkpoints; run the same command with "
            "--resume to continue", style="yellow", markup=False,
        )
        raise typer.Exit(130) from None
    except BaseException as exc:
        log["error"] = f"{type(exc).__name__}: {exc}"
        write_log()
        raise
    write_log()
    written = None
    if report is not None:
        from tomokit.report import write_report

        written = write_report(summary.output, report)
    if quiet:
        return
    if summary.reused:
        err.print(f"reused {len(summary.reused)} step(s): {', '.join(summary.reused)}")
    table = Table(title=f"results: {summary.output}")
    for col in ("step", "kind", "component", "seconds", "result"):
        table.add_column(col, overflow="fold")
    for rec in summary.steps:
        table.add_row(rec.id, rec.kind, rec.name,
                      "reused" if rec.reused else f"{rec.seconds:.2f}", rec.summary)
    out.print(table)
    if written is not None:
        err.print(f"wrote {written}", markup=False)


def _progress(quiet: bool) -> Any:
    """A rich progress display (one bar per step, slices/s and ETA) as a context manager
    yielding ``progress(step_id, total) -> advance(n)``, or a no-op when quiet."""
    import contextlib

    from rich.markup import escape

    if quiet:
        return contextlib.nullcontext(None)

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    class _Rate(TextColumn):
        def render(self, task: Any) -> Any:
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} slices/s" if speed else "")

    @contextlib.contextmanager
    def manage() -> Any:
        bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), _Rate(""), TimeRemainingColumn(), console=err,
            transient=False,
        )
        with bars:

            def start(step_id: str, total: int) -> Any:
                task = bars.add_task(escape(step_id), total=max(total, 1), completed=0 if total else 1)

                def advance(n: int) -> None:
                    bars.advance(task, n)

                return advance

            yield start

    return manage()


# ------------------------------------------------------------------ quick commands
def _read_image(path: Path, dataset: str | None = None) -> np.ndarray:
    from tomokit import io

    return io.read_array(path, dataset=dataset)


def _is_hdf5(path: Path) -> bool:
    from tomokit.io._hdf5 import HDF5Format

    return path.name.lower().endswith(HDF5Format.extensions)


@app.command()
def compare(
    reference: Annotated[Path, typer.Argument(help="Reference image.")],
    distorted: Annotated[Path, typer.Argument(help="Distorted image.")],
    observer: Annotated[
        str, typer.Option("--observer", help="Observer name, or 'all' for every installed one.")
    ] = "all",
    data_range: Annotated[
        float | None,
        typer.Option("--data-range", help="Value range of the images (default: from dtype)."),
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset to read in HDF5 files (both).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Observer param KEY=VALUE (repeatable), e.g. color=true; "
                     "given to the observers that have it."),
    ] = None,
) -> None:
    """Compare two images with full-reference observers and print the values."""
    from tomokit.api import component_class, load
    from tomokit.components import resolve_data_range

    if data_range is not None:
        from tomokit.components import check_data_range

        data_range = check_data_range(data_range, name="--data-range")
    ref = _read_image(reference, dataset if _is_hdf5(reference) else None)
    dist = _read_image(distorted, dataset if _is_hdf5(distorted) else None)
    if ref.shape != dist.shape:
        raise InvalidInputError(
            f"{reference} has shape {ref.shape} but {distorted} has shape {dist.shape}; "
            "compare images of one shape"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data_range = resolve_data_range(data_range, ref, dist, name="--data-range")
    for w in caught:
        err.print(f"warning: {w.message}", style="yellow", markup=False)
    extra = _parse_assignments(param, "--param")
    names = (
        [s.name for s in get_registry().specs("observer")] if observer == "all" else [observer]
    )
    results = []
    for name in names:
        row: dict[str, Any] = {"observer": name}
        try:
            cls = component_class("observer", name)
            row["higher_is_better"] = bool(getattr(cls, "higher_is_better", True))
            fields = cls.Params.model_fields
            given = {"data_range": data_range, **extra}
            obs = load("observer", name, **{k: v for k, v in given.items() if k in fields})
            assert isinstance(obs, Observer)
            value = float(obs.compare(ref, dist))
            row["value"] = value if np.isfinite(value) else None
            if not np.isfinite(value):
                row["note"] = str(value)  # e.g. inf: identical images
        except TomokitError as exc:
            if observer != "all":
                raise
            row["value"], row["error"] = None, str(exc)  # e.g. image too small for it
        except Exception as exc:  # one broken observer must not sink the others
            if observer != "all":
                raise
            row["value"], row["error"] = None, f"{type(exc).__name__}: {exc}"
        results.append(row)
    if format is not Format.table:
        _dump(results if observer == "all" else results[0], format)
        return
    table = Table()
    for col in ("observer", "value", "better"):
        table.add_column(col)
    for r in results:
        if r["value"] is not None:
            shown = f"{r['value']:.6g}"
        else:
            shown = str(r.get("note") or f"n/a ({r.get('error', '')})")
        better = r.get("higher_is_better")
        table.add_row(r["observer"], shown,
                      "" if better is None else "higher" if better else "lower")
    out.print(table)


@app.command()
def distort(
    image: Annotated[Path, typer.Argument(help="Image to distort.")],
    distortion: Annotated[str, typer.Option("--distortion", help="Distortion name.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result.")],
    level: Annotated[int | None, typer.Option("--level", help="Level 1..5.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for random distortions.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT.")] = False,
) -> None:
    """Distort an image at a level and write it (same dtype and range as the input)."""
    from tomokit import io
    from tomokit.api import load
    from tomokit.io._guard import check_output

    fmt = io.find_format(output) if not output.is_dir() else None
    check_output(output, what="--output", inputs=[image], overwrite=overwrite,
                 suffixes=fmt.extensions if fmt is not None else None,
                 format_name=fmt.name if fmt is not None else "")
    src = _read_image(image)
    component = load("distortion", distortion, level=level)
    assert isinstance(component, Distortion)
    if np.issubdtype(src.dtype, np.integer):
        top = float(np.iinfo(src.dtype).max)
        result = component.apply(src / top, level, seed)
        result = np.clip(np.rint(np.asarray(result) * top), 0, top).astype(src.dtype)
    else:
        result = component.apply(src, level, seed)
    io.write_array(output, result, overwrite=overwrite, inputs=[image])
    err.print(f"wrote {output}", markup=False)


# ------------------------------------------------------------- learned components
models_app = typer.Typer(help="List and inspect trained models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _load_yaml_file(path: Path, what: str) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise InvalidInputError(f"{what} {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{what} {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{what} {path}: expected a mapping of settings")
    return data


def _parse_assignments(items: list[str] | None, what: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{what} {item!r}: write KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


@app.command()
def train(
    kind: Annotated[str, typer.Argument(help="Component kind, e.g. scorer.")],
    name: Annotated[str, typer.Argument(help="Component name, e.g. tiqa.")],
    data: Annotated[Path, typer.Option("--data", help="Training dataset (HDF5).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write (.keras).")],
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML with 'train:' (the recipe) and 'params:' (the "
                     "component's params); a file with neither is the recipe alone."),
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option("--validation", help="Validation dataset (default: split --data by source)."),
    ] = None,
    set_train: Annotated[
        list[str] | None, typer.Option("--train", help="Recipe override KEY=VALUE (repeatable).")
    ] = None,
    set_param: Annotated[
        list[str] | None, typer.Option("--param", help="Component param KEY=VALUE (repeatable).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a learned component and write MODEL.keras plus its MODEL.json sidecar.

    Every epoch is checkpointed beside the output (.MODEL.keras.partial.d); after an
    interruption (Ctrl-C exits 130, or a kill) the same command resumes from it.
    """
    from tomokit.learn import default_checkpoint_dir, train_component

    recipe: dict[str, Any] = {}
    params: dict[str, Any] = {}
    if config is not None:
        settings = _load_yaml_file(config, "--config")
        if set(settings) & {"train", "params"}:
            unknown = set(settings) - {"train", "params"}
            if unknown:
                raise InvalidInputError(
                    f"--config {config}: unknown key(s) {sorted(unknown)}; use train: and params:"
                )
            recipe = dict(settings.get("train") or {})
            params = dict(settings.get("params") or {})
        else:
            recipe = settings
    recipe.update(_parse_assignments(set_train, "--train"))
    params.update(_parse_assignments(set_param, "--param"))
    if output.suffix != ".keras":
        raise InvalidInputError(f"--output {output}: the model file name must end in .keras")
    inputs = [p for p in (data, validation, config) if p is not None]
    for src in inputs:
        if not src.exists():
            raise InvalidInputError(f"{src}: no such file")
        if output.exists() and output.resolve() == src.resolve():
            raise InvalidInputError(f"--output {output} is an input file; choose another name")
    from tomokit.learn import sidecar_path

    side = sidecar_path(output)
    for src in inputs:
        if side.exists() and side.resolve() == src.resolve():
            raise InvalidInputError(
                f"--output {output}: its sidecar {side} would overwrite an input; choose another name"
            )
    ckpt = default_checkpoint_dir(output)
    try:
        model, report = train_component(
            kind, name, str(data), output=output, params=params, train=recipe,
            validation=str(validation) if validation is not None else None,
            checkpoint_dir=ckpt, progress=not quiet,
        )
    except KeyboardInterrupt:
        err.print(
            f"interrupted: the last finished epoch is kept in {ckpt}; run the same command "
            "again to resume", style="yellow", markup=False,
        )
        raise typer.Exit(130) from None
    if not quiet:
        figures = ", ".join(f"{k} {v:.4g}" for k, v in report.validation.items()) or "none"
        resumed = f", resumed after epoch {report.resumed_from}" if report.resumed_from else ""
        err.print(
            f"wrote {model.path} ({report.epochs_run} epochs in {report.seconds:.1f} s on "
            f"{report.device}{resumed}; validation: {figures})", markup=False,
        )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _model_row(spec: Any) -> dict[str, Any]:
    from tomokit.learn import check_model_file
    from tomokit.learn._files import shipped_model_path

    row: dict[str, Any] = {
        "name": spec.name, "plugin": spec.plugin, "package": spec.distribution,
        "version": spec.version, "summary": spec.summary,
    }
    try:
        path = shipped_model_path(spec)
        info = check_model_file(path)
    except InvalidInputError as exc:
        row.update(status=f"broken: {exc}", size=None, component="", recipe={}, validation={})
        return row
    recipe = info.get("train") or {}
    row.update(
        status="ok",
        path=str(path),
        size=int(info["model"]["bytes"]),
        component=f"{info['component']['kind']} {info['component']['name']}",
        recipe={k: recipe[k] for k in ("epochs", "batch_size", "learning_rate", "schedule",
                                       "seed") if k in recipe},
        validation=info.get("validation") or {},
    )
    return row


@models_app.command("list")
def models_list(
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """List the models installed packages ship: name, package, size, recipe, validation."""
    rows = [_model_row(spec) for spec in get_registry().models()]
    if format is not Format.table:
        _dump(rows, format)
        return
    if not rows:
        err.print("no installed package ships a model (plugins add them with the "
                  "tomokit_models hook)", markup=False)
        return
    table = Table()
    for col in ("name", "package", "component", "size", "recipe", "validation", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["name"], f"{r['package']} {r['version']}".strip(), r["component"],
            _human_bytes(r["size"]) if r["size"] is not None else "-",
            ", ".join(f"{k}={v}" for k, v in r["recipe"].items()),
            ", ".join(f"{k} {v:.4g}" for k, v in r["validation"].items()),
            r["status"], style="red" if r["status"] != "ok" else None,
        )
    out.print(table)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="A shipped model's name or a .keras file.")],
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.yaml,
) -> None:
    """Check a model (sidecar, sha256, size, no Lambda layers) and show its sidecar."""
    from tomokit.learn import check_model_file, find_model

    path = find_model(name)
    info = dict(check_model_file(path))
    info["path"] = str(path)
    if format is Format.table:
        table = Table(title=f"model {name}")
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for key, value in info.items():
            table.add_row(key, json.dumps(value, default=str) if not isinstance(value, str)
                          else value)
        out.print(table)
        return
    _dump(info, format)


# ------------------------------------------------------------------ plugin commands
_MOUNTED: set[str] = set()


def _mount_plugin_commands() -> None:
    """Add plugins' sub-commands to the app (once per process)."""
    if _MOUNTED:
        return
    _MOUNTED.add("<done>")
    builtin = {c.name for c in app.registered_commands} | {"plugins", "models"}
    try:
        specs = get_registry().commands()
    except TomokitError:
        return
    for spec in specs:
        if spec.name in builtin:
            err.print(
                f"warning: plugin {spec.plugin!r} command {spec.name!r} clashes with another "
                "command and is skipped",
                style="yellow",
            )
            continue
        module_name, _, attr = spec.target.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:  # a broken plugin command must not break the CLI
            err.print(
                f"warning: command {spec.name!r} of plugin {spec.plugin!r} unavailable: {exc}",
                style="yellow",
            )
            continue
        app.command(spec.name, help=spec.summary or None)(func)
        builtin.add(spec.name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tomokit`` script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _mount_plugin_commands()
    try:
        # click returns (rather than raises) typer.Exit's code when not standalone
        code = app(args=args, prog_name="tomokit", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    except SystemExit as exc:  # typer.Exit
        return int(exc.code or 0)
    except (typer.Exit, typer.Abort) as exc:
        return int(getattr(exc, "exit_code", 1) or 0)
    except InvalidInputError as exc:
        if debug:
            raise
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2
    except TomokitError as exc:
        if debug:
            raise
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 1
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click usage errors
            exc.show()
            return int(exc.exit_code)
        if debug:
            raise
        err.print(f"error: {type(exc).__name__}: {exc}", style="red", markup=False, highlight=False)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
