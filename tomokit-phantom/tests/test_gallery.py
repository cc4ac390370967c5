"""The docs gallery script runs end to end (small size, temporary folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tomokit_phantom.gallery import GALLERY, label_colours, main

pytest.importorskip("tomokit_recon")


def test_gallery_small(tmp_path: Path) -> None:
    import imageio.v3 as iio

    assert main([str(tmp_path), "--size", "48"]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    for stem, _, _ in GALLERY:
        assert {f"{stem}.png", f"{stem}_labels.png", f"{stem}_acquired.png"} <= names
    assert {"catalyst_chemical_low.png", "catalyst_chemical_high.png",
            "jelly_roll_21700_zoom_acquired.png"} <= names
    img = iio.imread(tmp_path / "electrode_nmc.png")
    assert img.shape == (48, 48) and img.dtype == np.uint8 and img.max() > img.min()
    assert iio.imread(tmp_path / "jelly_roll_labels.png").shape == (48, 48, 3)


def test_docs_gallery_committed() -> None:
    """docs/phantoms.md shows PNGs that exist (run docs/make_gallery.py to refresh)."""
    root = Path(__file__).resolve().parents[2]
    page = root / "docs" / "phantoms.md"
    if not page.exists():
        pytest.skip("docs not in this checkout")
    import re

    for ref in re.findall(r"\]\((gallery/[^)]+\.png)\)", page.read_text()):
        assert (root / "docs" / ref).is_file(), ref


def test_label_colours() -> None:
    rgb = label_colours(np.array([[0, 1], [2, 12]], dtype=np.uint8))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert not np.array_equal(rgb[0, 0], rgb[0, 1])
