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
import pickle
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import (
    Component,
    Distortion,
    Filter,
    Observer,
    Phantom,
    PhantomSample,
    Projector,
    Reconstructor,
    Scorer,
    Segmenter,
    Sinogram,
    SuperResolver,
)
from tomokit.registry import Registry, using_registry

__all__ = [
    "check_component",
    "check_defaults",
    "check_trainable",
    "isolated_registry",
    "sample_image",
    "sample_sinogram",
]


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


def sample_sinogram(n_angles: int = 60, size: int = 48, seed: int = 0) -> Sinogram:
    """A parallel-beam sinogram ``(n_angles, size)`` of :func:`sample_image` over 180
    degrees (rotate-and-sum; good enough to test a component's contract)."""
    from scipy import ndimage

    image = sample_image((size, size), seed=seed)
    yy, xx = np.mgrid[:size, :size]
    r = (size - 1) / 2
    image = np.where((yy - r) ** 2 + (xx - r) ** 2 <= r * r, image, 0).astype(np.float32)
    angles = np.linspace(0, np.pi, n_angles, endpoint=False)
    rows = [ndimage.rotate(image, np.degrees(-a), reshape=False, order=1).sum(axis=0)
            for a in angles]
    return Sinogram(np.asarray(rows, dtype=np.float32), angles)


def _finite_float(arr: Any, what: str, cls: type) -> np.ndarray:
    assert isinstance(arr, np.ndarray), (
        f"{cls.__name__}.{what} returned {type(arr).__name__}, expected a numpy array"
    )
    assert np.issubdtype(arr.dtype, np.floating), (
        f"{cls.__name__}.{what} returned dtype {arr.dtype}, expected floating point"
    )
    assert np.all(np.isfinite(arr)), f"{cls.__name__}.{what} returned non-finite values"
    return arr


def check_defaults(cls: type[Component]) -> list[str]:
    """Every param default of ``cls.Params`` that violates its own type or bounds (for
    example ``Field(2.0, ge=0, le=1)``), as one message each; empty when all are valid."""
    from pydantic import ValidationError

    defaults = {name: info.get_default(call_default_factory=True)
                for name, info in cls.Params.model_fields.items() if not info.is_required()}
    try:
        cls.Params.model_validate(defaults)
    except ValidationError as exc:
        return [
            f"default of param {e['loc'][0]!r} ({defaults[e['loc'][0]]!r}) violates its own "
            f"declaration: {e['msg']}"
            for e in exc.errors() if e["loc"] and e["loc"][0] in defaults
        ]
    return []


