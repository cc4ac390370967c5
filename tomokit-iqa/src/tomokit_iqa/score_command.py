"""``tomokit score``: no-reference quality scores of images, folders and volumes.

Each PATH is one *volume*: an image file (one slice), a folder of images (one slice per
file, in name order), or a stack (multi-page TIFF, a folder of TIFFs, HDF5, ``.npy``).
Slices are read and scored ``--batch`` at a time (never the whole volume in memory);
the result is a summary per volume (mean, median, quartiles), optionally per-slice
scores as JSON, a box plot comparing the volumes and a per-slice line plot.

This module is imported when the CLI is built: only typer and the standard library at
top level; numpy and the scorers are imported inside the functions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VolumeScores", "score", "score_volumes", "summarise"]

_IMAGE_SUFFIXES = (".png", ".bmp", ".gif", ".jpg", ".jpeg", ".tif", ".tiff")


class Normalize(StrEnum):
    auto = "auto"  # integers: / dtype max; floats: volume percentile window
    none = "none"  # use --data-range as it is
    volume = "volume"  # 0.5..99.5 percentile window over a sample of the volume's slices
    slice = "slice"  # the same window, slice by slice


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


@dataclass
class VolumeScores:
    """The per-slice scores of one input and why any slice has none."""

    path: str
    scores: list[float | None]
    errors: dict[int, str] = field(default_factory=dict)
    shape: tuple[int, ...] = ()

    def summary(self) -> dict[str, Any]:
        return summarise([s for s in self.scores if s is not None])


def summarise(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, std, min, quartiles, median, max (None where undefined: JSON has no NaN)."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"n": 0, **dict.fromkeys(("mean", "std", "min", "q1", "median", "q3", "max"))}
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {
        "n": int(v.size), "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
        "q1": float(q1), "median": float(med), "q3": float(q3), "max": float(v.max()),
    }


# ------------------------------------------------------------------------ reading
class _Source:
    """Slices of one PATH, readable in blocks, with their integer white level if any."""

    def __init__(self, path: Path, dataset: str | None) -> None:
        from tomokit import InvalidInputError, io

        self.path = path
        self.files: list[Path] = []
        self.reader: Any = None
        if path.is_dir():
            try:
                self.reader = io.open_volume(path, dataset=dataset)
            except InvalidInputError:
                self.files = sorted(
                    p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES
                )
                if not self.files:
                    raise InvalidInputError(
                        f"{path}: folder holds no images ({', '.join(_IMAGE_SUFFIXES)})"
                    ) from None
        elif path.exists():
            self.reader = io.open_volume(path, dataset=dataset)
        else:
            raise InvalidInputError(f"{path}: no such file or folder")

    def __len__(self) -> int:
        if self.reader is None:
            return len(self.files)
        shape = self.reader.shape
        # one RGB(A) image is a single slice (H, W, 3)
        return int(shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        if self.reader is not None:
            return tuple(self.reader.shape)
        return (len(self.files),)

    def read(self, start: int, stop: int) -> list[np.ndarray]:
        from tomokit import io

        if self.reader is not None:
            block = self.reader.read(slice(start, stop))
            return [block[i] for i in range(len(block))]
        out = []
        for f in self.files[start:stop]:
            with io.open_volume(f) as r:
                out.append(r.read(0))
        return out

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _grey(arr: np.ndarray, where: str) -> np.ndarray:
    """2-D slice; RGB(A) to luma (BT.601), keeping integer dtypes' scale."""
    import numpy as np

    from tomokit import InvalidInputError

    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        grey = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return grey.astype(arr.dtype) if np.issubdtype(arr.dtype, np.integer) else grey
    if arr.ndim != 2:
        raise InvalidInputError(f"{where}: expected a 2-D slice, got shape {arr.shape}")
    return arr


def _window(slices: Sequence[np.ndarray]) -> tuple[float, float]:
    import numpy as np

    from tomokit import InvalidInputError

    sample = np.concatenate([np.asarray(s, dtype=np.float64).ravel()[::7] for s in slices])
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        raise InvalidInputError("normalize: no finite values to set the window from")
    lo, hi = np.percentile(sample, [0.5, 99.5])
    if not hi > lo:
        hi = lo + 1.0  # constant data: the scorer reports it
    return float(lo), float(hi)


def _volume_window(src: _Source, n_sample: int = 16) -> tuple[float, float]:
    import numpy as np

    n = len(src)
    idx = np.unique(np.linspace(0, n - 1, min(n, n_sample)).round().astype(int))
    slices = [src.read(int(i), int(i) + 1)[0] for i in idx]
    return _window([_grey(s, str(src.path)) for s in slices])


