"""The ``tomokit`` CLI: exit statuses, formats and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from tomokit.cli import main
from tomokit.pipeline import read_results

ROOT = Path(__file__).resolve().parents[1]
PIPES = Path(__file__).parent / "pipelines"


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("tomokit ")


def test_plugins_list_json_has_every_package(capsys):
    assert main(["plugins", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    dists = {r["distribution"] for r in rows}
    assert {"tomokit-iqa", "tomokit-recon", "tomokit-phantom", "tomokit-example-plugin"} <= dists
    blur = next(r for r in rows if r["name"] == "blur")
    assert blur["kind"] == "distortion" and blur["status"] == "ok" and blur["version"]


def test_plugins_list_kind_filter_and_yaml(capsys):
    assert main(["plugins", "list", "--kind", "reconstructor", "--format", "yaml"]) == 0
    text = capsys.readouterr().out
    assert "backprojection" in text and "kind: reconstructor" in text
    assert "kind: distortion" not in text


def test_plugins_show(capsys):
    assert main(["plugins", "show", "distortion", "salt_pepper", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    names = {p["name"]: p for p in info["params"]}
    assert names["amount"]["default"] == 0.05 and "Fraction" in names["amount"]["description"]


def test_unknown_component_exits_2_with_suggestion(capsys):
    assert main(["plugins", "show", "observer", "ssmi"]) == 2
    assert "did you mean 'ssim'" in capsys.readouterr().err


def test_validate_ok_and_invalid(capsys):
    assert main(["validate", str(PIPES / "valid" / "blur_and_compare.yaml")]) == 0
    assert "valid (2 steps)" in capsys.readouterr().out
    bad = PIPES / "invalid" / "08_unknown_param.yaml"
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:7: unknown param 'sigmaa'" in err
    assert "Traceback" not in err


def test_missing_file_exits_2(capsys, tmp_path):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "pipeline file not found" in capsys.readouterr().err


def test_schema_includes_component_params(capsys, tmp_path):
    target = tmp_path / "schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    schema = json.loads(target.read_text())
    step = schema["$defs"]["StepModel"]
    variants = {json.dumps(v["properties"]) for v in step["anyOf"]}
    assert any('"distortion": {"const": "blur"}' in v for v in variants)
    assert "distortion__blur__params" in schema["$defs"]
    assert "sigma" in schema["$defs"]["distortion__blur__params"]["properties"]


def test_schema_validates_the_examples(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    import yaml

    for path in sorted((ROOT / "examples").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_run_writes_results(capsys, tmp_path):
    out = tmp_path / "r.h5"
    assert main(["run", str(PIPES / "valid" / "blur_and_compare.yaml"), "-o", str(out)]) == 0
    results = read_results(out)
    assert 0 < float(results["quality"]) < 1


def test_failure_while_running_exits_1(capsys, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((8, 8), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((9, 9), np.float32))
    (tmp_path / "p.yaml").write_text(
        "inputs: {a: a.npy, b: b.npy}\nsteps:\n  - id: q\n    observer: mse\n"
        "    params: {data_range: 1.0}\n    inputs: {reference: a, distorted: b}\n"
    )
    assert main(["run", str(tmp_path / "p.yaml"), "-o", str(tmp_path / "o.h5")]) == 1
    assert "step 'q' (observer 'mse') failed" in capsys.readouterr().err
    assert not (tmp_path / "o.h5").exists()


def test_compare_and_distort(capsys, tmp_path):
    img = (np.linspace(0, 255, 192 * 192).reshape(192, 192)).astype(np.uint8)
    src = tmp_path / "img.png"
    iio.imwrite(src, img)
    dst = tmp_path / "blurred.png"
    assert main(["distort", str(src), "--distortion", "noise", "--level", "3", "-o", str(dst)]) == 0
    out = iio.imread(dst)
    assert out.dtype == np.uint8 and out.shape == img.shape and not np.array_equal(out, img)
    capsys.readouterr()
    assert main(["compare", str(src), str(dst), "--observer", "psnr", "--format", "json"]) == 0
    value = json.loads(capsys.readouterr().out)
    assert value["observer"] == "psnr" and 10 < value["value"] < 40
    assert main(["compare", str(src), str(dst), "--format", "json"]) == 0
    rows = {r["observer"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"ssim", "ms_ssim", "fsim", "gmsd", "mdsi", "psnr", "mse"} <= set(rows)
    assert all(r["value"] is not None for r in rows.values())
    small = tmp_path / "small.png"
    iio.imwrite(small, img[:64, :64])
    assert main(["compare", str(small), str(small), "--format", "json"]) == 0
    rows = {r["observer"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ms_ssim"]["value"] is None and "161" in rows["ms_ssim"]["error"]
    assert rows["ssim"]["value"] == 1.0


def test_distort_refuses_to_overwrite_input(capsys, tmp_path):
    src = tmp_path / "img.png"
    iio.imwrite(src, np.zeros((16, 16), np.uint8))
    before = src.read_bytes()
    assert main(["distort", str(src), "--distortion", "blur", "-o", str(src)]) == 2
    assert src.read_bytes() == before


def test_debug_shows_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tomokit.cli", "--debug", "validate", str(tmp_path / "x.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr
