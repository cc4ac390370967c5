"""The ``tomokit phantom`` command.

Imported when the CLI is built, so only typer and the standard library are imported at
top level; numpy, h5py and the generators are imported inside the function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["parse_params", "phantom"]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse, else as strings."""
    from tomokit import InvalidInputError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"--param {item!r}: expected KEY=VALUE, e.g. porosity=0.4")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def phantom(
    name: Annotated[str, typer.Argument(help="Phantom generator, e.g. electrode, jelly_roll.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HDF5 file to write (.h5).")],
    count: Annotated[int, typer.Option("-n", "--count", help="Number of samples.")] = 10,
    size: Annotated[int, typer.Option("--size", help="Image side in pixels.")] = 512,
    seed: Annotated[int, typer.Option("--seed", help="Dataset seed (per-sample seeds derive from it).")] = 0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Generator parameter KEY=VALUE (JSON values); repeatable."),
    ] = None,
    acquire: Annotated[
        bool, typer.Option("--acquire", help="Simulate a scan (tomokit-recon) and store reconstructions.")
    ] = False,
    acq_param: Annotated[
        list[str] | None,
        typer.Option("--acq-param", help="Acquisition parameter KEY=VALUE, e.g. i0=3000; repeatable."),
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Also export PNGs to this folder.")] = None,
    tiff: Annotated[Path | None, typer.Option("--tiff", help="Also export TIFFs to this folder.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
) -> None:
    """Generate synthetic phantoms with exact labels into an HDF5 dataset."""
    from tomokit import InvalidInputError
    from tomokit_phantom.dataset import write_dataset

    if count < 1:
        raise InvalidInputError(f"--count: expected >= 1, got {count}")
    if not 16 <= size <= 16384:
        raise InvalidInputError(f"--size: expected 16 to 16384 pixels, got {size}")
    if seed < 0:
        raise InvalidInputError(f"--seed: expected >= 0, got {seed}")
    if acq_param and not acquire:
        raise InvalidInputError("--acq-param needs --acquire")
    params = parse_params(param)
    acquisition = parse_params(acq_param) if acquire else None
    if acquisition is not None:
        from tomokit_phantom._acquire import AcquisitionParams

        try:
            AcquisitionParams.model_validate(acquisition)
        except Exception as exc:
            raise InvalidInputError(f"--acq-param: {exc}") from None
    done = [0]

    def progress(i: int) -> None:
        done[0] = i
        if i == count or i % max(1, count // 10) == 0:
            typer.echo(f"{i}/{count}", err=True)

    path = write_dataset(
        output, name, count=count, size=size, seed=seed, params=params,
        acquisition=acquisition, overwrite=overwrite, png_dir=png, tiff_dir=tiff,
        progress=progress,
    )
    typer.echo(f"wrote {path} ({count} x {size}x{size} {name})", err=True)
