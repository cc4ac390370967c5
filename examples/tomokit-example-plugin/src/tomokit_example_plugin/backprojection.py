"""Unfiltered back-projection: smear every projection back across the image and sum."""

from __future__ import annotations

import numpy as np
from pydantic import Field

import tomokit


class BackProjection(tomokit.Reconstructor):
    """Parallel-beam back-projection without a ramp filter (images come out blurred).

    The image is ``size`` x ``size`` pixels (default: the detector count), centred on
    the rotation axis; values are scaled by ``pi / (2 * n_angles)`` as in FBP.
    """

    class Params(tomokit.Params):
        size: int | None = Field(None, ge=1, description="Output side length (default: detectors).")

    def reconstruct(self, sinogram: tomokit.Sinogram) -> np.ndarray:
        p = self.params
        assert isinstance(p, BackProjection.Params)
        n_det = sinogram.n_detectors
        size = p.size or n_det
        centre = (size - 1) / 2.0
        yy, xx = np.mgrid[:size, :size].astype(np.float64)
        x = xx - centre
        y = centre - yy
        det_centre = (n_det - 1) / 2.0 + sinogram.center_offset
        image = np.zeros((size, size), dtype=np.float64)
        det_axis = np.arange(n_det, dtype=np.float64)
        for row, theta in zip(sinogram.data, sinogram.angles, strict=True):
            t = (x * np.cos(theta) + y * np.sin(theta)) / sinogram.detector_spacing + det_centre
            image += np.interp(t, det_axis, row, left=0.0, right=0.0)
        return (image * np.pi / (2 * sinogram.n_angles)).astype(np.float32)
