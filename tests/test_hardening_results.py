"""Issue 16 item 10: a fan-beam sinogram keeps its geometry and extra through a
checkpoint and read_results."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from tomokit.components import Sinogram
from tomokit.pipeline._results import convert_node, write_value


def test_fan_beam_sinogram_round_trips(tmp_path: Path) -> None:
    sino = Sinogram(data=np.ones((6, 8), np.float32), angles=np.linspace(0, 1, 6),
                    detector_spacing=1.5, center_offset=0.25, geometry="fanflat",
                    extra={"source_origin": 400.0, "origin_detector": 100.0,
                           "defective_pixels": [1, 3]})
    with h5py.File(tmp_path / "c.h5", "w") as h5:
        write_value(h5, "value", sino)
    with h5py.File(tmp_path / "c.h5", "r") as h5:
        back = convert_node(h5["value"])
    assert isinstance(back, Sinogram)
    assert back.geometry == "fanflat" and back.extra == sino.extra
    assert back.detector_spacing == 1.5 and back.center_offset == 0.25