def check_component(
    cls: type[Component],
    *,
    test_image: np.ndarray | None = None,
    test_sinogram: Sinogram | None = None,
    **params: Any,
) -> None:
    """Assert the contract every component must keep; raises ``AssertionError`` if not.

    For every kind: a kind, a ``Params`` model whose JSON Schema builds and which rejects
    unknown keys. Then, by kind, on :func:`sample_image` / :func:`sample_sinogram` (or the
    ``test_image`` / ``test_sinogram`` given): distortions (image and sinogram domain)
    are deterministic for a seed and never modify their input; filters are
    deterministic, keep the shape and never modify their input; projectors return a
    finite :class:`~tomokit.Sinogram`; observers give their declared best value for
    identical images; scorers give one finite float per image; segmenters give
    probabilities ``(N, H, W, C)`` in [0, 1] summing to 1; reconstructors return a
    finite 2-D float array of ``(detectors, detectors)``; super-resolvers a finite float
    image at least as large as the input; phantoms are deterministic for a seed.
    """
    assert cls.kind, f"{cls.__name__} has no kind"
    json.dumps(cls.Params.model_json_schema())
    bad = check_defaults(cls)
    assert not bad, f"{cls.__name__}.Params: " + "; ".join(bad)
    try:
        cls.Params.model_validate({**params, "__no_such_param__": 1})
    except Exception:
        pass
    else:  # pragma: no cover - a contract violation
        raise AssertionError(f"{cls.__name__}.Params accepts unknown keys; use tomokit.Params")
    component = cls(params)
    name = cls.__name__
    image = sample_image() if test_image is None else np.asarray(test_image)
    before = image.copy()
    sino = sample_sinogram() if test_sinogram is None else test_sinogram
    sino_before = sino.data.copy()

    if isinstance(component, Distortion):
        if component.domain == "image":
            a = component.apply(image, 2, 123)
            b = component.apply(image, 2, 123)
            assert np.array_equal(a, b), f"{name} is not deterministic for a seed"
            assert np.array_equal(image, before), f"{name} modified its input"
            assert a.shape == image.shape, f"{name} changed the shape"
            _finite_float(np.asarray(a, dtype=np.float64), "apply", cls)
        else:
            a = component.apply(sino, 2, 123)  # type: ignore[arg-type]
            b = component.apply(sino, 2, 123)  # type: ignore[arg-type]
            assert isinstance(a, Sinogram), f"{name}.apply returned {type(a).__name__}, not a Sinogram"
            assert isinstance(b, Sinogram)
            assert np.array_equal(a.data, b.data) and np.array_equal(a.angles, b.angles), (
                f"{name} is not deterministic for a seed"
            )
            assert np.array_equal(sino.data, sino_before), f"{name} modified its input sinogram"
            _finite_float(a.data, "apply", cls)
    elif isinstance(component, Filter):
        src = sino.data if component.domain == "sinogram" else image
        src_before = src.copy()
        a = component.filter(src)
        b = component.filter(src)
        _finite_float(np.asarray(a), "filter", cls)
        assert np.array_equal(a, b), f"{name} is not deterministic"
        assert np.array_equal(src, src_before), f"{name} modified its input"
        assert np.shape(a) == src.shape, f"{name} changed the shape {src.shape} -> {np.shape(a)}"
    elif isinstance(component, Projector):
        out = component.project(image)
        assert isinstance(out, Sinogram), f"{name}.project returned {type(out).__name__}"
        _finite_float(out.data, "project", cls)
        assert np.array_equal(image, before), f"{name} modified its input"
    elif isinstance(component, Observer):
        value = float(np.asarray(component.compare(image, image)))
        low, high = component.value_range
        best = high if component.higher_is_better else low
        assert np.isclose(value, best, atol=1e-6) or (np.isinf(best) and np.isinf(value)), (
            f"{name}: identical images give {value}, expected {best}"
        )
        assert np.array_equal(image, before), f"{name} modified its input"
    elif isinstance(component, Scorer):
        stack = np.stack([image, np.flipud(image), np.fliplr(image)])
        stack_before = stack.copy()
        scores = np.asarray(component.score(stack))
        assert scores.shape == (3,), f"{name}.score gave shape {scores.shape} for 3 images"
        _finite_float(scores.astype(np.float64) if scores.dtype.kind in "iu" else scores,
                      "score", cls)
        assert np.array_equal(np.asarray(component.score(stack)), scores), (
            f"{name} is not deterministic"
        )
        assert np.array_equal(stack, stack_before), f"{name} modified its input"
    elif isinstance(component, Segmenter):
        stack = image[None]
        probs = _finite_float(np.asarray(component.predict_proba(stack)), "predict_proba", cls)
        assert probs.ndim == 4 and probs.shape[:3] == stack.shape, (
            f"{name}.predict_proba gave shape {probs.shape}, expected (1, H, W, C)"
        )
        assert probs.min() >= -1e-6 and probs.max() <= 1 + 1e-6, f"{name}: probabilities outside [0, 1]"
        if probs.shape[-1] >= 2:
            assert np.allclose(probs.sum(-1), 1, atol=1e-4), f"{name}: probabilities do not sum to 1"
        labels = component.segment(image)
        assert labels.shape == image.shape, f"{name}.segment gave shape {labels.shape}"
        assert np.array_equal(image, before), f"{name} modified its input"
    elif isinstance(component, Reconstructor):
        rec = component.reconstruct(sino)
        _finite_float(rec, "reconstruct", cls)
        assert rec.ndim == 2, f"{name}.reconstruct returned shape {rec.shape}, expected 2-D"
        n = sino.n_detectors
        assert rec.shape == (n, n), f"{name}.reconstruct returned {rec.shape}, expected {(n, n)}"
        assert np.array_equal(sino.data, sino_before), f"{name} modified its input sinogram"
    elif isinstance(component, SuperResolver):
        from tomokit.errors import InvalidInputError

        small = image[::2, ::2].copy()
        small_before = small.copy()
        factor = int(getattr(component.params, "factor", 2) or 2)
        guide: np.ndarray | None = None
        try:
            up = np.asarray(component.upscale(small))
        except InvalidInputError as exc:  # a guided method: give it the high-resolution guide
            if "guide" not in str(exc):
                raise
            guide = sample_image((small.shape[0] * factor, small.shape[1] * factor), seed=1)
            up = np.asarray(component.upscale(small, guide))
        _finite_float(up, "upscale", cls)
        assert up.ndim == 2 and up.shape[0] >= small.shape[0] and up.shape[1] >= small.shape[1], (
            f"{name}.upscale gave shape {up.shape} for input {small.shape}"
        )
        again = np.asarray(component.upscale(small, guide) if guide is not None
                           else component.upscale(small))
        assert np.array_equal(again, up), f"{name} is not deterministic"
        assert np.array_equal(small, small_before), f"{name} modified its input"
    elif isinstance(component, Phantom):
        s1 = component.generate((32, 32), 7)
        s2 = component.generate((32, 32), 7)
        assert isinstance(s1, PhantomSample), f"{name}.generate returned {type(s1).__name__}"
        assert np.array_equal(s1.image, s2.image) and np.array_equal(s1.labels, s2.labels), (
            f"{name} is not deterministic for a seed"
        )
        assert s1.image.shape == (32, 32) and s1.labels.shape == (32, 32), (
            f"{name}.generate((32, 32)) gave image {s1.image.shape}, labels {s1.labels.shape}"
        )


