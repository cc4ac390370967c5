"""The results file: writing step values to HDF5 (arrays, numbers, strings, sinograms,
dicts of them), reading them back, and the provenance (package versions) it records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import (
    Sinogram,
)
from tomokit.errors import InvalidInputError, RunError, TomokitError
from tomokit.pipeline.load import ResolvedStep

__all__ = ["CONTENT_ATTR", "HASH_ATTR", "RESULTS_FORMAT", "component_distribution", "convert_node", "describe", "dist_version", "read_results", "versions", "write_value"]


RESULTS_FORMAT = "tomokit-results/1"


HASH_ATTR = "tomokit_hash"
#: The step hash with inputs by full content (written by runs with ``--resume``).
CONTENT_ATTR = "tomokit_content_hash"


def describe(value: Any) -> str:
    if isinstance(value, Sinogram):
        return f"sinogram {value.data.shape}"
    if _is_model_file(value):
        return f"model {Path(value.path).name} (sha256 {value.sha256[:12]})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    arr = np.asarray(value)
    if arr.ndim == 0 and np.issubdtype(arr.dtype, np.number):
        return f"{float(arr):.6g}"
    if arr.ndim == 1 and arr.size <= 8 and np.issubdtype(arr.dtype, np.number):
        return "[" + ", ".join(f"{float(v):.4g}" for v in arr) + "]"
    if arr.dtype.kind in "US" and arr.ndim == 0:
        return str(arr)
    return f"{arr.dtype} array {arr.shape}"


def _is_model_file(value: Any) -> bool:
    return type(value).__name__ == "ModelFile" and hasattr(value, "sha256")


def _write_model(group: Any, name: str, model: Any) -> None:
    """A trained model (``tomokit.learn.ModelFile``): its path, sha256 and sidecar, and
    the model file's bytes, so that a results file holds every model it refers to."""
    from tomokit.learn import sidecar_path

    sub = group.create_group(name)
    sub.attrs["tomokit_type"] = "model"
    sub.attrs["path"] = str(Path(model.path).resolve())
    sub.attrs["sha256"] = model.sha256
    sub.create_dataset("keras", data=np.frombuffer(Path(model.path).read_bytes(), np.uint8))
    sub.create_dataset("sidecar", data=sidecar_path(model.path).read_text(encoding="utf-8"))


def _read_model(node: Any) -> Any:
    """A model back: the file it was saved from if unchanged, else its embedded copy
    written (once) beside the results file."""
    import hashlib

    from tomokit.learn import ModelFile, sidecar_path

    path, digest = Path(str(node.attrs["path"])), str(node.attrs["sha256"])
    if not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
        results = Path(node.file.filename)
        path = results.with_name(f".{results.name}.models") / f"{digest[:16]}.keras"
        if not path.is_file():
            path.parent.mkdir(exist_ok=True)
            sidecar = node["sidecar"][()]
            sidecar_path(path).write_text(
                sidecar.decode() if isinstance(sidecar, bytes) else str(sidecar), encoding="utf-8")
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(node["keras"][()].tobytes())
            tmp.replace(path)
    return ModelFile.from_path(path)


def write_value(group: Any, name: str, value: Any) -> None:
    """Write one step output (array, number, string, Sinogram, model file or a dict of
    them)."""
    if value is None:
        return
    if _is_model_file(value):
        _write_model(group, name, value)
        return
    if isinstance(value, Sinogram):
        sub = group.create_group(name)
        sub.attrs["tomokit_type"] = "sinogram"
        sub.create_dataset("data", data=value.data, compression="gzip")
        sub.create_dataset("angles", data=value.angles)
        sub.attrs["detector_spacing"] = value.detector_spacing
        sub.attrs["center_offset"] = value.center_offset
        sub.attrs["geometry"] = value.geometry
        if value.extra:  # a dataset, not an attr: the results file rewrites the attrs
            sub.create_dataset("extra", data=json.dumps(value.extra, default=_plain))
        return
    if isinstance(value, Mapping):
        sub = group.create_group(name)
        for key, item in value.items():
            write_value(sub, str(key), item)
        return
    if isinstance(value, str):
        group.create_dataset(name, data=value)
        return
    arr = np.asarray(value)
    if arr.dtype == object:
        raise RunError(f"output {name!r} of type {type(value).__name__} cannot be saved to HDF5")
    if arr.dtype.kind == "U":
        arr = arr.astype(object)
        import h5py

        group.create_dataset(name, data=arr, dtype=h5py.string_dtype())
        return
    big = arr.size >= 4096
    group.create_dataset(name, data=arr, compression="gzip" if big else None, chunks=True if big else None)


def versions(steps: list[ResolvedStep]) -> dict[str, str]:
    versions = {"tomokit-core": dist_version("tomokit-core")}
    for step in steps:
        dist = component_distribution(step)
        if dist:
            versions[dist] = dist_version(dist)
    return versions


def dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def component_distribution(step: ResolvedStep) -> str:
    from tomokit.registry import get_registry

    if step.cls.kind and step.name:
        try:
            return get_registry().get_spec(step.kind, step.name).distribution
        except TomokitError:  # a class registered in-process under another registry
            return ""
    return ""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in a Sinogram's ``extra`` as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} in Sinogram.extra cannot be saved")


def convert_node(node: Any) -> Any:
    """An HDF5 node written by :func:`write_value` back as a value."""
    import h5py

    if isinstance(node, h5py.Group):
        if node.attrs.get("tomokit_type") == "model":
            return _read_model(node)
        if node.attrs.get("tomokit_type") == "sinogram":
            return Sinogram(
                data=node["data"][()],
                angles=node["angles"][()],
                detector_spacing=float(node.attrs["detector_spacing"]),
                center_offset=float(node.attrs["center_offset"]),
                geometry="fanflat" if _text(node.attrs.get("geometry", "")) == "fanflat"
                else "parallel",
                extra=json.loads(_text(node["extra"][()])) if "extra" in node else {},
            )
        return {k: convert_node(v) for k, v in node.items()}
    value = node[()]
    return value.decode() if isinstance(value, bytes) else value


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results file back: ``{step_id: value}`` (dicts for groups, Sinograms rebuilt)."""
    import h5py

    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"results file not found: {p}")
    with h5py.File(p, "r") as h5:
        if h5.attrs.get("format") != RESULTS_FORMAT:
            raise InvalidInputError(f"{p} is not a tomokit results file")
        return {k: convert_node(v) for k, v in h5["steps"].items()}
