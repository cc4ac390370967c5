"""The one-call Python API: get a configured component by kind and name (or class)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from pydantic import ValidationError

from tomokit.components import (
    Component,
    Distortion,
    Observer,
    Phantom,
    Reconstructor,
    Scorer,
    Segmenter,
    SuperResolver,
    Task,
)
from tomokit.errors import InvalidInputError, validation_message
from tomokit.registry import get_registry

__all__ = ["component_class", "format_validation_error", "load"]


def component_class(kind: str, name: str | type[Component]) -> type[Component]:
    """The component class registered as ``kind``/``name`` (a class is checked and returned)."""
    return get_registry().resolve(kind, name)


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per pydantic error: ``prefix.loc: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        lines.append(f"{loc or '(params)'}: {validation_message(dict(err))}")
    return "; ".join(lines)


@overload
def load(
    kind: Literal["distortion"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Distortion: ...


@overload
def load(
    kind: Literal["observer"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Observer: ...


@overload
def load(
    kind: Literal["scorer"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Scorer: ...


@overload
def load(
    kind: Literal["segmenter"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Segmenter: ...


@overload
def load(
    kind: Literal["reconstructor"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Reconstructor: ...


@overload
def load(
    kind: Literal["super_resolver"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> SuperResolver: ...


@overload
def load(
    kind: Literal["phantom"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Phantom: ...


@overload
def load(
    kind: Literal["task"],
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Task: ...


@overload
def load(
    kind: str,
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Component: ...


def load(
    kind: str,
    name: str | type[Component],
    params: Mapping[str, Any] | None = None,
    /,
    **kwargs: Any,
) -> Component:
    """Return a configured component, for example ``load("observer", "ssim", data_range=255)``.

    ``name`` may be a registered name (``"ssim"``, or ``"ssim@plugin"`` among conflicts) or a
    component class, as xarray's ``engine=`` accepts both. Parameters are validated by the
    component's ``Params`` model; a bad one raises :class:`~tomokit.errors.InvalidInputError`
    naming it.
    """
    cls = component_class(kind, name)
    merged = dict(params or {})
    merged.update(kwargs)
    try:
        return cls(merged)
    except ValidationError as exc:
        label = name if isinstance(name, str) else name.__qualname__
        raise InvalidInputError(
            f"{kind} {label!r}: invalid params: {format_validation_error(exc)}"
        ) from None
