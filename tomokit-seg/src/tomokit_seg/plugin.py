"""Entry point of tomokit-seg: component specs only, no heavy imports."""

from __future__ import annotations

from tomokit import ComponentSpec, hookimpl


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return []
