"""ASTRA glue: geometries from a :class:`tomokit.Sinogram`, device choice, object lifetimes.

ASTRA is imported only inside functions, so importing this module stays cheap. Every
ASTRA object created here is freed in a ``finally`` block, also when ASTRA raises.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

from tomokit import InvalidInputError, Sinogram

__all__ = [
    "Device",
    "ProjectorName",
    "astra_objects",
    "forward_project",
    "make_sinogram",
    "parallel_angles",
    "projection_matrix",
    "resolve_device",
    "run_algorithm",
]

Device = Literal["auto", "cpu", "gpu"]
ProjectorName = Literal["line", "strip", "linear"]

#: Keys of ``Sinogram.extra`` that describe a fan-beam geometry (in image pixels).
FAN_KEYS = ("source_origin", "origin_detector")


def parallel_angles(n_angles: int, *, angle_range: float = np.pi) -> np.ndarray:
    """``n_angles`` equally spaced angles in ``[0, angle_range)`` radians (no repeated end)."""
    if int(n_angles) < 1:
        raise InvalidInputError(f"n_angles must be >= 1, got {n_angles}")
    if not (np.isfinite(angle_range) and angle_range > 0):
        raise InvalidInputError(f"angle_range must be a positive number of radians, got {angle_range}")
    return np.linspace(0.0, float(angle_range), int(n_angles), endpoint=False)


def make_sinogram(
    data: Any,
    *,
    angles: Any = None,
    angle_range: float = np.pi,
    degrees: bool = False,
    detector_spacing: float = 1.0,
    center_offset: float = 0.0,
    geometry: Literal["parallel", "fanflat"] = "parallel",
    source_origin: float | None = None,
    origin_detector: float | None = None,
) -> Sinogram:
    """Build a :class:`tomokit.Sinogram` from an ``(angles, detectors)`` array.

    Without ``angles`` the rows are taken as equally spaced over ``angle_range`` radians
    (180 degrees by default). ``degrees=True`` reads ``angles`` in degrees. A fan-beam
    sinogram needs ``source_origin`` and ``origin_detector`` distances in image pixels.
    """
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise InvalidInputError(
            f"sinogram data: expected a 2-D (angles, detectors) array, got shape {arr.shape}"
        )
    if angles is None:
        ang = parallel_angles(arr.shape[0], angle_range=angle_range)
    else:
        ang = np.asarray(angles, dtype=np.float64)
        if degrees:
            ang = np.deg2rad(ang)
    extra: dict[str, Any] = {}
    if geometry == "fanflat":
        if source_origin is None or origin_detector is None:
            raise InvalidInputError(
                "a fan-beam sinogram needs source_origin and origin_detector (image pixels)"
            )
        if not (source_origin > 0 and origin_detector >= 0):
            raise InvalidInputError(
                "source_origin must be > 0 and origin_detector >= 0, "
                f"got {source_origin} and {origin_detector}"
            )
        extra = {"source_origin": float(source_origin), "origin_detector": float(origin_detector)}
    elif geometry != "parallel":
        raise InvalidInputError(f"geometry must be 'parallel' or 'fanflat', got {geometry!r}")
    return Sinogram(
        data=arr,
        angles=ang,
        detector_spacing=float(detector_spacing),
        center_offset=float(center_offset),
        geometry=geometry,
        extra=extra,
    )


def _astra() -> Any:
    try:
        import astra
    except ImportError as exc:  # pragma: no cover - astra is a hard dependency
        raise InvalidInputError(
            "astra-toolbox is not installed; install tomokit-recon's dependencies "
            "(pip install astra-toolbox)"
        ) from exc
    return astra


def resolve_device(device: str) -> Literal["cpu", "gpu"]:
    """Map ``auto|cpu|gpu`` onto what this machine has.

    ``gpu`` without a CUDA-enabled ASTRA is an :class:`InvalidInputError`; ``auto`` falls
    back to the CPU with a warning.
    """
    if device == "cpu":
        return "cpu"
    if device not in ("auto", "gpu"):
        raise InvalidInputError(f"device must be 'auto', 'cpu' or 'gpu', got {device!r}")
    has_cuda = bool(_astra().use_cuda())
    if has_cuda:
        return "gpu"
    if device == "gpu":
        raise InvalidInputError(
            "device='gpu' was requested but ASTRA finds no usable CUDA GPU on this machine; "
            "pass device='cpu' (or 'auto' to fall back automatically)"
        )
    warnings.warn(
        "device='auto': ASTRA finds no CUDA GPU, reconstructing on the CPU",
        RuntimeWarning,
        stacklevel=3,
    )
    return "cpu"


@contextlib.contextmanager
def astra_objects() -> Iterator[dict[str, list[int]]]:
    """Collect ASTRA object ids (``data``, ``projector``, ``algorithm``, ``matrix``) and
    free them all on exit, whatever happened inside."""
    ids: dict[str, list[int]] = {"algorithm": [], "data": [], "projector": [], "matrix": []}
    try:
        yield ids
    finally:
        astra = _astra()
        for aid in ids["algorithm"]:
            with contextlib.suppress(Exception):
                astra.algorithm.delete(aid)
        for did in ids["data"]:
            with contextlib.suppress(Exception):
                astra.data2d.delete(did)
        for pid in ids["projector"]:
            with contextlib.suppress(Exception):
                astra.projector.delete(pid)
        for mid in ids["matrix"]:
            with contextlib.suppress(Exception):
                astra.matrix.delete(mid)


def _proj_geom(
    n_detectors: int,
    angles: np.ndarray,
    *,
    detector_spacing: float,
    center_offset: float,
    geometry: str,
    extra: dict[str, Any],
    shift_offset: bool = True,
) -> dict[str, Any]:
    """ASTRA projection geometry. ``center_offset`` (the rotation axis sits at detector
    position ``(n - 1) / 2 + center_offset``) becomes a vector geometry whose detector is
    shifted by ``-center_offset`` pixels."""
    astra = _astra()
    from astra import functions

    if geometry == "parallel":
        pg = astra.create_proj_geom("parallel", detector_spacing, n_detectors, angles)
    elif geometry == "fanflat":
        missing = [k for k in FAN_KEYS if k not in extra]
        if missing:
            raise InvalidInputError(
                f"fan-beam sinogram lacks {', '.join(missing)} in Sinogram.extra "
                "(build it with tomokit_recon.make_sinogram(..., geometry='fanflat', ...))"
            )
        pg = astra.create_proj_geom(
            "fanflat",
            detector_spacing,
            n_detectors,
            angles,
            float(extra["source_origin"]),
            float(extra["origin_detector"]),
        )
    else:
        raise InvalidInputError(f"unsupported sinogram geometry {geometry!r}")
    if shift_offset and center_offset != 0.0:
        pg = functions.geom_postalignment(functions.geom_2vec(pg), -float(center_offset))
    return pg


def _projector_type(projector: str, geometry: str, offset: bool) -> str:
    if projector not in ("line", "strip", "linear"):
        raise InvalidInputError(
            f"projector must be 'line', 'strip' or 'linear', got {projector!r}"
        )
    if geometry == "fanflat":
        if projector == "linear":
            raise InvalidInputError(
                "projector='linear' is parallel-beam only in ASTRA; use 'line' or 'strip' "
                "for a fan-beam sinogram"
            )
        if projector == "strip" and offset:
            raise InvalidInputError(
                "ASTRA's strip projector does not support a shifted fan-beam detector; "
                "use projector='line' when center_offset is not 0"
            )
        return f"{projector}_fanflat"
    return projector


def geometries(
    sino: Sinogram, size: int, *, shift_offset: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(volume geometry, projection geometry)`` for reconstructing ``sino`` on a
    ``size x size`` grid of unit pixels."""
    astra = _astra()
    vg = astra.create_vol_geom(int(size), int(size))
    pg = _proj_geom(
        sino.n_detectors,
        sino.angles,
        detector_spacing=sino.detector_spacing,
        center_offset=sino.center_offset,
        geometry=sino.geometry,
        extra=sino.extra,
        shift_offset=shift_offset,
    )
    return vg, pg


