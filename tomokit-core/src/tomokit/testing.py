"""Helpers for plugin authors' tests: isolated registries and component contract checks.

Example::

    from tomokit.testing import check_component, isolated_registry

    def test_my_distortion():
        with isolated_registry(MyDistortion) as reg:
            cls = reg.resolve("distortion", "my_distortion")
        check_component(cls)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tomokit.components import Component, Distortion, Observer
from tomokit.registry import Registry, using_registry

__all__ = ["check_component", "isolated_registry", "sample_image"]


@contextmanager
def isolated_registry(*plugins: Any, entry_points: bool = False) -> Iterator[Registry]:
    """A fresh registry holding ``plugins`` (component classes or hook modules/objects),
    made the process-wide one for the duration; installed plugins only if
    ``entry_points`` is true."""
    registry = Registry(entry_points=entry_points)
    for plugin in plugins:
        registry.register(plugin)
    with using_registry(registry):
        yield registry


def sample_image(shape: tuple[int, ...] = (48, 48), seed: int = 0) -> np.ndarray:
    """A smooth float32 test image in [0, 1] with edges: discs on a gradient."""
    rng = np.random.default_rng(seed)
    h, w = shape[-2:]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    img = 0.2 + 0.3 * xx / max(w - 1, 1)
    for _ in range(4):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        r = rng.uniform(0.08, 0.2) * min(h, w)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.5, 1.0)
    img = img.astype(np.float32)
    if len(shape) == 3:
        return np.stack([np.roll(img, i, axis=1) for i in range(shape[0])])
    return img


def check_component(cls: type[Component], **params: Any) -> None:
    """Assert the contract every component must keep; raises ``AssertionError`` if not.

    Checks: a kind, a ``Params`` model whose JSON Schema builds and which rejects unknown
    keys; for distortions, determinism for a seed and no change to the input; for
    observers, the declared best value for identical images.
    """
    assert cls.kind, f"{cls.__name__} has no kind"
    json.dumps(cls.Params.model_json_schema())
    try:
        cls.Params.model_validate({**params, "__no_such_param__": 1})
    except Exception:
        pass
    else:  # pragma: no cover - a contract violation
        raise AssertionError(f"{cls.__name__}.Params accepts unknown keys; use tomokit.Params")
    component = cls(params)
    image = sample_image()
    before = image.copy()
    if isinstance(component, Distortion) and component.domain == "image":
        a = component.apply(image, 2, 123)
        b = component.apply(image, 2, 123)
        assert np.array_equal(a, b), f"{cls.__name__} is not deterministic for a seed"
        assert np.array_equal(image, before), f"{cls.__name__} modified its input"
        assert a.shape == image.shape, f"{cls.__name__} changed the shape"
    if isinstance(component, Observer):
        value = float(np.asarray(component.compare(image, image)))
        low, high = component.value_range
        best = high if component.higher_is_better else low
        assert np.isclose(value, best, atol=1e-6) or (np.isinf(best) and np.isinf(value)), (
            f"{cls.__name__}: identical images give {value}, expected {best}"
        )
        assert np.array_equal(image, before), f"{cls.__name__} modified its input"
