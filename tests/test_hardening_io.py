"""Issue 16 items 6, 7, 8, 12 and 17: readers refuse what they would misread; the output
lock; raw exceptions become messages."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from tomokit import io
from tomokit.cli import main
from tomokit.errors import InvalidInputError
from tomokit.pipeline import load_pipeline


def _dxchange(path: Path, *, flats: int = 2, white: bool = True, data=None, units=None) -> None:
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as h5:
        h5["exchange/data"] = data if data is not None else (
            rng.random((6, 3, 8)) * 100 + 10).astype(np.float32)
        if white:
            h5["exchange/data_white"] = np.full((flats, 3, 8), 200.0, np.float32)
        h5["exchange/data_dark"] = np.zeros((1, 3, 8), np.float32)
        theta = h5.create_dataset("exchange/theta", data=np.linspace(0, 180, 6, endpoint=False))
        if units is not None:
            theta.attrs["units"] = units


def _pipe(tmp_path: Path, source: str, extra: str = "") -> Path:
    f = tmp_path / "p.yaml"
    f.write_text(f"inputs:\n  scan: {{path: {source}{extra}}}\nsteps:\n"
                 "  - id: rec\n    reconstructor: fbp\n    inputs: [scan]\n")
    return f


# -- item 7 --------------------------------------------------------------------------
def test_empty_flat_field_stack_is_an_error(tmp_path: Path) -> None:
    _dxchange(tmp_path / "s.h5", flats=0)
    with pytest.raises(InvalidInputError, match=r"data_white.*empty|no flat"):
        io.open_scan(tmp_path / "s.h5")
    with pytest.raises(InvalidInputError, match="data_white"):
        load_pipeline(_pipe(tmp_path, "s.h5"))


def test_dxchange_without_flats_is_not_read_as_a_plain_volume(tmp_path: Path) -> None:
    _dxchange(tmp_path / "s.h5", white=False)
    with pytest.raises(InvalidInputError, match="data_white") as info:
        load_pipeline(_pipe(tmp_path, "s.h5"))
    assert "dataset: /exchange/data" in str(info.value)  # the explicit option


@pytest.mark.parametrize("data", [np.array([[[b"ab"] * 8] * 3] * 6),
                                  np.ones((6, 3, 8), np.complex64)])
def test_dxchange_with_non_real_data_is_a_clear_error(tmp_path: Path, data) -> None:
    _dxchange(tmp_path / "s.h5", data=data)
    with pytest.raises(InvalidInputError, match="/exchange/data"):
        io.open_scan(tmp_path / "s.h5")


def test_theta_units_error_names_the_file(tmp_path: Path) -> None:
    _dxchange(tmp_path / "s.h5", units="gradians")
    with pytest.raises(InvalidInputError, match=r"s\.h5:/exchange/theta.*gradians"):
        io.open_scan(tmp_path / "s.h5")


# -- item 8 --------------------------------------------------------------------------
def test_complex_3d_volume_is_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "c.h5", "w") as h5:
        h5["data"] = np.ones((3, 8, 8), np.complex64) * (1 + 2j)
    f = tmp_path / "p.yaml"
    f.write_text("inputs: {v: c.h5}\nsteps:\n  - id: b\n    distortion: blur\n"
                 "    inputs: [v]\n")
    with pytest.raises(InvalidInputError, match="complex"):
        load_pipeline(f)
    from tomokit.io._views import to_float32

    with pytest.raises(InvalidInputError, match="complex"):
        to_float32(np.ones((2, 2), np.complex64))


# -- item 12 -------------------------------------------------------------------------
def test_multipage_tiff_with_pages_of_different_sizes_is_refused(tmp_path: Path) -> None:
    import tifffile

    with tifffile.TiffWriter(tmp_path / "m.tif") as tw:
        tw.write(np.zeros((8, 8), np.uint8))
        tw.write(np.zeros((16, 12), np.uint8))
    with pytest.raises(InvalidInputError, match="different"):
        io.read_array(tmp_path / "m.tif")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8, np.uint16])
def test_normalize_gives_zero_to_one_for_every_integer_type(tmp_path: Path, dtype) -> None:
    from tomokit.io._views import to_float32

    info = np.iinfo(dtype)
    arr = np.array([[info.min, 0], [info.max, info.max]], dtype)
    out = to_float32(arr, normalize=True)
    assert out.min() == 0.0 and out.max() == 1.0
    np.save(tmp_path / "a.npy", arr)
    (tmp_path / "p.yaml").write_text(
        "inputs: {a: {path: a.npy, normalize: true}}\nsteps:\n  - id: b\n"
        "    distortion: blur\n    params: {level: 1}\n    inputs: [a]\n")
    from tomokit.pipeline._inputs import open_input

    value = np.asarray(open_input(load_pipeline(tmp_path / "p.yaml"), "a"))
    assert value.min() == 0.0 and value.max() == 1.0


# -- item 6 --------------------------------------------------------------------------
def test_second_run_on_the_same_output_fails_at_once(tmp_path: Path, capsys) -> None:
    from tomokit.io._guard import output_lock

    np.save(tmp_path / "s.npy", np.zeros((16, 16), np.float32))
    (tmp_path / "p.yaml").write_text(
        "inputs: {s: s.npy}\nsteps:\n  - id: b\n    distortion: blur\n    inputs: [s]\n")
    import threading

    held, done = threading.Event(), threading.Event()

    def other_run() -> None:  # another run holds the lock (the lock is per thread)
        with output_lock(tmp_path / "r.h5"):
            held.set()
            done.wait(60)

    holder = threading.Thread(target=other_run)
    holder.start()
    held.wait(60)
    try:
        assert main(["run", "-q", str(tmp_path / "p.yaml"), "-o", str(tmp_path / "r.h5")]) == 2
        assert "another tomokit run" in capsys.readouterr().err
    finally:
        done.set()
        holder.join()
    assert main(["run", "-q", str(tmp_path / "p.yaml"), "-o", str(tmp_path / "r.h5")]) == 0
    assert not (tmp_path / ".r.h5.lock").exists()


# -- item 17 -------------------------------------------------------------------------
def test_compare_on_3d_stacks_is_a_message(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.random((3, 32, 32)))
    np.save(tmp_path / "b.npy", rng.random((3, 32, 32)))
    code = main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                 "--data-range", "1", "--format", "json"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err and "AttributeError" not in err


def test_messages_name_options_the_cli_has(tmp_path: Path, capsys) -> None:
    with h5py.File(tmp_path / "two.h5", "w") as h5:
        h5["a"] = np.zeros((8, 8))
        h5["b"] = np.zeros((8, 8))
    np.save(tmp_path / "x.npy", np.zeros((8, 8)))
    assert main(["compare", str(tmp_path / "two.h5"), str(tmp_path / "x.npy"),
                 "--data-range", "1", "--observer", "psnr"]) == 2
    assert "--dataset on the command line" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "two.h5"), str(tmp_path / "x.npy"),
                 "--data-range", "1", "--observer", "psnr", "--dataset", "/a"]) == 0


def test_colour_compare_message_names_a_real_option(tmp_path: Path, capsys) -> None:
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        iio.imwrite(tmp_path / name, (rng.random((48, 48, 3)) * 255).astype(np.uint8))
    args = ["compare", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--observer", "ssim"]
    assert main(args) == 2
    assert "--param color=true" in capsys.readouterr().err
    assert main([*args, "--param", "color=true", "--format", "json"]) == 0
