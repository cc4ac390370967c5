"""Executors: where per-slice work runs. ``local`` (threads, the default) or ``dask``.

The choice is configuration only (the ``executor:`` section of a pipeline, an
:class:`ExecutorConfig`); results are identical. Dask is imported only when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from tomokit.errors import InvalidInputError
from tomokit.executors._base import BlockSink, DirectSink, Executor, RegionWriter
from tomokit.executors._config import ExecutorConfig, default_workers

__all__ = ["BlockSink", "DirectSink", "Executor", "ExecutorConfig", "RegionWriter", "default_workers",
           "get_executor"]


def get_executor(config: ExecutorConfig | BaseModel | Mapping[str, Any] | None = None,
                 **overrides: Any) -> Executor:
    """An executor for ``config`` (a model, a mapping or ``None`` for the default), with
    ``overrides`` on top, e.g. ``get_executor(kind="dask", workers=2)``. Not started
    until first used or entered."""
    if isinstance(config, BaseModel):
        data = config.model_dump(exclude_unset=True)
    else:
        data = dict(config or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = ExecutorConfig.model_validate(data)
    except ValidationError as exc:
        from tomokit.api import format_validation_error

        raise InvalidInputError(f"executor: {format_validation_error(exc)}") from None
    if cfg.kind == "dask":
        from tomokit.executors._dask import DaskExecutor

        return DaskExecutor(cfg)
    from tomokit.executors._local import LocalExecutor

    return LocalExecutor(cfg)
