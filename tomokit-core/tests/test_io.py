"""Reading and writing arrays: round trips, lazy volumes and every bad-file error."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from tomokit import FormatSpec, InvalidInputError, hookimpl
from tomokit.io import create_volume, formats, open_volume, read_array, write_array
from tomokit.registry import Registry, using_registry

DATA = Path("/work/shared/data")
RNG = np.random.default_rng(1234)


def _volume(dtype: str = "float32", shape: tuple[int, ...] = (6, 12, 10)) -> np.ndarray:
    a = RNG.random(shape) * 1000
    return a.astype(dtype)


@pytest.mark.parametrize("suffix", [".h5", ".tif", ".npy"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint16", "uint8", "int32"])
def test_volume_round_trip_keeps_dtype_shape_values(tmp_path: Path, suffix: str, dtype: str) -> None:
    a = _volume(dtype)
    p = write_array(tmp_path / f"v{suffix}", a)
    b = read_array(p)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", [".h5", ".tif", ".npy"])
def test_2d_and_one_slice_stacks_keep_their_shape(tmp_path: Path, suffix: str) -> None:
    img = _volume(shape=(7, 5))
    one = _volume(shape=(1, 7, 5))
    np.testing.assert_array_equal(read_array(write_array(tmp_path / f"a{suffix}", img)), img)
    b = read_array(write_array(tmp_path / f"b{suffix}", one))
    assert b.shape == (1, 7, 5)
    np.testing.assert_array_equal(b, one)


def test_hdf5_dataset_path_compressed_and_chunked_by_slice(tmp_path: Path) -> None:
    a = _volume(shape=(4, 16, 16))
    p = write_array(tmp_path / "v.h5", a, dataset="/exchange/data")
    with h5py.File(p) as h5:
        ds = h5["/exchange/data"]
        assert ds.chunks == (1, 16, 16)
        assert ds.compression == "gzip"
    np.testing.assert_array_equal(read_array(p, dataset="exchange/data"), a)
    np.testing.assert_array_equal(read_array(p), a)  # the only dataset


def test_png_round_trip_8_and_16_bit_and_rgb(tmp_path: Path) -> None:
    for arr in (
        (RNG.random((9, 11)) * 255).astype(np.uint8),
        (RNG.random((9, 11)) * 65535).astype(np.uint16),
        (RNG.random((9, 11, 3)) * 255).astype(np.uint8),
    ):
        p = write_array(tmp_path / f"i{arr.dtype}{arr.ndim}.png", arr)
        b = read_array(p)
        assert b.dtype == arr.dtype and b.shape == arr.shape
        np.testing.assert_array_equal(b, arr)


def test_png_refuses_float_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"i\.png.*8 or 16-bit"):
        write_array(tmp_path / "i.png", np.zeros((4, 4), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_reference_images_grey_and_rgb() -> None:
    gold = read_array(DATA / "iqa-reference" / "goldhill.gif")
    assert gold.shape == (512, 512) and gold.dtype == np.uint8
    rgb = read_array(DATA / "iqa-reference" / "I01.BMP")
    assert rgb.shape == (384, 512, 3)
    bmp = read_array(DATA / "tomoiqa-sample" / "195.bmp")
    assert bmp.shape == (1024, 1024)
    assert set(np.unique(bmp)) <= {0, 255}  # the README: values 0 and 255 only
    with open_volume(DATA / "tomoiqa-sample" / "195.bmp") as r:
        assert r.shape == (1, 1024, 1024) and r.single
        np.testing.assert_array_equal(r.read(0), bmp)


def test_multipage_tiff_written_by_tifffile(tmp_path: Path) -> None:
    a = _volume("uint16", (5, 8, 6))
    tifffile.imwrite(tmp_path / "s.tiff", a)
    with open_volume(tmp_path / "s.tiff") as r:
        assert r.shape == (5, 8, 6) and r.dtype == np.uint16
        np.testing.assert_array_equal(r.read(slice(1, 4)), a[1:4])
        np.testing.assert_array_equal(r.read(-1), a[-1])
        np.testing.assert_array_equal(r.read([4, 0]), a[[4, 0]])
        np.testing.assert_array_equal(r.read(slice(None, None, 2)), a[::2])


def test_tiff_folder_in_natural_order(tmp_path: Path) -> None:
    a = _volume("float32", (12, 5, 4))
    folder = tmp_path / "stack"
    folder.mkdir()
    for i, s in enumerate(a):
        tifffile.imwrite(folder / f"slice_{i}.tif", s)
    (folder / "notes.txt").write_text("ignored")
    np.testing.assert_array_equal(read_array(folder), a)  # slice_2 before slice_10
    with open_volume(folder) as r:
        assert len(r) == 12
        blocks = list(r.iter_blocks(5))
        assert [b.start for b in blocks] == [0, 5, 10]
        np.testing.assert_array_equal(np.concatenate([b.data for b in blocks]), a)


def test_shape_and_dtype_known_without_reading_pixels(tmp_path: Path, monkeypatch) -> None:
    a = _volume("float32", (4, 6, 6))
    h5 = write_array(tmp_path / "v.h5", a)
    tif = write_array(tmp_path / "v.tif", a)
    folder = tmp_path / "f"
    folder.mkdir()
    for i, s in enumerate(a):
        tifffile.imwrite(folder / f"{i}.tif", s)

    def boom(*args, **kwargs):
        raise AssertionError("pixels were read")

    monkeypatch.setattr(h5py.Dataset, "__getitem__", boom)
    monkeypatch.setattr(tifffile.TiffFile, "asarray", boom)
    monkeypatch.setattr(tifffile, "imread", boom)
    for p in (h5, tif, folder):
        with open_volume(p) as r:
            assert r.shape == (4, 6, 6) and r.dtype == np.float32 and len(r) == 4


def test_reader_pickles_as_reopen(tmp_path: Path) -> None:
    a = _volume()
    p = write_array(tmp_path / "v.h5", a, dataset="/d")
    with open_volume(p, dataset="/d") as r:
        clone = pickle.loads(pickle.dumps(r))
        with clone:
            np.testing.assert_array_equal(clone.read(3), a[3])


def test_create_volume_block_by_block_renames_when_complete(tmp_path: Path) -> None:
    a = _volume()
    for suffix in (".h5", ".tif", ".npy"):
        target = tmp_path / f"out{suffix}"
        with create_volume(target, a.shape, a.dtype) as w:
            for start in (4, 0, 2):  # any order
                w.write(start, a[start:start + 2])
            assert not target.exists()  # only the temporary file so far
        np.testing.assert_array_equal(read_array(target), a)
    target = tmp_path / "failed.h5"
    with pytest.raises(RuntimeError), create_volume(target, a.shape, a.dtype) as w:
        w.write(0, a[:2])
        raise RuntimeError("crash")
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


# ------------------------------------------------------------------------- errors
def test_missing_file(tmp_path: Path) -> None:
    for name in ("nope.h5", "nope.tif", "nope.png", "nope.npy"):
        with pytest.raises(InvalidInputError, match=rf"{name}: no such file"):
            read_array(tmp_path / name)
    with pytest.raises(InvalidInputError, match="no such file"):
        open_volume(tmp_path / "nofolder")


def test_missing_dataset_suggests_close_paths(tmp_path: Path) -> None:
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as h5:
        h5["/exchange/data"] = np.zeros((2, 3, 3), np.float32)
        h5["/exchange/data_white"] = np.ones((1, 3, 3), np.float32)
    with pytest.raises(InvalidInputError, match=r"d\.h5: no dataset '/exchange/dat'.*'/exchange/data'"):
        read_array(p, dataset="/exchange/dat")
    with pytest.raises(InvalidInputError, match=r"no dataset 'data'.*did you mean.*'/exchange/data'"):
        open_volume(p, dataset="data")
    with pytest.raises(InvalidInputError, match=r"'/exchange' is a group.*/exchange/data"):
        read_array(p, dataset="/exchange")


def test_ambiguous_hdf5_without_dataset_lists_them(tmp_path: Path) -> None:
    p = tmp_path / "two.h5"
    with h5py.File(p, "w") as h5:
        h5["a"] = np.zeros((2, 2))
        h5["b"] = np.zeros((2, 2))
    with pytest.raises(InvalidInputError, match=r"two\.h5: holds 2 datasets \(/a, /b\); name the one to read"):
        read_array(p)


def test_truncated_and_corrupt_hdf5(tmp_path: Path) -> None:
    p = write_array(tmp_path / "full.h5", _volume(shape=(8, 32, 32)), dataset="/x")
    raw = p.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InvalidInputError, match=r"cut\.h5.*truncated or corrupt"):
        read_array(cut, dataset="/x")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not an HDF5 file" * 10)
    with pytest.raises(InvalidInputError, match=r"junk\.h5: cannot be read as HDF5"):
        open_volume(junk)


def test_corrupt_chunk_named_with_dataset(tmp_path: Path) -> None:
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as h5:
        h5.create_dataset("/v", data=_volume(shape=(2, 64, 64)), chunks=(1, 64, 64),
                          compression="gzip")
        offset = h5["/v"].id.get_chunk_info(1).byte_offset
    raw = bytearray(p.read_bytes())
    raw[offset:offset + 200] = b"\xff" * 200
    p.write_bytes(bytes(raw))
    with open_volume(p, dataset="/v") as r:
        r.read(0)
        with pytest.raises(InvalidInputError, match=r"c\.h5:/v: cannot read data"):
            r.read(1)


def test_tiff_folder_with_mixed_sizes(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    tifffile.imwrite(folder / "0.tif", np.zeros((4, 4), np.float32))
    tifffile.imwrite(folder / "1.tif", np.zeros((4, 5), np.float32))
    with pytest.raises(InvalidInputError, match=r"mixed: TIFF folder mixes.*0\.tif.*1\.tif"):
        open_volume(folder)


def test_corrupt_tiff(tmp_path: Path) -> None:
    p = tmp_path / "bad.tif"
    p.write_bytes(b"II*\x00garbage")
    with pytest.raises(InvalidInputError, match=r"bad\.tif: cannot be read as TIFF"):
        read_array(p)


def test_unsupported_extension(tmp_path: Path) -> None:
    p = tmp_path / "volume.raw"
    p.write_bytes(b"\x00" * 16)
    with pytest.raises(InvalidInputError, match=r"volume\.raw: unsupported extension '\.raw'.*\.h5"):
        read_array(p)
    with pytest.raises(InvalidInputError, match=r"unsupported extension"):
        write_array(tmp_path / "out.raw", np.zeros(3))


def test_dataset_given_to_a_format_without_datasets(tmp_path: Path) -> None:
    p = write_array(tmp_path / "a.npy", np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match="no datasets"):
        read_array(p, dataset="/x")


def test_never_overwrites_an_input(tmp_path: Path) -> None:
    a = _volume()
    p = write_array(tmp_path / "in.h5", a)
    with pytest.raises(InvalidInputError, match="already exists"):
        write_array(p, a + 1)
    with open_volume(p) as r, pytest.raises(InvalidInputError, match="input of this run"):
        write_array(p, a + 1, overwrite=True)
    assert r.closed
    with pytest.raises(InvalidInputError, match="input of this run"):
        write_array(p, a + 1, overwrite=True, inputs=[p])
    np.testing.assert_array_equal(read_array(p), a)
    write_array(p, a + 1, overwrite=True)
    np.testing.assert_array_equal(read_array(p), a + 1)


def test_builtin_formats_come_from_the_core_plugin_hook() -> None:
    from tomokit import plugin

    names = {s.name for s in plugin.tomokit_formats()}
    assert names == {"hdf5", "tiff", "image", "npy", "zarr", "dxchange", "nxtomo"}
    assert names <= {s.name for s in formats()}


class _LabPlugin:
    """A lab's plugin claiming its own extension for an existing reader."""

    @staticmethod
    @hookimpl
    def tomokit_formats() -> list[FormatSpec]:
        return [FormatSpec("labnpy", "tomokit.io._npy:NpyFormat", (".labvol",), "lab volumes")]


def test_a_plugin_adds_a_format(tmp_path: Path) -> None:
    a = _volume()
    p = tmp_path / "scan.labvol"
    with p.open("wb") as fh:
        np.save(fh, a)
    with pytest.raises(InvalidInputError, match="unsupported extension"):
        read_array(p)
    registry = Registry(entry_points=False)
    registry.register(_LabPlugin, name="lab")
    with using_registry(registry):
        np.testing.assert_array_equal(read_array(p), a)
        assert "labnpy" in {s.name for s in formats()}
        # the built-in formats stay usable in a registry without entry points
        np.testing.assert_array_equal(read_array(write_array(tmp_path / "x.h5", a)), a)
