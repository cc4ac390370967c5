"""Opening a pipeline's inputs: lazy readers for volumes and raw scans, arrays or
sinograms otherwise; and resolving ``step.key`` references."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import (
    Sinogram,
    color_error,
    is_color_image,
)
from tomokit.errors import InvalidInputError
from tomokit.pipeline.load import LoadedPipeline

__all__ = ["UNIFORM_ANGLES", "open_input", "probe_input"]

#: The ``angles:`` values that are not dataset paths.
UNIFORM_ANGLES = ("uniform-180", "uniform-360")



def _read_input(pipeline: LoadedPipeline, name: str) -> Any:
    from tomokit import io

    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    array = io.read_array(path, dataset=spec.dataset)
    if getattr(spec, "color", "refuse") == "luma":
        array = io.to_grey(array, name=f"input {name!r}")
    elif is_color_image(array):
        raise color_error(f"input {name!r}", array.shape)
    if spec.normalize and np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)  # [min, max] -> [0, 1], signed types included
        array = ((array.astype(np.float64) - info.min) / (float(info.max) - info.min)
                 ).astype(np.float32)
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
            # a raw DXchange scan: projections with flats, darks or angles beside them
            # (a file with /exchange/data alone is a plain volume, e.g. a reconstruction)
            dxchange = "exchange/data" in h5 and any(
                k in h5 for k in ("exchange/data_white", "exchange/data_dark", "exchange/theta"))
            return dxchange or _nx_entry(h5) is not None
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


def _is_hdf5_name(path: Path) -> bool:
    from tomokit.io._hdf5 import HDF5Format

    return any(path.name.lower().endswith(e) for e in HDF5Format.extensions)


def probe_input(base_dir: Path, name: str, spec: Any) -> tuple[str, str] | None:
    """What ``tomokit run`` would reject about an input, found at validation time.

    Opens the file from its metadata (format, dataset, shape and dtype), reads its first
    and last slice (a truncated HDF5 file fails there), and checks the ``angles:``
    dataset and colour images. Returns ``(key, message)`` with the key to blame
    (``path``, ``dataset``, ``angles``, ``color``), or ``None`` when the input is usable.
    """
    from tomokit import io

    path = base_dir / spec.path
    label = f"input {name!r}"
    fmt = getattr(spec, "format", None)
    angles = spec.angles
    if angles is not None and angles.startswith("uniform") and angles not in UNIFORM_ANGLES:
        return ("angles", f"{label}: angles {angles!r}: use 'uniform-180' or 'uniform-360' "
                          "(evenly spaced over 180 or 360 degrees), or an HDF5 dataset path")
    if angles is not None and angles not in UNIFORM_ANGLES and not _is_hdf5_name(path):
        return ("angles", f"{label}: angles {angles!r} is neither 'uniform-180' nor "
                          f"'uniform-360', and {spec.path} is not an HDF5 file that could hold "
                          "an angles dataset")
    key = "dataset" if spec.dataset is not None else "path"
    try:
        if angles is None and (fmt in ("dxchange", "nxtomo") or (
                fmt is None and spec.dataset is None and _is_scan(path))):
            with io.open_scan(path, layout=fmt or "auto") as scan:
                if len(scan):
                    scan.read(0)
            return None
        with io.open_volume(path, dataset=spec.dataset, format=fmt) as reader:
            shape, dtype = reader.shape, np.dtype(reader.dtype)
            if dtype.kind not in "biuf":
                what = "complex" if dtype.kind == "c" else f"non-numeric ({dtype})"
                return (key, f"{label}: {spec.path} holds {what} data, not real numbers"
                        + ("; take the real part or the magnitude first" if dtype.kind == "c"
                           else ""))
            if len(reader):
                reader.read(0)
                reader.read(len(reader) - 1)
            slice_shape = shape[1:]
            colour = len(slice_shape) == 3 and slice_shape[-1] in (3, 4)
            if colour and getattr(spec, "color", "refuse") != "luma":
                return ("path", f"{label}: {spec.path} is a colour image (shape "
                                f"{tuple(slice_shape)}); add 'color: luma' to the input to "
                                "convert it to grey")
            if angles is not None and not (reader.single and len(slice_shape) == 2):
                return (key, f"{label}: a sinogram must be 2-D (angles x detectors), got "
                             f"shape {slice_shape if reader.single else shape}")
            rows = slice_shape[0] if slice_shape else 0
        if angles is not None and angles not in UNIFORM_ANGLES:
            key = "angles"
            values = io.read_array(path, dataset=angles, format=fmt)
            if values.ndim != 1 or len(values) != rows:
                return ("angles", f"{label}: angles dataset {angles!r} must hold one value per "
                                  f"sinogram row ({rows}), got shape {values.shape}")
    except InvalidInputError as exc:
        text = str(exc).replace(str(path), spec.path)  # the path as the file wrote it
        return (key, f"{label}: {text}")
    return None
