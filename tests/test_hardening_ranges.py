"""Issue 16 items 3, 4 and 9: finite data ranges, strict JSON, one data_range policy,
colour images refused the same way for every kind."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from tomokit.api import load
from tomokit.cli import main
from tomokit.errors import InvalidInputError


def _strict_json(text: str) -> object:
    def refuse(token: str) -> None:
        raise AssertionError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


# -- item 3 --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "1e400", "inf"])
@pytest.mark.parametrize("kind,name", [("observer", "psnr"), ("observer", "ssim"),
                                       ("distortion", "noise"), ("distortion", "ring")])
def test_non_finite_data_range_is_refused_by_every_component(kind, name, value) -> None:
    with pytest.raises(InvalidInputError, match="data_range"):
        load(kind, name, data_range=value)


def test_any_non_finite_float_param_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="sigma"):
        load("distortion", "blur", sigma=math.inf)


def test_cli_compare_refuses_an_infinite_range(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "a.npy", np.random.default_rng(0).random((32, 32)))
    np.save(tmp_path / "b.npy", np.random.default_rng(1).random((32, 32)))
    assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                 "--observer", "psnr", "--data-range", "inf"]) == 2
    assert "--data-range" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                 "--observer", "psnr", "--data-range", "0"]) == 2


def test_cli_json_output_is_strict_json(tmp_path: Path, capsys) -> None:
    img = np.random.default_rng(0).random((32, 32))
    np.save(tmp_path / "a.npy", img)
    np.save(tmp_path / "b.npy", img)  # identical: PSNR is +inf
    assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                 "--observer", "psnr", "--data-range", "1", "--format", "json"]) == 0
    row = _strict_json(capsys.readouterr().out)
    assert isinstance(row, dict) and row["value"] is None


def test_pipeline_with_an_infinite_range_is_invalid(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "s.npy", np.zeros((16, 16), np.float32))
    (tmp_path / "p.yaml").write_text(
        "inputs: {s: s.npy}\nsteps:\n  - id: n\n    distortion: noise\n"
        "    params: {data_range: .inf}\n    inputs: [s]\n")
    assert main(["validate", str(tmp_path / "p.yaml")]) == 2
    assert ":5: " in capsys.readouterr().err


# -- item 9 --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["noise", "ring"])
def test_integer_range_data_are_not_wiped(name: str) -> None:
    img = (np.random.default_rng(0).random((32, 32)) * 40000).astype(np.float32)
    with pytest.raises(InvalidInputError, match="exceed data_range"):
        load("distortion", name, level=1).apply(img, 1, 0)
    out = load("distortion", name, level=1, data_range=65535.0).apply(img, 1, 0)
    assert out.std() > 1000


@pytest.mark.parametrize("name", ["noise", "ring"])
def test_integer_dtype_range_is_inferred_with_a_warning(name: str) -> None:
    img = (np.random.default_rng(0).random((32, 32)) * 40000).astype(np.uint16)
    with pytest.warns(UserWarning, match="65535"):
        out = load("distortion", name, level=1).apply(img, 1, 0)
    assert out.max() > 1000
    u8 = (np.random.default_rng(0).random((32, 32)) * 200).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load("distortion", name, level=1).apply(u8, 1, 0).max() > 10


def test_compare_of_8_and_16_bit_images_is_refused(tmp_path: Path, capsys) -> None:
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "a.png", (rng.random((32, 32)) * 255).astype(np.uint8))
    iio.imwrite(tmp_path / "b.png", (rng.random((32, 32)) * 65535).astype(np.uint16))
    assert main(["compare", str(tmp_path / "a.png"), str(tmp_path / "b.png"),
                 "--observer", "psnr"]) == 2
    err = capsys.readouterr().err
    assert "uint8" in err and "uint16" in err and "--data-range" in err


def test_core_policy_helper() -> None:
    from tomokit.components import resolve_data_range

    assert resolve_data_range(None, np.zeros(3, np.uint8)) == 255.0
    assert resolve_data_range(2.0, np.zeros(3)) == 2.0
    assert resolve_data_range(None, np.zeros(3), default=1.0) == 1.0
    with pytest.raises(InvalidInputError, match="explicit data_range"):
        resolve_data_range(None, np.zeros(3))
    with pytest.raises(InvalidInputError, match="differ"):
        resolve_data_range(None, np.zeros(3, np.uint8), np.zeros(3, np.uint16))
    with pytest.raises(InvalidInputError, match="finite"):
        resolve_data_range(math.inf, np.zeros(3))


# -- item 4 --------------------------------------------------------------------------
@pytest.mark.parametrize("kind,name", [("distortion", "blur"), ("distortion", "noise"),
                                       ("distortion", "ring")])
@pytest.mark.parametrize("channels", [3, 4])
def test_colour_images_are_refused_by_distortions(kind, name, channels) -> None:
    rgb = np.random.default_rng(0).random((32, 40, channels)).astype(np.float32)
    with pytest.raises(InvalidInputError, match="colour"):
        load(kind, name, level=1).apply(rgb, 1, 0)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_colour_files_are_refused_by_the_cli_and_pipelines(tmp_path: Path, mode, capsys) -> None:
    from PIL import Image

    rgb = (np.random.default_rng(0).random((32, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).convert(mode).save(tmp_path / "c.png")
    assert main(["distort", str(tmp_path / "c.png"), "--distortion", "blur", "--level", "1",
                 "-o", str(tmp_path / "o.png")]) == 2
    assert "colour" in capsys.readouterr().err
    (tmp_path / "p.yaml").write_text(
        "inputs: {c: c.png}\nsteps:\n  - id: b\n    distortion: blur\n    inputs: [c]\n")
    assert main(["validate", str(tmp_path / "p.yaml")]) == 2
    err = capsys.readouterr().err
    assert ":1: " in err and "colour" in err and "color: luma" in err
    (tmp_path / "p.yaml").write_text(
        "inputs: {c: {path: c.png, color: luma}}\nsteps:\n  - id: b\n    distortion: blur\n"
        "    inputs: [c]\n")
    assert main(["run", str(tmp_path / "p.yaml"), "-q", "-o", str(tmp_path / "r.h5")]) == 0
    from tomokit.pipeline import read_results

    assert read_results(tmp_path / "r.h5")["b"].shape == (32, 40)
