"""Model files: a ``.keras`` file plus a JSON sidecar, checked before Keras reads them.

Why a sidecar: a ``.keras`` file holds the network but not what it is for. The sidecar
(``model.json`` beside ``model.keras``) says which component it belongs to, with which
params, how it was trained and on what data, how well it validated, and the sha256 and
size of the model file, so a truncated, swapped or hand-edited file is refused with one
clear message before any framework code runs. Keras reads the file with
``safe_mode=True``; a Lambda layer (arbitrary Python code) is refused even earlier, from
the file's ``config.json``. Nothing here pickles.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tomokit.errors import InvalidInputError

__all__ = [
    "MODEL_FORMAT",
    "ModelFile",
    "check_model_file",
    "file_sha256",
    "find_model",
    "load_model",
    "looks_like_path",
    "model_info",
    "package_versions",
    "save_model",
    "shipped_model_path",
    "sidecar_path",
]

MODEL_FORMAT = "tomokit-model/1"

_CACHE: dict[tuple[str, int, int, int, int], dict[str, Any]] = {}
_CACHE_LOCK = threading.Lock()


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar of a model file: ``model.keras`` -> ``model.json``."""
    return Path(path).with_suffix(".json")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of tomokit's distributions and the frameworks a model depends on."""
    out: dict[str, str] = {}
    names = ["tomokit-core", "tomokit-iqa", "tomokit-seg", "tomokit-recon", "tomokit-sr",
             "tomokit-phantom", "tensorflow", "tensorflow-cpu", "keras", "numpy", "h5py"]
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def looks_like_path(ref: str) -> bool:
    """Whether a model reference is a file path (else the name of a shipped model)."""
    return ref.endswith(".keras") or ref.startswith((".", "/", "~")) or "\\" in ref


@dataclass(frozen=True)
class ModelFile:
    """A trained model as a pipeline value: the ``.keras`` path, its sha256 and its sidecar.

    The ``train`` task returns one; a later step's ``model:`` param takes its ``path``
    (``str(model_file)``); its ``sha256`` is the content hash ``--resume`` compares.
    """

    path: str
    sha256: str
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return self.path

    def __fspath__(self) -> str:
        return self.path

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ModelFile:
        """Check the file against its sidecar and describe it."""
        info = check_model_file(path)
        return cls(str(Path(path)), info["model"]["sha256"], info)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: path, sha256, component and validation figures."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "component": self.info.get("component", {}),
            "validation": self.info.get("validation", {}),
        }


