"""Issue 16 items 18-22: what a plugin author gets wrong is reported, never silent."""

from __future__ import annotations

import types
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pydantic import Field

from tomokit import ComponentSpec, FormatSpec, Params, hookimpl
from tomokit.components import Filter
from tomokit.errors import InvalidInputError
from tomokit.registry import Registry, using_registry


class BadDefaultParams(Params):
    strength: float = Field(2.0, ge=0, le=1, description="Out of its own bounds.")


class BadDefault(Filter):
    """A filter whose Params default violates its own bounds."""

    name: ClassVar[str] = "bad_default"
    Params = BadDefaultParams

    def filter(self, image: np.ndarray) -> np.ndarray:
        return image


# -- item 18 -------------------------------------------------------------------------
def test_a_default_out_of_its_bounds_is_reported() -> None:
    with pytest.raises(Exception, match="strength"):
        BadDefault()


def test_check_component_reports_bad_defaults() -> None:
    from tomokit.testing import check_component, check_defaults

    assert any("strength" in p for p in check_defaults(BadDefault))
    with pytest.raises(AssertionError, match="default"):
        check_component(BadDefault)


def test_validate_reports_a_bad_default(tmp_path: Path) -> None:
    from tomokit.errors import PipelineError
    from tomokit.pipeline import load_pipeline

    reg = Registry(entry_points=False)
    reg.register(BadDefault)
    np.save(tmp_path / "s.npy", np.zeros((8, 8), np.float32))
    (tmp_path / "p.yaml").write_text(
        "inputs: {s: s.npy}\nsteps:\n  - id: f\n    filter: bad_default\n    inputs: [s]\n")
    with pytest.raises(PipelineError, match="strength"):
        load_pipeline(tmp_path / "p.yaml", registry=reg)


# -- item 19 -------------------------------------------------------------------------
def _plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(__name__="labplugin", **hooks)


def test_a_misspelt_hook_makes_the_plugin_broken() -> None:
    reg = Registry(entry_points=False)

    @hookimpl
    def tomokit_component():  # misspelt: tomokit_components
        return [ComponentSpec(kind="filter", name="x", target="m:X")]

    reg.register(_plugin(tomokit_component=tomokit_component), name="labplugin")
    info = {p.name: p for p in reg.plugins()}["labplugin"]
    assert info.status == "broken" and "did you mean 'tomokit_components'" in info.reason


def test_an_unmarked_misspelt_hook_is_reported() -> None:
    reg = Registry(entry_points=False)

    def tomokit_component():
        return []

    reg.register(_plugin(tomokit_component=tomokit_component), name="labplugin")
    info = {p.name: p for p in reg.plugins()}["labplugin"]
    assert info.status == "broken"
    assert "tomokit_component" in info.reason and "tomokit_components" in info.reason


# -- item 20 -------------------------------------------------------------------------
class _BadSniff:
    pass


def test_a_failing_sniff_of_a_plugin_format_breaks_nothing(tmp_path: Path) -> None:
    import tifffile

    from tomokit import io
    from tomokit.io import Format

    class Explodes(Format):
        name: ClassVar[str] = "explodes"
        extensions: ClassVar[tuple[str, ...]] = (".boom",)

        @classmethod
        def sniff(cls, path: Path) -> bool:
            raise ValueError("bug in the plugin")

        def open(self, path, *, dataset=None):  # pragma: no cover - never reached
            raise AssertionError

    mod = types.ModuleType("explodes_mod")
    mod.Explodes = Explodes  # type: ignore[attr-defined]
    import sys

    sys.modules["explodes_mod"] = mod

    @hookimpl
    def tomokit_formats():
        return [FormatSpec(name="explodes", target="explodes_mod:Explodes",
                           extensions=(".boom",))]

    reg = Registry(entry_points=False)
    reg.register(types.SimpleNamespace(__name__="boomfmt", tomokit_formats=tomokit_formats),
                 name="boomfmt")
    folder = tmp_path / "stack"
    folder.mkdir()
    for i in range(2):
        tifffile.imwrite(folder / f"{i}.tif", np.zeros((8, 8), np.float32))
    with using_registry(reg):
        assert io.read_array(folder).shape == (2, 8, 8)
        with pytest.raises(InvalidInputError):
            io.read_array(tmp_path / "noext")


