"""Plugin discovery through entry points, lazy resolution, broken-plugin isolation.

Discovery imports only the light plugin modules named in the ``tomokit`` entry-point
group and asks them for specs; a component's own module is imported the first time it
is resolved, and the class is cached. A plugin module that fails to import is recorded
as broken with its reason and does not affect the others. Plugins named in
``TOMOKIT_DISABLE_PLUGINS`` (comma-separated) or passed as ``disabled`` are skipped.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import metadata
from types import ModuleType
from typing import Any, Literal

import pluggy

from tomokit import hookspecs
from tomokit.components import KINDS, Component
from tomokit.errors import PluginError
from tomokit.specs import CommandSpec, ComponentSpec, FormatSpec, ModelSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "target_problem",
    "PluginInfo",
    "Registry",
    "get_registry",
    "reset_registry",
]

ENTRY_POINT_GROUP = "tomokit"
DISABLE_ENV = "TOMOKIT_DISABLE_PLUGINS"

Status = Literal["ok", "broken", "disabled"]


@dataclass(frozen=True)
class PluginInfo:
    """A discovered plugin: where it comes from and whether it loaded."""

    name: str
    module: str
    distribution: str
    version: str
    status: Status
    reason: str = ""


def _env_disabled() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {p.strip() for p in raw.split(",") if p.strip()}


def _short_reason(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Registry:
    """Components and formats from installed and in-process plugins.

    ``entry_points=False`` gives an empty registry for tests; in-process plugins are
    added with :meth:`register` (a plugin module/object or a component class).
    """

    def __init__(self, *, disabled: Iterable[str] = (), entry_points: bool = True) -> None:
        self._disabled = set(disabled) | _env_disabled()
        self._use_entry_points = entry_points
        self._lock = threading.RLock()
        self._pm = pluggy.PluginManager("tomokit")
        self._pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._discovered = False
        self._specs: list[ComponentSpec] | None = None
        self._formats: list[FormatSpec] | None = None
        self._models: list[ModelSpec] | None = None
        self._classes: dict[tuple[str, str], type[Component]] = {}
        self._direct: dict[tuple[str, str], tuple[ComponentSpec, type[Component]]] = {}

    # ----------------------------------------------------------------- discovery
    def _discover(self) -> None:
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            if not self._use_entry_points:
                return
            for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                dist = ep.dist.name if ep.dist is not None else ""
                version = ep.dist.version if ep.dist is not None else ""
                if ep.name in self._plugins:
                    continue
                if ep.name in self._disabled:
                    self._plugins[ep.name] = PluginInfo(
                        ep.name, ep.value, dist, version, "disabled", "disabled by the user"
                    )
                    continue
                try:
                    module = ep.load()
                    self._pm.register(module, name=ep.name)
                except Exception as exc:  # a broken plugin must not break the others
                    self._plugins[ep.name] = PluginInfo(
                        ep.name, ep.value, dist, version, "broken", _short_reason(exc)
                    )
                    continue
                problem = _hook_problem(module)
                self._plugins[ep.name] = PluginInfo(
                    ep.name, ep.value, dist, version, "broken" if problem else "ok", problem
                )

    def _collect(self, hook_name: str) -> list[Any]:
        """Call one hook on every plugin separately so one failing plugin is isolated."""
        self._discover()
        out: list[Any] = []
        for name, plugin in list(self._pm.list_name_plugin()):
            info = self._plugins.get(name)
            if info is None or info.status != "ok":
                continue
            impl = getattr(plugin, hook_name, None)
            if impl is None:
                continue
            try:
                items = list(impl() or [])
            except Exception as exc:
                self._plugins[name] = replace(info, status="broken", reason=_short_reason(exc))
                continue
            for item in items:
                out.append(
                    replace(item, plugin=name, distribution=info.distribution, version=info.version)
                )
        return out

    # -------------------------------------------------------------------- plugins
    def plugins(self) -> list[PluginInfo]:
        """Every discovered plugin, broken and disabled ones included."""
        self.specs()
        self.formats()
        self.models()
        return sorted(self._plugins.values(), key=lambda p: p.name)

    def register(self, obj: Any, name: str | None = None) -> str:
        """Register an in-process plugin: a module/object with hook implementations, or a
        :class:`~tomokit.components.Component` subclass. Returns the plugin name."""
        self._discover()
        with self._lock:
            if inspect.isclass(obj) and issubclass(obj, Component):
                comp_name = name or obj.name or obj.__name__.lower()
                # the class itself is kept, so the target is only descriptive; names of
                # test modules or local classes are not importable paths, hence the cleanup
                module = re.sub(r"[^\w.]", "_", obj.__module__)
                qualname = re.sub(r"\W", "_", obj.__qualname__)
                spec = ComponentSpec(
                    kind=obj.kind,
                    name=comp_name,
                    target=f"{module}:{qualname}",
                    summary=obj.summary or (inspect.getdoc(obj) or "").split("\n")[0],
                    plugin=f"<class {obj.__qualname__}>",
                    distribution="(in-process)",
                )
                self._direct[(spec.kind, spec.name)] = (spec, obj)
                self._specs = None
                return spec.plugin
            plugin_name = name or getattr(obj, "__name__", None) or repr(obj)
            if plugin_name in self._plugins:
                raise PluginError(f"a plugin named {plugin_name!r} is already registered")
            self._pm.register(obj, name=plugin_name)
            problem = _hook_problem(obj)
            self._plugins[plugin_name] = PluginInfo(
                plugin_name, getattr(obj, "__name__", repr(obj)), "(in-process)", "",
                "broken" if problem else "ok", problem,
            )
            self._specs = None
            self._formats = None
            self._models = None
            return plugin_name

    def unregister(self, name: str) -> None:
        """Remove an in-process plugin (by plugin name) or directly registered class."""
        with self._lock:
            for key, (spec, _) in list(self._direct.items()):
                if spec.plugin == name or spec.name == name:
                    del self._direct[key]
            if name in self._plugins:
                if self._pm.get_plugin(name) is not None:
                    self._pm.unregister(name=name)
                del self._plugins[name]
            self._specs = None
            self._formats = None
            self._models = None
            self._classes.clear()

    # ---------------------------------------------------------------- components
    def specs(self, kind: str | None = None) -> list[ComponentSpec]:
        """All component specs (of one ``kind``), sorted by kind and name."""
        with self._lock:
            if self._specs is None:
                collected = self._collect("tomokit_components")
                collected += [spec for spec, _ in self._direct.values()]
                self._specs = sorted(collected, key=lambda s: (s.kind, s.name, s.plugin))
            specs = self._specs
        return [s for s in specs if kind is None or s.kind == kind]

    def get_spec(self, kind: str, name: str) -> ComponentSpec:
        """The one spec for ``kind``/``name`` (``name@plugin`` picks among conflicts)."""
        if kind not in KINDS:
            raise PluginError(_unknown("kind", kind, KINDS))
        base, _, plugin = name.partition("@")
        candidates = [s for s in self.specs(kind) if s.name == base]
        if plugin:
            candidates = [s for s in candidates if s.plugin == plugin]
        if not candidates:
            names = sorted({s.name for s in self.specs(kind)})
            msg = _unknown(f"{kind}", name, names)
            if not names and kind in KIND_PACKAGES:
                msg += (f" ({kind}s come from {KIND_PACKAGES[kind]}: pip install "
                        f"{KIND_PACKAGES[kind].split(',')[0].split(' ')[0]})")
            broken = [p for p in self._plugins.values() if p.status == "broken"]
            if broken:
                msg += "; broken plugins that may provide it: " + ", ".join(
                    f"{p.name} ({p.reason})" for p in broken
                )
            disabled = [p for p in self._plugins.values() if p.status == "disabled"]
            if disabled:
                msg += "; disabled plugins that may provide it: " + ", ".join(
                    f"{p.name} ({p.distribution or p.module})" for p in disabled
                ) + f" (drop --disable-plugin / {DISABLE_ENV} to enable them)"
            raise PluginError(msg)
        if len(candidates) > 1 and len({s.plugin for s in candidates}) == 1:
            raise PluginError(
                f"plugin {candidates[0].plugin!r} ({candidates[0].distribution}) registers "
                f"{kind} {base!r} twice (targets {', '.join(s.target for s in candidates)}); "
                "this is a bug in the plugin: its author must rename one"
            )
        if len(candidates) > 1:
            who = " and ".join(f"{s.plugin!r} ({s.distribution})" for s in candidates)
            first = candidates[0].plugin
            raise PluginError(
                f"{kind} {base!r} is provided by plugins {who}; choose one by writing "
                f"'{base}@{first}', or disable the others with --disable-plugin NAME or "
                f"{DISABLE_ENV}=NAME"
            )
        return candidates[0]

    def resolve(self, kind: str, name: str | type[Component]) -> type[Component]:
        """The component class for ``kind`` and ``name`` (or the class itself), imported
        lazily and cached."""
        if inspect.isclass(name):
            if not issubclass(name, Component) or name.kind != kind:
                raise PluginError(f"{name.__qualname__} is not a {kind} component class")
            return name
        spec = self.get_spec(kind, name)
        key = (spec.kind, f"{spec.name}@{spec.plugin}")
        with self._lock:
            cached = self._classes.get(key)
            if cached is not None:
                return cached
            direct = self._direct.get((spec.kind, spec.name))
            cls = direct[1] if direct is not None and direct[0] is spec else _import_target(spec)
            self._classes[key] = cls
            return cls

    # ------------------------------------------------------------------ commands
    def commands(self) -> list[CommandSpec]:
        """All plugin sub-command specs, sorted by name."""
        with self._lock:
            return sorted(self._collect("tomokit_commands"), key=lambda s: (s.name, s.plugin))

    # ------------------------------------------------------------------- formats
    def formats(self) -> list[FormatSpec]:
        """All data-format specs, sorted by name."""
        with self._lock:
            if self._formats is None:
                self._formats = sorted(
                    self._collect("tomokit_formats"), key=lambda s: (s.name, s.plugin)
                )
            return list(self._formats)


    # -------------------------------------------------------------------- models
    def models(self) -> list[ModelSpec]:
        """All shipped-model specs (the ``tomokit_models`` hook), sorted by name."""
        with self._lock:
            if self._models is None:
                self._models = sorted(
                    self._collect("tomokit_models"), key=lambda s: (s.name, s.plugin)
                )
            return list(self._models)

    def get_model(self, name: str) -> ModelSpec:
        """The one shipped model called ``name`` (``name@plugin`` picks among conflicts)."""
        base, _, plugin = name.partition("@")
        candidates = [m for m in self.models() if m.name == base]
        if plugin:
            candidates = [m for m in candidates if m.plugin == plugin]
        if not candidates:
            raise PluginError(_unknown("model", name, sorted({m.name for m in self.models()})))
        if len(candidates) > 1:
            who = " and ".join(f"{m.plugin!r} ({m.distribution})" for m in candidates)
            raise PluginError(
                f"model {base!r} is shipped by plugins {who}; choose one by writing "
                f"'{base}@{candidates[0].plugin}' or disable the others with --disable-plugin"
            )
        return candidates[0]


#: Which packages provide each kind (tomokit-core alone provides none).
KIND_PACKAGES = {
    "distortion": "tomokit-iqa", "observer": "tomokit-iqa", "scorer": "tomokit-iqa",
    "projector": "tomokit-recon", "reconstructor": "tomokit-recon",
    "filter": "tomokit-recon", "phantom": "tomokit-phantom", "segmenter": "tomokit-seg",
    "super_resolver": "tomokit-sr", "task": "tomokit-iqa, tomokit-recon, tomokit-phantom",
}

#: The hooks tomokit calls (the ``tomokit_*`` functions of :mod:`tomokit.hookspecs`).
HOOK_NAMES = tuple(sorted(n for n in dir(hookspecs) if n.startswith("tomokit_")))


def _hook_problem(plugin: Any) -> str:
    """Why a plugin object is unusable, or ``""``: a ``tomokit_*`` function that is no
    tomokit hook (a misspelt hook would make the plugin vanish silently, as pluggy's
    unknown-hook validation reports), or no hook at all."""
    names = [n for n in dir(plugin) if n.startswith("tomokit_")
             and callable(getattr(plugin, n, None))]
    unknown = [n for n in names if n not in HOOK_NAMES]
    if unknown:
        parts = []
        for n in unknown:
            close = difflib.get_close_matches(n, HOOK_NAMES, n=1, cutoff=0.6)
            parts.append(f"{n!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return (f"unknown hook {', '.join(parts)}; tomokit's hooks are "
                f"{', '.join(HOOK_NAMES)}")
    if not names:
        return f"implements none of tomokit's hooks ({', '.join(HOOK_NAMES)})"
    return ""


def target_problem(spec: ComponentSpec) -> str:
    """Why ``spec.target`` cannot be imported, found without importing it (the module's
    file is looked up; its package is the plugin's, already imported), or ``""``."""
    import importlib.util

    module_name, sep, attr = spec.target.partition(":")
    if not sep or not module_name or not attr:
        return f"target {spec.target!r} is not 'module:Class'"
    if spec.plugin.startswith("<class "):  # a class registered directly: no import path
        return ""
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as exc:
        return f"module {module_name!r} cannot be found: {exc}"
    return "" if found is not None else f"module {module_name!r} is not installed"


def _unknown(what: str, name: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    msg = f"unknown {what} {name!r}"
    if close:
        msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    elif choices:
        msg += f"; available: {', '.join(choices)}"
    else:
        msg += "; none are installed"
    return msg


def _import_target(spec: ComponentSpec) -> type[Component]:
    module_name, _, attr = spec.target.partition(":")
    try:
        module: ModuleType = importlib.import_module(module_name)
    except ImportError as exc:
        hint = ""
        if spec.extras:
            hint = f"; install its extras: pip install '{spec.distribution}[{','.join(spec.extras)}]'"
        raise PluginError(
            f"{spec.kind} {spec.name!r} from plugin {spec.plugin!r} (distribution "
            f"{spec.distribution or 'unknown'}) could not be imported: {exc}{hint}"
        ) from exc
    cls = getattr(module, attr, None)
    if cls is None:
        classes = [n for n, v in vars(module).items()
                   if inspect.isclass(v) and issubclass(v, Component)]
        close = difflib.get_close_matches(attr, classes, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else (
            f"; component classes there: {', '.join(sorted(classes))}" if classes else "")
        raise PluginError(
            f"{spec.kind} {spec.name!r} from plugin {spec.plugin!r}: module {module_name!r} "
            f"has no class {attr!r}{hint}"
        )
    if not (inspect.isclass(cls) and issubclass(cls, Component)):
        raise PluginError(
            f"{spec.kind} {spec.name!r} from plugin {spec.plugin!r}: {spec.target} is not a "
            "tomokit component class"
        )
    if cls.kind != spec.kind:
        raise PluginError(
            f"{spec.target} is a {cls.kind or 'component without kind'}, but plugin "
            f"{spec.plugin!r} registered it as a {spec.kind}"
        )
    if not cls.name:
        cls.name = spec.name
    return cls


_GLOBAL: Registry | None = None
_GLOBAL_LOCK = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, built on first use from installed entry points."""
    global _GLOBAL
    with _GLOBAL_LOCK:
        if _GLOBAL is None:
            _GLOBAL = Registry()
        return _GLOBAL


def reset_registry(*, disabled: Iterable[str] = (), entry_points: bool = True) -> Registry:
    """Replace the process-wide registry (after changing what is installed or disabled)."""
    global _GLOBAL
    with _GLOBAL_LOCK:
        _GLOBAL = Registry(disabled=disabled, entry_points=entry_points)
        return _GLOBAL


@contextmanager
def using_registry(registry: Registry) -> Iterator[Registry]:
    """Temporarily make ``registry`` the process-wide one."""
    global _GLOBAL
    with _GLOBAL_LOCK:
        previous, _GLOBAL = _GLOBAL, registry
    try:
        yield registry
    finally:
        with _GLOBAL_LOCK:
            _GLOBAL = previous
