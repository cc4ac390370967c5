"""The ``tomokit upscale`` command.

This module is imported when the CLI is built, so it imports only typer and the standard
library at top level; numpy, h5py and the super-resolvers are imported inside.

A hyperspectral cube is never held whole: HDF5 datasets and ``.npy`` files are read a
block of channels at a time (``--channel-block``), upscaled, and written block by block
into a temporary file that is renamed into place when complete.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["upscale"]

_HDF5 = (".h5", ".hdf5", ".hdf", ".nxs")


class Layout(StrEnum):
    hwc = "hwc"
    chw = "chw"


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as YAML scalars (numbers, booleans, null)."""
    import yaml

    from tomokit import InvalidInputError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--param: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def _open_low(path: Path, dataset: str | None, stack: Any) -> Any:
    """An array-like ``low`` whose channel blocks are read on demand (HDF5, ``.npy``);
    other formats are read whole (images are small)."""
    import numpy as np

    from tomokit import InvalidInputError, io

    if not path.exists():
        raise InvalidInputError(f"LOW: {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in _HDF5:
        import h5py

        h5 = stack.enter_context(h5py.File(path, "r"))
        if dataset is None:
            found: list[str] = []
            h5.visititems(lambda k, v: found.append(k) if isinstance(v, h5py.Dataset) else None)
            if len(found) != 1:
                raise InvalidInputError(
                    f"LOW: {path} holds {len(found)} datasets; name one with --dataset "
                    f"({', '.join(found[:20])})"
                )
            dataset = found[0]
        if dataset not in h5 or not isinstance(h5[dataset], h5py.Dataset):
            raise InvalidInputError(f"LOW: {path} has no dataset {dataset!r}")
        return h5[dataset]
    if suffix == ".npy":
        return np.load(path, mmap_mode="r")
    return io.read_array(path, dataset=dataset)


class _Writer:
    """Block-wise output to HDF5 or ``.npy`` through a temporary file; whole-array
    output for other formats (2-D results only)."""

    def __init__(self, path: Path, shape: tuple[int, ...], overwrite: bool,
                 inputs: tuple[Path, ...], dataset: str) -> None:
        import numpy as np

        from tomokit import InvalidInputError

        self.path, self.shape, self.dataset = path, shape, dataset
        if path.exists() and not overwrite:
            raise InvalidInputError(f"-o: {path} already exists; pass --overwrite")
        if path.resolve() in {p.resolve() for p in inputs}:
            raise InvalidInputError(f"-o: {path} is an input; choose another path")
        if not path.parent.exists():
            raise InvalidInputError(f"-o: folder {path.parent} does not exist")
        self.tmp = path.with_name(f".{path.name}.partial")
        suffix = path.suffix.lower()
        self.kind = "hdf5" if suffix in _HDF5 else "npy" if suffix == ".npy" else "other"
        self._h5: Any = None
        if self.kind == "hdf5":
            import h5py

            self._h5 = h5py.File(self.tmp, "w")
            chunks = tuple(min(s, 256) for s in shape[:2]) + tuple(min(s, 16) for s in shape[2:])
            self.target = self._h5.create_dataset(
                dataset, shape=shape, dtype="float32", chunks=chunks, compression="gzip"
            )
        elif self.kind == "npy":
            self.target = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=np.float32,
                                                    shape=shape)
        else:
            if len(shape) == 3 and shape[2] > 1:
                raise InvalidInputError(
                    f"-o: {path.suffix} cannot hold a {shape[2]}-channel cube; write .h5 or .npy"
                )
            self.target = np.empty(shape, dtype=np.float32)

    def attrs(self, **values: Any) -> None:
        if self._h5 is not None:
            for k, v in values.items():
                self.target.attrs[k] = v

    def commit(self) -> None:
        from tomokit import io

        if self.kind == "hdf5":
            self._h5.close()
            os.replace(self.tmp, self.path)
        elif self.kind == "npy":
            self.target.flush()
            del self.target
            os.replace(self.tmp, self.path)
        else:
            arr = self.target[..., 0] if self.target.ndim == 3 else self.target
            io.write_array(self.path, arr, overwrite=True)

    def discard(self) -> None:
        if self._h5 is not None:
            self._h5.close()
        self.tmp.unlink(missing_ok=True)


def _guide_image(path: Path, dataset: str | None) -> np.ndarray:
    import numpy as np

    from tomokit import InvalidInputError, io

    if not path.exists():
        raise InvalidInputError(f"--guide: {path}: no such file")
    arr = io.read_array(path, dataset=dataset)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InvalidInputError(
            f"--guide: expected one 2-D absorption image, got shape {arr.shape}"
        )
    return np.asarray(arr, dtype=np.float32)


