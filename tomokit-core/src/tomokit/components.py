"""The component kinds: abstract interfaces and their ``Params`` models.

A component is a class with a pydantic ``Params`` model (validated, JSON-Schema-able,
defaults documented) and the one or two methods of its kind. Images are numpy arrays,
2-D ``(H, W)`` or batches ``(N, H, W)``, float32 unless a method needs more.

Every kind also implements :meth:`Component.run_step`, the single place where the
pipeline runner hands a step its named inputs. Per-slice kinds map their method over a
volume through :func:`map_slices`, which is where streaming and executors slot in.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tomokit.errors import InvalidInputError

__all__ = [
    "KINDS",
    "Component",
    "Distortion",
    "Execution",
    "Filter",
    "NoParams",
    "Observer",
    "Params",
    "Phantom",
    "PhantomParams",
    "PhantomSample",
    "Projector",
    "Reconstructor",
    "Scorer",
    "Segmenter",
    "Sinogram",
    "SuperResolver",
    "Task",
    "Trainable",
    "as_image_stack",
    "check_data_range",
    "check_image",
    "check_within_range",
    "color_error",
    "component_outputs",
    "is_color_image",
    "map_slices",
    "normalized_entropy",
    "resolve_data_range",
]

Kind = Literal[
    "distortion",
    "filter",
    "projector",
    "observer",
    "scorer",
    "segmenter",
    "reconstructor",
    "super_resolver",
    "phantom",
    "task",
]
KINDS: tuple[str, ...] = (
    "distortion",
    "filter",
    "projector",
    "observer",
    "scorer",
    "segmenter",
    "reconstructor",
    "super_resolver",
    "phantom",
    "task",
)

SliceMapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]
#: How the runner feeds a component a volume: one slice per call (mapped over the
#: executor's workers), one batch of slices per call (model-based components), or the
#: whole input at once.
Execution = Literal["slice", "batch", "whole"]


class Params(BaseModel):
    """Base of every component's parameters: unknown keys are errors, values validated.

    Floats must be finite (``allow_inf_nan=False``): an infinite ``data_range`` or
    ``sigma`` is never a meaningful setting and silently gives perfect scores. Defaults
    are validated too (``validate_default=True``): a default outside its own bounds is an
    error the first time the component is configured, not a silent out-of-range run."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              validate_default=True)


class NoParams(Params):
    """For components without parameters."""


_ParamsBase = Params  # the base class, named so that components' ``Params`` can shadow it


def is_color_image(arr: Any) -> bool:
    """Whether ``arr`` looks like one colour image ``(H, W, 3|4)`` rather than a stack of
    slices: what every reader returns for RGB, RGBA and palette files."""
    shape = np.shape(arr)
    return len(shape) == 3 and shape[-1] in (3, 4) and shape[0] > 4 and shape[1] > 4


def color_error(name: str, shape: tuple[int, ...]) -> InvalidInputError:
    """The one message for a colour image given where grey slices are expected."""
    return InvalidInputError(
        f"{name}: a colour image (shape {tuple(shape)}, channels last) where grey slices are "
        "expected; convert it to grey first (a pipeline input: 'color: luma'; Python: "
        "tomokit.io.to_grey)"
    )


