"""The ``tomokit segment`` command.

This module is imported when the CLI is built, so it imports only typer and the standard
library at top level; numpy, h5py and the segmenters are imported inside the function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["parse_params", "segment"]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values are parsed as JSON when they can be (numbers, lists)."""
    from tomokit import InvalidInputError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--param: expected key=value, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _grey(arr: np.ndarray, where: str) -> np.ndarray:
    import numpy as np

    from tomokit import InvalidInputError

    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and min(arr.shape[:2]) > 4:
        arr = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if arr.ndim not in (2, 3):
        raise InvalidInputError(f"{where}: expected a 2-D slice or an (N, H, W) stack, got {arr.shape}")
    return np.asarray(arr, dtype=np.float32)


def segment(
    path: Annotated[Path, typer.Argument(help="Image or volume: PNG/TIFF, TIFF stack, HDF5, .npy.")],
    segmenter: Annotated[
        str, typer.Option("--segmenter", help="Segmenter name (tomokit plugins list --kind segmenter).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="HDF5 file to write.")],
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Ground-truth labels (same shape as the image).")
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Folder for the uncertainty (and IoU) map PNGs.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset inside an HDF5 input (e.g. images).")
    ] = None,
    truth_dataset: Annotated[
        str | None, typer.Option("--truth-dataset", help="Dataset inside an HDF5 truth (e.g. labels).")
    ] = None,
    classes: Annotated[
        int | None, typer.Option("--classes", help="Number of phases (checked against a model).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Segmenter parameter key=value (repeatable).")
    ] = None,
    align: Annotated[
        bool | None,
        typer.Option("--align/--no-align",
                     help="Match predicted classes to the truth's before scoring (default: for "
                          "unsupervised segmenters only)."),
    ] = None,
    slice_index: Annotated[
        int | None, typer.Option("--slice", help="Slice of a stack drawn in the PNGs (default: middle).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT.")] = False,
) -> None:
    """Segment an image or volume: labels, probabilities and uncertainty (+ F1/IoU with --truth)."""
    import h5py
    import numpy as np
    from rich.console import Console

    from tomokit import InvalidInputError, Segmenter, io, load
    from tomokit_seg.data import check_labels
    from tomokit_seg.evaluate import align_labels, score_segmentation

    console = Console(stderr=True)
    if output.exists() and not overwrite:
        raise InvalidInputError(f"output {output} exists; pass --overwrite")
    if output.resolve() in {path.resolve(), *( [truth.resolve()] if truth else [])}:
        raise InvalidInputError(f"output {output} is an input; choose another path")
    if not output.parent.exists():
        raise InvalidInputError(f"output {output}: folder {output.parent} does not exist")
    if png is not None and png.exists() and not png.is_dir():
        raise InvalidInputError(f"--png {png}: is a file, expected a folder")
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder")
    image = _grey(io.read_array(path, dataset=dataset), str(path))
    labels_true = None
    if truth is not None:
        if not truth.exists():
            raise InvalidInputError(f"--truth {truth}: no such file or folder")
        raw = np.asarray(io.read_array(truth, dataset=truth_dataset))
        labels_true = check_labels(raw, image.shape, name=f"--truth {truth}")

    params = parse_params(param)
    comp = load("segmenter", segmenter, **_with_classes(segmenter, params, classes))
    if not isinstance(comp, Segmenter):
        raise InvalidInputError(f"{segmenter!r} is not a segmenter")
    n_model = getattr(comp, "n_classes", None)
    if classes is not None and n_model is not None and int(n_model) != classes:
        raise InvalidInputError(
            f"--classes {classes}: segmenter {segmenter!r} gives {n_model} classes"
        )
    out = comp.run_step({"images": image}, rng=np.random.default_rng(0))
    labels = np.asarray(out["labels"])
    n_classes = int(np.asarray(out["probabilities"]).shape[-1])
    if classes is not None and n_classes != classes:
        raise InvalidInputError(
            f"--classes {classes}: segmenter {segmenter!r} gave {n_classes} classes"
        )

    scores = None
    scored = labels
    mapping: dict[int, int] | None = None
    if labels_true is not None:
        if int(labels_true.max()) >= n_classes:
            raise InvalidInputError(
                f"--truth: has class {int(labels_true.max())}, but {segmenter!r} gives "
                f"{n_classes} classes; pass --classes {int(labels_true.max()) + 1} (or a model "
                "trained for that many phases)"
            )
        if align if align is not None else bool(getattr(comp, "unsupervised", False)):
            scored, mapping = align_labels(labels, labels_true, n_classes=n_classes)
        scores = score_segmentation(scored, labels_true, n_classes=n_classes)

    tmp = output.with_name(f".{output.name}.partial")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("labels", data=labels, compression="gzip", compression_opts=4)
        f.create_dataset("probabilities", data=np.asarray(out["probabilities"], np.float32))
        f.create_dataset("uncertainty", data=np.asarray(out["uncertainty"], np.float32))
        f.attrs["segmenter"] = segmenter
        f.attrs["params"] = json.dumps(comp.params.model_dump(), default=str)
        f.attrs["source"] = str(path)
        f.attrs["classes"] = n_classes
        if scores is not None:
            g = f.create_group("scores")
            for key in ("f1", "iou", "confusion"):
                g.create_dataset(key, data=scores[key])
            for key in ("mean_f1", "mean_iou", "boundary_f1", "accuracy"):
                g.attrs[key] = scores[key]
            if mapping is not None:
                f.create_dataset("aligned_labels", data=scored, compression="gzip")
                g.attrs["alignment"] = json.dumps(mapping)
    tmp.replace(output)
    console.print(f"wrote {output}: labels {labels.shape}, {n_classes} classes")

    if png is not None:
        _write_pngs(png, out, scored, labels_true, n_classes, slice_index)
        console.print(f"wrote maps to {png}")
    if scores is not None:
        per = ", ".join(f"{v:.3f}" for v in scores["f1"])
        typer.echo(
            f"mean F1 {scores['mean_f1']:.4f}  mean IoU {scores['mean_iou']:.4f}  "
            f"boundary F1 {scores['boundary_f1']:.4f}  per-class F1 [{per}]"
        )


def _with_classes(name: str, params: dict[str, Any], classes: int | None) -> dict[str, Any]:
    """Pass ``--classes`` to segmenters that take a ``classes`` parameter."""
    if classes is None or "classes" in params:
        return params
    from tomokit import get_registry

    cls = get_registry().resolve("segmenter", name)
    if "classes" in cls.Params.model_fields:
        return {**params, "classes": classes}
    return params


def _write_pngs(
    folder: Path,
    out: dict[str, Any],
    labels: np.ndarray,
    truth: np.ndarray | None,
    n_classes: int,
    slice_index: int | None,
) -> None:
    import numpy as np

    from tomokit import InvalidInputError
    from tomokit_seg.maps import write_iou_map, write_uncertainty_map

    folder.mkdir(parents=True, exist_ok=True)
    unc = np.asarray(out["uncertainty"])
    if unc.ndim == 3:
        i = len(unc) // 2 if slice_index is None else slice_index
        if not 0 <= i < len(unc):
            raise InvalidInputError(f"--slice {i}: the stack has {len(unc)} slices")
        unc, labels = unc[i], labels[i]
        truth = truth[i] if truth is not None else None
    write_uncertainty_map(folder / "uncertainty.png", unc)
    if truth is not None:
        for c in range(1, n_classes):
            write_iou_map(folder / f"iou_class{c}.png", labels, truth, label=c)