def upscale(
    low: Annotated[Path, typer.Argument(help="Low-resolution chemical map or cube "
                                        "(HDF5, .npy, TIFF, image).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result "
                                         "(.h5 or .npy for cubes).")],
    guide: Annotated[Path | None, typer.Option(
        "--guide", help="High-resolution absorption image (factor x the size of LOW).")] = None,
    super_resolver: Annotated[str, typer.Option(
        "--super-resolver", help="Super-resolver name (tomokit plugins list --kind super_resolver).")]
        = "bicubic",
    factor: Annotated[int, typer.Option("--factor", help="Upscaling factor: 2, 4 or 8.")] = 4,
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="Extra parameter KEY=VALUE of the super-resolver (repeatable).")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="Dataset of LOW inside an HDF5 file.")] = None,
    guide_dataset: Annotated[str | None, typer.Option(
        "--guide-dataset", help="Dataset of the guide inside an HDF5 file.")] = None,
    layout: Annotated[Layout, typer.Option(
        "--layout", help="Axis order of a 3-D LOW: hwc (rows, columns, channels) or chw.")]
        = Layout.hwc,
    channel_block: Annotated[int, typer.Option(
        "--channel-block", help="Channels read, upscaled and written at a time.")] = 16,
    output_dataset: Annotated[str, typer.Option(
        "--output-dataset", help="Dataset name in an HDF5 output.")] = "data",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT.")] = False,
) -> None:
    """Super-resolve a chemical map or hyperspectral cube, optionally guided by absorption."""
    import contextlib

    import numpy as np
    from rich.console import Console

    from tomokit import InvalidInputError, SuperResolver, load

    if factor not in (2, 4, 8):
        raise InvalidInputError(f"--factor: expected 2, 4 or 8, got {factor}")
    if channel_block < 1:
        raise InvalidInputError(f"--channel-block: expected >= 1, got {channel_block}")
    params = {"factor": factor, **_parse_params(param or [])}
    component = load("super_resolver", super_resolver, params)
    if not isinstance(component, SuperResolver):
        raise InvalidInputError(f"--super-resolver: {super_resolver!r} is not a super-resolver")
    console = Console(stderr=True)
    g = None if guide is None else _guide_image(guide, guide_dataset)
    with contextlib.ExitStack() as stack:
        src = _open_low(low, dataset, stack)
        if src.ndim not in (2, 3):
            raise InvalidInputError(
                f"LOW: expected a 2-D map or a 3-D cube, got shape {tuple(src.shape)}"
            )
        chw = src.ndim == 3 and layout is Layout.chw
        shape = tuple(int(v) for v in src.shape)
        if src.ndim == 2:
            h, w, c = shape[0], shape[1], 1
        elif chw:
            h, w, c = shape[1], shape[2], shape[0]
        else:
            h, w, c = shape
        out_shape: tuple[int, ...] = (factor * h, factor * w) + ((c,) if src.ndim == 3 else ())
        inputs = (low,) if guide is None else (low, guide)
        writer = _Writer(output, out_shape, overwrite, inputs, output_dataset)
        try:
            for start in range(0, c, channel_block):
                stop = min(c, start + channel_block)
                if src.ndim == 2:
                    block = np.asarray(src[()] if hasattr(src, "id") else src)
                elif chw:
                    block = np.moveaxis(np.asarray(src[start:stop]), 0, -1)
                else:
                    block = np.asarray(src[:, :, start:stop])
                result = np.asarray(component.upscale(block, g), dtype=np.float32)
                if src.ndim == 2:
                    writer.target[...] = result
                else:
                    writer.target[:, :, start:stop] = result
                if c > 1:
                    console.print(f"  channels {start}..{stop - 1} of {c}")
            writer.attrs(super_resolver=super_resolver, factor=factor,
                         source=str(low), guide=str(guide or ""))
            writer.commit()
        except BaseException:
            writer.discard()
            raise
    console.print(f"wrote {output} {out_shape} ({super_resolver}, x{factor})")


class Method(StrEnum):
    chemisr = "chemisr"
    edsr = "edsr"
    both = "both"


class RecipeName(StrEnum):
    quick = "quick"
    shipped = "shipped"


def sr_train(
    method: Annotated[Method, typer.Option("--method", help="Which network(s) to train.")]
        = Method.both,
    recipe: Annotated[RecipeName, typer.Option(
        "--recipe", help="quick (CI-sized) or shipped (the shipped x4 models).")]
        = RecipeName.shipped,
    factor: Annotated[int, typer.Option("--factor", help="Upscaling factor: 2, 4 or 8.")] = 4,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Folder for METHOD_xFACTOR.keras (default: the installed "
        "package's model folder for --recipe shipped, else the current folder).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the recipe's epochs.")]
        = None,
    checkpoint_dir: Annotated[Path | None, typer.Option(
        "--checkpoint-dir", help="Per-epoch checkpoints (a killed run resumes).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or gpu.")] = "auto",
) -> None:
    """Train edsr/chemisr by a recipe on tomokit-phantom pairs and report test figures."""
    import json

    from rich.console import Console

    from tomokit import InvalidInputError
    from tomokit_sr.recipes import train_recipe

    if factor not in (2, 4, 8):
        raise InvalidInputError(f"--factor: expected 2, 4 or 8, got {factor}")
    if output is None:
        output = (Path(__file__).parent / "data" / "models" if recipe is RecipeName.shipped
                  else Path.cwd())
    output.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    methods = ["edsr", "chemisr"] if method is Method.both else [method.value]
    overrides: dict[str, Any] = {"device": device}
    if epochs is not None:
        overrides["epochs"] = epochs
    for name in methods:
        path = output / f"{name}_x{factor}.keras"
        ckpt = None if checkpoint_dir is None else checkpoint_dir / f"{name}_x{factor}"
        _, report, figures = train_recipe(name, recipe.value, factor=factor, output=path,
                                          checkpoint_dir=ckpt, overrides=overrides,
                                          progress=True)
        console.print(f"wrote {path} ({report.epochs_run} epochs, {report.seconds:.0f} s, "
                      f"{figures['seconds_per_epoch']:.1f} s/epoch on {report.device})")
        typer.echo(json.dumps({"super_resolver": name, "model": str(path), **figures}, default=float))
