"""DXchange and NeXus NXtomo scans: flat/dark normalisation, -log, sinograms by row."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from tomokit import InvalidInputError, Sinogram
from tomokit.io import _tomo, open_scan, open_volume, read_array

ROWS, ANGLES, COLS = 5, 24, 16


def _scan(seed: int = 0) -> dict[str, np.ndarray]:
    """A noise-free scan from known line integrals: P = D + (F - D) exp(-L)."""
    rng = np.random.default_rng(seed)
    lines = rng.uniform(0.0, 3.0, (ANGLES, ROWS, COLS))
    flat = rng.uniform(800.0, 1200.0, (ROWS, COLS))
    dark = rng.uniform(50.0, 120.0, (ROWS, COLS))
    flats = np.stack([flat + d for d in (-20.0, -5.0, 5.0, 20.0)])  # mean = flat
    darks = np.stack([dark - 3.0, dark + 3.0])  # mean = dark
    proj = dark + (flat - dark) * np.exp(-lines)
    theta = np.linspace(0.0, 180.0, ANGLES, endpoint=False)
    return {"lines": lines, "flats": flats.astype(np.float32), "darks": darks.astype(np.float32),
            "proj": proj.astype(np.float32), "theta": theta, "flat": flat, "dark": dark}


def _dxchange(path: Path, s: dict[str, np.ndarray], *, theta: bool = True) -> Path:
    with h5py.File(path, "w") as h5:
        h5["/exchange/data"] = s["proj"]
        h5["/exchange/data_white"] = s["flats"]
        h5["/exchange/data_dark"] = s["darks"]
        if theta:
            h5["/exchange/theta"] = s["theta"]
    return path


def _nxtomo(path: Path, s: dict[str, np.ndarray], *, angle_units: str = "degree") -> Path:
    """Darks, two flats, projections, an invalid image, two flats: as scanners write them."""
    f, d, p = s["flats"], s["darks"], s["proj"]
    junk = np.full((1, ROWS, COLS), 7.0, np.float32)
    images = np.concatenate([d, f[:2], p, junk, f[2:]])
    keys = np.array([2] * len(d) + [1, 1] + [0] * len(p) + [3] + [1, 1], dtype=np.int32)
    angles = np.concatenate([np.zeros(len(d) + 2), s["theta"], [0.0], [180.0, 180.0]])
    if angle_units == "rad":
        angles = np.deg2rad(angles)
    with h5py.File(path, "w") as h5:
        entry = h5.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXtomo"
        det = entry.create_group("instrument/detector")
        det["data"] = images
        det["image_key"] = keys
        sample = entry.create_group("sample")
        sample["rotation_angle"] = angles
        sample["rotation_angle"].attrs["units"] = angle_units
        data = entry.create_group("data")
        data["data"] = det["data"]  # NXdata links, as NXtomo prescribes
        data["image_key"] = det["image_key"]
        data["rotation_angle"] = sample["rotation_angle"]
    return path


def test_dxchange_recovers_the_line_integrals(tmp_path: Path) -> None:
    s = _scan()
    with open_scan(_dxchange(tmp_path / "scan.h5", s)) as scan:
        assert scan.layout == "dxchange"
        assert scan.shape == (ROWS, ANGLES, COLS) and scan.dtype == np.float32
        np.testing.assert_allclose(scan.angles, np.deg2rad(s["theta"]))
        sinos = scan.read(slice(None))
        # float32 data: the recovered -log transmission matches the true one closely
        np.testing.assert_allclose(sinos, s["lines"].transpose(1, 0, 2), atol=2e-4)
        # and equals the textbook formula applied to the stored values
        flat = s["flats"].astype(np.float64).mean(0)
        dark = s["darks"].astype(np.float64).mean(0)
        expected = -np.log((s["proj"] - dark.astype(np.float32))
                           / (flat - dark).astype(np.float32))
        np.testing.assert_allclose(sinos, expected.transpose(1, 0, 2), rtol=1e-6, atol=1e-6)


def test_sinograms_stream_by_row_identically_for_any_block(tmp_path: Path, monkeypatch) -> None:
    s = _scan(1)
    path = _dxchange(tmp_path / "scan.h5", s)
    rows_read: list[int] = []
    real = _tomo.read_dataset

    def spy(ds, key, path_, name):
        out = real(ds, key, path_, name)
        if ds.ndim == 3 and isinstance(key, tuple):
            rows_read.append(out.shape[1])
        return out

    monkeypatch.setattr(_tomo, "read_dataset", spy)
    results = {}
    with open_scan(path) as scan:
        for block in (1, 2, ROWS):
            rows_read.clear()
            sinos = list(scan.iter_sinograms(block_rows=block))
            assert max(rows_read) <= block  # never more rows in memory than a block
            assert [x.extra["row"] for x in sinos] == list(range(ROWS))
            assert all(isinstance(x, Sinogram) and x.data.shape == (ANGLES, COLS) for x in sinos)
            results[block] = np.stack([x.data for x in sinos])
        one = scan.sinogram(3)
        np.testing.assert_array_equal(one.data, results[1][3])
        np.testing.assert_array_equal(one.angles, scan.angles)
    np.testing.assert_array_equal(results[1], results[2])
    np.testing.assert_array_equal(results[1], results[ROWS])


def test_nxtomo_gives_the_same_sinograms_as_dxchange(tmp_path: Path) -> None:
    s = _scan(2)
    with open_scan(_dxchange(tmp_path / "dx.h5", s)) as dx, \
            open_scan(_nxtomo(tmp_path / "nx.nxs", s)) as nx:
        assert nx.layout == "nxtomo"
        assert nx.info()["projections"] == ANGLES and nx.info()["flats"] == 4
        assert nx.info()["darks"] == 2
        np.testing.assert_allclose(nx.angles, dx.angles)
        np.testing.assert_array_equal(nx.read(slice(None)), dx.read(slice(None)))
    with open_scan(_nxtomo(tmp_path / "rad.nxs", s, angle_units="rad")) as nx:
        np.testing.assert_allclose(nx.angles, np.deg2rad(s["theta"]))


def test_formats_by_name_through_read_array_and_open_volume(tmp_path: Path) -> None:
    s = _scan(3)
    dx = _dxchange(tmp_path / "dx.h5", s)
    nx = _nxtomo(tmp_path / "nx.h5", s)
    a = read_array(dx, format="dxchange")
    b = read_array(nx, format="nxtomo")
    assert a.shape == (ROWS, ANGLES, COLS)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(read_array(dx, dataset="/exchange/data"), s["proj"])
    with open_volume(dx, format="dxchange") as r:
        np.testing.assert_array_equal(r.read(1), a[1])
        clone = pickle.loads(pickle.dumps(r))
        with clone:
            np.testing.assert_array_equal(clone.read(4), a[4])


def test_division_by_zero_and_below_dark_are_guarded(tmp_path: Path) -> None:
    s = _scan(4)
    s["flats"][:, 0, 0] = s["darks"][:, 0, 0].mean()  # dead pixel: flat == dark
    s["proj"][:, 1, 1] = s["darks"][:, 1, 1].mean() - 10  # below dark: no transmission
    with open_scan(_dxchange(tmp_path / "scan.h5", s)) as scan:
        sinos = scan.read(slice(None))
    assert np.all(np.isfinite(sinos))
    np.testing.assert_array_equal(sinos[0, :, 0], 0.0)
    np.testing.assert_allclose(sinos[1, :, 1], -np.log(_tomo.MIN_TRANSMISSION), rtol=1e-6)


def test_missing_darks_are_zero_and_missing_theta_is_uniform(tmp_path: Path) -> None:
    s = _scan(5)
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as h5:
        h5["/exchange/data"] = s["proj"]
        h5["/exchange/data_white"] = s["flats"]
    with pytest.warns(UserWarning, match="no /exchange/theta"), open_scan(path) as scan:
        np.testing.assert_allclose(scan.angles, np.linspace(0, np.pi, ANGLES))
        expected = -np.log(s["proj"] / s["flats"].astype(np.float64).mean(0).astype(np.float32))
        np.testing.assert_allclose(scan.read(slice(None)), expected.transpose(1, 0, 2), rtol=1e-6)


def test_nan_raises_with_a_count_or_is_repaired(tmp_path: Path) -> None:
    s = _scan(6)
    s["proj"][3, 2, 5] = np.nan
    s["proj"][7, 2, 9] = np.inf
    s["proj"][9, 4, 0] = np.nan
    path = _dxchange(tmp_path / "scan.h5", s)
    with open_scan(path) as scan, pytest.raises(
        InvalidInputError, match=r"scan\.h5:/exchange/data: 3 non-finite.*nan_policy='repair'"
    ):
        scan.read(slice(None))
    with open_scan(path, nan_policy="repair") as scan:
        fixed = scan.read(slice(None))
        row2 = scan.read(2)
    assert np.all(np.isfinite(fixed))
    np.testing.assert_array_equal(fixed[2], row2)  # repair is local to the sinogram
    truth = s["lines"].transpose(1, 0, 2)
    good = np.ones_like(truth, dtype=bool)
    good[2, 3, 5] = good[2, 7, 9] = good[4, 9, 0] = False
    np.testing.assert_allclose(fixed[good], truth[good], atol=2e-4)
    sino = fixed[2]
    neighbours = [sino[a, c] for a in (2, 3, 4) for c in (4, 5, 6) if (a, c) != (3, 5)]
    assert fixed[2, 3, 5] == np.float32(np.median(neighbours))


def test_nan_in_flats_is_reported_and_repairable(tmp_path: Path) -> None:
    s = _scan(7)
    s["flats"][1, 0, 3] = np.nan
    path = _dxchange(tmp_path / "scan.h5", s)
    with open_scan(path) as scan, pytest.raises(
        InvalidInputError, match=r"/exchange/data_white: 1 non-finite"
    ):
        scan.read(0)
    with open_scan(path, nan_policy="repair") as scan:
        assert np.all(np.isfinite(scan.read(0)))


def test_mismatched_flats_and_darks(tmp_path: Path) -> None:
    s = _scan(8)
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as h5:
        h5["/exchange/data"] = s["proj"]
        h5["/exchange/data_white"] = np.ones((2, ROWS, COLS + 1), np.float32)
        h5["/exchange/data_dark"] = s["darks"]
        h5["/exchange/theta"] = s["theta"]
    with pytest.raises(InvalidInputError, match=r"bad\.h5:/exchange/data_white: image shape .* "
                       r"does not match"):
        open_scan(path)
    with h5py.File(path, "a") as h5:
        del h5["/exchange/data_white"]
        h5["/exchange/data_white"] = s["flats"]
        del h5["/exchange/data_dark"]
        h5["/exchange/data_dark"] = np.zeros((1, ROWS - 1, COLS), np.float32)
    with pytest.raises(InvalidInputError, match=r"/exchange/data_dark: image shape"):
        open_scan(path)


def test_theta_length_must_match_projections(tmp_path: Path) -> None:
    s = _scan(9)
    s["theta"] = s["theta"][:-2]
    with pytest.raises(InvalidInputError, match=r"/exchange/theta: 22 angles for 24 projections"):
        open_scan(_dxchange(tmp_path / "scan.h5", s))


def test_nxtomo_angle_count_and_keys_checked(tmp_path: Path) -> None:
    s = _scan(10)
    path = _nxtomo(tmp_path / "nx.nxs", s)
    with h5py.File(path, "a") as h5:
        del h5["/entry/data/rotation_angle"]
        h5["/entry/data/rotation_angle"] = np.zeros(5)
    with pytest.raises(InvalidInputError, match=r"rotation_angle: 5 angles for 31 images"):
        open_scan(path)
    path = _nxtomo(tmp_path / "nx2.nxs", s)
    with h5py.File(path, "a") as h5:
        h5["/entry/data/image_key"][0] = 9
    with pytest.raises(InvalidInputError, match=r"unknown image_key values \[9\]"):
        open_scan(path)


def test_missing_flats_and_unknown_layout(tmp_path: Path) -> None:
    s = _scan(11)
    path = tmp_path / "noflat.h5"
    with h5py.File(path, "w") as h5:
        h5["/exchange/data"] = s["proj"]
        h5["/exchange/data_whites"] = s["flats"]
    with pytest.raises(InvalidInputError, match=r"no dataset '/exchange/data_white'.*data_whites"):
        open_scan(path)
    other = tmp_path / "plain.h5"
    with h5py.File(other, "w") as h5:
        h5["/volume"] = s["proj"]
    with pytest.raises(InvalidInputError, match=r"plain\.h5: neither a DXchange file"):
        open_scan(other)
    with pytest.raises(InvalidInputError, match="nan_policy must be"):
        open_scan(other, nan_policy="ignore")  # type: ignore[arg-type]