# -- item 22 -------------------------------------------------------------------------
def test_compare_survives_an_observer_without_data_range(tmp_path: Path, capsys) -> None:
    import json

    from tomokit.cli import main
    from tomokit.components import Observer

    class NoRange(Observer):
        """An observer without a data_range param."""

        name: ClassVar[str] = "norange"
        higher_is_better: ClassVar[bool] = False

        def compare(self, reference, distorted) -> float:
            return float(np.abs(np.asarray(reference) - np.asarray(distorted)).mean())

    from tomokit.registry import get_registry

    reg = get_registry()
    reg.register(NoRange)
    try:
        rng = np.random.default_rng(0)
        np.save(tmp_path / "a.npy", rng.random((32, 32)))
        np.save(tmp_path / "b.npy", rng.random((32, 32)))
        assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                     "--data-range", "1", "--format", "json"]) == 0
        rows = {r["observer"]: r for r in json.loads(capsys.readouterr().out)}
        assert rows["norange"]["value"] > 0 and rows["psnr"]["value"] > 0
    finally:
        reg.unregister("norange")


# -- item 21 -------------------------------------------------------------------------
def _module(name: str, **attrs) -> types.ModuleType:
    import sys

    mod = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    return mod


def _lab_registry(*specs: ComponentSpec) -> Registry:
    @hookimpl
    def tomokit_components():
        return list(specs)

    reg = Registry(entry_points=False)
    reg.register(types.SimpleNamespace(__name__="lab", tomokit_components=tomokit_components),
                 name="lab")
    return reg


def test_class_name_typo_suggests_the_class() -> None:
    from tomokit.errors import PluginError

    _module("lab_typo_mod", BadDefault=BadDefault)
    reg = _lab_registry(ComponentSpec(kind="filter", name="bd", target="lab_typo_mod:BadDefalt"))
    with pytest.raises(PluginError, match=r"no class 'BadDefalt'.*did you mean 'BadDefault'"):
        reg.resolve("filter", "bd")


def test_duplicate_name_inside_one_plugin_is_the_authors_bug() -> None:
    from tomokit.errors import PluginError

    reg = _lab_registry(ComponentSpec(kind="filter", name="dup", target="a:A"),
                        ComponentSpec(kind="filter", name="dup", target="b:B"))
    with pytest.raises(PluginError) as info:
        reg.get_spec("filter", "dup")
    assert "twice" in str(info.value) and "dup@" not in str(info.value)


def test_component_of_a_disabled_plugin_is_reported_as_disabled(capsys) -> None:
    from tomokit.cli import main

    assert main(["--disable-plugin", "iqa", "plugins", "show", "observer", "ssim"]) == 2
    err = capsys.readouterr().err
    assert "disabled" in err and "iqa" in err
    from tomokit.registry import reset_registry

    reset_registry()


def test_plugins_list_flags_an_unimportable_target(capsys) -> None:
    from tomokit.cli import main

    reg = _lab_registry(ComponentSpec(kind="filter", name="ghost", target="no_such_mod_xyz:G"))
    with using_registry(reg):
        assert main(["plugins", "list", "--format", "json"]) == 0
    import json

    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "ghost")
    assert row["status"].startswith("broken") and "no_such_mod_xyz" in row["status"]


def test_plugins_check_imports_validates_and_runs_contracts(capsys) -> None:
    from tomokit.cli import main

    _module("lab_check_mod", BadDefault=BadDefault)
    reg = _lab_registry(
        ComponentSpec(kind="filter", name="bd", target="lab_check_mod:BadDefault"),
        ComponentSpec(kind="filter", name="ghost", target="no_such_mod_xyz:G"),
    )
    with using_registry(reg):
        assert main(["plugins", "check", "lab", "--format", "json"]) == 1
    import json

    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert "strength" in rows["bd"]["status"] and "no_such_mod_xyz" in rows["ghost"]["status"]


def test_plugins_check_passes_on_a_good_plugin(capsys) -> None:
    from tomokit.cli import main

    assert main(["plugins", "check", "phantom"]) == 0
    assert "shepp_logan" in capsys.readouterr().out


def test_plugins_list_is_compact_with_fields(capsys) -> None:
    from tomokit.cli import main

    assert main(["plugins", "list", "--kind", "phantom"]) == 0
    out = capsys.readouterr().out
    assert "distribution" not in out and "summary" in out
    assert main(["plugins", "list", "--kind", "phantom", "--fields", "name,version"]) == 0
    out = capsys.readouterr().out
    assert "version" in out and "summary" not in out


# -- item 23 -------------------------------------------------------------------------
def test_core_alone_names_the_package_to_install() -> None:
    from tomokit.errors import PluginError

    reg = Registry(entry_points=False)
    with pytest.raises(PluginError, match="pip install tomokit-iqa"):
        reg.get_spec("observer", "ssim")
