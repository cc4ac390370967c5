"""Datasets of phantoms: HDF5 files (images, labels, maps, parameters, seeds), PNG/TIFF.

Why: a training set must be reproducible sample by sample. Every sample gets its own
seed, drawn from the dataset seed by :class:`numpy.random.SeedSequence`, and stored, so
``generate(name, size, seeds[i], **params)`` regenerates sample ``i`` alone.

HDF5 layout (``format`` attribute ``tomokit-phantom/1``)::

    /images         (N, H, W) float32   absorption, 1/cm (reconstructed if acquired)
    /labels         (N, H, W) uint8     phase index
    /clean          (N, H, W) float32   only when acquired: the image before acquisition
    /maps/<name>    (N, H, W)           extra ground truth (e.g. particle_id)
    /seeds          (N,) uint64         per-sample seeds
    /info           (N,) str            per-sample JSON (e.g. particle radii)
    attributes: generator, params (JSON), phases (JSON), attenuation, attenuation_unit,
                seed, count, size, acquisition (JSON or ""), versions

The file is written under a temporary name and renamed when complete, so a crash never
leaves a half-written file under the requested name.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, PhantomSample, Task

__all__ = [
    "FORMAT",
    "PhantomDataset",
    "export_images",
    "iter_samples",
    "read_dataset",
    "sample_seeds",
    "write_dataset",
]

FORMAT = "tomokit-phantom/1"


def sample_seeds(seed: int, count: int) -> np.ndarray:
    """Independent per-sample seeds derived from the dataset ``seed``."""
    if count < 1:
        raise InvalidInputError(f"count: expected >= 1 samples, got {count}")
    if seed < 0:
        raise InvalidInputError(f"seed: expected an integer >= 0, got {seed}")
    return np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64)


def iter_samples(
    name: str,
    *,
    count: int,
    size: int,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    acquisition: Mapping[str, Any] | None = None,
) -> Iterator[tuple[int, int, PhantomSample, np.ndarray | None]]:
    """Yield ``(index, sample seed, sample, acquired image or None)``."""
    from tomokit_phantom._api import load_phantom

    phantom = load_phantom(name, params)
    for i, s in enumerate(sample_seeds(seed, count)):
        rng = np.random.default_rng(int(s))
        sample = phantom.generate((size, size), rng)
        acquired = None
        if acquisition is not None:
            from tomokit_phantom._acquire import acquire

            acquired = acquire(sample, dict(acquisition), rng=rng).image
        yield i, int(s), sample, acquired


def _versions() -> str:
    from importlib import metadata

    out = {}
    for dist in ("tomokit-core", "tomokit-phantom", "tomokit-recon", "numpy", "scipy",
                 "scikit-image"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return json.dumps(out)


def _check_output(path: Path, overwrite: bool, suffixes: tuple[str, ...]) -> None:
    if path.suffix.lower() not in suffixes:
        raise InvalidInputError(
            f"output {path}: expected a file ending in {' or '.join(suffixes)}"
        )
    if path.exists() and not overwrite:
        raise InvalidInputError(f"output {path} exists; pass overwrite=True (--overwrite)")
    if not path.parent.exists():
        raise InvalidInputError(f"output {path}: folder {path.parent} does not exist")


def write_dataset(
    path: str | os.PathLike[str],
    name: str,
    *,
    count: int,
    size: int,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    acquisition: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    png_dir: str | os.PathLike[str] | None = None,
    tiff_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> Path:
    """Generate ``count`` samples of phantom ``name`` into an HDF5 file at ``path``.

    ``acquisition`` (the fields of :class:`~tomokit_phantom._acquire.AcquisitionParams`,
    ``{}`` for defaults) stores reconstructed slices as ``images`` and the clean ones as
    ``clean``. ``png_dir``/``tiff_dir`` also export every sample as image files.
    ``progress`` is called with the number of samples done.
    """
    import h5py

    from tomokit_phantom._api import load_phantom

    out = Path(path)
    _check_output(out, overwrite, (".h5", ".hdf5"))
    sample_seeds(seed, count)  # validates count and seed
    if not 16 <= size <= 16384:
        raise InvalidInputError(f"size: expected 16 to 16384 pixels, got {size}")
    comp = load_phantom(name, params)  # validates name and params before any work
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{out.suffix}")
    try:
        with h5py.File(tmp, "w") as f:
            shape = (count, size, size)
            chunks = (1, size, size)
            images = f.create_dataset("images", shape, np.float32, chunks=chunks)
            labels = f.create_dataset("labels", shape, np.uint8, chunks=chunks,
                                      compression="gzip", compression_opts=4)
            clean = (f.create_dataset("clean", shape, np.float32, chunks=chunks)
                     if acquisition is not None else None)
            seeds = f.create_dataset("seeds", (count,), np.uint64)
            info = f.create_dataset("info", (count,), h5py.string_dtype())
            maps: dict[str, Any] = {}
            first: PhantomSample | None = None
            for i, s, sample, acquired in iter_samples(
                name, count=count, size=size, seed=seed, params=params, acquisition=acquisition
            ):
                if first is None:
                    first = sample
                    for key, arr in sample.maps.items():
                        maps[key] = f.create_dataset(
                            f"maps/{key}", shape, arr.dtype, chunks=chunks,
                            compression="gzip", compression_opts=4,
                        )
                images[i] = sample.image if acquired is None else acquired
                labels[i] = sample.labels
                if clean is not None:
                    clean[i] = sample.image
                for key, ds in maps.items():
                    ds[i] = sample.maps[key]
                seeds[i] = s
                info[i] = json.dumps(sample.info, default=_json_default)
                if png_dir is not None or tiff_dir is not None:
                    export_images(sample, i, png_dir=png_dir, tiff_dir=tiff_dir, acquired=acquired)
                if progress is not None:
                    progress(i + 1)
            assert first is not None
            f.attrs["format"] = FORMAT
            f.attrs["generator"] = name
            f.attrs["params"] = json.dumps(comp.params.model_dump(), default=_json_default)
            f.attrs["phases"] = json.dumps(list(first.phases))
            f.attrs["attenuation"] = np.asarray(first.info["attenuation"], dtype=np.float64)
            f.attrs["attenuation_unit"] = "1/cm"
            f.attrs["seed"] = seed
            f.attrs["count"] = count
            f.attrs["size"] = size
            f.attrs["acquisition"] = json.dumps(dict(acquisition)) if acquisition is not None else ""
            f.attrs["versions"] = _versions()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def read_dataset(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a dataset written by :func:`write_dataset` into memory (arrays and attributes)."""
    import h5py

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"dataset {p}: no such file")
    with h5py.File(p, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise InvalidInputError(f"dataset {p}: not a {FORMAT} file")
        out: dict[str, Any] = {k: f[k][()] for k in ("images", "labels", "seeds")}
        if "clean" in f:
            out["clean"] = f["clean"][()]
        out["maps"] = {k: v[()] for k, v in f["maps"].items()} if "maps" in f else {}
        out["info"] = [json.loads(s) for s in f["info"].asstr()[()]]
        attrs = dict(f.attrs)
    out["generator"] = str(attrs["generator"])
    out["params"] = json.loads(attrs["params"])
    out["phases"] = tuple(json.loads(attrs["phases"]))
    out["attenuation"] = np.asarray(attrs["attenuation"])
    out["seed"] = int(attrs["seed"])
    acq = str(attrs.get("acquisition", ""))
    out["acquisition"] = json.loads(acq) if acq else None
    return out


def _to_uint8(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = (image.astype(np.float64) - lo) / (hi - lo) if hi > lo else np.zeros(image.shape)
    return np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def export_images(
    sample: PhantomSample,
    index: int,
    *,
    png_dir: str | os.PathLike[str] | None = None,
    tiff_dir: str | os.PathLike[str] | None = None,
    acquired: np.ndarray | None = None,
) -> list[Path]:
    """Write one sample as ``{index:05d}_image``/``_labels`` (and ``_acquired``) files.

    PNG images are 8-bit, scaled from 0 to the largest phase attenuation (acquired
    images: their 0.5 to 99.5 percentiles); PNG labels hold the phase index. TIFF keeps
    float32 absorption values (1/cm) and uint8 labels.
    """
    written: list[Path] = []
    if png_dir is not None:
        import imageio.v3 as iio

        d = Path(png_dir)
        d.mkdir(parents=True, exist_ok=True)
        top = float(max(sample.info.get("attenuation", [float(sample.image.max())])))
        items = [("image", _to_uint8(sample.image, 0.0, top)), ("labels", sample.labels)]
        if acquired is not None:
            lo, hi = np.percentile(acquired, [0.5, 99.5])
            items.append(("acquired", _to_uint8(acquired, float(lo), float(hi))))
        for tag, arr in items:
            f = d / f"{index:05d}_{tag}.png"
            iio.imwrite(f, arr)
            written.append(f)
    if tiff_dir is not None:
        import tifffile

        d = Path(tiff_dir)
        d.mkdir(parents=True, exist_ok=True)
        items2 = [("image", sample.image), ("labels", sample.labels)]
        if acquired is not None:
            items2.append(("acquired", acquired.astype(np.float32)))
        for tag, arr in items2:
            f = d / f"{index:05d}_{tag}.tif"
            tifffile.imwrite(f, arr)
            written.append(f)
    return written


class PhantomDatasetParams(Params):
    """Parameters of the ``phantom_dataset`` task."""

    phantom: str = Field("electrode", description="Registered phantom to generate.")
    phantom_params: dict[str, Any] = Field(default_factory=dict, description="Its parameters.")
    count: int = Field(4, ge=1, description="Number of samples.")
    size: int = Field(128, ge=16, le=16384, description="Image side in px.")
    seed: int | None = Field(
        None, ge=0, description="Dataset seed; None: drawn from the pipeline's random stream."
    )
    acquisition: dict[str, Any] | None = Field(
        None, description="Acquisition parameters (see acquired_slices); None: clean images."
    )
    output: str | None = Field(
        None, description="Also write the HDF5 dataset here (relative to the working folder)."
    )
    overwrite: bool = Field(False, description="Replace an existing output file.")


class PhantomDataset(Task):
    """A labelled phantom dataset as a pipeline input source: outputs ``image``,
    ``labels``, ``seeds``, ``map_<name>`` for extra truth (and ``clean`` when acquired),
    optionally written to HDF5."""

    summary: ClassVar[str] = "Generate N phantoms (images, labels, maps), optionally write HDF5"
    Params: ClassVar[type[PhantomDatasetParams]] = PhantomDatasetParams  # type: ignore[assignment]

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        p = self.params
        assert isinstance(p, PhantomDatasetParams)
        seed = p.seed if p.seed is not None else int(rng.integers(2**63 - 1))
        if p.output is not None:
            path = write_dataset(
                p.output, p.phantom, count=p.count, size=p.size, seed=seed,
                params=p.phantom_params, acquisition=p.acquisition, overwrite=p.overwrite,
            )
            data = read_dataset(path)
            out = {"image": data["images"], "labels": data["labels"], "seeds": data["seeds"]}
            if "clean" in data:
                out["clean"] = data["clean"]
            out.update({f"map_{k}": v for k, v in data["maps"].items()})
            return out
        images, labels, clean, seeds = [], [], [], []
        maps: dict[str, list[np.ndarray]] = {}
        for _, s, sample, acquired in iter_samples(
            p.phantom, count=p.count, size=p.size, seed=seed, params=p.phantom_params,
            acquisition=p.acquisition,
        ):
            images.append(sample.image if acquired is None else acquired)
            labels.append(sample.labels)
            clean.append(sample.image)
            seeds.append(s)
            for key, arr in sample.maps.items():
                maps.setdefault(key, []).append(arr)
        result: dict[str, Any] = {
            "image": np.stack(images).astype(np.float32),
            "labels": np.stack(labels),
            "seeds": np.asarray(seeds, dtype=np.uint64),
        }
        if p.acquisition is not None:
            result["clean"] = np.stack(clean).astype(np.float32)
        result.update({f"map_{k}": np.stack(v) for k, v in maps.items()})
        return result
