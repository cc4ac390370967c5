"""Explicit colour-to-grey conversion (colour images are never treated as stacks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tomokit.errors import InvalidInputError

__all__ = ["LUMA", "to_grey"]

#: ITU-R BT.601 luma weights (the grey conversion of MATLAB ``rgb2gray``).
LUMA = (0.299, 0.587, 0.114)


def to_grey(image: Any, *, name: str = "image") -> np.ndarray:
    """``(H, W, 3|4)`` colour (alpha dropped) -> ``(H, W)`` luma, in the input's scale.

    Integer images stay in their dtype's range (as float32); a grey image is returned
    unchanged, so a pipeline can ask for ``color: luma`` on any input.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise InvalidInputError(
            f"{name}: expected a colour image (H, W, 3|4), got shape {arr.shape}"
        )
    rgb = arr[..., :3].astype(np.float32)
    grey = rgb @ np.asarray(LUMA, dtype=np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        top = np.iinfo(arr.dtype).max
        return np.clip(np.rint(grey), 0, top).astype(arr.dtype)
    return grey
