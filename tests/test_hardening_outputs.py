"""Issue 16 item 1 and 17: every file the CLI writes goes through one guarded writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tomokit.cli import main

PIPE = """\
seed: 1
inputs:
  slice: {src}
steps:
  - id: blurred
    distortion: blur
    params: {{level: 1}}
    inputs: [slice]
"""


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "slice.npy", rng.random((32, 32)).astype(np.float32))
    (tmp_path / "p.yaml").write_text(PIPE.format(src="slice.npy"))
    return tmp_path


def _run(work: Path, *extra: str) -> int:
    return main(["run", str(work / "p.yaml"), "-q", *extra])


def test_log_json_never_overwrites_the_pipeline_file(work: Path, capsys) -> None:
    before = (work / "p.yaml").read_bytes()
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(work / "p.yaml")) == 2
    assert (work / "p.yaml").read_bytes() == before
    assert "is an input" in capsys.readouterr().err


def test_log_json_never_overwrites_an_input(work: Path) -> None:
    before = (work / "slice.npy").read_bytes()
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(work / "slice.npy")) == 2
    assert (work / "slice.npy").read_bytes() == before


def test_log_json_never_overwrites_the_results(work: Path) -> None:
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(work / "r.h5")) == 2
    assert not (work / "r.h5").exists()


def test_log_json_refuses_an_unrelated_file_without_overwrite(work: Path, capsys) -> None:
    notes = work / "notes.json"
    notes.write_text('{"mine": 1}\n')
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(notes)) == 2
    assert notes.read_text() == '{"mine": 1}\n'
    assert "--overwrite" in capsys.readouterr().err
    assert not (work / "r.h5").exists()  # refused before any work
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(notes), "--overwrite") == 0
    assert json.loads(notes.read_text())["format"].startswith("tomokit")


def test_log_json_of_an_earlier_run_is_replaced(work: Path) -> None:
    log = work / "log.json"
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(log)) == 0
    assert _run(work, "-o", str(work / "r.h5"), "--log-json", str(log)) == 0
    assert json.loads(log.read_text())["error"] is None


@pytest.mark.parametrize("name", ["r.tif", "r.png", "r.json", "r"])
def test_results_extension_must_be_hdf5(work: Path, name: str, capsys) -> None:
    assert _run(work, "-o", str(work / name)) == 2
    assert "must end in .h5" in capsys.readouterr().err
    assert not (work / name).exists()


def test_results_refuse_an_unrelated_existing_file(work: Path) -> None:
    import h5py

    other = work / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = np.arange(3)
    assert _run(work, "-o", str(other)) == 2
    with h5py.File(other, "r") as h5:
        assert "x" in h5
    assert _run(work, "-o", str(other), "--overwrite") == 0
    assert _run(work, "-o", str(other)) == 0  # now an earlier tomokit result


def test_results_never_inside_an_input_folder(tmp_path: Path, capsys) -> None:
    import tifffile

    folder = tmp_path / "stack"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"s{i:02d}.tif", np.full((16, 16), i, np.float32))
    (tmp_path / "p.yaml").write_text(PIPE.format(src="stack"))
    assert main(["run", str(tmp_path / "p.yaml"), "-q", "-o", str(folder / "r.h5")]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["s00.tif", "s01.tif", "s02.tif"]


def test_schema_output_is_guarded(tmp_path: Path, capsys) -> None:
    mine = tmp_path / "mine.json"
    mine.write_text("{}")
    assert main(["schema", "-o", str(mine)]) == 2
    assert mine.read_text() == "{}"
    assert main(["schema", "-o", str(tmp_path / "s.txt")]) == 2
    # a missing folder is created; an earlier schema is replaced
    target = tmp_path / "new" / "schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    assert main(["schema", "-o", str(target)]) == 0
    assert json.loads(target.read_text())["title"] == "tomokit pipeline"


def test_output_under_a_file_is_a_clear_error(work: Path, capsys) -> None:
    (work / "afile").write_text("x")
    assert _run(work, "-o", str(work / "afile" / "r.h5")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["schema", "-o", str(work / "afile" / "s.json")]) == 2


def test_read_only_output_folder_is_a_clear_error(work: Path, capsys) -> None:
    import os

    ro = work / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        assert _run(work, "-o", str(ro / "r.h5")) == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


def test_too_long_output_name_is_a_clear_error(work: Path, capsys) -> None:
    name = "r" * 251 + ".h5"  # a valid name, but the hidden siblings would not be
    assert _run(work, "-o", str(work / name)) == 2
    assert "too long" in capsys.readouterr().err


def test_distort_output_is_guarded(work: Path, capsys) -> None:
    src = work / "slice.npy"
    other = work / "other.npy"
    np.save(other, np.zeros((4, 4)))
    args = ["distort", str(src), "--distortion", "blur", "--level", "1"]
    assert main([*args, "-o", str(other)]) == 2
    assert np.load(other).shape == (4, 4)
    assert main([*args, "-o", str(work / "x.npy")]) == 0
