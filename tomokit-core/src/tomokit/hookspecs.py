"""Every pluggy hook tomokit calls, each with when it is called and how results combine.

A plugin is a module named by an entry point in the ``tomokit`` group; it implements
some of these hooks with :data:`tomokit.hookimpl`. Plugin modules must stay light: they
return specs (strings), never import heavy frameworks.
"""

from __future__ import annotations

import pluggy

from tomokit.specs import CommandSpec, ComponentSpec, FormatSpec, ModelSpec

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("tomokit")
hookimpl = pluggy.HookimplMarker("tomokit")


@hookspec
def tomokit_components() -> list[ComponentSpec]:  # type: ignore[empty-body]
    """Return the components this plugin provides, as :class:`ComponentSpec` objects.

    Called once per registry, the first time components are listed or resolved. Results
    of all plugins are concatenated. Specs must not import their targets: resolution
    is lazy. Two plugins returning the same ``(kind, name)`` is a conflict the user
    resolves by qualifying the name (``name@plugin``) or disabling a plugin.
    """


@hookspec
def tomokit_formats() -> list[FormatSpec]:  # type: ignore[empty-body]
    """Return the data formats this plugin can read, as :class:`FormatSpec` objects.

    Called once per registry, when a file is opened whose format is not yet known.
    Results of all plugins are concatenated; a format claimed by name by two plugins is
    a conflict resolved as for components.
    """


@hookspec
def tomokit_commands() -> list[CommandSpec]:  # type: ignore[empty-body]
    """Return extra ``tomokit`` sub-commands, as :class:`CommandSpec` objects.

    Called when the CLI is built. Results of all plugins are concatenated; a command
    name that clashes with a built-in or another plugin's is skipped with a warning.
    """


@hookspec
def tomokit_models() -> list[ModelSpec]:  # type: ignore[empty-body]
    """Return the trained models this plugin ships inside its package, as
    :class:`ModelSpec` objects.

    Called once per registry, the first time models are listed or a model is named by
    name rather than path. Results of all plugins are concatenated. Specs name package
    resources and must not open them: a model file is located (``importlib.resources``)
    and checked only when used. Two plugins shipping the same name is a conflict the user
    resolves by qualifying it (``name@plugin``) or disabling a plugin.
    """
