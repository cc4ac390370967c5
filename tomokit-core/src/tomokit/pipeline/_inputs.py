"""Opening a pipeline's inputs: lazy readers for volumes and raw scans, arrays or
sinograms otherwise; and resolving ``step.key`` references."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import (
    Sinogram,
)
from tomokit.errors import InvalidInputError, RunError
from tomokit.pipeline.load import LoadedPipeline

__all__ = ["lookup", "open_input"]



def _read_input(pipeline: LoadedPipeline, name: str) -> Any:
    from tomokit import io

    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    array = io.read_array(path, dataset=spec.dataset)
    if spec.normalize and np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    elif np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        array = array.astype(np.float32)
    if spec.angles is None:
        return array
    if array.ndim != 2:
        raise InvalidInputError(
            f"input {name!r}: a sinogram must be 2-D (angles x detectors), got shape {array.shape}"
        )
    if spec.angles in ("uniform-180", "uniform-360"):
        span = np.pi if spec.angles == "uniform-180" else 2 * np.pi
        angles = np.linspace(0, span, array.shape[0], endpoint=False)
    else:
        angles = io.read_array(path, dataset=spec.angles)
    return Sinogram(data=array, angles=angles)


def _is_scan(path: Path) -> bool:
    """Whether an HDF5 file is a raw DXchange or NXtomo scan (flats to normalise by)."""
    from tomokit.io._hdf5 import HDF5Format
    from tomokit.io._tomo import _nx_entry

    if not any(path.name.lower().endswith(e) for e in HDF5Format.extensions) or not path.is_file():
        return False
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return "exchange/data_white" in h5 or _nx_entry(h5) is not None
    except OSError:
        return False


def open_input(pipeline: LoadedPipeline, name: str) -> Any:
    """A pipeline input: a lazy reader for volumes and scans, an array or Sinogram else."""
    from tomokit import io
    from tomokit.io._views import MappedReader, to_float32

    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    fmt = getattr(spec, "format", None)
    if spec.angles is None:
        if fmt in ("dxchange", "nxtomo") or (fmt is None and spec.dataset is None
                                            and _is_scan(path)):
            return io.open_scan(path, layout=fmt or "auto",
                                nan_policy=getattr(spec, "nan_policy", None) or "raise")
        reader = io.open_volume(path, dataset=spec.dataset, format=fmt)
        if reader.ndim == 3 and not reader.single and len(reader) > 0:
            if reader.dtype.kind == "f":
                return reader
            return MappedReader(
                reader, functools.partial(to_float32, normalize=spec.normalize), np.float32
            )
        reader.close()
    return _read_input(pipeline, name)


def lookup(ref: str, values: Mapping[str, Any]) -> Any:
    base, _, key = ref.partition(".")
    value = values[base]
    if isinstance(value, Mapping):
        if not key:
            if "image" in value:
                return value["image"]
            raise RunError(
                f"{base!r} has several outputs ({', '.join(value)}); refer to one as '{base}.KEY'"
            )
        if key not in value:
            raise RunError(f"{base!r} has no output {key!r}; it has {', '.join(value)}")
        return value[key]
    if key:
        raise RunError(f"{base!r} has a single output; refer to it as {base!r}, not {ref!r}")
    return value
