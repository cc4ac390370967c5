from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from components_for_tests import MeanAbs, Shift

import tomokit
from tomokit.registry import Registry
from tomokit.testing import check_component, isolated_registry


def test_load_by_name_and_by_class(registry):
    by_name = tomokit.load("distortion", "shift", offset=0.5)
    by_class = tomokit.load("distortion", Shift, {"offset": 0.5})
    img = np.zeros((4, 4), np.float32)
    assert np.allclose(by_name.apply(img), 0.5)
    assert np.array_equal(by_name.apply(img), by_class.apply(img))


def test_unknown_name_suggests_close_match(registry):
    with pytest.raises(tomokit.PluginError, match="did you mean 'shift'"):
        tomokit.load("distortion", "shfit")


def test_unknown_kind(registry):
    with pytest.raises(tomokit.PluginError, match="unknown kind 'observr'; did you mean 'observer'"):
        tomokit.load("observr", "x")


def test_bad_params_name_the_param(registry):
    with pytest.raises(tomokit.InvalidInputError, match="offst: Extra inputs are not permitted"):
        tomokit.load("distortion", "shift", offst=1)
    with pytest.raises(tomokit.InvalidInputError, match="level: Input should be less than or equal to 5"):
        tomokit.load("distortion", "shift", level=9)


def test_class_of_wrong_kind_is_rejected(registry):
    with pytest.raises(tomokit.PluginError, match="is not a distortion component"):
        tomokit.load("distortion", MeanAbs)


def test_resolution_is_cached_and_lazy():
    module = "tomokit_lazy_probe_mod"
    code = textwrap.dedent(
        """
        import tomokit
        class Probe(tomokit.Observer):
            def compare(self, reference, distorted):
                return 1.0
        """
    )
    import types

    mod = types.ModuleType(module)
    exec(code, mod.__dict__)

    class Plugin:
        @tomokit.hookimpl
        def tomokit_components(self):
            return [tomokit.ComponentSpec("observer", "probe", f"{module}:Probe")]

    with isolated_registry(Plugin()) as reg:
        assert module not in sys.modules
        assert [s.name for s in reg.specs("observer")] == ["probe"]
        sys.modules[module] = mod
        try:
            assert reg.resolve("observer", "probe") is reg.resolve("observer", "probe")
        finally:
            del sys.modules[module]


def test_conflicting_plugins_tell_how_to_choose():
    class A:
        @tomokit.hookimpl
        def tomokit_components(self):
            return [tomokit.ComponentSpec("observer", "same", "components_for_tests:MeanAbs")]

    class B(A):
        pass

    reg = Registry(entry_points=False)
    reg.register(A(), name="alpha")
    reg.register(B(), name="beta")
    with pytest.raises(tomokit.PluginError) as info:
        reg.resolve("observer", "same")
    msg = str(info.value)
    assert "'alpha'" in msg and "'beta'" in msg and "same@alpha" in msg and "--disable-plugin" in msg
    assert reg.resolve("observer", "same@beta") is MeanAbs


def test_plugin_whose_hook_raises_is_broken_not_fatal():
    class Bad:
        @tomokit.hookimpl
        def tomokit_components(self):
            raise RuntimeError("boom")

    reg = Registry(entry_points=False)
    reg.register(Bad(), name="bad")
    reg.register(Shift)
    assert [s.name for s in reg.specs()] == ["shift"]
    (bad,) = [p for p in reg.plugins() if p.name == "bad"]
    assert bad.status == "broken" and "RuntimeError: boom" in bad.reason


def _install_fake_distribution(tmp_path, monkeypatch, name, module_code):
    """A dist-info on sys.path whose entry point names ``module_code``'s module."""
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[tomokit]\n{name} = {name}_plugin\n")
    (tmp_path / f"{name}_plugin.py").write_text(module_code)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_broken_entry_point_is_reported(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path, monkeypatch, "brokenplug", "raise ImportError('needs libfoo')\n"
    )
    reg = Registry()
    (info,) = [p for p in reg.plugins() if p.name == "brokenplug"]
    assert info.status == "broken"
    assert "ImportError: needs libfoo" in info.reason
    assert info.distribution == "brokenplug"
    assert any(s.plugin == "iqa" for s in reg.specs())  # the others still load


def test_disable_plugin_by_env(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path, monkeypatch, "brokenplug", "raise ImportError('needs libfoo')\n"
    )
    monkeypatch.setenv("TOMOKIT_DISABLE_PLUGINS", "brokenplug, iqa")
    reg = Registry()
    status = {p.name: p.status for p in reg.plugins()}
    assert status["brokenplug"] == "disabled" and status["iqa"] == "disabled"
    assert not any(s.plugin == "iqa" for s in reg.specs())


def test_missing_target_module_names_distribution_and_extras():
    class Plugin:
        @tomokit.hookimpl
        def tomokit_components(self):
            return [
                tomokit.ComponentSpec(
                    "scorer", "ghost", "no_such_module_xyz:Ghost", extras=("tf",)
                )
            ]

    with isolated_registry() as reg:
        reg.register(Plugin(), name="ghostplug")
        with pytest.raises(tomokit.PluginError) as info:
            reg.resolve("scorer", "ghost")
    assert "ghostplug" in str(info.value) and "[tf]" in str(info.value)


def test_invalid_spec_names_are_rejected():
    with pytest.raises(tomokit.PluginError, match="name 'Bad Name' is invalid"):
        tomokit.ComponentSpec("observer", "Bad Name", "m:C")
    with pytest.raises(tomokit.PluginError, match="unknown kind"):
        tomokit.ComponentSpec("denoiser", "x", "m:C")


def test_contract_helper_accepts_good_components():
    check_component(Shift, noise=0.1)
    check_component(MeanAbs)


def test_register_a_local_class():
    class Local(tomokit.Observer):
        def compare(self, reference, distorted):
            return 1.0

    with isolated_registry(Local) as reg:
        assert reg.resolve("observer", "local") is Local
        assert reg.get_spec("observer", "local").target.endswith(":test_register_a_local_class__locals__Local")
