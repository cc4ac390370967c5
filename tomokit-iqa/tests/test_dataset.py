"""Dataset generation: crops, every distortion at every level, labels, HDF5 and CSV files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError, Observer
from tomokit.testing import check_component, isolated_registry, sample_image
from tomokit_iqa.dataset import (
    DatasetParams,
    GenerateDataset,
    generate_dataset,
    prepare_reference,
    read_dataset,
    read_score_table,
    write_dataset,
)
from tomokit_iqa.distortions import GaussianBlur


class MeanSquaredError(Observer):
    """Lower-is-better test observer (a real measure, independent of the observer package)."""

    name = "t_mse"
    # pytest's importlib mode names this module "tomokit-iqa.tests...", not a valid target
    __module__ = "test_dataset"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))

    class Params(tomokit.Params):
        data_range: float = 1.0

    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return float(np.mean((np.asarray(reference) - np.asarray(distorted)) ** 2))


class Correlation(Observer):
    """Higher-is-better similarity in [-1, 1]: Pearson correlation of the pixels."""

    name = "t_corr"
    __module__ = "test_dataset"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    class Params(tomokit.Params):
        data_range: float = 1.0

    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return float(np.corrcoef(np.ravel(reference), np.ravel(distorted))[0, 1])


OBS = ("t_mse", "t_corr")
SMALL = {"observers": OBS, "resize": 48, "crop": 40}


@pytest.fixture(autouse=True)
def _test_observers() -> Iterator[None]:
    with isolated_registry(MeanSquaredError, Correlation, entry_points=True):
        yield


def _stack(n: int = 2) -> np.ndarray:
    return np.stack([sample_image((64, 80), seed=i) for i in range(n)])


def test_task_rows_and_columns() -> None:
    check_component(GenerateDataset)
    images = _stack()
    before = images.copy()
    task = tomokit.load("task", "iqa_dataset", **SMALL)
    out = task.run_step({"images": images}, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(images, before)
    n = 2 * (1 + 3 * 5)
    assert out["images"].shape == (n, 40, 40) and out["images"].dtype == np.float32
    assert list(out["distortion"][:6]) == ["reference", "blur", "blur", "blur", "blur", "blur"]
    assert list(out["level"][:6]) == [0, 1, 2, 3, 4, 5]
    assert list(out["source"]) == [0] * 16 + [1] * 16
    assert set(out) == {
        "images", "distortion", "level", "score", "source",
        "raw_t_mse", "score_t_mse", "raw_t_corr", "score_t_corr",
    }
    ref_rows = out["level"] == 0
    np.testing.assert_array_equal(out["score"][ref_rows], 5.0)
    np.testing.assert_array_equal(out["raw_t_mse"][ref_rows], 0.0)
    assert np.all((out["score"] >= 1) & (out["score"] <= 5))


def test_rows_are_the_distorted_reference_crop() -> None:
    out = GenerateDataset(**SMALL).run({"images": _stack(1)}, rng=np.random.default_rng(1))
    ref = out["images"][0].astype(np.float64)
    for k in range(1, 6):
        np.testing.assert_allclose(out["images"][k], GaussianBlur().apply(ref, k), atol=1e-6)
    # raw values are the observers' values of those very rows
    mse = [np.mean((out["images"][i] - out["images"][0]) ** 2) for i in range(16)]
    np.testing.assert_allclose(out["raw_t_mse"], mse, rtol=1e-4, atol=1e-9)


def test_labels_follow_the_projection() -> None:
    out = GenerateDataset(**SMALL).run({"images": _stack(1)}, rng=np.random.default_rng(2))
    for name in ("blur", "noise"):
        sel = out["distortion"] == name
        assert np.all(np.diff(out["score"][sel]) <= 0)  # non-increasing in level
        mse = out["raw_t_mse"][sel]
        expect = np.maximum(1, np.round(np.maximum(0, 1 - mse / mse[-1]) * 5))
        np.testing.assert_array_equal(out["score_t_mse"][sel], expect)
        corr = out["raw_t_corr"][sel]
        np.testing.assert_array_equal(
            out["score_t_corr"][sel], np.maximum(1, np.round(np.clip(corr, 0, 1) * 5))
        )
        np.testing.assert_allclose(
            out["score"][sel], (out["score_t_mse"][sel] + out["score_t_corr"][sel]) / 2
        )


def test_human_scores_and_determinism() -> None:
    images = _stack()
    task = GenerateDataset(**SMALL, rounding=False)
    a = task.run({"images": images, "scores": [4.0, 2.5]}, rng=np.random.default_rng(3))
    b = task.run({"images": images, "scores": [4.0, 2.5]}, rng=np.random.default_rng(3))
    c = task.run({"images": images, "scores": [4.0, 2.5]}, rng=np.random.default_rng(4))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], c["images"])
    np.testing.assert_array_equal(a["score"][a["level"] == 0], [4.0, 2.5])
    assert a["score"][a["source"] == 1].max() <= 2.5
    with pytest.raises(InvalidInputError, match="scores"):
        task.run({"images": images, "scores": [4.0]}, rng=np.random.default_rng(0))


def test_prepare_reference_resizes_shorter_side_and_crops() -> None:
    img = np.tile(np.linspace(0, 1, 600), (300, 1))  # 300 x 600, horizontal ramp
    crop, (_top, left) = prepare_reference(img, resize=255, crop=224, rng=0)
    assert crop.shape == (224, 224)
    # the ramp after resizing to 255 x 510: column j has value ~ j / 509
    cols = np.arange(left, left + 224) / 509.0
    np.testing.assert_allclose(crop[10], cols, atol=3e-3)
    whole, corner = prepare_reference(img, resize=None, crop=None)
    assert whole.shape == (300, 600) and corner == (0, 0)
    with pytest.raises(InvalidInputError, match="crop"):
        prepare_reference(img, resize=100, crop=224)


def test_write_read_and_csv(tmp_path: Path) -> None:
    params = DatasetParams(**SMALL, distortions=("blur", "ring"), levels=(1, 3, 5))
    blocks = generate_dataset(
        _stack(), params=params, ids=["a.png", "b.png"], scores={"b": 3.0}, rng=5
    )
    h5 = tmp_path / "set.h5"
    csv_path = tmp_path / "set.csv"
    n = write_dataset(blocks, h5, csv_path=csv_path, params=params, seed=5)
    assert n == 2 * (1 + 2 * 3)
    assert not list(tmp_path.glob(".*partial*"))
    data = read_dataset(h5)
    assert data["images"].shape == (n, 40, 40)
    assert list(data["source_id"][:2]) == ["a.png", "a.png"]
    assert list(data["distortion"][:4]) == ["reference", "blur", "blur", "blur"]
    assert list(data["level"][:4]) == [0, 1, 3, 5]
    np.testing.assert_array_equal(data["score"][data["level"] == 0], [5.0, 3.0])
    assert set(data["observers"]) == set(OBS) and data["attrs"]["seed"] == 5
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n and rows[7]["source_id"] == "b.png"
    assert float(rows[3]["t_mse"]) == pytest.approx(data["observers"]["t_mse"][3])
    assert float(rows[3]["score"]) == pytest.approx(data["score"][3])
    with pytest.raises(InvalidInputError, match="exists"):
        write_dataset(generate_dataset(_stack(1), params=params), h5)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator:
        yield from generate_dataset(_stack(1), params=SMALL, rng=0)
        raise InvalidInputError("second image unreadable")

    with pytest.raises(InvalidInputError, match="unreadable"):
        write_dataset(broken(), tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []


def test_score_table(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("image,score\n195.bmp,4.5\n196.bmp,3\n")
    assert read_score_table(p) == {"195.bmp": 4.5, "195": 4.5, "196.bmp": 3.0, "196": 3.0}
    q = tmp_path / "t.csv"
    q.write_text("a,2\nb,5\n")
    assert read_score_table(q)["b"] == 5.0
    r = tmp_path / "bad.csv"
    r.write_text("image,score\na,high\n")
    with pytest.raises(InvalidInputError, match=r"bad\.csv:2"):
        read_score_table(r)


def test_bad_params() -> None:
    with pytest.raises(InvalidInputError):
        tomokit.load("task", "iqa_dataset", levels=[3, 1])
    with pytest.raises(InvalidInputError):
        tomokit.load("task", "iqa_dataset", reference_score=0.5)
    with pytest.raises(InvalidInputError, match="no_such"):
        GenerateDataset(**SMALL, distortions=("no_such",)).run(
            {"images": _stack(1)}, rng=np.random.default_rng(0)
        )
    with pytest.raises(InvalidInputError, match="distortion_params"):
        GenerateDataset(**SMALL, distortion_params={"ring2": {}}).run(
            {"images": _stack(1)}, rng=np.random.default_rng(0)
        )
    with pytest.raises(InvalidInputError, match="images"):
        GenerateDataset(**SMALL).run({"images": np.zeros((2, 3, 4, 5))}, rng=np.random.default_rng(0))


# --------------------------------------------------------------------------- command
def _cli(*args: str) -> int:
    from tomokit.cli import main

    return main(list(args))


def test_command_folder_stack_and_hdf5(tmp_path: Path) -> None:
    import h5py
    import imageio.v3 as iio
    import tifffile

    folder = tmp_path / "refs"
    folder.mkdir()
    imgs = [(sample_image((70, 90), seed=i) * 255).astype(np.uint8) for i in range(3)]
    iio.imwrite(folder / "s0.png", imgs[0])
    iio.imwrite(folder / "s1.png", imgs[1])
    tifffile.imwrite(tmp_path / "stack.tif", np.stack(imgs[:2]).astype(np.uint16) * 257)
    with h5py.File(tmp_path / "vol.h5", "w") as f:
        f["exchange/data"] = np.stack(imgs[1:]).astype(np.float32) / 255.0
    (tmp_path / "human.csv").write_text("image,score\ns1.png,3\n")
    out = tmp_path / "ds.h5"
    rc = _cli(
        "iqa-dataset", str(folder), str(tmp_path / "stack.tif"), "-o", str(out),
        "--csv", str(tmp_path / "ds.csv"), "--scores", str(tmp_path / "human.csv"),
        "--observers", "t_mse,t_corr", "--distortions", "blur,noise", "--levels", "1,5",
        "--resize", "60", "--crop", "48", "--seed", "3",
    )
    assert rc == 0
    data = read_dataset(out)
    assert data["images"].shape == (4 * 5, 48, 48)
    ids = list(dict.fromkeys(data["source_id"].tolist()))
    assert ids == ["s0.png", "s1.png", "stack.tif:0", "stack.tif:1"]
    np.testing.assert_array_equal(data["score"][data["level"] == 0], [5, 3, 5, 5])
    assert data["attrs"]["seed"] == 3
    # integer images (uint8 PNG, uint16 TIFF) are scaled to [0, 1] by their dtype maximum
    for row in (0, 10):
        assert 0.5 < data["images"][row].max() <= 1.0
    rc = _cli(
        "iqa-dataset", str(tmp_path / "vol.h5"), "--dataset", "exchange/data", "-o",
        str(tmp_path / "h.h5"), "--observers", "t_mse", "--resize", "0", "--crop", "64",
    )
    assert rc == 0 and read_dataset(tmp_path / "h.h5")["images"].shape == (2 * 16, 64, 64)


def test_command_bad_input(tmp_path: Path) -> None:
    assert _cli("iqa-dataset", str(tmp_path / "none.png"), "-o", str(tmp_path / "o.h5"),
                "--observers", "t_mse") == 2
    assert not (tmp_path / "o.h5").exists()
    img = tmp_path / "a.png"
    import imageio.v3 as iio

    iio.imwrite(img, (sample_image((64, 64)) * 255).astype(np.uint8))
    assert _cli("iqa-dataset", str(img), "-o", str(tmp_path / "o.h5"), "--levels", "x") == 2
    assert _cli("iqa-dataset", str(img), "-o", str(tmp_path / "o.h5"), "--crop", "500",
                "--observers", "t_mse") == 2
    assert _cli("iqa-dataset", str(img), "-o", str(img)) == 2
    assert list(tmp_path.iterdir()) == [img]


def test_command_module_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tomokit_iqa.commands\n"
        "heavy = {'tensorflow', 'keras', 'matplotlib', 'h5py', 'skimage', 'torch', 'astra', 'dask'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


# ------------------------------------------------------------------ real observers
def test_default_observers_on_the_paper_crop() -> None:
    pytest.importorskip("tomokit_iqa.observers")
    import imageio.v3 as iio

    from tomokit_iqa.labels import DEFAULT_OBSERVERS

    ref = iio.imread(
        Path(__file__).parent / "data" / "tomoiqa-sample" / "distorted" / "195_0_0_0.bmp"
    ) / 255.0
    task = GenerateDataset(resize=None, crop=None, distortions=("blur", "noise"))
    out = task.run({"images": ref, "scores": [4.0]}, rng=np.random.default_rng(0))
    assert task.params.observers == DEFAULT_OBSERVERS  # type: ignore[attr-defined]
    assert out["images"].shape == (11, 224, 224)
    assert out["score"][0] == 4.0
    for name in ("blur", "noise"):
        sel = out["distortion"] == name
        assert np.all(np.diff(out["score"][sel]) <= 0)  # non-increasing in level
        assert out["score"][sel][0] > out["score"][sel][-1]
        # the distortion measures' worst level maps to the floor score 1
        np.testing.assert_array_equal(out["score_gmsd"][sel][-1], 1.0)
        np.testing.assert_array_equal(out["score_mdsi"][sel][-1], 1.0)
        # similarities are taken as they are: score = max(1, round(4 * ssim))
        np.testing.assert_array_equal(
            out["score_ssim"][sel], np.maximum(1, np.round(4 * np.clip(out["raw_ssim"][sel], 0, 1)))
        )
    assert np.all((out["score"] >= 1) & (out["score"] <= 4))
