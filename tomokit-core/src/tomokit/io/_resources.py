"""Memory estimates checked before big allocations, with the estimate in the message.

Native libraries (ASTRA) abort the whole process when an allocation fails, and numpy
raises a bare ``MemoryError`` after minutes of work; a component that knows what it will
allocate calls :func:`check_fits` first and gets one clear
:class:`~tomokit.errors.InvalidInputError` instead.
"""

from __future__ import annotations

import contextlib
import os
import resource

from tomokit.errors import InvalidInputError

__all__ = ["available_memory", "check_fits", "human_bytes"]


def human_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _used_address_space() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def available_memory() -> int | None:
    """Bytes this process may still allocate: the smaller of the free physical memory
    (``MemAvailable``) and what is left under ``RLIMIT_AS``; ``None`` when unknown."""
    limits: list[int] = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        with contextlib.suppress(OSError, ValueError):
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(max(0, soft - _used_address_space()))
    return min(limits) if limits else None


def check_fits(nbytes: int, what: str) -> None:
    """Refuse ``what`` when its estimated ``nbytes`` exceed the memory available."""
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise InvalidInputError(
            f"{what} needs about {human_bytes(nbytes)} of memory, but only "
            f"{human_bytes(avail)} is available; use a smaller size or a bigger machine"
        )
