"""The ``tomokit iqa-dataset`` and ``tomokit iqa-evaluate`` commands.

This module is imported when the CLI is built, so it imports only typer and the standard
library at top level; numpy, h5py and the IQA code are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["iqa_dataset", "iqa_evaluate"]

_IMAGE_SUFFIXES = (".png", ".bmp", ".gif", ".jpg", ".jpeg", ".tif", ".tiff")


class FitChoice(StrEnum):
    none = "none"
    logistic4 = "logistic4"
    logistic5 = "logistic5"


def _names(text: str, what: str) -> tuple[str, ...]:
    from tomokit import InvalidInputError

    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise InvalidInputError(f"--{what}: give a comma-separated list")
    return items


def _grey(arr: np.ndarray, where: str) -> np.ndarray:
    import numpy as np

    from tomokit import InvalidInputError

    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        top = float(np.iinfo(arr.dtype).max) if np.issubdtype(arr.dtype, np.integer) else None
        grey = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return grey / top if top else grey
    if arr.ndim != 2:
        raise InvalidInputError(f"{where}: expected a 2-D slice, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    return arr.astype(np.float64)


def _slices(path: Path, dataset: str | None) -> Iterator[tuple[str, np.ndarray]]:
    from tomokit import io

    with io.open_volume(path, dataset=dataset) as reader:
        n = len(reader)
        for i in range(n):
            sl = reader.read(i)
            if sl.ndim == 3 and sl.shape[-1] not in (3, 4):  # a stack inside one page
                for j, sub in enumerate(sl):
                    yield f"{path.name}:{j}", _grey(sub, f"{path}[{j}]")
                continue
            sid = path.name if n == 1 else f"{path.name}:{i}"
            yield sid, _grey(sl, f"{path}[{i}]")


def _references(paths: list[Path], dataset: str | None) -> Iterator[tuple[str, np.ndarray]]:
    from tomokit import InvalidInputError

    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not files:
                raise InvalidInputError(
                    f"{path}: folder holds no images ({', '.join(_IMAGE_SUFFIXES)})"
                )
            for f in files:
                yield from _slices(f, None)
        elif path.exists():
            yield from _slices(path, dataset)
        else:
            raise InvalidInputError(f"{path}: no such file or folder")


def iqa_dataset(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Reference images: files, folders of images, TIFF stacks or HDF5."),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="HDF5 file to write.")],
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Also export every column but the images.")
    ] = None,
    scores: Annotated[
        Path | None,
        typer.Option("--scores", help="CSV of human scores (image id, score) used as S."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset path inside an HDF5 input.")
    ] = None,
    distortions: Annotated[
        str, typer.Option("--distortions", help="Comma-separated distortion names.")
    ] = "blur,noise,ring",
    levels: Annotated[str, typer.Option("--levels", help="Comma-separated levels.")] = "1,2,3,4,5",
    observers: Annotated[
        str, typer.Option("--observers", help="Comma-separated observer names.")
    ] = "ssim,ms_ssim,fsim,gmsd,mdsi",
    resize: Annotated[
        int, typer.Option("--resize", help="Shorter side after resizing (0: keep).")
    ] = 255,
    crop: Annotated[int, typer.Option("--crop", help="Random square crop side (0: none).")] = 224,
    reference_score: Annotated[
        float, typer.Option("--reference-score", help="S for images without a human score.")
    ] = 5.0,
    data_range: Annotated[
        float,
        typer.Option(
            "--data-range", help="Range of float images (integer images are scaled to [0, 1])."
        ),
    ] = 1.0,
    no_round: Annotated[
        bool, typer.Option("--no-round", help="Do not round observers' scores.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of crops and distortions.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT.")] = False,
) -> None:
    """Generate a distorted, auto-labelled IQA dataset (TIQA) into one HDF5 file."""
    import numpy as np
    from rich.console import Console

    from tomokit import InvalidInputError
    from tomokit.io._guard import RESULTS_SUFFIXES, check_output
    from tomokit_iqa.dataset import (
        DatasetParams,
        generate_dataset,
        read_score_table,
        write_dataset,
    )

    check_output(output, what="--output", suffixes=RESULTS_SUFFIXES, format_name="an HDF5 "
                 "dataset", inputs=list(inputs), overwrite=True)  # write_dataset: --overwrite
    if csv is not None:
        check_output(csv, what="--csv", suffixes=(".csv",), format_name="CSV",
                     inputs=[*inputs, output], overwrite=overwrite)
    try:
        level_list = tuple(int(v) for v in _names(levels, "levels"))
    except ValueError:
        raise InvalidInputError(f"--levels: expected integers such as 1,2,3, got {levels!r}") from None
    from pydantic import ValidationError

    from tomokit.api import format_validation_error

    try:
        params = DatasetParams.model_validate(
            {
                "distortions": _names(distortions, "distortions"),
                "levels": level_list,
                "observers": _names(observers, "observers"),
                "resize": resize or None,
                "crop": crop or None,
                "data_range": data_range,
                "reference_score": reference_score,
                "rounding": not no_round,
            }
        )
    except ValidationError as exc:
        raise InvalidInputError(f"iqa-dataset: {format_validation_error(exc)}") from None
    human = read_score_table(scores) if scores is not None else None
    ids: list[str] = []  # filled as images are read, before generate_dataset needs them

    def images() -> Iterator[np.ndarray]:
        for sid, img in _references(inputs, dataset):
            ids.append(sid)
            yield img

    console = Console(stderr=True)
    blocks = generate_dataset(
        images(), params=params, ids=ids, scores=human, rng=np.random.default_rng(seed)
    )

    def progress() -> Iterator[Any]:
        for block in blocks:
            console.print(f"  {block.source_id}: {len(block.level)} rows")
            yield block

    n = write_dataset(
        progress(), output, csv_path=csv, params=params, seed=seed, overwrite=overwrite
    )
    console.print(f"wrote {n} rows to {output}" + (f" and {csv}" if csv else ""))


# ------------------------------------------------------------------------ evaluate
def _read_column(path: Path, name: str) -> np.ndarray:
    """A column of a CSV file or a dataset of an HDF5 file (``observers/NAME`` also tried)."""
    import csv as _csv

    import numpy as np

    from tomokit import InvalidInputError

    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = _csv.DictReader(fh)
            fields = reader.fieldnames or []
            if name not in fields:
                raise InvalidInputError(
                    f"{path}: no column {name!r}; columns: {', '.join(fields)}"
                )
            values = [row[name] for row in reader]
        try:
            return np.array([float(v) for v in values])
        except ValueError:
            return np.array(values)
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InvalidInputError(f"{path}: not an HDF5 or CSV file ({exc})") from None
    with h5:
        for key in (name, f"observers/{name}"):
            if key in h5 and isinstance(h5[key], h5py.Dataset):
                data = h5[key][()]
                if data.dtype.kind in "OS":
                    data = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in data])
                return np.asarray(data)
        found: list[str] = []
        h5.visititems(lambda k, v: found.append(k) if isinstance(v, h5py.Dataset) else None)
    raise InvalidInputError(
        f"{path}: no dataset {name!r}; datasets: {', '.join(found[:30])}"
    )


def _column(spec: str, default_file: Path) -> np.ndarray:
    """``NAME`` in the main file, or ``FILE:NAME`` in another one."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and Path(head).suffix.lower() in (".csv", ".h5", ".hdf5", ".hdf", ".nxs"):
        return _read_column(Path(head), tail)
    return _read_column(default_file, spec)


