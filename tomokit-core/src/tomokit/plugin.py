"""tomokit-core's own plugin: the built-in data formats, registered like anyone else's."""

from __future__ import annotations

from tomokit.hookspecs import hookimpl
from tomokit.specs import ComponentSpec, FormatSpec


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return []


@hookimpl
def tomokit_formats() -> list[FormatSpec]:
    return []
