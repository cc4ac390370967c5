from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from components_for_tests import Disc, MeanAbs, Shift, Stats

from tomokit.testing import isolated_registry


@pytest.fixture
def registry():
    """An isolated registry with the small test components."""
    with isolated_registry(Shift, MeanAbs, Disc, Stats) as reg:
        yield reg
