"""Make the PNG gallery of docs/phantoms.md: every phantom clean, labelled and acquired.

Run ``python -m tomokit_phantom.gallery docs/gallery`` (or ``python docs/make_gallery.py``).
A test runs it at a small size into a temporary folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GALLERY", "label_colours", "make_gallery", "main"]

#: (file stem, generator, params) of every gallery entry.
GALLERY: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("electrode_nmc", "electrode", {}),
    ("electrode_graphite", "electrode",
     {"aspect_ratio": 3.0, "irregularity": 0.1, "alignment": 0.7, "porosity": 0.3,
      "roughness": 0.3, "internal_porosity": 0.0,
      "cbd_fraction": 0.08, "attenuation": (0.0, 0.579, 0.34)}),
    ("jelly_roll", "jelly_roll", {"turns": 12}),
    ("catalyst_lattice", "catalyst", {"structure": "lattice"}),
    ("catalyst_packed", "catalyst", {"structure": "packed", "distribution": "eggyolk"}),
    ("shepp_logan", "shepp_logan", {}),
    ("random_shapes", "random_shapes", {}),
)

_PALETTE = np.array(
    [[20, 20, 20], [230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66],
     [0, 114, 178], [213, 94, 0], [204, 121, 167], [150, 150, 150], [255, 255, 255]],
    dtype=np.uint8,
)


def label_colours(labels: np.ndarray) -> np.ndarray:
    """RGB image of a label map (colour-blind-safe palette, label 0 near black)."""
    return _PALETTE[np.asarray(labels) % len(_PALETTE)]


def _window(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = (image.astype(np.float64) - lo) / (hi - lo) if hi > lo else np.zeros(image.shape)
    return np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def _chemical_panel(sample: Any, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB composites of the low- and high-resolution concentration maps (phases -> R, G, B)."""
    from tomokit_phantom.chemical import chemical_pair

    pair = chemical_pair(sample, factor=factor, counts=2e3, rng=0)
    coef, *_ = np.linalg.lstsq(
        pair.patterns.T.astype(np.float64),
        pair.cube_low.reshape(-1, pair.cube_low.shape[-1]).T.astype(np.float64),
        rcond=None,
    )
    low = np.clip(coef.reshape(pair.maps_low.shape), 0, None)
    order = [2, 1, 0] if low.shape[0] >= 3 else list(range(low.shape[0]))

    def rgb(maps: np.ndarray) -> np.ndarray:
        out = np.zeros((*maps.shape[1:], 3))
        for ch, i in enumerate(order[:3]):
            m = maps[i]
            top = float(np.percentile(m, 99.5)) or 1.0
            out[..., ch] = np.clip(m / top, 0, 1)
        return np.round(out * 255).astype(np.uint8)

    low_up = np.repeat(np.repeat(low, factor, axis=1), factor, axis=2)
    return rgb(low_up), rgb(pair.maps_high)


def make_gallery(
    out_dir: str | Path, *, size: int = 256, acquired: bool = True, seed: int = 0
) -> list[Path]:
    """Write ``<stem>.png`` (clean), ``<stem>_labels.png`` and ``<stem>_acquired.png`` for
    every :data:`GALLERY` entry, and the catalyst chemical pair; returns the paths."""
    import imageio.v3 as iio

    from tomokit_phantom._api import generate

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(name: str, arr: np.ndarray) -> None:
        path = out / f"{name}.png"
        iio.imwrite(path, arr, optimize=True)
        written.append(path)

    for stem, name, params in GALLERY:
        sample = generate(name, size, seed, **params)
        clean = sample.image
        if acquired:
            from tomokit_phantom._acquire import acquire

            acq = acquire(sample, {"i0": 5e3, "gain_sigma": 0.005, "blur_sigma": 0.8},
                          rng=seed).image
            lo, hi = (float(v) for v in np.percentile(acq, [0.5, 99.5]))
            save(f"{stem}_acquired", _window(acq, lo, hi))
        top = float(np.percentile(clean, 99.5)) or float(clean.max())
        save(stem, _window(clean, 0.0, top))
        save(f"{stem}_labels", label_colours(sample.labels))
    # a real-geometry 21700 (27 turns) at 4x the size, a corner cropped: layers resolved
    big = generate("jelly_roll", 4 * size, seed)
    y0, x0 = int(0.55 * size), int(2.6 * size)
    crop = (slice(y0, y0 + size), slice(x0, x0 + size))
    top = float(np.percentile(big.image, 99.5)) or float(big.image.max())
    save("jelly_roll_21700_zoom", _window(big.image[crop], 0.0, top))
    save("jelly_roll_21700_zoom_labels", label_colours(big.labels[crop]))
    if acquired:
        from tomokit_phantom._acquire import acquire

        acq = acquire(big, {"i0": 5e3, "gain_sigma": 0.005, "blur_sigma": 0.8}, rng=seed).image
        lo, hi = (float(v) for v in np.percentile(acq[crop], [0.5, 99.5]))
        save("jelly_roll_21700_zoom_acquired", _window(acq[crop], lo, hi))
    cat = generate("catalyst", size - size % 8, seed)
    low, high = _chemical_panel(cat, 8)
    save("catalyst_chemical_low", low)
    save("catalyst_chemical_high", high)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="docs/gallery")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--no-acquired", action="store_true")
    args = parser.parse_args(argv)
    paths = make_gallery(args.out_dir, size=args.size, acquired=not args.no_acquired)
    print(f"wrote {len(paths)} images to {args.out_dir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
