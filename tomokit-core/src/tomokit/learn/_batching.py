"""How many slices one model call takes.

Why not the executor's block budget: that budget counts bytes of slices, so a 224 x 224
scorer would get batches of over a thousand slices, far beyond the point where a CPU
stops getting faster (and beyond a GPU's memory once activations are counted). What
matters is the work per call: a call must hold enough pixels to amortise its fixed
overhead and keep every core busy, and no more, since larger activations fall out of
cache and only cost memory. ``benchmarks/learned_batch_size.py`` measures slices/s of a
small CNN scorer at batch sizes 1..256 and checks this choice against the best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tomokit.errors import InvalidInputError

__all__ = ["choose_batch_size"]

#: Pixels per model call at which throughput stops growing: CPU cores are busy and the
#: per-call overhead is amortised (measured by benchmarks/learned_batch_size.py).
CPU_PIXELS_PER_CALL = 1 << 20
#: On a GPU a call needs far more parallel work to fill the card.
GPU_PIXELS_PER_CALL = 1 << 23
#: Activation bytes per input pixel assumed for the memory cap (float32, 64 channels,
#: forward pass of a few layers kept alive at once).
ACTIVATION_BYTES_PER_PIXEL = 4 * 64 * 2


def choose_batch_size(
    slice_shape: Sequence[int],
    *,
    preferred: int | None = None,
    device: str = "cpu",
    memory_budget: int | None = None,
    bytes_per_pixel: int = ACTIVATION_BYTES_PER_PIXEL,
    maximum: int = 1024,
) -> int:
    """The batch size for slices of ``slice_shape`` (``(H, W)`` or ``(H, W, C)``).

    A component's ``preferred`` batch size wins, capped by memory. Otherwise: a power of
    two holding about :data:`CPU_PIXELS_PER_CALL` (CPU) or :data:`GPU_PIXELS_PER_CALL`
    (GPU) pixels per call, capped so that ``batch * pixels * bytes_per_pixel`` stays
    within ``memory_budget`` (default 1 GiB on CPU, 4 GiB on GPU) and by ``maximum``.
    """
    dims = [int(d) for d in slice_shape]
    if not dims or any(d < 1 for d in dims):
        raise InvalidInputError(f"slice_shape: expected positive sizes, got {tuple(slice_shape)}")
    if device not in ("cpu", "gpu"):
        raise InvalidInputError(f"device: expected cpu or gpu (resolved), got {device!r}")
    pixels = math.prod(dims)
    budget = memory_budget if memory_budget is not None else (1 << 30 if device == "cpu" else 1 << 32)
    if budget <= 0:
        raise InvalidInputError(f"memory_budget: expected > 0 bytes, got {budget}")
    cap = max(1, min(maximum, budget // max(1, pixels * bytes_per_pixel)))
    if preferred is not None:
        if preferred < 1:
            raise InvalidInputError(f"preferred batch size: expected >= 1, got {preferred}")
        return max(1, min(preferred, cap))
    target = CPU_PIXELS_PER_CALL if device == "cpu" else GPU_PIXELS_PER_CALL
    want = max(1, target // pixels)
    pow2 = 1 << (want.bit_length() - 1)  # largest power of two <= want
    return max(1, min(pow2, cap))
