"""A ``dask.distributed`` executor: a LocalCluster, or an existing scheduler by address.

Imported only when ``kind: dask`` is used; Dask is the optional extra
``tomokit-core[dask]``. Workers read their own slices: a reader travels as "reopen this
file" by the absolute path the client resolved when it opened it (workers run in other
folders), so the file must be reachable at that path on every worker (a shared
filesystem on a cluster; see docs/scale.md).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from typing import Any

from tomokit.errors import InvalidInputError
from tomokit.executors._base import Executor, RegionWriter, file_stamp, run_chunk
from tomokit.io._base import VolumeReader

__all__ = ["DaskExecutor"]


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise InvalidInputError(
            f"executor kind 'dask' needs Dask: pip install 'tomokit-core[dask]' ({exc})"
        ) from None
    return distributed


def _importable(module: str) -> bool:
    """Whether a fresh process could import ``module`` by name (sys.modules aside: a
    test file loaded by path sits there under a name nothing else can import)."""
    import sys

    parts = module.split(".")
    if not all(p.isidentifier() for p in parts):
        return False
    top = parts[0]
    if top in sys.builtin_module_names:
        return True
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            if find_spec(top, None) is not None:
                return True
        except Exception:
            continue
    return False


def _ship_by_value(fn: Callable[[Any], Any]) -> None:
    """Make cloudpickle send code from modules the workers cannot import (a test file,
    a notebook helper) by value: ``fn``, the class of a bound method's instance, and the
    functions and objects its closure holds."""
    import sys

    import cloudpickle

    candidates: list[Any] = [fn, getattr(fn, "__func__", None)]
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        candidates.append(type(owner))
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        candidates += [value, type(value), getattr(value, "__self__", None)]
    for obj in candidates:
        name = getattr(obj, "__module__", None)
        if not name or name == "__main__" or name in _BY_VALUE:
            continue
        module = sys.modules.get(name)
        if module is not None and not _importable(name):
            cloudpickle.register_pickle_by_value(module)
            _BY_VALUE.add(name)


_BY_VALUE: set[str] = set()


def _loads(blob: bytes) -> Callable[[Any], Any]:
    fn: Callable[[Any], Any] = pickle.loads(blob)
    return fn


class _Shipped:
    """``fn`` serialised by cloudpickle even where plain pickle would store a reference
    to a module the workers cannot import (Dask tries plain pickle first)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        _ship_by_value(fn)
        self.fn = fn

    def __call__(self, item: Any) -> Any:
        return self.fn(item)

    def __reduce__(self) -> tuple[Any, ...]:
        import cloudpickle

        return (_loads, (cloudpickle.dumps(self.fn),))


class DaskExecutor(Executor):
    """Work on a Dask cluster; ``workers`` sizes a LocalCluster when no ``address``."""

    kind = "dask"
    result_copies = 2

    def _start(self) -> None:
        distributed = _import_distributed()
        self._cluster = None
        if self.config.address:
            try:
                self._client = distributed.Client(self.config.address, timeout="30s")
            except OSError as exc:
                raise InvalidInputError(
                    f"executor address {self.config.address!r}: cannot reach the Dask "
                    f"scheduler ({exc})"
                ) from None
        else:
            self._cluster = distributed.LocalCluster(
                n_workers=self.config.workers or None,
                threads_per_worker=self.config.threads_per_worker,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self._client = distributed.Client(self._cluster)

    def _close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (starts the cluster if needed)."""
        self.start()
        return self._client

    @property
    def workers(self) -> int:
        if self._started:
            info = self._client.scheduler_info()
            total = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
            if total:
                return int(total)
        if self.config.workers:
            return self.config.workers * self.config.threads_per_worker
        return super().workers

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        futures = self._client.map(_Shipped(fn), items, pure=False)
        try:
            return list(self._client.gather(futures))
        except BaseException:
            self._client.cancel(futures)
            raise

    def _submit_chunk(self, source: VolumeReader, start: int, stop: int,
                      fn: Callable[[Any], Any], indexed: bool,
                      out: RegionWriter | None = None) -> Any:
        recipe = (pickle.dumps(source), file_stamp(source.path))
        return self._client.submit(run_chunk, recipe, start, stop, _Shipped(fn), indexed, out,
                                   pure=False)

    def _wait(self, handles: list[Any]) -> list[Any]:
        return list(self._client.gather(handles))

    def _cancel(self, handles: list[Any]) -> None:
        self._client.cancel(handles)