def check_trainable(
    cls: type[Component],
    data: Any,
    *,
    train: dict[str, Any] | None = None,
    **params: Any,
) -> None:
    """Fit one epoch on (tiny) ``data``, save, load with ``from_file`` and assert the
    reloaded component predicts identically, also after pickling (as a Dask worker
    receives it: without its network, which it reloads from the file)."""
    from tomokit.learn import KerasComponent, TrainReport, check_model_file, sidecar_path

    assert issubclass(cls, KerasComponent), f"{cls.__name__} is not a tomokit.learn.KerasComponent"
    if "device" in cls.Params.model_fields:
        params = {"device": "cpu", **params}
    component = cls(params)
    recipe = {"epochs": 1, "device": "cpu", **(train or {})}
    report = component.fit(data, train=recipe)
    assert isinstance(report, TrainReport), f"{cls.__name__}.fit returned {type(report).__name__}"
    assert report.epochs_run == 1, f"{cls.__name__}.fit ran {report.epochs_run} epochs, not 1"
    losses = report.history.get("loss", [])
    assert losses and np.all(np.isfinite(losses)), f"{cls.__name__}: training loss {losses}"
    from tomokit.learn import TrainData

    td = data if isinstance(data, TrainData) else TrainData.from_hdf5(data)
    recipe_obj = cls.TrainParams.model_validate(recipe)
    x, _ = next(iter(component.batches(td, recipe_obj, rng=np.random.default_rng(0),
                                       training=False)))
    expected = component.predict(x)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model = component.save(path)
        assert path.is_file() and sidecar_path(path).is_file(), "save wrote no model + sidecar"
        info = check_model_file(path, component=cls.component_id())
        assert info["model"]["sha256"] == model.sha256
        loaded = cls.from_file(path, device="cpu") if "device" in cls.Params.model_fields \
            else cls.from_file(path)
        got = loaded.predict(x)
        assert np.array_equal(expected, got), f"{cls.__name__}: predictions differ after save/load"
        clone = pickle.loads(pickle.dumps(loaded))
        assert "_network" not in clone.__dict__, "the network was pickled with the component"
        assert np.array_equal(expected, clone.predict(x)), (
            f"{cls.__name__}: predictions differ after pickling (worker reload)"
        )
