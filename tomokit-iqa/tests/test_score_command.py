"""``tomokit score``: images, folders and volumes, batches, summaries, plots, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import tomokit
from tomokit.cli import main
from tomokit_iqa.score_command import score_volumes, summarise

DATA = Path(__file__).parent / "data"
CROPS = DATA / "tomoiqa-sample" / "distorted"


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.stack([iio.imread(CROPS / f"195_{b}_0_0.bmp") for b in range(6)])


def test_volume_folder_and_image_give_the_same_scores(
    tmp_path: Path, crops: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    vol = tmp_path / "stack.npy"
    np.save(vol, crops)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, c in enumerate(crops):
        iio.imwrite(folder / f"s{i:02d}.png", c)
    one = CROPS / "195_0_0_0.bmp"
    box, lines = tmp_path / "box.png", tmp_path / "lines.png"
    rc = main(["score", str(vol), str(folder), str(one), "--scorer", "brisque", "--batch", "4",
               "--format", "json", "--plot", str(box), "--line-plot", str(lines)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scorer"] == "brisque" and report["higher_is_better"] is False
    v_stack, v_folder, v_one = report["volumes"]
    direct = tomokit.load("scorer", "brisque", data_range=255).score(crops)
    np.testing.assert_allclose(v_stack["scores"], direct, rtol=1e-6)
    np.testing.assert_allclose(v_folder["scores"], direct, rtol=1e-6)
    np.testing.assert_allclose(v_one["scores"], direct[:1], rtol=1e-6)
    s = v_stack["summary"]
    assert s["n"] == 6
    np.testing.assert_allclose(s["median"], np.median(direct))
    np.testing.assert_allclose([s["q1"], s["q3"]], np.percentile(direct, [25, 75]))
    assert box.stat().st_size > 1000 and lines.stat().st_size > 1000


def test_batches_do_not_change_scores(crops: np.ndarray, tmp_path: Path) -> None:
    vol = tmp_path / "v.npy"
    np.save(vol, crops)
    scorer = tomokit.load("scorer", "brisque", data_range=1.0)
    a = score_volumes([vol], scorer, batch=1)[0].scores
    b = score_volumes([vol], scorer, batch=5)[0].scores
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9)


def test_float_volume_is_windowed_and_blank_slices_skipped(
    tmp_path: Path, crops: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    vol = crops[:3].astype(np.float32) * 0.01 - 0.5  # attenuation-like floats
    vol = np.concatenate([vol, np.zeros((1, *vol.shape[1:]), np.float32)])  # a blank slice
    path = tmp_path / "recon.npy"
    np.save(path, vol)
    assert main(["score", str(path), "--scorer", "brisque", "--format", "json"]) == 2
    capsys.readouterr()
    out = tmp_path / "r.json"
    assert main(["score", str(path), "--scorer", "brisque", "--skip-bad", "-o", str(out)]) == 0
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    report = json.loads(text)
    vol0 = report["volumes"][0]
    assert vol0["scores"][3] is None and "constant" in vol0["errors"]["3"]
    assert vol0["summary"]["n"] == 3
    assert "brisque" in capsys.readouterr().out  # the table


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(tmp_path / "missing.tif"), "--scorer", "brisque"]) == 2
    assert main(["score", str(CROPS), "--scorer", "brisque", "--param", "nokey"]) == 2
    assert main(["score", str(CROPS), "--scorer", "brisque", "--batch", "0"]) == 2
    path = tmp_path / "f.npy"
    np.save(path, np.random.default_rng(0).random((2, 32, 32)).astype(np.float32))
    assert main(["score", str(path), "--scorer", "brisque", "--normalize", "none"]) == 2
    assert "needs --data-range" in capsys.readouterr().err


def test_summarise_empty_is_json_safe() -> None:
    s = summarise([])
    assert s["n"] == 0 and s["mean"] is None
    json.dumps(s, allow_nan=False)
