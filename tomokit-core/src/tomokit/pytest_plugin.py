"""pytest plugin for plugin authors (entry point ``pytest11``): registry fixtures.

Installed with tomokit-core; a plugin package's tests get::

    def test_my_component(tomokit_registry):
        tomokit_registry.register(MyDistortion)
        tomokit.load("distortion", "my_distortion")
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tomokit.registry import Registry
from tomokit.testing import isolated_registry


@pytest.fixture
def tomokit_registry() -> Iterator[Registry]:
    """An empty registry, the process-wide one for the test: register components or
    plugin modules in it; installed plugins are not loaded."""
    with isolated_registry() as registry:
        yield registry


@pytest.fixture
def tomokit_installed_registry() -> Iterator[Registry]:
    """A fresh registry of the installed plugins (entry points), plus whatever the test
    registers, the process-wide one for the test."""
    with isolated_registry(entry_points=True) as registry:
        yield registry