# ------------------------------------------------------------------------ scoring
def _prepare(
    block: list[np.ndarray], norm: Normalize, window: tuple[float, float] | None,
    data_range: float | None, where: str,
) -> np.ndarray:
    import numpy as np

    from tomokit import InvalidInputError

    grey = [_grey(s, where) for s in block]
    shapes = {g.shape for g in grey}
    if len(shapes) > 1:
        raise InvalidInputError(f"{where}: slices of different shapes {sorted(shapes)}")
    stack = np.stack(grey)
    if norm is Normalize.none:
        if data_range is None and not np.issubdtype(stack.dtype, np.integer):
            raise InvalidInputError(
                f"{where}: float data with --normalize none needs --data-range"
            )
        top = data_range if data_range is not None else float(np.iinfo(stack.dtype).max)
        return stack.astype(np.float64) / top
    if norm is Normalize.auto and np.issubdtype(stack.dtype, np.integer):
        return stack.astype(np.float64) / float(np.iinfo(stack.dtype).max)
    if norm is Normalize.slice:
        out = np.empty(stack.shape, np.float64)
        for i, s in enumerate(stack):
            lo, hi = _window([s])
            out[i] = np.clip((s - lo) / (hi - lo), 0, 1)
        return out
    assert window is not None
    lo, hi = window
    return np.clip((stack.astype(np.float64) - lo) / (hi - lo), 0, 1)


def _score_block(scorer: Any, stack: np.ndarray, skip_bad: bool, start: int,
                 errors: dict[int, str]) -> list[float | None]:
    import numpy as np

    from tomokit import InvalidInputError

    try:
        vals = np.asarray(scorer.score(stack), dtype=np.float64).ravel()
        return [float(v) if math.isfinite(v) else None for v in vals]
    except InvalidInputError:
        if not skip_bad:
            raise
    out: list[float | None] = []
    for i, s in enumerate(stack):  # find which slices are bad
        try:
            v = float(np.asarray(scorer.score(s[None]), dtype=np.float64).ravel()[0])
            out.append(v if math.isfinite(v) else None)
        except InvalidInputError as exc:
            errors[start + i] = str(exc)
            out.append(None)
    return out


def score_volumes(
    paths: Sequence[Path],
    scorer: Any,
    *,
    batch: int = 8,
    normalize: Normalize | str = Normalize.auto,
    data_range: float | None = None,
    dataset: str | None = None,
    skip_bad: bool = False,
    progress: Any = None,
) -> list[VolumeScores]:
    """Score every slice of every path, ``batch`` slices at a time."""
    from tomokit import InvalidInputError

    norm = Normalize(normalize)
    if batch < 1:
        raise InvalidInputError(f"batch: must be >= 1, got {batch}")
    if data_range is not None and not (math.isfinite(data_range) and data_range > 0):
        raise InvalidInputError(f"data-range: must be a positive finite number, got {data_range}")
    results = []
    for path in paths:
        src = _Source(Path(path), dataset)
        try:
            n = len(src)
            window = None
            if norm is Normalize.volume or (
                norm is Normalize.auto and not _is_integer(src)
            ):
                window = _volume_window(src)
            res = VolumeScores(str(path), [], shape=src.shape)
            for start in range(0, n, batch):
                block = src.read(start, min(n, start + batch))
                stack = _prepare(block, norm, window, data_range, f"{path}[{start}]")
                res.scores.extend(_score_block(scorer, stack, skip_bad, start, res.errors))
                if progress is not None:
                    progress(str(path), len(res.scores), n)
            results.append(res)
        finally:
            src.close()
    return results


def _is_integer(src: _Source) -> bool:
    import numpy as np

    if src.reader is not None:
        return bool(np.issubdtype(src.reader.dtype, np.integer))
    return bool(np.issubdtype(src.read(0, 1)[0].dtype, np.integer))


# ------------------------------------------------------------------------ plots
def _labels(results: Sequence[VolumeScores]) -> list[str]:
    names = [Path(r.path).name or r.path for r in results]
    return [n if names.count(n) == 1 else r.path for n, r in zip(names, results, strict=True)]


def plot_box(results: Sequence[VolumeScores], path: Path, *, scorer: str,
             higher_is_better: bool) -> Path:
    """One box per volume (the paper's Fig. 4 comparison)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [[s for s in r.scores if s is not None] for r in results]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(results) + 1.5), 4.0))
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(results) + 1), _labels(results), rotation=20, ha="right")
    ax.set_ylabel(f"{scorer} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.set_title("Per-slice quality by volume")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_lines(results: Sequence[VolumeScores], path: Path, *, scorer: str,
               higher_is_better: bool) -> Path:
    """Score against slice index, one line per volume."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    for r, label in zip(results, _labels(results), strict=True):
        y = np.array([np.nan if s is None else s for s in r.scores], dtype=np.float64)
        ax.plot(np.arange(len(y)), y, marker="." if len(y) < 60 else None, label=label)
    ax.set_xlabel("slice")
    ax.set_ylabel(f"{scorer} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------ command
def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    import yaml

    from tomokit import InvalidInputError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--param: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def score(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Images, folders of images, or volumes (TIFF stack, HDF5, .npy)."),
    ],
    scorer_name: Annotated[
        str, typer.Option("--scorer", "-s", help="Registered scorer (brisque, brisque_tomo, ...).")
    ] = "brisque_tomo",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Scorer parameter KEY=VALUE (repeatable)."),
    ] = None,
    normalize: Annotated[
        Normalize,
        typer.Option("--normalize", help="auto: integers / dtype max, floats by a volume "
                     "percentile window; volume/slice: that window; none: / --data-range."),
    ] = Normalize.auto,
    data_range: Annotated[
        float | None, typer.Option("--data-range", help="White level with --normalize none.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset path inside HDF5 inputs.")
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Slices scored per call.")] = 8,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Give slices a scorer rejects (e.g. blank ones) "
                           "no score instead of stopping.")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON (per-slice) here.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Box plot comparing the volumes (PNG).")
    ] = None,
    line_plot: Annotated[
        Path | None, typer.Option("--line-plot", help="Per-slice score plot (PNG).")
    ] = None,
) -> None:
    """Score images, folders and volumes slice by slice with a no-reference scorer."""
    import sys

    from rich.console import Console
    from rich.table import Table

    import tomokit
    from tomokit import InvalidInputError

    params = _parse_params(param or [])
    cls = tomokit.api.component_class("scorer", scorer_name)
    fields = getattr(cls.Params, "model_fields", {})
    if "data_range" in fields and "data_range" not in params:
        params["data_range"] = 1.0  # slices are normalised to [0, 1] before scoring
    scorer = tomokit.load("scorer", scorer_name, params)
    err = Console(stderr=True)

    def progress(path: str, done: int, n: int) -> None:
        if n > 1 and sys.stderr.isatty():
            err.print(f"  {path}: {done}/{n}", end="\r")

    results = score_volumes(
        paths, scorer, batch=batch, normalize=normalize, data_range=data_range,
        dataset=dataset, skip_bad=skip_bad, progress=progress,
    )
    hib = bool(getattr(scorer, "higher_is_better", True))
    report = {
        "scorer": scorer_name,
        "higher_is_better": hib,
        "params": json.loads(json.dumps(scorer.params.model_dump(mode="json"))),
        "normalize": normalize.value,
        "volumes": [
            {"path": r.path, "shape": list(r.shape), "summary": r.summary(), "scores": r.scores,
             "errors": {str(k): v for k, v in r.errors.items()}}
            for r in results
        ],
    }
    text = json.dumps(report, indent=2, allow_nan=False)
    if output is not None:
        if output.resolve() in {Path(p).resolve() for p in paths}:
            raise InvalidInputError(f"--output {output} is one of the inputs")
        output.write_text(text + "\n", encoding="utf-8")
    if plot is not None:
        plot_box(results, plot, scorer=scorer_name, higher_is_better=hib)
    if line_plot is not None:
        plot_lines(results, line_plot, scorer=scorer_name, higher_is_better=hib)
    if fmt is OutputFormat.json:
        typer.echo(text)
        return
    out = Console()
    tab = Table(title=f"{scorer_name} ({'higher' if hib else 'lower'} is better)")
    tab.add_column("volume", overflow="fold")
    for col in ("slices", "scored", "mean", "median", "q1", "q3", "min", "max"):
        tab.add_column(col)
    for r, label in zip(results, _labels(results), strict=True):
        s = r.summary()

        def f(key: str, s: dict[str, Any] = s) -> str:
            return "-" if s[key] is None else f"{s[key]:.4g}"

        tab.add_row(label, str(len(r.scores)), str(s["n"]),
                    *(f(k) for k in ("mean", "median", "q1", "q3", "min", "max")))
    out.print(tab)
    for r in results:
        for k, msg in list(r.errors.items())[:5]:
            err.print(f"{r.path}[{k}]: no score: {msg}", style="yellow")
    for pth in (output, plot, line_plot):
        if pth is not None:
            err.print(f"wrote {pth}")
