"""Hashes that decide what ``--resume`` may reuse: input files, params, seeds, component
code, and everything upstream of a step.

Inputs enter by a cheap *fingerprint* (size, modification time and a sampled content
hash: 16 blocks of 64 KiB spread over the file), so a run never reads a 50 GB input an
extra time just to hash it. ``--resume`` also computes *content* hashes (every byte,
once per file per run), used when a fingerprint no longer matches: a file copied or
touched without changing is still recognised."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.pipeline._refs import split_ref
from tomokit.pipeline._results import component_distribution, dist_version
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep

__all__ = ["code_hash", "input_fingerprints", "seed_of", "step_hashes", "step_seed"]



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


SAMPLES = 16
SAMPLE_BYTES = 1 << 16


def _file_fingerprint(path: Path) -> str:
    """Size, mtime and a hash of 16 evenly spaced 64 KiB blocks (first and last
    included): cheap to compute, and changed by any in-place edit that moves mtime."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        st = f.stat()
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        with open(f, "rb") as fh:
            span = max(st.st_size - SAMPLE_BYTES, 0)
            offsets = sorted({round(span * k / (SAMPLES - 1)) for k in range(SAMPLES)})
            for off in offsets:
                fh.seek(off)
                h.update(fh.read(SAMPLE_BYTES))
    return h.hexdigest()


def input_fingerprints(pipeline: LoadedPipeline) -> dict[str, dict[str, Any]]:
    """Provenance of the inputs: path, size, mtime and the sampled fingerprint."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in pipeline.inputs.items():
        path = pipeline.base_dir / spec.path
        if path.exists():
            st = path.stat()
            out[name] = {"path": str(path.resolve()), "bytes": st.st_size,
                         "mtime_ns": st.st_mtime_ns,
                         "fingerprint": _file_fingerprint(path),
                         "fingerprint_kind": f"sha256 of size, mtime and {SAMPLES} x "
                                             f"{SAMPLE_BYTES // 1024} KiB samples"}
    return out


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _input_hash(pipeline: LoadedPipeline, name: str, content: bool) -> str:
    spec = pipeline.inputs[name]
    path = pipeline.base_dir / spec.path
    if not path.exists():
        raise InvalidInputError(f"input {name!r}: {path}: no such file")
    key = {"content": _file_hash(path)} if content else {"fingerprint": _file_fingerprint(path)}
    return _digest({**key, "spec": spec.model_dump(exclude={"path"})})


def step_hashes(pipeline: LoadedPipeline, *, content: bool = False) -> dict[str, str]:
    """A hash per step: component (and its code), params, seed, and the hashes of what
    it reads, so a change anywhere upstream changes it. Inputs (and files named in
    params) enter by fingerprint, or by their full content with ``content=True``."""
    known: dict[str, str] = {n: _input_hash(pipeline, n, content) for n in pipeline.inputs}
    out: dict[str, str] = {}

    def upstream(ref: str) -> str:
        base, sub = split_ref(ref)
        return f"{known.get(base, base)}.{sub}"

    for step in pipeline.steps:
        refs: dict[str, Any] = {}
        for key, ref in step.inputs.items():
            refs[key] = [upstream(r) for r in ref] if isinstance(ref, list) else upstream(ref)
        dist = component_distribution(step)
        out[step.id] = known[step.id] = _digest({
            "kind": step.kind,
            "name": step.name,
            "class": f"{step.cls.__module__}:{step.cls.__qualname__}",
            "distribution": dist,
            "version": dist_version(dist) if dist else "",
            "component_version": str(getattr(step.cls, "version", "")),
            "code": [code_hash(c) for c in _code_of(step)],
            "files": {str(p): _file_hash(p) if content else _file_fingerprint(p)
                      for p in _files_of(step, pipeline.base_dir)},
            "params": step.params.model_dump(mode="json"),
            "param_refs": {k: upstream(r) for k, r in step.param_refs.items()},
            "seed": seed_of(pipeline, step),
            "inputs": refs,
        })
    return out


_CODE_HASHES: dict[str, str] = {}


def code_hash(cls: type) -> str:
    """SHA-256 of the source of the modules ``cls`` is made of: the modules of its class
    and base classes and the same-package modules they import from (one level), so
    that editing a component's code invalidates ``--resume`` even under editable
    installs, where the version never changes. Deterministic: it depends on the
    sources, not on what else happens to be imported."""
    import inspect
    import sys
    import types

    key = f"{cls.__module__}:{cls.__qualname__}"
    if key in _CODE_HASHES:
        return _CODE_HASHES[key]
    own = {c.__module__ for c in cls.__mro__ if c.__module__ not in ("builtins", "abc")}
    names = set(own)
    for name in own:
        top = name.split(".", 1)[0]
        module = sys.modules.get(name)
        for obj in vars(module).values() if module is not None else ():
            dep = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(
                obj, "__module__", None)
            if isinstance(dep, str) and dep.split(".", 1)[0] == top:
                names.add(dep)
    h = hashlib.sha256()
    for name in sorted(names):
        module = sys.modules.get(name)
        try:
            source = inspect.getsourcefile(module) if module is not None else None
        except TypeError:
            source = None
        if source and Path(source).is_file():
            h.update(name.encode())
            h.update(Path(source).read_bytes())
    _CODE_HASHES[key] = digest = h.hexdigest()
    return digest


def _files_of(step: ResolvedStep, base: Path) -> list[Path]:
    """Files a step's component reads besides its inputs (model files, datasets named
    in params), by content; relative paths are relative to the pipeline's folder."""
    files = getattr(step.cls, "referenced_files", None)
    if files is None or step.param_refs:
        return []  # referenced results are hashed through their step's hash
    return [Path(p) for p in files(step.params, base)]


def _code_of(step: ResolvedStep) -> list[type]:
    """The classes whose source decides a step's result: its component's, and those it
    declares (a ``train`` task: the component it trains)."""
    deps = getattr(step.cls, "code_dependencies", None)
    extra = list(deps(step.params)) if deps is not None and not step.param_refs else []
    return [step.cls, *extra]


def seed_of(pipeline: LoadedPipeline, step: ResolvedStep) -> int:
    return step.seed if step.seed is not None else step_seed(pipeline.model.seed, step.index)
