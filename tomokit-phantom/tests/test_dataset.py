"""Dataset writer, the `tomokit phantom` command and the phantom_dataset task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit.cli import main
from tomokit_phantom import generate
from tomokit_phantom.commands import parse_params
from tomokit_phantom.dataset import read_dataset, sample_seeds, write_dataset


def test_write_read_and_regenerate(tmp_path: Path) -> None:
    out = write_dataset(tmp_path / "d.h5", "electrode", count=3, size=48, seed=5,
                        params={"porosity": 0.4}, png_dir=tmp_path / "png",
                        tiff_dir=tmp_path / "tif")
    data = read_dataset(out)
    assert data["images"].shape == (3, 48, 48) and data["labels"].dtype == np.uint8
    assert data["phases"] == ("pore", "active", "carbon_binder")
    assert data["params"]["porosity"] == 0.4 and data["seed"] == 5
    assert data["maps"]["particle_id"].shape == (3, 48, 48)
    np.testing.assert_array_equal(data["seeds"], sample_seeds(5, 3))
    # every sample is regenerated from its stored seed and parameters alone
    again = generate("electrode", 48, int(data["seeds"][2]), porosity=0.4)
    np.testing.assert_array_equal(again.image, data["images"][2])
    np.testing.assert_array_equal(again.labels, data["labels"][2])
    np.testing.assert_array_equal(data["images"], data["attenuation"].astype(np.float32)[data["labels"]])
    assert len(data["info"][0]["radii"]) == data["maps"]["particle_id"][0].max()
    # exports
    import imageio.v3 as iio
    import tifffile

    np.testing.assert_array_equal(iio.imread(tmp_path / "png" / "00001_labels.png"), data["labels"][1])
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "tif" / "00001_image.tif"), data["images"][1])
    # no temporary file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5", "png", "tif"]


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomokit_phantom.dataset as ds

    def boom(*a, **k):
        raise RuntimeError("disk full")
        yield  # pragma: no cover

    monkeypatch.setattr(ds, "iter_samples", boom)
    with pytest.raises(RuntimeError):
        write_dataset(tmp_path / "d.h5", "electrode", count=2, size=32)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"count": 0}, "count"),
        ({"seed": -1}, "seed"),
        ({"name": "electrod"}, "did you mean"),
        ({"params": {"porosity": 2}}, "porosity"),
        ({"path": "out.txt"}, "h5"),
        ({"path": "missing/out.h5"}, "does not exist"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"path": "d.h5", "name": "electrode", "count": 2, "size": 32}
    args.update(kwargs)
    path = tmp_path / args.pop("path")
    name = args.pop("name")
    with pytest.raises(InvalidInputError, match=match):
        write_dataset(path, name, **args)


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    write_dataset(tmp_path / "d.h5", "shepp_logan", count=1, size=32)
    with pytest.raises(InvalidInputError, match="overwrite"):
        write_dataset(tmp_path / "d.h5", "shepp_logan", count=1, size=32)
    write_dataset(tmp_path / "d.h5", "random_shapes", count=2, size=32, overwrite=True)
    assert read_dataset(tmp_path / "d.h5")["generator"] == "random_shapes"


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    rc = main(["phantom", "catalyst", "-n", "2", "--size", "40", "-o", "c.h5",
               "-p", "structure=packed", "-p", 'active_fractions=[0.2, 0.1]', "--png", "png"])
    assert rc == 0
    data = read_dataset("c.h5")
    assert data["params"]["structure"] == "packed"
    assert data["params"]["active_fractions"] == [0.2, 0.1]
    assert (tmp_path / "png" / "00001_image.png").exists()
    assert main(["phantom", "catalyst", "-n", "2", "-o", "c.h5"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["phantom", "electrode", "-n", "1", "--size", "8", "-o", "e.h5"]) == 2
    assert main(["phantom", "electrode", "-o", "e.h5", "-p", "porosity"]) == 2
    assert main(["phantom", "electrode", "-o", "e.h5", "--acq-param", "i0=5"]) == 2
    assert not (tmp_path / "e.h5").exists()


def test_command_module_is_light() -> None:
    code = ("import sys, tomokit_phantom.commands, tomokit_phantom.plugin; "
            "bad = [m for m in ('numpy', 'scipy', 'skimage', 'h5py', 'astra') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # numpy comes with tomokit-core itself; nothing of ours pulls in more
    assert set(filter(None, out.stdout.strip().split(","))) <= {"numpy"}


def test_parse_params() -> None:
    assert parse_params(["a=1", "b=x", 'c=[1, 2]', "d=null"]) == {"a": 1, "b": "x", "c": (1, 2), "d": None}
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        parse_params(["nope"])


def test_task_input_source(tmp_path: Path) -> None:
    task = tomokit.load("task", "phantom_dataset", phantom="jelly_roll", count=2, size=48,
                        seed=3, phantom_params={"turns": 5})
    out = task.run_step({}, rng=np.random.default_rng(0))
    assert out["image"].shape == (2, 48, 48) and out["labels"].shape == (2, 48, 48)
    np.testing.assert_array_equal(out["seeds"], sample_seeds(3, 2))
    # writing to HDF5 gives the same arrays
    task2 = tomokit.load("task", "phantom_dataset", phantom="jelly_roll", count=2, size=48,
                         seed=3, phantom_params={"turns": 5}, output=str(tmp_path / "j.h5"))
    out2 = task2.run_step({}, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out["image"], out2["image"])
    el = tomokit.load("task", "phantom_dataset", phantom="electrode", count=2, size=40, seed=1)
    out3 = el.run_step({}, rng=np.random.default_rng(0))
    assert out3["map_particle_id"].shape == (2, 40, 40)
    np.testing.assert_array_equal(out3["map_particle_id"] > 0, out3["labels"] == 1)
    assert json.loads(json.dumps(read_dataset(tmp_path / "j.h5")["params"]))["turns"] == 5
