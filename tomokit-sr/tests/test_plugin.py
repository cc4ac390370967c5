"""The plugin module: every component registered, shipped models only when present
(that it imports nothing heavy is tests/test_discovery_light.py's job)."""

from __future__ import annotations

from types import SimpleNamespace

import tomokit
from tomokit_sr import plugin


def test_components_registered():
    names = {s.name for s in plugin.tomokit_components()}
    assert names == {"nearest", "bilinear", "bicubic", "guided_filter", "joint_bilateral",
                     "edsr", "chemisr"}
    registered = {s.name for s in tomokit.get_registry().specs("super_resolver")}
    assert names <= registered
    assert {c.name for c in plugin.tomokit_commands()} == {"upscale", "sr-train"}


def test_shipped_models_listed_only_when_their_files_exist(tmp_path, monkeypatch):
    fake = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(plugin, "find_spec", lambda name: fake)
    assert plugin.tomokit_models() == []
    (tmp_path / "data" / "models").mkdir(parents=True)
    (tmp_path / "data" / "models" / "chemisr_x4.keras").write_bytes(b"")
    specs = plugin.tomokit_models()
    assert [s.name for s in specs] == ["tomokit-sr/chemisr-x4"]
    assert specs[0].resource == "tomokit_sr:data/models/chemisr_x4.keras"