#: Largest output side (ASTRA 2-D): 1 GiB per float32 buffer.
MAX_SIZE = 16384

#: ASTRA iterations per native call (SIRT, CGLS): Ctrl-C is handled between calls.
ITERATION_CHUNK = 10


def _check_size(size: int | None, default: int, sino: Sinogram | None = None) -> int:
    """The output side; refused when ASTRA's buffers cannot fit in memory (ASTRA aborts
    the whole process on a failed allocation, with no message)."""
    from tomokit.io._resources import check_fits

    n = default if size is None else int(size)
    if n < 2:
        raise InvalidInputError(f"size must be >= 2 pixels, got {n}")
    if n > MAX_SIZE:
        raise InvalidInputError(f"size must be <= {MAX_SIZE} pixels, got {n}")
    sino_bytes = 0 if sino is None else 4 * int(np.prod(np.shape(sino.data)))
    # the volume, ASTRA's working copies (pixel weights, residual) and the returned copy
    check_fits(4 * 4 * n * n + 3 * sino_bytes, f"a {n} x {n} ASTRA reconstruction")
    return n


def run_algorithm(
    algorithm: str,
    sino: Sinogram,
    *,
    size: int | None = None,
    projector: str = "linear",
    device: str = "cpu",
    iterations: int = 1,
    options: dict[str, Any] | None = None,
    cfg_extra: dict[str, Any] | None = None,
) -> np.ndarray:
    """Run an ASTRA 2-D reconstruction algorithm (``FBP``, ``SIRT``, ``SART``, ``CGLS``) on
    ``sino`` and return the ``(size, size)`` float32 image.

    On ``device='gpu'`` the ``_CUDA`` variant runs; otherwise the CPU one with the chosen
    projector. FBP with a ``center_offset`` shifts the data (ASTRA's FBP takes only plain
    parallel geometries); iterative algorithms use an exact shifted-detector geometry.
    """
    astra = _astra()
    dev = resolve_device(device)
    n = _check_size(size, sino.n_detectors, sino)
    data = np.asarray(sino.data, dtype=np.float32)
    shift = True
    if algorithm == "FBP" and sino.center_offset != 0.0:
        if sino.geometry != "parallel":
            raise InvalidInputError("FBP with a center_offset is supported for parallel beam only")
        from scipy.ndimage import shift as nd_shift

        # Move the rotation axis onto the detector centre: new[j] = old[j + offset].
        data = nd_shift(data, (0.0, -sino.center_offset), order=1, mode="nearest")
        shift = False
    if algorithm == "FBP" and sino.geometry != "parallel" and dev == "cpu":
        raise InvalidInputError(
            "ASTRA's CPU FBP supports parallel beam only; reconstruct this fan-beam "
            "sinogram with 'sirt', 'sart' or 'cgls', or on a GPU (device='gpu')"
        )
    vg, pg = geometries(sino, n, shift_offset=shift)
    with astra_objects() as ids:
        sino_id = astra.data2d.create("-sino", pg, np.ascontiguousarray(data))
        ids["data"].append(sino_id)
        rec_id = astra.data2d.create("-vol", vg, 0.0)
        ids["data"].append(rec_id)
        name = f"{algorithm}_CUDA" if dev == "gpu" else algorithm
        cfg = astra.astra_dict(name)
        cfg["ProjectionDataId"] = sino_id
        cfg["ReconstructionDataId"] = rec_id
        if dev == "cpu":
            ptype = _projector_type(projector, sino.geometry, bool(shift and sino.center_offset))
            pid = astra.create_projector(ptype, pg, vg)
            ids["projector"].append(pid)
            cfg["ProjectorId"] = pid
        if cfg_extra:
            cfg.update(cfg_extra)
        _run_chunked(astra, cfg, ids, dict(options or {}), int(iterations))
        out = astra.data2d.get(rec_id)
    return np.asarray(out, dtype=np.float32)


