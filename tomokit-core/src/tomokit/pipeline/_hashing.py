"""Content hashes that decide what ``--resume`` may reuse: input files, params, seeds,
component versions, and everything upstream of a step."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.pipeline._results import component_distribution, dist_version
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep

__all__ = ["seed_of", "step_hashes", "step_seed"]



def step_seed(pipeline_seed: int, index: int) -> int:
    """The default seed of step ``index``: independent streams from one pipeline seed."""
    return int(np.random.SeedSequence([pipeline_seed, index]).generate_state(1, np.uint64)[0] >> 1)


_FILE_HASHES: dict[tuple[str, tuple[int, ...]], str] = {}


def _file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (a folder: of its files' names and bytes), cached by
    the file's identity so a run hashes each input once."""
    from tomokit.executors._base import file_stamp

    key = (str(path.resolve()), file_stamp(path))
    cached = _FILE_HASHES.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    digest = h.hexdigest()
    _FILE_HASHES[key] = digest
    return digest


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _input_hash(pipeline: LoadedPipeline, name: str) -> str:
    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    if not path.exists():
        raise InvalidInputError(f"input {name!r}: {path}: no such file")
    return _digest({"content": _file_hash(path), "spec": spec.model_dump(exclude={"path"})})


def step_hashes(pipeline: LoadedPipeline) -> dict[str, str]:
    """A content hash per step: component (and its version), params, seed, and the
    hashes of what it reads, so a change anywhere upstream changes it."""
    known: dict[str, str] = {n: _input_hash(pipeline, n) for n in pipeline.inputs}
    out: dict[str, str] = {}
    for step in pipeline.steps:
        refs = {}
        for key, ref in step.inputs.items():
            base, _, sub = ref.partition(".")
            refs[key] = f"{known.get(base, base)}.{sub}"
        dist = component_distribution(step)
        out[step.id] = known[step.id] = _digest({
            "kind": step.kind,
            "name": step.name,
            "class": f"{step.cls.__module__}:{step.cls.__qualname__}",
            "distribution": dist,
            "version": dist_version(dist) if dist else "",
            "component_version": str(getattr(step.cls, "version", "")),
            "params": step.params.model_dump(mode="json"),
            "seed": seed_of(pipeline, step),
            "inputs": refs,
        })
    return out


def seed_of(pipeline: LoadedPipeline, step: ResolvedStep) -> int:
    return step.seed if step.seed is not None else step_seed(pipeline.model.seed, step.index)
