"""The two phases of the shipped D-LinkNet, per phantom family: which phases are solid,
and the phantom params it was trained on. One definition for its training recipe and for
every benchmark that scores a segmentation against a phantom's labels.

Electrode: active material against pore and carbon binder (the binder's attenuation is
1 % of the active material's, as in a lab scan where it merges with the pores). Jelly
roll: the cathode side (cathode coatings with their aluminium foil) and the metals (can,
copper foil), 0.46 to 4.1 /cm at 100 keV, against void, separator and anode coating (0
to 0.30 /cm), wound with 8 turns: at 256 px the default winding puts every layer under a
pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tomokit import InvalidInputError

__all__ = ["FOREGROUND", "PHANTOM_PARAMS", "SHIPPED_PHASES", "groups"]

SHIPPED_PHASES: tuple[str, str] = ("background", "solid")
FOREGROUND: dict[str, tuple[str, ...]] = {
    "electrode": ("active",),
    "jelly_roll": ("can", "cu_foil", "cathode", "al_foil"),
}
PHANTOM_PARAMS: dict[str, dict[str, Any]] = {"electrode": {}, "jelly_roll": {"turns": 8}}


def groups(phantom: str, phases: Sequence[str]) -> list[list[int]]:
    """A phantom's labels (numbered as ``phases``) merged into the shipped phases:
    ``[[background labels], [solid labels]]``, the ``truth_groups`` of
    ``task: segmentation_scores``."""
    if phantom not in FOREGROUND:
        raise InvalidInputError(f"phantom {phantom!r}: the shipped phases are defined for "
                                f"{', '.join(FOREGROUND)}")
    missing = [p for p in FOREGROUND[phantom] if p not in phases]
    if missing:
        raise InvalidInputError(f"phantom {phantom!r}: phases {list(phases)} lack {missing}")
    solid = [k for k, p in enumerate(phases) if p in FOREGROUND[phantom]]
    return [[k for k in range(len(phases)) if k not in solid], solid]