def _chunk_length(cfg: dict[str, Any], options: dict[str, Any], iterations: int) -> int:
    """Iterations per native call: small enough that Ctrl-C is seen within a fraction of
    a second (Python handles signals only between ASTRA calls)."""
    order = options.get("ProjectionOrderList")
    if order is not None:  # SART: one sweep over the angles per call
        n = len(np.unique(np.asarray(order)))
        return max(1, min(iterations, n))
    return max(1, min(iterations, ITERATION_CHUNK))


def _run_chunked(astra: Any, cfg: dict[str, Any], ids: dict[str, list[int]],
                 options: dict[str, Any], iterations: int) -> None:
    """Run ``iterations`` of the algorithm in chunks so that KeyboardInterrupt stops it.

    ASTRA keeps the reconstruction between calls (SIRT, CGLS continue exactly). SART
    restarts its projection order at every call, so each chunk gets a fresh algorithm
    with its own slice of the order list; the reconstruction carries over, and the result
    equals one long call.
    """
    step = _chunk_length(cfg, options, iterations)
    order = options.pop("ProjectionOrderList", None)
    aid: int | None = None
    done = 0
    while done < iterations:
        k = min(step, iterations - done)
        if aid is None or order is not None:
            if aid is not None:
                astra.algorithm.delete(aid)
                ids["algorithm"].remove(aid)
            opts = dict(options)
            if order is not None:
                opts["ProjectionOrderList"] = np.ascontiguousarray(order[done:done + k])
            if opts:
                cfg["option"] = opts
            aid = astra.algorithm.create(cfg)
            ids["algorithm"].append(aid)
        astra.algorithm.run(aid, k)
        done += k


