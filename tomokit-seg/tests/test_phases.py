"""The shipped phases per phantom family: the truth groups every benchmark scores with."""

from __future__ import annotations

import pytest

from tomokit import InvalidInputError
from tomokit_seg.phases import PHANTOM_PARAMS, groups


def test_groups_of_the_phantoms_as_made() -> None:
    phantom = pytest.importorskip("tomokit_phantom")
    electrode = phantom.generate("electrode", 32, 0, **PHANTOM_PARAMS["electrode"]).phases
    jelly = phantom.generate("jelly_roll", 32, 0, **PHANTOM_PARAMS["jelly_roll"]).phases
    assert groups("electrode", electrode) == [[0, 2], [1]]  # pore, binder | active
    # void, separator, anode | can, Cu foil, cathode, Al foil
    assert groups("jelly_roll", jelly) == [[0, 2, 3], [1, 4, 5, 6]]


def test_groups_errors() -> None:
    with pytest.raises(InvalidInputError, match="defined for electrode, jelly_roll"):
        groups("catalyst", ["void", "support"])
    with pytest.raises(InvalidInputError, match="lack"):
        groups("electrode", ["pore", "binder"])