def check_image(image: Any, *, name: str = "image", ndim: tuple[int, ...] = (2, 3),
                color: bool = False) -> np.ndarray:
    """Return ``image`` as a float array after checking shape, emptiness and finiteness.

    A colour image ``(H, W, 3|4)`` is refused unless ``color`` (a 3-D array is otherwise
    a stack of slices, and a colour image read as one would mix its channels).
    Raises :class:`~tomokit.errors.InvalidInputError` naming ``name`` and what to pass.
    """
    arr = np.asarray(image)
    if not color and 3 in ndim and is_color_image(arr):
        raise color_error(name, arr.shape)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InvalidInputError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        raise InvalidInputError(
            f"{name}: expected an array with {' or '.join(map(str, ndim))} dimensions, "
            f"got shape {arr.shape}"
        )
    if arr.size == 0:
        raise InvalidInputError(f"{name}: array is empty (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{name}: complex values are not supported")
    if np.issubdtype(arr.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise InvalidInputError(f"{name}: {bad} non-finite value(s) (NaN or Inf)")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr


def check_data_range(value: Any, *, name: str = "data_range") -> float:
    """``value`` as a finite positive float, or one clear error naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise InvalidInputError(f"{name}: must be a finite number > 0, got {value!r}")
    return out


def resolve_data_range(explicit: Any, *arrays: Any, default: float | None = None,
                       name: str = "data_range", who: str = "") -> float:
    """The one ``data_range`` policy of every kind (observers, distortions, filters, CLI).

    An explicit value must be finite and > 0. Otherwise integer arrays (all of one dtype)
    give their dtype's maximum, with a warning for types wider than 8 bits (12-bit data
    stored as uint16 are far below 65535); arrays of different integer dtypes are an
    error (no silent 65535 for an 8-bit image); float arrays take ``default`` when the
    kind has one (distortions: images in [0, 1]) and need an explicit value otherwise.
    """
    import warnings

    prefix = f"{who}: " if who else ""
    if explicit is not None:
        return check_data_range(explicit, name=name)
    dtypes = [np.asarray(a).dtype for a in arrays]
    ints = [d for d in dtypes if d.kind in "iu"]
    if ints and len(ints) == len(dtypes):
        if len(set(ints)) > 1:
            raise InvalidInputError(
                f"{prefix}the images have different dtypes ({', '.join(sorted(map(str, set(ints))))}) "
                f"and so their ranges differ; give {name} explicitly"
            )
        top = float(np.iinfo(ints[0]).max)
        if ints[0].itemsize > 1:
            warnings.warn(
                f"{prefix}{name} inferred as {top:.0f} (the maximum of {ints[0]}); data with "
                f"fewer bits (12-bit detectors) need an explicit {name}", stacklevel=3,
            )
        return top
    if default is not None and not ints:
        return float(default)
    raise InvalidInputError(
        f"{prefix}float images need an explicit {name} (for example 1.0 for images in [0, 1], "
        "or 255); it is only inferred for integer dtypes"
    )


def check_within_range(arr: np.ndarray, data_range: float, *, name: str = "image",
                       who: str = "", option: str = "data_range") -> None:
    """Refuse data above ``data_range`` before a clip to ``[0, data_range]`` wipes them."""
    top = float(np.max(arr)) if arr.size else 0.0
    if top > data_range * (1 + 1e-6):
        prefix = f"{who}: " if who else ""
        raise InvalidInputError(
            f"{prefix}{name}: values up to {top:.6g} exceed data_range={data_range:.6g}; "
            f"set {option} to the images' range (for example 65535 for 16-bit data) or "
            "normalise the input (a pipeline input: 'normalize: true')"
        )


def as_image_stack(image: Any, *, name: str = "image") -> tuple[np.ndarray, bool]:
    """Return ``(stack, was_2d)``: a 2-D image becomes a stack of one slice."""
    arr = check_image(image, name=name)
    if arr.ndim == 2:
        return arr[None], True
    return arr, False


def _serial_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [fn(item) for item in items]


def map_slices(
    fn: Callable[[Any], Any],
    volume: Sequence[Any],
    mapper: SliceMapper | None = None,
) -> list[Any]:
    """Apply ``fn`` to every slice of ``volume`` (first axis), through ``mapper`` if given.

    This is the one place a per-slice call is mapped over a volume; executors provide
    ``mapper`` (thread pool, Dask) and must return results in slice order.
    """
    return (mapper or _serial_map)(fn, volume)


class Component(abc.ABC):
    """Base of all component kinds.

    Subclasses set ``Params`` (a :class:`Params` subclass) and may set ``name`` and
    ``summary``; the registry fills ``name`` from the spec when it resolves a class.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[_ParamsBase]] = NoParams
    #: Names of the inputs :meth:`run_step` accepts, in positional order.
    input_names: ClassVar[tuple[str, ...]] = ("image",)
    #: Inputs that may be omitted.
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    #: Inputs that take any number of values (``step[*]`` or a list of references); the
    #: component receives them as a dict ``{candidate label: value}`` in order.
    collection_inputs: ClassVar[tuple[str, ...]] = ()

    # Declared capabilities: the runner reads these instead of guessing.
    #: How a volume is fed to the component (see :data:`Execution`).
    execution: ClassVar[Execution] = "whole"
    #: Whether one instance may be called from several threads at once. A component
    #: that is not runs serially (or one instance per worker process).
    thread_safe: ClassVar[bool] = True
    #: Which device it computes on: ``cpu`` only, ``gpu`` only, or ``any``.
    device_support: ClassVar[Literal["cpu", "gpu", "any"]] = "cpu"
    #: Preferred number of slices per call for ``execution = "batch"``; ``None`` lets
    #: the executor size batches from its memory budget.
    batch_size: ClassVar[int | None] = None
    #: Names of the outputs of a step with several (a dict with these keys); ``()`` for
    #: one unnamed value. Later steps reference ``step_id.output``.
    outputs: ClassVar[tuple[str, ...]] = ()

    params: _ParamsBase

    def __init__(
        self, params: _ParamsBase | Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if isinstance(params, _ParamsBase):
            if kwargs:
                params = params.model_copy(update=kwargs)
                params = type(params).model_validate(params.model_dump())
            self.params = params
        else:
            merged = dict(params or {})
            merged.update(kwargs)
            self.params = type(self).Params.model_validate(merged)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"

    @classmethod
    def memory_estimate(cls, params: _ParamsBase) -> int | None:
        """Bytes a step of this component holds at its peak, as far as its params alone
        tell (a phantom's images, a reconstructor's volume); ``None`` when only the data
        tell. The runner adds these up before a run starts and refuses a run that cannot
        fit, with the estimate in the message, instead of failing after minutes of work."""
        return None

    @abc.abstractmethod
    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        """Run this component as a pipeline step on its named ``inputs``."""

    @staticmethod
    def slice_seeds(rng: np.random.Generator, n: int) -> np.ndarray:
        """One seed per slice of a volume, drawn from the step's generator.

        Every slice gets its own stream, so results do not depend on how slices are
        grouped into blocks or spread over workers (in memory or streamed)."""
        return rng.integers(0, 2**63 - 1, size=n)

    def run_slice(self, inputs: Mapping[str, Any], seed: int) -> Any:
        """One slice of a per-slice step (``execution = "slice"``): the inputs hold one
        2-D slice each (a :class:`Sinogram` for a scan row); ``seed`` is the slice's own
        seed from :meth:`slice_seeds`. The runner streams volumes through this."""
        return self.run_step(inputs, rng=np.random.default_rng(seed))


class Distortion(Component):
    """Degrades an image: ``apply(image, level, rng) -> image``.

    Levels 1..5 map to documented parameters; ``level=None`` uses the continuous
    parameter in ``Params``. Deterministic for a seed. ``domain`` says whether it acts
    on reconstructed images or on sinograms.
    """

    kind: ClassVar[str] = "distortion"
    execution: ClassVar[Execution] = "slice"
    domain: ClassVar[Literal["image", "sinogram"]] = "image"
    levels: ClassVar[int] = 5

    @abc.abstractmethod
    def apply(
        self,
        image: np.ndarray,
        level: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """Return a distorted copy of ``image`` (2-D or a batch); never modifies the input."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        data = inputs["image"]
        if isinstance(data, Sinogram):
            return self.apply(data, None, rng)  # type: ignore[arg-type]
        stack, was_2d = as_image_stack(data)
        seeds = self.slice_seeds(rng, len(stack))
        out = map_slices(
            lambda item: self.apply_slice(seeds, item), list(enumerate(stack)), mapper
        )
        result = np.stack(out)
        return result[0] if was_2d else result

    def run_slice(self, inputs: Mapping[str, Any], seed: int) -> Any:
        if self.domain == "sinogram" or isinstance(inputs["image"], Sinogram):
            return super().run_slice(inputs, seed)
        return self.apply(inputs["image"], None, np.random.default_rng(seed))

    def apply_slice(self, seeds: np.ndarray, item: tuple[int, np.ndarray]) -> np.ndarray:
        """Apply to slice ``index`` of ``item = (index, image)`` with that slice's seed."""
        index, image = item
        return self.apply(image, None, np.random.default_rng(int(seeds[index])))


class Filter(Component):
    """Improves an image (denoise, sharpen, remove rings): ``filter(image) -> image``.

    The counterpart of :class:`Distortion`: deterministic, never modifies its input,
    keeps the shape. ``domain`` says whether it acts on reconstructed images (a 2-D
    image; a volume is filtered slice by slice) or on sinograms (rows are angles).
    """

    kind: ClassVar[str] = "filter"
    execution: ClassVar[Execution] = "slice"
    domain: ClassVar[Literal["image", "sinogram"]] = "image"

    @abc.abstractmethod
    def filter(self, image: np.ndarray) -> np.ndarray:
        """Return a filtered copy of the 2-D ``image`` (a sinogram's data for
        ``domain = "sinogram"``)."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        data = inputs["image"]
        if isinstance(data, Sinogram):
            return data.with_data(self.filter(data.data))
        stack, was_2d = as_image_stack(data)
        out = np.stack(map_slices(self.filter, list(stack), mapper))
        return out[0] if was_2d else out


class Projector(Component):
    """Turns an image into a sinogram: ``project(image) -> Sinogram`` (forward
    projection, acquisition simulation); the inverse direction of a
    :class:`Reconstructor`."""

    kind: ClassVar[str] = "projector"
    execution: ClassVar[Execution] = "whole"  # one image in, one sinogram out

    @abc.abstractmethod
    def project(self, image: np.ndarray) -> Sinogram:
        """Return the sinogram of the 2-D ``image``."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        image = check_image(inputs["image"], ndim=(2,))
        return self.project(image)


class Observer(Component):
    """A full-reference image-quality measure: ``compare(reference, distorted) -> float``.

    Declares ``higher_is_better`` and its ``value_range``; ``data_range`` is explicit in
    its Params. Batches ``(N, H, W)`` give one value per slice.
    """

    kind: ClassVar[str] = "observer"
    execution: ClassVar[Execution] = "slice"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    input_names: ClassVar[tuple[str, ...]] = ("reference", "distorted")

    @abc.abstractmethod
    def compare(self, reference: np.ndarray, distorted: np.ndarray) -> float | np.ndarray:
        """Return the quality of ``distorted`` against ``reference``."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        ref = check_image(inputs["reference"], name="reference")
        dist = check_image(inputs["distorted"], name="distorted")
        if ref.shape != dist.shape:
            if ref.ndim == 2 and dist.ndim == 3 and dist.shape[1:] == ref.shape:
                ref = np.broadcast_to(ref, dist.shape)
            else:
                raise InvalidInputError(
                    f"reference shape {ref.shape} and distorted shape {dist.shape} differ"
                )
        if ref.ndim == 2:
            return np.float64(self.compare(ref, dist))
        pairs = list(np.stack([ref, dist], axis=1))
        return np.asarray(
            map_slices(lambda p: float(self.compare(p[0], p[1])), pairs, mapper), dtype=np.float64
        )


class Trainable(abc.ABC):
    """The training contract of a learned component (implemented once, for Keras, by
    :class:`tomokit.learn.KerasComponent`).

    ``TrainParams`` is the recipe model (:class:`tomokit.learn.TrainParams` or a
    subclass); ``fit`` trains and returns a :class:`tomokit.learn.TrainReport`; ``save``
    writes a ``.keras`` file with its JSON sidecar; the class method ``from_file`` makes
    a component from a saved model, its params updated by ``overrides`` (named so as not
    to clash with :func:`tomokit.load`).
    """

    TrainParams: ClassVar[type[BaseModel]]

    @abc.abstractmethod
    def fit(
        self,
        data: Any,
        *,
        validation: Any = None,
        train: Any = None,
        callbacks: Sequence[Any] = (),
        checkpoint_dir: Any = None,
    ) -> Any:
        """Train on ``data`` (validated against ``validation``, or a by-source split of
        ``data``) with the ``train`` recipe; return a :class:`tomokit.learn.TrainReport`."""

    @abc.abstractmethod
    def save(self, path: Any) -> Any:
        """Write the trained model (``.keras`` plus a JSON sidecar) to ``path``; return a
        :class:`tomokit.learn.ModelFile`."""

    @classmethod
    @abc.abstractmethod
    def from_file(cls, path: Any, **overrides: Any) -> Any:
        """A component using the model saved at ``path`` (or a shipped model's name) with
        the params it was saved with, updated by ``overrides``."""


class Scorer(Component):
    """A no-reference quality scorer: ``score(images) -> scores``, one per image."""

    kind: ClassVar[str] = "scorer"
    execution: ClassVar[Execution] = "batch"
    higher_is_better: ClassVar[bool] = True
    input_names: ClassVar[tuple[str, ...]] = ("images",)

    @abc.abstractmethod
    def score(self, images: np.ndarray) -> np.ndarray:
        """Return one float score per image of a ``(N, H, W)`` batch (or a 2-D image)."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        stack, _ = as_image_stack(inputs["images"], name="images")
        return np.asarray(self.score(stack), dtype=np.float64)


class Segmenter(Component):
    """Per-pixel class probabilities: ``predict_proba(images) -> probs``.

    ``probs`` has shape ``(N, H, W, C)`` (``C >= 2``; a one-channel sigmoid output is
    expanded to background/foreground); :meth:`segment` takes the argmax. As a step it
    has three outputs: ``labels`` (uint8), ``probabilities`` and ``uncertainty`` (the
    per-pixel entropy normalised by ``log C``, 0 = certain, 1 = uniform).
    """

    kind: ClassVar[str] = "segmenter"
    execution: ClassVar[Execution] = "batch"
    input_names: ClassVar[tuple[str, ...]] = ("images",)
    outputs: ClassVar[tuple[str, ...]] = ("labels", "probabilities", "uncertainty")

    @abc.abstractmethod
    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Return probabilities ``(N, H, W, C)`` for a batch ``(N, H, W)``."""

    def probabilities(self, images: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(probs (N, H, W, C) float32 with C >= 2, was_2d)`` for an image or a batch."""
        stack, was_2d = as_image_stack(images, name="images")
        probs = np.asarray(self.predict_proba(stack), dtype=np.float32)
        if probs.ndim != 4 or probs.shape[:3] != stack.shape:
            raise InvalidInputError(
                f"{type(self).__name__}.predict_proba returned shape {probs.shape} for "
                f"images of shape {stack.shape}; expected (N, H, W, C)"
            )
        if probs.shape[-1] == 1:
            probs = np.concatenate([1.0 - probs, probs], axis=-1)
        return probs, was_2d

    def segment(self, images: np.ndarray) -> np.ndarray:
        """Return integer labels ``(N, H, W)`` (or ``(H, W)`` for a 2-D image)."""
        probs, was_2d = self.probabilities(images)
        labels = np.argmax(probs, axis=-1).astype(np.uint8)
        return labels[0] if was_2d else labels

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        probs, was_2d = self.probabilities(inputs["images"])
        out = {
            "labels": np.argmax(probs, axis=-1).astype(np.uint8),
            "probabilities": probs,
            "uncertainty": normalized_entropy(probs),
        }
        return {k: v[0] for k, v in out.items()} if was_2d else out


def normalized_entropy(probs: np.ndarray) -> np.ndarray:
    """Per-pixel entropy ``-sum_c p_c log p_c / log C`` of probabilities ``(..., C)``."""
    p = np.clip(np.asarray(probs, dtype=np.float32), 1e-12, 1.0)
    n_classes = p.shape[-1]
    if n_classes < 2:
        return np.zeros(p.shape[:-1], dtype=np.float32)
    h = -np.sum(p * np.log(p), axis=-1) / np.float32(np.log(n_classes))
    return np.clip(h, 0.0, 1.0).astype(np.float32)


def component_outputs(cls: type[Component] | Component) -> tuple[str, ...]:
    """The named outputs of a component class (``()`` for a single value)."""
    return tuple(cls.outputs)


@dataclass(frozen=True)
class Sinogram:
    """A 2-D parallel-beam sinogram: ``data`` is ``(angles, detector pixels)``.

    ``angles`` are in radians; ``detector_spacing`` is the pixel pitch in image pixels;
    ``center_offset`` shifts the rotation centre in detector pixels.
    """

    data: np.ndarray
    angles: np.ndarray
    detector_spacing: float = 1.0
    center_offset: float = 0.0
    geometry: Literal["parallel", "fanflat"] = "parallel"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = check_image(self.data, name="sinogram data", ndim=(2,))
        angles = np.asarray(self.angles, dtype=np.float64)
        if angles.ndim != 1:
            raise InvalidInputError(f"sinogram angles: expected 1-D, got shape {angles.shape}")
        if len(angles) != data.shape[0]:
            raise InvalidInputError(
                f"sinogram has {data.shape[0]} projection rows but {len(angles)} angles; "
                "pass one angle per row of data"
            )
        if not np.all(np.isfinite(angles)):
            raise InvalidInputError("sinogram angles contain non-finite values")
        if not self.detector_spacing > 0:
            raise InvalidInputError(
                f"detector_spacing must be > 0, got {self.detector_spacing}"
            )
        object.__setattr__(self, "data", data.astype(np.float32, copy=False))
        object.__setattr__(self, "angles", angles)

    @property
    def n_angles(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_detectors(self) -> int:
        return int(self.data.shape[1])

    def with_data(self, data: np.ndarray, angles: np.ndarray | None = None) -> Sinogram:
        """A copy with new data (and angles), geometry kept."""
        return Sinogram(
            data=data,
            angles=self.angles if angles is None else angles,
            detector_spacing=self.detector_spacing,
            center_offset=self.center_offset,
            geometry=self.geometry,
            extra=dict(self.extra),
        )


class Reconstructor(Component):
    """Turns a :class:`Sinogram` into an image: ``reconstruct(sinogram) -> image``."""

    kind: ClassVar[str] = "reconstructor"
    execution: ClassVar[Execution] = "slice"
    input_names: ClassVar[tuple[str, ...]] = ("sinogram",)

    @abc.abstractmethod
    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        """Return the reconstructed ``(N, N)`` image, N the detector count by default."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        sino = inputs["sinogram"]
        if isinstance(sino, Sinogram):
            return self.reconstruct(sino)
        raise InvalidInputError(
            "reconstructor input must be a sinogram (an earlier step that produces one, "
            f"or an input with angles); got {type(sino).__name__}"
        )


class SuperResolver(Component):
    """Upscales an image, optionally guided: ``upscale(low, guide=None) -> image``.

    ``guide`` is the high-resolution second input (for example an absorption image).
    """

    kind: ClassVar[str] = "super_resolver"
    execution: ClassVar[Execution] = "batch"
    input_names: ClassVar[tuple[str, ...]] = ("low", "guide")
    optional_inputs: ClassVar[tuple[str, ...]] = ("guide",)

    @abc.abstractmethod
    def upscale(self, low: np.ndarray, guide: np.ndarray | None = None) -> np.ndarray:
        """Return the high-resolution image."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        return self.upscale(inputs["low"], inputs.get("guide"))


@dataclass(frozen=True)
class PhantomSample:
    """A generated image with exact ground truth.

    ``image`` is in absorption units (float32), ``labels`` the per-pixel phase index
    (uint8), ``phases`` the phase names in label order; ``maps`` holds extra per-pixel
    ground truth (for example per-phase concentration maps).
    """

    image: np.ndarray
    labels: np.ndarray
    phases: tuple[str, ...]
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


#: Most pixels (count x size^2) one phantom step makes: 5 GiB of images and labels.
MAX_PHANTOM_PIXELS = 2**30


class PhantomParams(Params):
    """Base of phantom parameters: how many images of which size a pipeline step makes."""

    size: int = Field(128, ge=16, le=16384, description="Image side length in pixels.")
    count: int = Field(1, ge=1, le=100_000,
                       description="Number of images a pipeline step generates.")

    @model_validator(mode="after")
    def _fits(self) -> Any:
        # image + labels for every slice are held at once: bound count x size^2
        pixels = self.count * self.size * self.size
        if pixels > MAX_PHANTOM_PIXELS:
            raise ValueError(
                f"count x size^2 = {pixels:.3g} pixels (about "
                f"{pixels * 5 / 2**30:.1f} GiB as float32 images and uint8 labels) exceeds "
                f"{MAX_PHANTOM_PIXELS:.3g}; generate fewer or smaller images per step"
            )
        return self


class Phantom(Component):
    """Generates synthetic images with labels: ``generate(shape, rng) -> PhantomSample``.

    As a pipeline step it returns ``{"image": ..., "labels": ...}``; a reference to the
    step id alone means its ``image``.
    """

    kind: ClassVar[str] = "phantom"
    outputs: ClassVar[tuple[str, ...]] = ("image", "labels")
    input_names: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[_ParamsBase]] = PhantomParams

    @classmethod
    def memory_estimate(cls, params: _ParamsBase) -> int | None:
        if not isinstance(params, PhantomParams):
            return None
        side = params.size * params.size
        # float32 images and uint8 labels of every slice, and one slice's float64 work
        return params.count * side * 5 + 4 * side * 8

    @abc.abstractmethod
    def generate(
        self, shape: tuple[int, int], rng: np.random.Generator | int | None = None
    ) -> PhantomSample:
        """Return one sample of ``shape``; deterministic for a seed."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        params = self.params
        assert isinstance(params, PhantomParams)
        samples = [self.generate((params.size, params.size), rng) for _ in range(params.count)]
        images = np.stack([s.image for s in samples]).astype(np.float32)
        labels = np.stack([s.labels for s in samples]).astype(np.uint8)
        if params.count == 1:
            return {"image": images[0], "labels": labels[0]}
        return {"image": images, "labels": labels}


class Task(Component):
    """A research-workflow step that is not an image operation: generate a labelled
    dataset, train a model, evaluate scores against labels, sweep candidates.

    ``input_names`` declares the named inputs; :meth:`run` returns a dict of named outputs
    (arrays, numbers or strings) that later steps reference as ``step_id.key``.
    """

    kind: ClassVar[str] = "task"
    input_names: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        """Do the work on ``inputs`` and return named outputs."""

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        return self.run(inputs, rng=rng)
