"""Training data for learned reconstructors: tomokit-phantom images, forward-projected by
tomokit-recon's own ``forward_project`` projector, with Poisson photon noise.

Why here: the AI4SD report's finding is that a supervised reconstructor is only as good as
its training *library*, so the library is a parameter (``catalyst``, ``random_shapes`` or
their ``mixed`` half-and-half) and the data are made the same way for every one of them.
Every image is scaled to a peak of 1 (the libraries' attenuation units differ), so a
network learns shapes, not units. Deterministic for a seed; no data are downloaded.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from tomokit import InvalidInputError

__all__ = [
    "LIBRARIES",
    "Library",
    "back_projection",
    "best_scale",
    "make_reconstruction_data",
    "phantom_images",
    "project_images",
]

Library = Literal["catalyst", "random_shapes", "mixed"]
LIBRARIES: tuple[str, ...] = ("catalyst", "random_shapes", "mixed")


def _check(library: str, n: int, size: int) -> None:
    if library not in LIBRARIES:
        raise InvalidInputError(f"library: expected one of {', '.join(LIBRARIES)}, got {library!r}")
    if int(n) < 1:
        raise InvalidInputError(f"n: expected at least 1 image, got {n}")
    if int(size) < 16:
        raise InvalidInputError(f"size: expected at least 16 px, got {size}")


def phantom_images(library: str, n: int, size: int, *, seed: int = 0) -> np.ndarray:
    """``(n, size, size)`` float32 phantoms of ``library``, each scaled to a peak of 1.

    ``mixed`` alternates the two libraries (even rows catalyst-like, odd rows random
    shapes), so any prefix of a mixed set is balanced.
    """
    import tomokit

    _check(library, n, size)
    makers = {
        "catalyst": tomokit.load("phantom", "catalyst"),
        "random_shapes": tomokit.load("phantom", "random_shapes"),
    }
    out = np.empty((int(n), int(size), int(size)), np.float32)
    for i in range(int(n)):
        name = library if library != "mixed" else ("catalyst", "random_shapes")[i % 2]
        # seeds of different libraries never coincide, so a mixed set shares no image
        # with a single-library set of the same seed
        rng = np.random.default_rng([int(seed), LIBRARIES.index(name), i])
        image = np.asarray(makers[name].generate((int(size), int(size)), rng).image, np.float64)
        image = np.clip(image, 0.0, None)
        peak = float(image.max())
        out[i] = image / peak if peak > 0 else image
    return out


def project_images(
    images: np.ndarray,
    *,
    n_angles: int | None = None,
    i0: float | None = 1e4,
    seed: int = 0,
    projector: Literal["line", "strip", "linear"] = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Sinograms ``(n, n_angles, size)`` of ``images`` (``forward_project``, 180 degrees)
    with Poisson noise of ``i0`` photons per pixel (none: noise-free); also the angles."""
    import tomokit

    stack = np.asarray(images, np.float32)
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise InvalidInputError(f"images: expected (n, N, N), got shape {stack.shape}")
    angles_n = int(n_angles or stack.shape[1])
    fp: Any = tomokit.load("projector", "forward_project", n_angles=angles_n, projector=projector)
    noise: Any = None if i0 is None else tomokit.load("distortion", "photon_noise", i0=float(i0))
    sinos = np.empty((len(stack), angles_n, stack.shape[2]), np.float32)
    angles = np.zeros(angles_n)
    for i, image in enumerate(stack):
        sino = fp.project(image)
        if noise is not None:
            sino = noise.apply(sino, rng=np.random.default_rng([int(seed), 7, i]))
        sinos[i] = sino.data
        angles = np.asarray(sino.angles)
    return sinos, angles


def make_reconstruction_data(
    library: str,
    n: int,
    size: int,
    *,
    n_angles: int | None = None,
    i0: float | None = 1e4,
    seed: int = 0,
) -> Any:
    """A :class:`tomokit.learn.TrainData` with ``sinogram`` (n, angles, size) and ``image``
    (n, size, size) rows of ``library``, one source per phantom, and the angles in
    ``attrs['angles']`` (what ``cnn_reconstruct`` trains on)."""
    from tomokit.learn import TrainData

    images = phantom_images(library, n, size, seed=seed)
    sinos, angles = project_images(images, n_angles=n_angles, i0=i0, seed=seed)
    data = TrainData.from_arrays(sinogram=sinos, image=images,
                                 sources=[f"{library}-{seed}-{i}" for i in range(len(images))])
    data.attrs["angles"] = angles.tolist()
    data.attrs["library"] = library
    return data


def back_projection(sinograms: np.ndarray, angles: Any, size: int | None = None) -> np.ndarray:
    """Plain (unfiltered) back-projection ``A^T p`` of each ``(angles, detectors)``
    sinogram, times ``pi / (2 n_angles)``: the baseline a learned reconstructor must beat.

    Unfiltered back-projection is blurred by ``1/r`` and has no natural scale; compare it
    with :func:`best_scale` applied (the scale that favours it most)."""
    from tomokit import Sinogram
    from tomokit_recon._astra import projection_matrix

    stack = np.asarray(sinograms, np.float32)
    if stack.ndim == 2:
        stack = stack[None]
    n_det = stack.shape[2]
    n = int(size or n_det)
    template = Sinogram(data=np.zeros(stack.shape[1:], np.float32), angles=np.asarray(angles))
    at = projection_matrix(template, n).T.tocsr()
    flat = stack.reshape(len(stack), -1).T
    bp = np.asarray(at @ flat).T.reshape(len(stack), n, n)
    return (bp * (np.pi / (2 * stack.shape[1]))).astype(np.float32)


def best_scale(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``estimate`` times the least-squares scale onto ``truth`` (per image): the most
    favourable reading of an image with arbitrary units (back-projection, GANrec)."""
    est = np.asarray(estimate, np.float64)
    ref = np.asarray(truth, np.float64)
    axes = tuple(range(est.ndim - 2, est.ndim))
    num = np.sum(est * ref, axis=axes, keepdims=True)
    den = np.sum(est * est, axis=axes, keepdims=True)
    return (est * np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)).astype(np.float32)
