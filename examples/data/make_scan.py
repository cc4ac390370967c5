"""Make ``scan_dxchange.h5``: a small simulated DXchange scan for the streaming example.

Four detector rows of a Shepp-Logan phantom (each row a slightly different slice),
60 projections over 180 degrees, 64 detector pixels; raw counts with flats and darks
as a beamline writes them (``-log`` of the normalised data gives the line integrals).

    python examples/data/make_scan.py
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

import tomokit


def main() -> None:
    rng = np.random.default_rng(0)
    n_rows, n_angles, size = 4, 60, 64
    project = tomokit.load("projector", "forward_project", n_angles=n_angles)
    phantom = tomokit.load("phantom", "shepp_logan")
    sinos = []
    for row in range(n_rows):
        image = phantom.generate((size, size), rng).image
        image = np.roll(image, row - n_rows // 2, axis=0)  # neighbouring slices differ
        sinos.append(project.project(image / image.max() * 0.05).data)
    line_integrals = np.stack(sinos, axis=1)  # (angles, rows, columns)
    dark = 100.0
    flat = 20000.0 * (1 + 0.02 * rng.standard_normal((n_rows, size)))  # detector gain
    counts = dark + flat[None] * np.exp(-line_integrals)
    data = rng.poisson(counts).astype(np.uint16)
    flats = rng.poisson(np.broadcast_to(dark + flat, (3, n_rows, size))).astype(np.uint16)
    darks = rng.poisson(np.full((2, n_rows, size), dark)).astype(np.uint16)
    target = Path(__file__).with_name("scan_dxchange.h5")
    with h5py.File(target, "w") as h5:
        h5["exchange/data"] = data
        h5["exchange/data_white"] = flats
        h5["exchange/data_dark"] = darks
        h5["exchange/theta"] = np.linspace(0, 180, n_angles, endpoint=False)
    print(f"wrote {target} ({data.shape} projections)")


if __name__ == "__main__":
    main()
