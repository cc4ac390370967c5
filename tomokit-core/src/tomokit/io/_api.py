"""Find the format of a path through the plugin registry; read, open and write arrays."""

from __future__ import annotations

import importlib
import inspect
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError, PluginError
from tomokit.io._base import Format, VolumeReader, VolumeWriter, open_paths, temporary_sibling
from tomokit.specs import FormatSpec

__all__ = ["create_volume", "find_format", "formats", "open_volume", "read_array", "write_array"]

PathLike = str | os.PathLike[str]

_CLASSES: dict[str, type[Format]] = {}
_CLASSES_LOCK = threading.Lock()


def formats() -> list[FormatSpec]:
    """The format specs of every plugin, the core's built-ins included.

    The built-ins come through the core's own ``tomokit_formats`` hook; they are added
    here too when the active registry lacks them (a test registry without entry points,
    or the core plugin disabled), because reading files must keep working.
    """
    from tomokit import plugin as core_plugin
    from tomokit.registry import get_registry

    specs = list(get_registry().formats())
    have = {(s.name, s.target) for s in specs}
    specs += [s for s in core_plugin.tomokit_formats() if (s.name, s.target) not in have]
    return specs


def _load(spec: FormatSpec) -> type[Format]:
    with _CLASSES_LOCK:
        cls = _CLASSES.get(spec.target)
        if cls is not None:
            return cls
        module_name, _, attr = spec.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError(
                f"format {spec.name!r} from plugin {spec.plugin or '?'!r} (distribution "
                f"{spec.distribution or 'unknown'}) could not be imported: {exc}"
            ) from exc
        cls = getattr(module, attr, None)
        if not (inspect.isclass(cls) and issubclass(cls, Format)):
            raise PluginError(f"format {spec.name!r}: {spec.target} is not a tomokit.io.Format")
        _CLASSES[spec.target] = cls
        return cls


def find_format(path: PathLike, *, format: str | None = None) -> Format:
    """The format that reads ``path``: by name if given, else by extension, else by sniffing."""
    p = Path(path)
    specs = formats()
    if format is not None:
        named = [s for s in specs if s.name == format]
        if not named:
            raise InvalidInputError(
                f"{p}: unknown format {format!r}; available: {', '.join(sorted({s.name for s in specs}))}"
            )
        return _load(named[0])()
    name = p.name.lower()
    if not p.is_dir():
        claims = [s for s in specs if any(name.endswith(ext) for ext in s.extensions)]
        if claims:
            # The longest matching extension wins (".nxs.h5" over ".h5").
            best = max(claims, key=lambda s: max(len(e) for e in s.extensions if name.endswith(e)))
            return _load(best)()
    builtin = [s for s in specs if s.target.startswith("tomokit.io.")]
    for spec in builtin + [s for s in specs if s not in builtin]:  # built-ins first
        try:
            cls = _load(spec)
            if cls.sniff(p):
                return cls()
        except OSError:
            continue
        except Exception as exc:  # a plugin's bug must not break reading other files
            if spec in builtin:
                raise
            _warn_broken_format(spec, exc)
            continue
    if not p.exists() and not p.suffix:
        raise InvalidInputError(f"{p}: no such file or folder")
    exts = sorted({e for s in specs for e in s.extensions})
    what = "folder holds no readable slices" if p.is_dir() else f"unsupported extension {p.suffix!r}"
    raise InvalidInputError(f"{p}: {what}; supported: {', '.join(exts)} or a folder of .tif files")


_WARNED: set[str] = set()


def _warn_broken_format(spec: FormatSpec, exc: BaseException) -> None:
    """Warn once per format that its plugin failed while sniffing a file."""
    import warnings

    if spec.target in _WARNED:
        return
    _WARNED.add(spec.target)
    warnings.warn(
        f"format {spec.name!r} of plugin {spec.plugin or '?'!r} failed while sniffing a "
        f"file and is skipped: {type(exc).__name__}: {exc}", stacklevel=3,
    )


def read_array(path: PathLike, *, dataset: str | None = None, format: str | None = None) -> np.ndarray:
    """Read a whole array: an image, a TIFF stack (file or folder), an HDF5 dataset, a ``.npy``.

    Grey images come back ``(H, W)``, colour ones ``(H, W, 3)``; stacks ``(N, H, W)``.
    For volumes too large for memory use :func:`open_volume`.
    """
    p = Path(path)
    return find_format(p, format=format).read(p, dataset=dataset)


def open_volume(path: PathLike, *, dataset: str | None = None,
                format: str | None = None) -> VolumeReader:
    """Open a stack of slices lazily: ``shape`` and ``dtype`` are read from metadata only."""
    p = Path(path)
    return find_format(p, format=format).open(p, dataset=dataset)


def _check_target(p: Path, fmt: Format, overwrite: bool, inputs: Iterable[PathLike]) -> None:
    if not fmt.can_write:
        raise InvalidInputError(f"{p}: the {fmt.name} format cannot be written")
    target = p.resolve()
    protected = open_paths() | {Path(i).resolve() for i in inputs}
    if target in protected:
        raise InvalidInputError(
            f"{p}: is an input of this run (open for reading); write the result to another file"
        )
    if p.exists() and not overwrite:
        raise InvalidInputError(f"{p}: already exists; pass overwrite=True or choose another name")
    if p.is_dir() and not (getattr(fmt, "folders", False) and overwrite):
        raise InvalidInputError(f"{p}: is a folder")
    if not p.parent.exists():
        raise InvalidInputError(f"{p}: folder {p.parent} does not exist")


def write_array(path: PathLike, array: Any, *, dataset: str | None = None,
                overwrite: bool = False, inputs: Iterable[PathLike] = (),
                format: str | None = None, **options: Any) -> Path:
    """Write ``array`` to a new file (HDF5 chunked and gzip-compressed, TIFF, PNG, ``.npy``).

    The data go to a temporary name next to ``path``, renamed when complete, so a
    crash never leaves a half-written file. A path that is open for reading or listed in
    ``inputs`` is never written; an existing file only with ``overwrite=True``.
    """
    p = Path(path)
    fmt = find_format(p, format=format)
    _check_target(p, fmt, overwrite, inputs)
    arr = np.asarray(array)
    tmp = temporary_sibling(p)
    try:
        fmt.write(tmp, arr, dataset=dataset, **options)
        if tmp.is_dir():  # a folder format (Zarr): replace the old store whole
            from tomokit.io._zarr import commit_store

            commit_store(tmp, p)
        else:
            os.replace(tmp, p)
    except InvalidInputError as exc:
        _remove(tmp)
        raise InvalidInputError(str(exc).replace(str(tmp), str(p))) from None
    except BaseException:
        _remove(tmp)
        raise
    return p


def _remove(tmp: Path) -> None:
    if tmp.is_dir():
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


def create_volume(path: PathLike, shape: tuple[int, ...], dtype: Any, *,
                  dataset: str | None = None, overwrite: bool = False,
                  inputs: Iterable[PathLike] = (), format: str | None = None,
                  **options: Any) -> VolumeWriter:
    """A :class:`VolumeWriter` that stores a stack block by block (HDF5, TIFF, ``.npy``)
    and renames the finished file into place on :meth:`~VolumeWriter.commit`."""
    p = Path(path)
    fmt = find_format(p, format=format)
    _check_target(p, fmt, overwrite, inputs)
    return fmt.create(p, temporary_sibling(p), tuple(shape), np.dtype(dtype), dataset=dataset,
                      **options)