def _walk_class_names(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        name = node.get("class_name")
        if isinstance(name, str):
            found.append(name)
        for value in node.values():
            found.extend(_walk_class_names(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk_class_names(value))
    return found


def _keras_config(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "config.json" not in names:
                raise InvalidInputError(f"model {path}: not a Keras 3 .keras file (no config.json)")
            return dict(json.loads(zf.read("config.json")))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInputError(f"model {path}: unreadable .keras file ({exc})") from None


def model_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar of ``path`` as a dict (no checks beyond it being a tomokit sidecar)."""
    p = Path(path)
    side = sidecar_path(p)
    if not side.is_file():
        raise InvalidInputError(
            f"model {p}: no sidecar {side.name} beside it; tomokit models are written by "
            "save_model / tomokit train, which write both"
        )
    try:
        info = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"model {p}: sidecar {side.name} is not valid JSON ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != MODEL_FORMAT:
        raise InvalidInputError(f"model {p}: sidecar {side.name} is not a {MODEL_FORMAT} file")
    return info


def check_model_file(
    path: str | os.PathLike[str],
    *,
    component: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Check a model file without importing Keras and return its sidecar.

    One :class:`~tomokit.errors.InvalidInputError` each for: no such file, no or invalid
    sidecar, a sidecar naming another component (``component=(kind, name)``), a
    truncated file, a sha256 that does not match, and a Lambda layer (arbitrary code,
    refused by ``safe_mode``). Results are cached by file size and modification time.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidInputError(f"model {p}: no such file")
    if p.suffix != ".keras":
        raise InvalidInputError(f"model {p}: expected a .keras file")
    st = p.stat()
    side = sidecar_path(p)
    sst = side.stat() if side.is_file() else None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns,
           sst.st_size if sst else -1, sst.st_mtime_ns if sst else -1)
    with _CACHE_LOCK:
        info = _CACHE.get(key)
    if info is None:
        info = model_info(p)
        record = info.get("model") or {}
        expected_size = int(record.get("bytes", -1))
        if 0 <= st.st_size < expected_size:
            raise InvalidInputError(
                f"model {p}: truncated ({st.st_size} of {expected_size} bytes); copy it again"
            )
        sha = file_sha256(p)
        if sha != record.get("sha256"):
            raise InvalidInputError(
                f"model {p}: sha256 {sha[:12]}... does not match its sidecar "
                f"({str(record.get('sha256'))[:12]}...); the file was changed or replaced "
                "after it was saved"
            )
        names = _walk_class_names(_keras_config(p))
        if "Lambda" in names:
            raise InvalidInputError(
                f"model {p}: contains a Lambda layer (arbitrary Python code); tomokit loads "
                "models with safe_mode=True and refuses it. Rebuild the network from "
                "registered layers (keras.saving.register_keras_serializable)"
            )
        with _CACHE_LOCK:
            _CACHE[key] = info
    if component is not None:
        comp = info.get("component") or {}
        have = (comp.get("kind"), comp.get("name"))
        if have != tuple(component):
            raise InvalidInputError(
                f"model {p}: its sidecar says it belongs to {have[0]} {have[1]!r}, not "
                f"{component[0]} {component[1]!r}"
            )
    return info


def load_model(
    path: str | os.PathLike[str],
    *,
    component: tuple[str, str] | None = None,
    compile: bool = False,
) -> Any:
    """Check ``path`` (see :func:`check_model_file`) and read it with
    ``keras.saving.load_model(..., safe_mode=True)``."""
    p = Path(path).expanduser()
    check_model_file(p, component=component)
    import keras

    try:
        return keras.saving.load_model(p, safe_mode=True, compile=compile)
    except Exception as exc:
        text = str(exc)
        if "Lambda" in text or "safe_mode" in text:
            raise InvalidInputError(
                f"model {p}: refused by Keras safe_mode (a Lambda layer or other arbitrary "
                "code); rebuild it from registered layers"
            ) from None
        raise InvalidInputError(
            f"model {p}: Keras cannot read it ({type(exc).__name__}: {text.splitlines()[0] if text else ''}); "
            "the component that defines its custom layers must be installed"
        ) from None


def _inference_copy(network: Any) -> Any:
    """The network without its optimizer's state: a model file is for inference (training
    resumes from its own checkpoints), and Adam's two moments would triple the file.
    Falls back to the network itself when it cannot be rebuilt from its config."""
    if not (getattr(network, "compiled", False) or getattr(network, "optimizer", None)):
        return network
    try:
        lean = type(network).from_config(network.get_config())
        lean.set_weights(network.get_weights())
    except Exception:  # a subclassed model without from_config: keep its optimizer
        return network
    return lean


def save_model(
    network: Any,
    path: str | os.PathLike[str],
    *,
    component: tuple[str, str],
    params: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    validation: dict[str, float] | None = None,
    report: dict[str, Any] | None = None,
    seed: int | None = None,
    seconds: float | None = None,
    device: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ModelFile:
    """Write ``network`` to ``path`` (``.keras``) and its sidecar, each through a
    temporary name and a rename, and return the :class:`ModelFile`."""
    out = Path(path)
    if out.suffix != ".keras":
        raise InvalidInputError(f"model output {out}: the file name must end in .keras")
    if out.is_dir():
        raise InvalidInputError(f"model output {out}: is a folder")
    lambdas = [layer.name for layer in _all_layers(network) if type(layer).__name__ == "Lambda"]
    if lambdas:
        raise InvalidInputError(
            f"model output {out}: network has Lambda layer(s) {lambdas}, which safe_mode "
            "refuses to load; use registered layers instead"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{threading.get_ident()}"
    tmp = out.with_name(f".{out.stem}.partial-{tag}.keras")
    side = sidecar_path(out)
    tmp_side = side.with_name(f".{side.stem}.partial-{tag}.json")
    try:
        _inference_copy(network).save(tmp)
        import keras

        info: dict[str, Any] = {
            "format": MODEL_FORMAT,
            "component": {"kind": component[0], "name": component[1]},
            "params": params or {},
            "train": train or {},
            "data": data or {},
            "validation": validation or {},
            "report": report or {},
            "seed": seed,
            "seconds": seconds,
            "device": device,
            "versions": package_versions(),
            "keras": keras.__version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "model": {"file": out.name, "sha256": file_sha256(tmp), "bytes": tmp.stat().st_size},
            **(extra or {}),
        }
        tmp_side.write_text(json.dumps(info, indent=2, default=_json_default) + "\n",
                            encoding="utf-8")
        os.replace(tmp, out)
        os.replace(tmp_side, side)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_side.unlink(missing_ok=True)
    return ModelFile(str(out), info["model"]["sha256"], info)


def _all_layers(network: Any) -> list[Any]:
    seen: list[Any] = []
    stack = list(getattr(network, "layers", []))
    while stack:
        layer = stack.pop()
        seen.append(layer)
        stack.extend(getattr(layer, "layers", []))
    return seen


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def shipped_model_path(spec: Any) -> Path:
    """The file of a shipped :class:`~tomokit.specs.ModelSpec`, inside its package."""
    from importlib import resources

    try:
        root = resources.files(spec.package)
    except ModuleNotFoundError as exc:
        raise InvalidInputError(
            f"model {spec.name!r} of plugin {spec.plugin!r}: package {spec.package!r} cannot "
            f"be imported ({exc})"
        ) from None
    target = root.joinpath(*spec.relative_path.split("/"))
    if not isinstance(target, Path):
        raise InvalidInputError(
            f"model {spec.name!r}: package {spec.package!r} is not installed as files "
            "(a zip?); install it unpacked"
        )
    if not target.is_file():
        raise InvalidInputError(
            f"model {spec.name!r} of plugin {spec.plugin!r} ({spec.distribution}): "
            f"{target} is missing from the installed package"
        )
    return target


def find_model(ref: str | os.PathLike[str]) -> Path:
    """A model reference -> its ``.keras`` file: a path, or the name of a model an
    installed plugin ships (``tomokit_models`` hook, ``name@plugin`` among conflicts)."""
    text = os.fspath(ref)
    if isinstance(ref, os.PathLike) or looks_like_path(text):
        p = Path(text).expanduser()
        if not p.is_file():
            raise InvalidInputError(f"model {p}: no such file")
        return p
    from tomokit.registry import get_registry

    return shipped_model_path(get_registry().get_model(text))