def _is_tomokit_png(path: Path) -> bool:
    """A plot an earlier iqa-evaluate wrote (its PNG ``Software`` text is tomokit)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return str(im.info.get("Software", "")).startswith("tomokit")
    except Exception:
        return False


def iqa_evaluate(
    table: Annotated[
        Path, typer.Argument(help="Dataset or results file (HDF5) or a CSV with the columns.")
    ],
    scores: Annotated[
        str,
        typer.Option(
            "--scores", help="Scores: a column/dataset of TABLE (observers/NAME tried too), "
            "or FILE:NAME."
        ),
    ],
    labels: Annotated[
        str, typer.Option("--labels", help="Labels: a column/dataset, or FILE:NAME.")
    ] = "score",
    groups: Annotated[
        str, typer.Option("--groups", help="Column splitting the rows ('' for none).")
    ] = "distortion",
    fit: Annotated[
        FitChoice, typer.Option("--fit", help="Logistic mapping before PLCC and RMSE.")
    ] = FitChoice.none,
    keep_reference: Annotated[
        bool,
        typer.Option("--keep-reference", help="Keep level-0 reference rows (default: dropped)."),
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON.")] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Scatter plot, one panel per group.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --json/--png files tomokit did not write.")
    ] = False,
) -> None:
    """PLCC, SROCC, KRCC and RMSE of scores against labels, overall and per group."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from tomokit import InvalidInputError
    from tomokit.io._guard import JSON_SUFFIXES, check_output, is_tomokit_json
    from tomokit_iqa.evaluation import evaluate, plot_evaluation, select_rows, write_report

    sources = [table] + [Path(c.rpartition(":")[0]) for c in (scores, labels, groups)
                         if ":" in c and c.rpartition(":")[0]]
    if json_out is not None:
        check_output(json_out, what="--json", suffixes=JSON_SUFFIXES, format_name="JSON",
                     inputs=sources, overwrite=overwrite, replaceable=is_tomokit_json)
    if png is not None:
        check_output(png, what="--png", suffixes=(".png",), format_name="a PNG plot",
                     inputs=[*sources, *([json_out] if json_out else [])],
                     overwrite=overwrite, replaceable=_is_tomokit_png)
    s = np.asarray(_column(scores, table), dtype=np.float64)
    y = np.asarray(_column(labels, table), dtype=np.float64)
    g = _column(groups, table) if groups else None
    if s.shape != y.shape or (g is not None and g.shape != s.shape):
        raise InvalidInputError(
            f"--scores ({s.size} values), --labels ({y.size})"
            + ("" if g is None else f" and --groups ({g.size})")
            + " differ in length"
        )
    s, y, g = select_rows(s, y, g, keep_reference=keep_reference)
    report = evaluate(s, y, groups=g, fit=fit.value)
    report["scores"], report["labels"], report["source"] = scores, labels, str(table)
    out = Console()
    tab = Table(title=f"{scores} vs {labels}" + (f" (fit: {fit.value})" if fit.value != "none" else ""))
    for col in ("subset", "n", "PLCC", "SROCC", "KRCC", "RMSE"):
        tab.add_column(col)
    rows = [("all", report["overall"]), *report["groups"].items()]
    for name, entry in rows:
        tab.add_row(
            name, str(entry["n"]),
            *(f"{entry[m]:.4f}" for m in ("plcc", "srocc", "krcc", "rmse")),
        )
    out.print(tab)
    if json_out is not None:
        write_report(report, json_out)
        out.print(f"wrote {json_out}")
    if png is not None:
        plot_evaluation(s, y, png, groups=g, fit=fit.value, score_name=scores, label_name=labels)
        out.print(f"wrote {png}")
