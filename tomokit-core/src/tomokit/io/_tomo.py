"""Raw tomography scans: DXchange and NeXus NXtomo files to sinograms, streamed by row.

Both layouts hold projections, flat fields (beam, no sample) and dark fields (no beam)
of shape ``(n, rows, columns)`` plus the rotation angles. A scan is normalised the
usual way (Beer-Lambert): ``p = -log((data - dark) / (flat - dark))`` with ``flat`` and
``dark`` the per-pixel means of their images. The result is read a block of detector
rows at a time, so a scan of tens of GB never sits in memory; each detector row gives
one :class:`~tomokit.components.Sinogram` of shape ``(angles, columns)``.

Layouts (checked against the readers of dxchange and the NeXus NXtomo definition):

* DXchange: ``/exchange/data``, ``/exchange/data_white``, ``/exchange/data_dark``,
  ``/exchange/theta`` in degrees (dxchange's ``read_aps_32id`` converts with
  ``pi / 180`` and, without ``theta``, assumes ``linspace(0, pi, n)``).
* NXtomo: one ``data`` dataset with an ``image_key`` per image (0 projection, 1 flat,
  2 dark, 3 invalid) and ``rotation_angle`` (degrees unless its ``units`` say radians),
  under ``/entry/data`` or ``/entry/instrument/detector`` and ``/entry/sample``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.io._base import Format, VolumeReader
from tomokit.io._hdf5 import dataset_paths, missing_dataset, open_h5, read_dataset

__all__ = [
    "DXchangeFormat",
    "NXtomoFormat",
    "NanPolicy",
    "TomoScanReader",
    "open_scan",
]

NanPolicy = Literal["raise", "repair"]
Layout = Literal["auto", "dxchange", "nxtomo"]

#: Transmission below this is clipped before the logarithm (a line integral of ~13.8):
#: a projection pixel at or under the dark level carries no information.
MIN_TRANSMISSION = 1e-6
DEFAULT_BLOCK_BYTES = 256 * 2**20


def _runs(indices: np.ndarray) -> list[tuple[int, int, int]]:
    """Consecutive runs ``(position in indices, start, stop)`` of sorted ``indices``."""
    out: list[tuple[int, int, int]] = []
    if indices.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [indices.size]])
    for a, b in zip(starts, stops, strict=True):
        out.append((int(a), int(indices[a]), int(indices[b - 1]) + 1))
    return out


def _angles_in_radians(raw: np.ndarray, units: Any, default: str, where: str = "") -> np.ndarray:
    unit = units.decode() if isinstance(units, bytes) else str(units or default)
    unit = unit.strip().lower()
    if raw.dtype.kind not in "iuf":
        raise InvalidInputError(f"{where or 'rotation angles'}: holds {raw.dtype} values, "
                                "expected numbers")
    if unit in ("rad", "radian", "radians"):
        return raw.astype(np.float64)
    if unit in ("deg", "degree", "degrees", "°"):
        return np.deg2rad(raw.astype(np.float64))
    raise InvalidInputError(
        f"{where or 'rotation angles'}: unknown units {unit!r} (the 'units' attribute); "
        "expected degree or rad"
    )


def _check_real(ds: Any, path: Path, name: str) -> None:
    """Projections, flats and darks must be real numbers (strings or complex values
    would fail deep inside the normalisation, or lose their imaginary part)."""
    kind = ds.dtype.kind
    if kind not in "buif":
        what = "complex" if kind == "c" else str(ds.dtype)
        raise InvalidInputError(f"{path}:{name}: holds {what} values; expected real numbers")


def _repair(values: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace ``bad`` entries of ``(angles, rows, columns)`` line integrals by the median
    of their finite neighbours in the same sinogram (angle +-1, column +-1): local to
    one detector row, so the result does not depend on how rows are blocked."""
    out = values.copy()
    a, r, c = np.nonzero(bad)
    padded = np.pad(np.where(bad, np.nan, values), ((1, 1), (0, 0), (1, 1)),
                    constant_values=np.nan)
    neigh = np.stack(
        [padded[a + da, r, c + dc] for da in (0, 1, 2) for dc in (0, 1, 2)], axis=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(neigh, axis=1)
    out[a, r, c] = np.where(np.isfinite(med), med, 0.0)
    return out


def _reopen(cls: type[TomoScanReader], path: str, kwargs: dict[str, Any]) -> TomoScanReader:
    return cls(Path(path), **kwargs)


class TomoScanReader(VolumeReader):
    """A raw scan as a stack of normalised sinograms: ``shape == (rows, angles, columns)``.

    ``read(i)`` is the ``-log`` normalised sinogram of detector row ``i`` as float32;
    :meth:`sinogram` wraps it in a :class:`~tomokit.components.Sinogram` with the angles,
    and :meth:`iter_sinograms` streams them, a block of rows at a time.

    ``nan_policy="raise"`` refuses NaN/Inf in projections, flats or darks (reporting
    how many); ``"repair"`` ignores them in the flat/dark means and replaces bad line
    integrals by the median of their finite neighbours in the sinogram.
    """

    format_name = "dxchange"
    locked_reads = False  # file access locks itself; normalising runs in parallel

    def __init__(self, path: Path, *, layout: Layout = "auto", nan_policy: NanPolicy = "raise",
                 min_transmission: float = MIN_TRANSMISSION) -> None:
        if nan_policy not in ("raise", "repair"):
            raise InvalidInputError(f"nan_policy must be 'raise' or 'repair', got {nan_policy!r}")
        if not 0 < min_transmission < 1:
            raise InvalidInputError(f"min_transmission must be in (0, 1), got {min_transmission}")
        self.nan_policy: NanPolicy = nan_policy
        self.min_transmission = float(min_transmission)
        self._kwargs = {"layout": layout, "nan_policy": nan_policy,
                        "min_transmission": min_transmission}
        h5 = open_h5(path)
        try:
            if layout == "auto":
                layout = "dxchange" if "exchange" in h5 else "nxtomo" if _nx_entry(h5) else "auto"
                if layout == "auto":
                    raise InvalidInputError(
                        f"{path}: neither a DXchange file (no /exchange group) nor a NeXus "
                        "NXtomo file (no entry with image_key); pass the dataset of a "
                        "projection stack with read_array instead"
                    )
            self.layout = layout
            if layout == "dxchange":
                self._setup_dxchange(h5, path)
            else:
                self._setup_nxtomo(h5, path)
        except Exception:
            h5.close()
            raise
        self._h5 = h5
        self._flat_dark_cache: tuple[int, int, np.ndarray, np.ndarray] | None = None
        n_angles, rows, cols = len(self._proj_idx), self._det_shape[0], self._det_shape[1]
        super().__init__(path, self._data_name, (rows, n_angles, cols), np.float32)

    # ------------------------------------------------------------------ layouts
    def _need(self, h5: Any, path: Path, name: str) -> Any:
        import h5py

        obj = h5.get(name)
        if not isinstance(obj, h5py.Dataset):
            raise missing_dataset(path, name, dataset_paths(h5))
        return obj

    def _setup_dxchange(self, h5: Any, path: Path) -> None:
        data = self._need(h5, path, "/exchange/data")
        if data.ndim != 3:
            raise InvalidInputError(
                f"{path}:/exchange/data: expected projections (angles, rows, columns), got "
                f"shape {data.shape}"
            )
        self._data_name = "/exchange/data"
        self._det_shape = tuple(data.shape[1:])
        self._sources = {"data": data}
        self._proj_idx = np.arange(data.shape[0])
        _check_real(data, path, "/exchange/data")
        if h5.get("/exchange/data_white") is None:
            missing = missing_dataset(path, "/exchange/data_white", dataset_paths(h5))
            raise InvalidInputError(
                f"{missing}. A DXchange scan needs flat fields to normalise its projections; "
                "to read the raw projections as a plain volume instead, set "
                "'dataset: /exchange/data' on the input"
            )
        white = self._need(h5, path, "/exchange/data_white")
        _check_real(white, path, "/exchange/data_white")
        if white.size == 0:
            raise InvalidInputError(
                f"{path}:/exchange/data_white: the flat-field stack is empty (shape "
                f"{white.shape}); normalising by it would give all-zero reconstructions"
            )
        self._sources["flat"] = white
        self._flat_idx = np.arange(white.shape[0]) if white.ndim == 3 else np.array([0])
        dark = h5.get("/exchange/data_dark")
        self._dark_idx = np.array([], dtype=np.int64)
        if dark is not None and dark.size == 0:
            raise InvalidInputError(
                f"{path}:/exchange/data_dark: the dark-field stack is empty (shape "
                f"{dark.shape}); remove it (no darks) or fill it"
            )
        if dark is not None:
            _check_real(dark, path, "/exchange/data_dark")
            self._sources["dark"] = dark
            self._dark_idx = np.arange(dark.shape[0]) if dark.ndim == 3 else np.array([0])
        for key, name in (("flat", "/exchange/data_white"), ("dark", "/exchange/data_dark")):
            ds = self._sources.get(key)
            if ds is not None and tuple(ds.shape[-2:]) != self._det_shape:
                raise InvalidInputError(
                    f"{path}:{name}: image shape {tuple(ds.shape[-2:])} does not match the "
                    f"projections' {self._det_shape} in /exchange/data"
                )
        theta = h5.get("/exchange/theta")
        n = data.shape[0]
        if theta is None:
            warnings.warn(
                f"{path}: no /exchange/theta; assuming {n} angles evenly spaced over "
                "[0, 180] degrees as dxchange does",
                stacklevel=3,
            )
            self.angles = np.linspace(0.0, np.pi, n)
            self._theta_name = None
        else:
            raw = read_dataset(theta, (), path, "/exchange/theta").ravel()
            if raw.size != n:
                raise InvalidInputError(
                    f"{path}:/exchange/theta: {raw.size} angles for {n} projections in "
                    "/exchange/data; there must be one angle per projection"
                )
            self.angles = _angles_in_radians(raw, theta.attrs.get("units"), "degree",
                                             f"{path}:/exchange/theta")
            self._theta_name = "/exchange/theta"
        self._flat_name, self._dark_name = "/exchange/data_white", "/exchange/data_dark"

    def _setup_nxtomo(self, h5: Any, path: Path) -> None:
        entry = _nx_entry(h5)
        assert entry is not None
        names = {
            "data": (f"{entry}/data/data", f"{entry}/instrument/detector/data"),
            "image_key": (f"{entry}/data/image_key", f"{entry}/instrument/detector/image_key"),
            "angle": (f"{entry}/data/rotation_angle", f"{entry}/sample/rotation_angle"),
        }
        found: dict[str, Any] = {}
        for key, options in names.items():
            for name in options:
                if name in h5:
                    found[key] = (name, h5[name])
                    break
            else:
                raise missing_dataset(path, options[0], dataset_paths(h5))
        data_name, data = found["data"]
        if data.ndim != 3:
            raise InvalidInputError(
                f"{path}:{data_name}: expected images (n, rows, columns), got shape {data.shape}"
            )
        keys = read_dataset(found["image_key"][1], (), path, found["image_key"][0]).ravel()
        angle_name, angle_ds = found["angle"]
        raw = read_dataset(angle_ds, (), path, angle_name).ravel()
        n = data.shape[0]
        if keys.size != n:
            raise InvalidInputError(
                f"{path}:{found['image_key'][0]}: {keys.size} keys for {n} images in {data_name}"
            )
        if raw.size != n:
            raise InvalidInputError(
                f"{path}:{angle_name}: {raw.size} angles for {n} images in {data_name}; there "
                "must be one rotation_angle per image"
            )
        unknown = sorted(set(np.unique(keys).tolist()) - {0, 1, 2, 3})
        if unknown:
            raise InvalidInputError(
                f"{path}:{found['image_key'][0]}: unknown image_key values {unknown}; "
                "0 projection, 1 flat, 2 dark, 3 invalid"
            )
        self._data_name = data_name
        self._det_shape = tuple(data.shape[1:])
        self._sources = {"data": data, "flat": data, "dark": data}
        self._proj_idx = np.flatnonzero(keys == 0)
        self._flat_idx = np.flatnonzero(keys == 1)
        self._dark_idx = np.flatnonzero(keys == 2)
        if self._proj_idx.size == 0:
            raise InvalidInputError(f"{path}:{data_name}: no projections (image_key 0)")
        if self._flat_idx.size == 0:
            raise InvalidInputError(
                f"{path}:{data_name}: no flat fields (image_key 1); they are needed to normalise"
            )
        self.angles = _angles_in_radians(raw[self._proj_idx], angle_ds.attrs.get("units"),
                                         "degree", f"{path}:{angle_name}")
        self._theta_name = angle_name
        self._flat_name = self._dark_name = f"{data_name} (image_key 1/2)"

    # ------------------------------------------------------------------- reading
    def _gather(self, key: str, idx: np.ndarray, r0: int, r1: int) -> np.ndarray:
        with self._lock:
            return self._gather_unlocked(key, idx, r0, r1)

    def _gather_unlocked(self, key: str, idx: np.ndarray, r0: int, r1: int) -> np.ndarray:
        ds = self._sources[key]
        if ds.ndim == 2:  # a single flat or dark image stored 2-D
            return read_dataset(ds, np.s_[r0:r1, :], self.path, ds.name)[None]
        out = np.empty((idx.size, r1 - r0, self._det_shape[1]), dtype=ds.dtype)
        for pos, a, b in _runs(idx):
            out[pos:pos + b - a] = read_dataset(ds, np.s_[a:b, r0:r1, :], self.path, ds.name)
        return out

    def _check_finite(self, arr: np.ndarray, what: str, r0: int, r1: int) -> np.ndarray:
        """A mask of non-finite values (``None``-like empty mask when all finite)."""
        if arr.dtype.kind != "f":
            return np.zeros(arr.shape, dtype=bool)
        bad = ~np.isfinite(arr)
        count = int(np.count_nonzero(bad))
        if count and self.nan_policy == "raise":
            raise InvalidInputError(
                f"{self.path}:{what}: {count} non-finite value(s) (NaN or Inf) in detector rows "
                f"{r0}..{r1 - 1}; pass nan_policy='repair' to replace them by the median of "
                "their finite neighbours"
            )
        return bad

    def _mean(self, key: str, idx: np.ndarray, r0: int, r1: int, what: str) -> np.ndarray:
        if key not in self._sources or (idx.size == 0 and self._sources[key].ndim == 3):
            return np.zeros((r1 - r0, self._det_shape[1]), dtype=np.float64)
        stack = self._gather(key, idx, r0, r1).astype(np.float64)
        bad = self._check_finite(stack, what, r0, r1)
        if bad.any():
            stack[bad] = np.nan
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(stack, axis=0)
        return stack.mean(axis=0)

    def flat_dark(self, r0: int = 0, r1: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean flat and dark fields of detector rows ``r0:r1`` (float64)."""
        r1 = self._det_shape[0] if r1 is None else r1
        cache = self._flat_dark_cache
        if cache is not None and cache[0] == r0 and cache[1] == r1:
            return cache[2], cache[3]
        flat = self._mean("flat", self._flat_idx, r0, r1, self._flat_name)
        dark = self._mean("dark", self._dark_idx, r0, r1, self._dark_name)
        self._flat_dark_cache = (r0, r1, flat, dark)  # one tuple: replaced atomically
        return flat, dark

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        flat, dark = self.flat_dark(start, stop)
        proj = self._gather("data", self._proj_idx, start, stop).astype(np.float32)
        bad = self._check_finite(proj, self._data_name, start, stop)
        denom = (flat - dark).astype(np.float32)
        dead = ~(denom > 0)  # no beam above dark (or NaN): no information, attenuation 0
        safe = np.where(dead, np.float32(1), denom)
        trans = (proj - dark.astype(np.float32)) / safe
        trans = np.where(dead, np.float32(1), trans)
        np.maximum(trans, np.float32(self.min_transmission), out=trans)
        line = -np.log(trans)
        bad |= ~np.isfinite(line)
        if bad.any():
            line = _repair(line, bad)
        # (angles, rows, columns) -> (rows, angles, columns): one sinogram per row
        return np.ascontiguousarray(line.transpose(1, 0, 2), dtype=np.float32)

    def sinogram(self, row: int) -> Any:
        """The :class:`~tomokit.components.Sinogram` of detector row ``row``."""
        from tomokit.components import Sinogram

        return Sinogram(data=self.read(row), angles=self.angles,
                        extra={"source": str(self.path), "row": int(row)})

    def block_rows(self, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
        """Detector rows per block so that one block's raw and float data fit ``block_bytes``."""
        raw = self._sources["data"].dtype.itemsize
        per_row = (len(self._proj_idx) * self._det_shape[1]) * (raw + 3 * 4)
        return max(1, min(self._det_shape[0], block_bytes // max(per_row, 1)))

    def iter_sinograms(self, *, block_rows: int | None = None, start: int = 0,
                       stop: int | None = None) -> Iterator[Any]:
        """Yield one :class:`~tomokit.components.Sinogram` per detector row, in order,
        reading ``block_rows`` rows at a time (default: from a 256 MiB budget)."""
        from tomokit.components import Sinogram

        n = block_rows or self.block_rows()
        for block in self.iter_blocks(n, start=start, stop=stop):
            for k, data in enumerate(block.data):
                yield Sinogram(data=data, angles=self.angles,
                               extra={"source": str(self.path), "row": block.start + k})

    def __iter__(self) -> Iterator[Any]:
        return self.iter_sinograms()

    def info(self) -> dict[str, Any]:
        """Layout, counts and dataset names (for provenance)."""
        return {
            "layout": self.layout,
            "projections": len(self._proj_idx),
            "flats": len(self._flat_idx) if "flat" in self._sources else 0,
            "darks": len(self._dark_idx) if "dark" in self._sources else 0,
            "detector_shape": list(self._det_shape),
            "angles_from": self._theta_name,
            "nan_policy": self.nan_policy,
        }

    def _close(self) -> None:
        self._h5.close()

    def _reopen_args(self) -> tuple[Any, ...]:
        return (_reopen, (type(self), str(self.path), dict(self._kwargs)))


def _nx_entry(h5: Any) -> str | None:
    """The first top-level group that is an NXtomo entry (by definition or by layout)."""
    import h5py

    for name, obj in h5.items():
        if not isinstance(obj, h5py.Group):
            continue
        definition = obj.get("definition")
        if isinstance(definition, h5py.Dataset):
            value = definition[()]
            value = value.decode() if isinstance(value, bytes) else str(value)
            if value.strip() == "NXtomo":
                return "/" + name
        if any(f"{sub}/image_key" in obj for sub in ("data", "instrument/detector")):
            return "/" + name
    return None


def open_scan(path: str | Path, *, layout: Layout = "auto", nan_policy: NanPolicy = "raise",
              min_transmission: float = MIN_TRANSMISSION) -> TomoScanReader:
    """Open a DXchange or NeXus NXtomo scan as normalised sinograms, one per detector row.

    ``layout="auto"`` picks DXchange when the file has ``/exchange``, NXtomo when an
    entry has ``image_key``.
    """
    if layout not in ("auto", "dxchange", "nxtomo"):
        raise InvalidInputError(f"layout must be 'auto', 'dxchange' or 'nxtomo', got {layout!r}")
    return TomoScanReader(Path(path), layout=layout, nan_policy=nan_policy,
                          min_transmission=min_transmission)


class DXchangeFormat(Format):
    """A DXchange scan read as normalised sinograms ``(rows, angles, columns)``: pick it by
    name (``format="dxchange"``), since plain HDF5 shares its extensions."""

    name: ClassVar[str] = "dxchange"
    layout: ClassVar[Layout] = "dxchange"

    def open(self, path: Path, *, dataset: str | None = None) -> VolumeReader:
        if dataset is not None:
            raise InvalidInputError(
                f"{path}: the {self.name} layout fixes its datasets; drop dataset={dataset!r}"
            )
        return open_scan(path, layout=self.layout)


class NXtomoFormat(DXchangeFormat):
    """A NeXus NXtomo scan read as normalised sinograms (``format="nxtomo"``)."""

    name: ClassVar[str] = "nxtomo"
    layout: ClassVar[Layout] = "nxtomo"

