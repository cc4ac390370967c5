"""Descriptions of what a plugin provides, readable without importing the provider."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tomokit.errors import PluginError

__all__ = ["CommandSpec", "ComponentSpec", "FormatSpec", "ModelSpec"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _check(name: str, target: str, what: str) -> None:
    if not _NAME.match(name):
        raise PluginError(
            f"{what} name {name!r} is invalid: use lower-case letters, digits and '_'"
        )
    if not _TARGET.match(target):
        raise PluginError(f"{what} {name!r}: target {target!r} must look like 'package.module:Class'")


@dataclass(frozen=True)
class ComponentSpec:
    """One component a plugin provides.

    ``target`` is ``"module:Class"`` and is imported only when the component is used.
    ``extras`` names the optional dependencies (pip extras) the target needs, so that a
    failed import can tell the user what to install. ``plugin``, ``distribution`` and
    ``version`` are filled in by the registry.
    """

    kind: str
    name: str
    target: str
    summary: str = ""
    extras: tuple[str, ...] = ()
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    def __post_init__(self) -> None:
        from tomokit.components import KINDS

        if self.kind not in KINDS:
            raise PluginError(
                f"component {self.name!r}: unknown kind {self.kind!r}; one of {', '.join(KINDS)}"
            )
        _check(self.name, self.target, self.kind)


@dataclass(frozen=True)
class FormatSpec:
    """A data format a plugin can read (and maybe write).

    ``target`` is ``"module:Class"`` of a :class:`tomokit.io.Format` subclass;
    ``extensions`` are lower-case file suffixes (with the dot) it claims.
    """

    name: str
    target: str
    extensions: tuple[str, ...] = ()
    summary: str = ""
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.name, self.target, "format")


@dataclass(frozen=True)
class CommandSpec:
    """A ``tomokit`` sub-command a plugin adds.

    ``target`` is ``"module:function"``, a typer-compatible function (typed parameters,
    ``typer.Option``/``typer.Argument`` defaults). Its module is imported when the CLI is
    built, so it must be light: import heavy frameworks inside the function.
    """

    name: str
    target: str
    summary: str = ""
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9-]*$", self.name):
            raise PluginError(f"command name {self.name!r} is invalid: use lower-case and '-'")
        if not _TARGET.match(self.target):
            raise PluginError(f"command {self.name!r}: target {self.target!r} must be 'module:func'")


_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)?$")
_RESOURCE = re.compile(r"^[A-Za-z_][\w.]*:[^:\\]+\.keras$")


@dataclass(frozen=True)
class ModelSpec:
    """A trained model a plugin ships inside its package.

    ``name`` is what users write (``model: tomokit-seg/dlinknet``), conventionally
    ``distribution/model``; ``resource`` is ``"package:relative/path.keras"``, found with
    :mod:`importlib.resources` only when the model is used (its ``.json`` sidecar lies
    beside it). ``plugin``, ``distribution`` and ``version`` are filled in by the registry.
    """

    name: str
    resource: str
    summary: str = ""
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    def __post_init__(self) -> None:
        if not _MODEL_NAME.match(self.name) or self.name.endswith(".keras"):
            raise PluginError(
                f"model name {self.name!r} is invalid: use lower-case letters, digits, "
                "'_', '-', '.' and at most one '/' (e.g. 'mypkg/denoiser'), not ending in .keras"
            )
        if not _RESOURCE.match(self.resource):
            raise PluginError(
                f"model {self.name!r}: resource {self.resource!r} must look like "
                "'package:relative/path.keras'"
            )

    @property
    def package(self) -> str:
        return self.resource.partition(":")[0]

    @property
    def relative_path(self) -> str:
        return self.resource.partition(":")[2]