def forward_project(
    image: np.ndarray,
    template: Sinogram,
    *,
    projector: str = "linear",
    device: str = "cpu",
) -> np.ndarray:
    """Line integrals of a square ``image`` in the geometry of ``template`` (its data is
    ignored): the ``(angles, detectors)`` float32 array ASTRA's forward projector gives."""
    astra = _astra()
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2 or img.shape[0] != img.shape[1]:
        raise InvalidInputError(f"image: expected a square 2-D array, got shape {img.shape}")
    dev = resolve_device(device)
    vg, pg = geometries(template, img.shape[0])
    with astra_objects() as ids:
        vol_id = astra.data2d.create("-vol", vg, np.ascontiguousarray(img))
        ids["data"].append(vol_id)
        sino_id = astra.data2d.create("-sino", pg, 0.0)
        ids["data"].append(sino_id)
        cfg = astra.astra_dict("FP_CUDA" if dev == "gpu" else "FP")
        cfg["VolumeDataId"] = vol_id
        cfg["ProjectionDataId"] = sino_id
        if dev == "cpu":
            ptype = _projector_type(projector, template.geometry, template.center_offset != 0.0)
            pid = astra.create_projector(ptype, pg, vg)
            ids["projector"].append(pid)
            cfg["ProjectorId"] = pid
        aid = astra.algorithm.create(cfg)
        ids["algorithm"].append(aid)
        astra.algorithm.run(aid)
        out = astra.data2d.get(sino_id)
    return np.asarray(out, dtype=np.float32)


def projection_matrix(template: Sinogram, size: int, *, projector: str = "linear") -> Any:
    """ASTRA's sparse system matrix (scipy CSR, ``(angles*detectors, size*size)``) for the
    geometry of ``template``; rows are angle-major, columns the image in row-major order."""
    astra = _astra()
    vg, pg = geometries(template, size)
    with astra_objects() as ids:
        ptype = _projector_type(projector, template.geometry, template.center_offset != 0.0)
        pid = astra.create_projector(ptype, pg, vg)
        ids["projector"].append(pid)
        mid = astra.projector.matrix(pid)
        ids["matrix"].append(mid)
        mat = astra.matrix.get(mid)
    return mat.tocsr()
