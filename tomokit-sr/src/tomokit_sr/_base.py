"""What every tomokit-sr super-resolver shares: parameters, input checks, channel streaming.

Images are ``(H, W)`` (one chemical map) or ``(H, W, C)`` (a hyperspectral cube, the
layout of ``tomokit_phantom.chemical_pair``'s ``cube_low``); the guide is the
high-resolution absorption image ``(factor*H, factor*W)``, optionally one per channel
``(factor*H, factor*W, C)``. Every method works a block of channels at a time so that a
cube never needs more than one block of float32 temporaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, SuperResolver
from tomokit.components import SliceMapper

__all__ = ["SRParams", "SRBase", "check_pair", "normalize_guide"]

Factor = Literal[2, 4, 8]


class SRParams(Params):
    """Parameters every super-resolver has."""

    factor: Factor = Field(4, description="Upscaling factor (2, 4 or 8).")
    channel_block: int = Field(
        16, ge=1, le=4096, description="Channels of a cube processed at once (memory bound)."
    )


def check_pair(
    low: Any,
    guide: Any,
    factor: int,
    *,
    min_size: int = 2,
    need_guide: bool = False,
    method: str = "",
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Validate ``low`` and ``guide``; return ``(low (h, w, C), guide (H, W, 1|C) | None, was_2d)``.

    One :class:`~tomokit.errors.InvalidInputError` names the parameter and what to pass.
    """
    who = f"{method}: " if method else ""
    arr = np.asarray(low)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InvalidInputError(f"{who}low: expected a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{who}low: complex values are not supported")
    if arr.ndim not in (2, 3):
        raise InvalidInputError(
            f"{who}low: expected (H, W) or (H, W, channels), got shape {arr.shape}"
        )
    if arr.size == 0 or min(arr.shape[:2]) < min_size:
        raise InvalidInputError(
            f"{who}low: image {arr.shape[:2]} is too small; needs at least "
            f"{min_size} x {min_size} pixels"
        )
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise InvalidInputError(f"{who}low: {bad} non-finite value(s) (NaN or Inf)")
    was_2d = arr.ndim == 2
    low3 = arr[..., None] if was_2d else arr
    h, w, c = low3.shape
    if guide is None:
        if need_guide:
            raise InvalidInputError(
                f"{who}guide: this method needs the high-resolution guide image "
                f"({factor * h} x {factor * w}); pass guide="
            )
        return low3, None, was_2d
    g = np.asarray(guide)
    if g.dtype == object or not (np.issubdtype(g.dtype, np.number) or g.dtype == np.bool_):
        raise InvalidInputError(f"{who}guide: expected a numeric array, got dtype {g.dtype}")
    if g.ndim not in (2, 3):
        raise InvalidInputError(
            f"{who}guide: expected (H, W) or (H, W, channels), got shape {g.shape}"
        )
    if g.shape[:2] != (factor * h, factor * w):
        raise InvalidInputError(
            f"{who}guide: shape {g.shape[:2]} is not factor {factor} x the low-resolution "
            f"size {(h, w)}; expected {(factor * h, factor * w)}"
        )
    g3 = g[..., None] if g.ndim == 2 else g
    if g3.shape[2] not in (1, c):
        raise InvalidInputError(
            f"{who}guide: {g3.shape[2]} channels but low has {c}; pass one guide image "
            f"(H, W) or one per channel (H, W, {c})"
        )
    if np.issubdtype(g3.dtype, np.floating) and not np.all(np.isfinite(g3)):
        bad = int(np.count_nonzero(~np.isfinite(g3)))
        raise InvalidInputError(f"{who}guide: {bad} non-finite value(s) (NaN or Inf)")
    return low3, g3, was_2d


def normalize_guide(guide: np.ndarray) -> np.ndarray:
    """Each guide channel scaled to [0, 1] by its min and max (float32).

    Why: range parameters (``eps``, ``sigma_range``) and networks then work on any
    absorption scale (1/cm of a catalyst or of an electrode); a flat guide becomes 0.
    """
    g = np.asarray(guide, dtype=np.float32)
    lo = g.min(axis=(0, 1), keepdims=True)
    span = g.max(axis=(0, 1), keepdims=True) - lo
    return np.where(span > 0, (g - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)


class SRBase(SuperResolver):
    """A super-resolver that checks its inputs and streams channel blocks to
    :meth:`_upscale_block` (``(h, w, c)`` low, ``(H, W, 1|c)`` guide -> ``(H, W, c)``)."""

    Params: ClassVar[type[Params]] = SRParams
    #: Whether the method needs the guide (guided methods) or ignores it.
    uses_guide: ClassVar[bool] = False
    #: Smallest low-resolution side the method accepts.
    min_size: ClassVar[int] = 2

    @property
    def factor(self) -> int:
        return int(self.params.factor)  # type: ignore[attr-defined]

    def upscale(self, low: np.ndarray, guide: np.ndarray | None = None) -> np.ndarray:
        """Upscale ``low`` by ``factor`` (guide used by guided methods); units unchanged."""
        f = self.factor
        low3, g3, was_2d = check_pair(
            low, guide, f, min_size=self.min_size, need_guide=self.uses_guide, method=self.name
        )
        if not self.uses_guide:
            g3 = None
        h, w, c = low3.shape
        out = np.empty((f * h, f * w, c), dtype=np.float32)
        block = int(self.params.channel_block)  # type: ignore[attr-defined]
        for start in range(0, c, block):
            stop = min(c, start + block)
            lo = np.asarray(low3[..., start:stop], dtype=np.float32)
            gb = None
            if g3 is not None:
                gb = g3 if g3.shape[2] == 1 else g3[..., start:stop]
                gb = np.asarray(gb, dtype=np.float32)
            out[..., start:stop] = self._upscale_block(lo, gb)
        return out[..., 0] if was_2d else out

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        """A 4-D ``low`` (a stack of cubes, as ``chemical_pair`` with ``count > 1``
        gives) is upscaled item by item with the matching guide. So is a 3-D ``low``
        ``(N, h, w)`` with a 3-D guide ``(N, f h, f w)``: a stack of slices, the layout
        of volumes read from files (and streamed a block of slices at a time); it cannot
        be a cube, whose guide would be ``f N`` rows high."""
        low, guide = inputs["low"], inputs.get("guide")
        arr = np.asarray(low)
        f = self.factor
        g_arr = None if guide is None else np.asarray(guide)
        stack_of_slices = (
            arr.ndim == 3 and g_arr is not None and g_arr.ndim == 3
            and g_arr.shape == (arr.shape[0], f * arr.shape[1], f * arr.shape[2])
        )
        if stack_of_slices:
            assert g_arr is not None
            return np.stack([self.upscale(arr[i], g_arr[i]) for i in range(len(arr))])
        if arr.ndim == 4:
            g = None if guide is None else np.asarray(guide)
            if g is not None and len(g) != len(arr):
                raise InvalidInputError(
                    f"guide: {len(g)} images for {len(arr)} low-resolution cubes"
                )
            return np.stack(
                [self.upscale(arr[i], None if g is None else g[i]) for i in range(len(arr))]
            )
        return self.upscale(low, guide)
