"""Entry point of tomokit-recon: component specs only, no heavy imports."""

from __future__ import annotations

from tomokit import ComponentSpec, hookimpl


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return []
