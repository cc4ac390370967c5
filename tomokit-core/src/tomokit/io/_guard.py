"""One guarded writer for every file tomokit writes on a user's behalf.

Every output (results ``-o``, ``--log-json``, ``schema -o``, exports, reports) goes
through :func:`check_output` before anything is written, and text through
:func:`write_text`. The rules are the same for all of them:

* never an input of the run (a file, or anything inside an input folder such as a TIFF
  folder), never the pipeline file, never a file open for reading;
* never an existing file unless it is tomokit's own earlier output of the same kind
  (a results file, a run log, a schema) or ``overwrite`` is given;
* the name's extension must match the format written (HDF5 results under ``.tif`` are
  refused);
* the folder must be usable: a file in the middle of the path, a read-only folder or a
  name too long for the hidden temporary files is one clear
  :class:`~tomokit.errors.InvalidInputError` before any work is done.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tomokit.errors import InvalidInputError

__all__ = [
    "JSON_SUFFIXES",
    "RESULTS_SUFFIXES",
    "check_output",
    "dumps_json",
    "is_tomokit_json",
    "is_tomokit_results",
    "output_lock",
    "write_text",
]

#: Suffixes of the HDF5 results file of ``tomokit run``.
RESULTS_SUFFIXES: tuple[str, ...] = (".h5", ".hdf5", ".hdf", ".he5", ".nxs")
JSON_SUFFIXES: tuple[str, ...] = (".json",)
#: The longest hidden sibling a writer makes: ``.NAME.partial-PID`` / ``.NAME.partial.d``
#: plus the ``.lock`` of the output lock; a name must leave room for it.
_SIBLING_EXTRA = len(".") + len(".partial-4194304.lock")


def is_tomokit_results(path: Path) -> bool:
    """Whether ``path`` is the results file of an earlier ``tomokit run``."""
    from tomokit.pipeline._results import RESULTS_FORMAT

    try:
        import h5py

        with h5py.File(path, "r") as h5:
            return bool(h5.attrs.get("format") == RESULTS_FORMAT)
    except (OSError, ValueError):
        return False


def is_tomokit_json(path: Path) -> bool:
    """Whether ``path`` is a JSON file tomokit wrote (a run log, a report or a schema)."""
    try:
        if path.stat().st_size > 64 * 2**20:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    fmt = data.get("format")
    if isinstance(fmt, str) and fmt.startswith("tomokit"):
        return True
    return data.get("title") == "tomokit pipeline" and "$schema" in data


def _inside(target: Path, folder: Path) -> bool:
    try:
        target.relative_to(folder)
    except ValueError:
        return False
    return True


def check_output(
    path: str | os.PathLike[str],
    *,
    what: str,
    suffixes: Iterable[str] | None = None,
    format_name: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    replaceable: Callable[[Path], bool] | None = None,
    create_parents: bool = True,
) -> Path:
    """Check that ``path`` may be written, and return it; raise a clear error if not.

    ``what`` names the option in messages (``--log-json``); ``suffixes`` the extensions
    of ``format_name``; ``inputs`` the files and folders this command reads (the pipeline
    file among them); ``replaceable(path)`` says whether an existing file is tomokit's own
    earlier output that may be replaced without ``overwrite``. Missing parent folders are
    created when ``create_parents``.
    """
    from tomokit.io._base import open_paths

    p = Path(path)
    label = f"{what} {p}"
    if not p.name or p.name in (".", ".."):
        raise InvalidInputError(f"{label}: give a file name")
    try:
        max_name = os.pathconf(p.parent if p.parent.exists() else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        max_name = 255
    if len(os.fsencode(p.name)) + _SIBLING_EXTRA > max_name:
        raise InvalidInputError(
            f"{label}: the file name is too long ({len(os.fsencode(p.name))} bytes; at most "
            f"{max_name - _SIBLING_EXTRA}, room is needed for hidden temporary files)"
        )
    target = p.resolve()
    for item in inputs:
        src = Path(item).resolve()
        if target == src:
            raise InvalidInputError(f"{label}: is an input of this command; choose another path")
        if src.is_dir() and _inside(target, src):
            raise InvalidInputError(
                f"{label}: is inside the input folder {item}; write outside it"
            )
    if target in open_paths():
        raise InvalidInputError(f"{label}: is open for reading; choose another path")
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if not p.name.lower().endswith(allowed):
            raise InvalidInputError(
                f"{label}: writes {format_name or 'a file'}; its name must end in "
                f"{' or '.join(allowed)}"
            )
    if p.is_dir():
        raise InvalidInputError(f"{label}: is a folder; give a file name")
    _check_folder(p.parent, label, create_parents)
    if p.exists() or p.is_symlink():
        if not p.is_file():
            raise InvalidInputError(f"{label}: exists and is not a regular file")
        if not overwrite and not (replaceable is not None and replaceable(p)):
            raise InvalidInputError(
                f"{label}: already exists and is not an earlier tomokit output of this kind; "
                "pass --overwrite to replace it, or choose another name"
            )
    return p


def _check_folder(folder: Path, label: str, create: bool) -> None:
    folder = folder if str(folder) else Path(".")
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            raise InvalidInputError(f"{label}: {probe} is a broken link")
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidInputError(f"{label}: {probe} is a file, not a folder")
    if probe != folder:
        if not create:
            raise InvalidInputError(f"{label}: folder {folder} does not exist")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise InvalidInputError(f"{label}: cannot create {folder}: {probe} is not writable")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"{label}: cannot create folder {folder}: {exc.strerror}") from None
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{label}: folder {folder} is not writable")


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _finite(value.item())
        if isinstance(value, np.ndarray):
            return _finite(value.tolist())
    except ImportError:  # pragma: no cover
        pass
    return value


def dumps_json(data: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text: NaN and infinities become ``null``, never ``NaN``/``Infinity``."""
    return json.dumps(_finite(data), indent=indent, default=str, allow_nan=False)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically (a hidden sibling renamed into place); call
    :func:`check_output` first."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def lock_path(output: Path) -> Path:
    """The lock file of ``output``: a hidden sibling, like its work folder."""
    return output.with_name(f".{output.name}.lock")


#: Locks this process holds: lock file -> the thread holding it (re-entrant per thread,
#: so the CLI and the run_pipeline it calls take one lock between them).
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def output_lock(output: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on ``output`` for a whole run.

    Two runs writing the same output would share its work folder of checkpoints and
    destroy each other's; the second one fails at once instead, naming the lock. The
    lock is an OS file lock (``flock``), so a killed run never leaves a stale one. The
    thread that holds it may take it again (a no-op); another thread may not.
    """
    path = lock_path(Path(output))
    key = str(path.absolute())
    me = threading.get_ident()
    with _HELD_GUARD:
        holder = _HELD.get(key)
        if holder is None:
            _HELD[key] = me
    if holder == me:
        yield path
        return
    if holder is not None:
        raise InvalidInputError(
            f"{output}: another tomokit run in this process is writing this output; "
            "wait for it to finish or choose another output"
        )
    try:
        with _file_lock(output, path):
            yield path
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)


@contextlib.contextmanager
def _file_lock(output: str | os.PathLike[str], path: Path) -> Iterator[None]:
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InvalidInputError(f"{output}: cannot create lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise InvalidInputError(
                f"{output}: another tomokit run (pid {holder}) is writing this output; "
                "wait for it to finish or choose another -o"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
