"""Model files: sidecar, sha256, safe_mode; each bad file gets one clear error (exit 2
from the CLI, nothing written); shipped models through the tomokit_models hook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from learned_for_tests import (
    ShippingPlugin,
    TinyDenoiser,
    fake_sidecar,
    make_shipping_package,
    patches,
)

from tomokit.cli import main
from tomokit.errors import InvalidInputError, PluginError
from tomokit.learn import (
    ModelFile,
    check_model_file,
    find_model,
    load_model,
    model_info,
    save_model,
    sidecar_path,
)
from tomokit.specs import ModelSpec
from tomokit.testing import isolated_registry


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """An (untrained) tiny denoiser saved with its sidecar."""
    import keras

    keras.utils.set_random_seed(0)
    comp = TinyDenoiser(device="cpu")
    net = comp.build_network(comp.TrainParams(), None)  # type: ignore[arg-type]
    path = tmp_path_factory.mktemp("model") / "model.keras"
    mf = save_model(net, path, component=("filter", "tiny_denoiser"), params={"device": "cpu"},
                    seed=0, device="cpu")
    assert isinstance(mf, ModelFile) and mf.path == str(path)
    return path


def _copy(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src.name
    dst.write_bytes(src.read_bytes())
    sidecar_path(dst).write_bytes(sidecar_path(src).read_bytes())
    return dst


def test_sidecar_content_and_identical_reload(saved):
    info = model_info(saved)
    assert info["component"] == {"kind": "filter", "name": "tiny_denoiser"}
    assert info["model"]["bytes"] == saved.stat().st_size and len(info["model"]["sha256"]) == 64
    assert {"keras", "numpy"} <= set(info["versions"]) and info["seed"] == 0
    comp = TinyDenoiser.from_file(saved)
    assert comp.params.model == str(saved) and comp.params.device == "cpu"
    x = patches(4)["noisy"][..., None]
    again = TinyDenoiser(model=str(saved), device="cpu")
    assert np.array_equal(comp.predict(x), again.predict(x))
    net = load_model(saved, component=("filter", "tiny_denoiser"))
    assert np.array_equal(np.asarray(net.predict_on_batch(x)), comp.predict(x))


def test_sha_mismatch(saved, tmp_path):
    bad = _copy(saved, tmp_path)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match=r"sha256 .* does not match its sidecar"):
        check_model_file(bad)


def test_truncated(saved, tmp_path):
    bad = _copy(saved, tmp_path)
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(InvalidInputError, match=r"truncated \(1000 of \d+ bytes\)"):
        load_model(bad)


def test_sidecar_naming_another_component(saved, tmp_path):
    bad = _copy(saved, tmp_path)
    with pytest.raises(InvalidInputError, match="belongs to filter 'tiny_denoiser', not scorer 'tiqa'"):
        check_model_file(bad, component=("scorer", "tiqa"))
    info = json.loads(sidecar_path(bad).read_text())
    info["component"]["name"] = "other"
    sidecar_path(bad).write_text(json.dumps(info))
    with pytest.raises(InvalidInputError, match="belongs to filter 'other'"):
        TinyDenoiser.from_file(bad)
    with pytest.raises(InvalidInputError, match="belongs to filter 'other'"):
        TinyDenoiser(model=str(bad), device="cpu").network  # noqa: B018


def test_lambda_layer_refused(tmp_path):
    import keras

    inp = keras.Input((4,))
    net = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp))
    with pytest.raises(InvalidInputError, match="Lambda"):
        save_model(net, tmp_path / "a.keras", component=("filter", "tiny_denoiser"))
    path = tmp_path / "lambda.keras"
    net.save(path)
    fake_sidecar(path)
    with pytest.raises(InvalidInputError, match=r"Lambda layer .* safe_mode=True"):
        load_model(path)


def test_missing_sidecar_and_not_keras(tmp_path, saved):
    lone = tmp_path / "lone.keras"
    lone.write_bytes(saved.read_bytes())
    with pytest.raises(InvalidInputError, match=r"no sidecar lone\.json"):
        check_model_file(lone)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    fake_sidecar(junk)
    with pytest.raises(InvalidInputError, match=r"unreadable \.keras file"):
        check_model_file(junk)
    with pytest.raises(InvalidInputError, match="no such file"):
        find_model(tmp_path / "nope.keras")


def test_cli_exit_2_for_each_bad_file(saved, tmp_path, capsys):
    cases = {}
    d = _copy(saved, tmp_path / "sha")
    raw = bytearray(d.read_bytes())
    raw[100] ^= 1
    d.write_bytes(bytes(raw))
    cases["sha256"] = d
    d = _copy(saved, tmp_path / "trunc")
    d.write_bytes(d.read_bytes()[:-10])
    cases["truncated"] = d
    import keras

    inp = keras.Input((4,))
    lam = tmp_path / "lam" / "m.keras"
    lam.parent.mkdir()
    keras.Model(inp, keras.layers.Lambda(lambda t: t + 1)(inp)).save(lam)
    fake_sidecar(lam)
    cases["Lambda"] = lam
    for word, path in cases.items():
        before = sorted(p.name for p in path.parent.iterdir())
        assert main(["models", "show", str(path)]) == 2
        err = capsys.readouterr().err
        assert word in err and err.count("error:") == 1 and "Traceback" not in err
        assert sorted(p.name for p in path.parent.iterdir()) == before  # nothing written
    # a pipeline-facing check: params naming a bad model fail validation (exit 2 upstream)
    with pytest.raises(Exception, match="sha256"):
        TinyDenoiser(model=str(cases["sha256"]))


def test_shipped_model_listed_found_and_shown(saved, tmp_path, capsys, monkeypatch):
    make_shipping_package(tmp_path, saved)
    monkeypatch.syspath_prepend(str(tmp_path))
    with isolated_registry(ShippingPlugin, TinyDenoiser) as reg:
        assert [m.name for m in reg.models()] == ["testpkg/denoiser"]
        assert main(["models", "list", "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        row = rows[0]
        assert row["name"] == "testpkg/denoiser" and row["status"] == "ok"
        assert row["component"] == "filter tiny_denoiser" and row["size"] > 1000
        assert row["plugin"] == "ShippingPlugin"
        assert main(["models", "list"]) == 0
        assert "testpkg" in capsys.readouterr().out
        assert main(["models", "show", "testpkg/denoiser", "--format", "json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["component"]["name"] == "tiny_denoiser"
        path = find_model("testpkg/denoiser")
        assert path.parent.name == "models" and path.is_file()
        comp = TinyDenoiser(model="testpkg/denoiser", device="cpu")
        assert comp.model_path == path
        x = patches(2)["noisy"][..., None]
        assert comp.predict(x).shape == x.shape
        with pytest.raises(PluginError, match="unknown model 'testpkg/denoiserr'; did you mean"):
            find_model("testpkg/denoiserr")


def test_model_spec_validation():
    with pytest.raises(PluginError, match="model name"):
        ModelSpec("Bad Name", "pkg:m.keras")
    with pytest.raises(PluginError, match="resource"):
        ModelSpec("pkg/m", "pkg/m.keras")
    assert ModelSpec("pkg/m", "pkg.sub:models/m.keras").relative_path == "models/m.keras"


def test_loaded_network_shared_until_the_file_changes(saved, tmp_path):
    """Components naming the same unchanged file share one loaded network (a sweep scores
    with one model, traced once); a rewritten file is read again."""
    model = _copy(saved, tmp_path / "m")
    a = TinyDenoiser(model=str(model), device="cpu")
    b = TinyDenoiser(model=str(model), device="cpu")
    assert a.network is b.network
    x = patches(2)["noisy"][..., None]
    before = a.predict(x)
    import keras

    keras.utils.set_random_seed(1)
    other = TinyDenoiser(device="cpu")
    net = other.build_network(other.TrainParams(), None)  # type: ignore[arg-type]
    net.set_weights([w + 0.1 for w in net.get_weights()])
    save_model(net, model, component=("filter", "tiny_denoiser"), params={"device": "cpu"},
               seed=1, device="cpu")
    c = TinyDenoiser(model=str(model), device="cpu")
    assert c.network is not a.network
    assert not np.array_equal(c.predict(x), before)
    assert np.array_equal(a.predict(x), before)  # a keeps the network it loaded
