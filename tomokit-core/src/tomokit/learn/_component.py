"""``KerasComponent``: everything a learned component needs except its network and recipe.

A method writes ``build_network``, ``batches`` (numpy in, the core feeds Keras) and maybe
``loss``/``metrics``; it inherits training (:func:`~tomokit.learn._training.run_training`),
saving with a sidecar, loading with overrides, a lazily loaded and checked network that
is left out when the component is pickled for a Dask worker, and batched prediction on
the resolved device.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np

from tomokit.components import Trainable
from tomokit.errors import InvalidInputError
from tomokit.learn._params import TrainParams as _Recipe
from tomokit.learn._params import TrainReport

if TYPE_CHECKING:
    from tomokit.learn._data import TrainData
    from tomokit.learn._files import ModelFile
    from tomokit.learn._training import TrainCallback

__all__ = ["KerasComponent"]

_LOAD_LOCK = threading.Lock()
K = TypeVar("K", bound="KerasComponent")
# Networks read from files, shared by every component that names the same unchanged file
# on the same device: a sweep of 14 candidates scores with one loaded (and traced) model,
# not 14. Each entry carries the lock its predictions hold. Inference only: training
# builds its own network.
_LOADED: dict[tuple[Any, ...], tuple[Any, threading.Lock, Any]] = {}
_LOADED_MAX = 8


class KerasComponent(Trainable):
    """Mixin for a Keras component: ``class MyDenoiser(KerasComponent, tomokit.Filter)``.

    Its ``Params`` should subclass :class:`~tomokit.learn.LearnedParams` (``model``,
    ``device``, ``batch_size``, ``mixed_precision``).
    """

    TrainParams: ClassVar[type[_Recipe]] = _Recipe
    # provided by the Component class this is mixed into
    kind: ClassVar[str]
    name: ClassVar[str]
    Params: ClassVar[type[Any]]
    batch_size: ClassVar[int | None]
    params: Any
    #: A shipped model name (or path) used when ``params.model`` is none.
    default_model: ClassVar[str | None] = None
    device_support: ClassVar[Literal["cpu", "gpu", "any"]] = "any"

    # ------------------------------------------------------------ what a method writes
    def build_network(self, train: _Recipe, data: TrainData) -> Any:
        """Return a new (uncompiled) ``keras.Model`` for training on ``data``."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_network")

    def loss(self, train: _Recipe) -> Any:
        """The Keras loss (a name or a registered loss object)."""
        return "mse"

    def metrics(self, train: _Recipe) -> Sequence[Any]:
        """Extra Keras metrics reported per epoch (``val_`` prefixed on validation)."""
        return ()

    def batches(
        self, data: TrainData, train: _Recipe, *, rng: np.random.Generator, training: bool
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(x, y)`` numpy batches from ``data`` (shuffled/augmented with ``rng``
        when ``training``; in a fixed order otherwise)."""
        raise NotImplementedError(f"{type(self).__name__} must implement batches")

    def validation_metrics(
        self, network: Any, data: TrainData, train: _Recipe
    ) -> dict[str, float] | None:
        """Figures stored in the sidecar after training (none: Keras loss and metrics on
        the validation data)."""
        return None

    # ------------------------------------------------------------------ identity
    @classmethod
    def component_id(cls) -> tuple[str, str]:
        """``(kind, name)`` as the model sidecar records it."""
        return (str(getattr(cls, "kind", "")), str(getattr(cls, "name", "") or cls.__name__.lower()))

    @property
    def device(self) -> str:
        """The resolved device (``cpu``/``gpu``) of ``params.device``."""
        from tomokit.learn._devices import resolve_device

        return resolve_device(str(getattr(self.params, "device", "auto")))

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: TrainData | str | os.PathLike[str],
        *,
        validation: TrainData | str | os.PathLike[str] | None = None,
        train: _Recipe | dict[str, Any] | None = None,
        callbacks: Sequence[TrainCallback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> TrainReport:
        """Train on ``data`` (a :class:`TrainData` or an HDF5 dataset path).

        ``train`` is the recipe (``TrainParams`` or a dict validated by this class's
        ``TrainParams``); ``validation`` defaults to a by-source split of ``data``. With
        ``checkpoint_dir`` every epoch is checkpointed there and a later call with the
        same recipe and data resumes from the last one. Afterwards :meth:`predict` uses
        the trained network and :meth:`save` writes it.
        """

        from tomokit.learn._data import TrainData
        from tomokit.learn._training import ProgressCallback, run_training

        cls = type(self)
        recipe = cls.recipe(train)
        td = data if isinstance(data, TrainData) else TrainData.from_hdf5(data)
        vd = None
        if validation is not None:
            vd = validation if isinstance(validation, TrainData) else TrainData.from_hdf5(validation)
        cbs = list(callbacks)
        if progress:
            cbs.insert(0, ProgressCallback(f"{cls.component_id()[1]}"))
        network, report, summary = run_training(
            self, td, recipe, validation=vd, callbacks=cbs, checkpoint_dir=checkpoint_dir
        )
        self.__dict__["_network"] = network
        self.__dict__["_trained"] = {
            "train": recipe.model_dump(mode="json"),
            "data": summary,
            "validation": report.validation,
            "report": report.to_dict(),
            "seed": recipe.seed,
            "seconds": report.seconds,
            "device": report.device,
        }
        return report

    # ------------------------------------------------------------- model files
    def _params_for_sidecar(self) -> dict[str, Any]:
        params = self.params.model_dump(mode="json")
        params.pop("model", None)
        return dict(params)

    def save(self, path: str | os.PathLike[str]) -> ModelFile:
        """Write the network to ``path`` (``.keras``) with its JSON sidecar."""
        from tomokit.learn._files import save_model

        record = self.__dict__.get("_trained") or _sidecar_record(self.__dict__.get("_info"))
        return save_model(
            self.network, path, component=type(self).component_id(),
            params=self._params_for_sidecar(), **record,
        )

    @classmethod
    def from_file(cls: type[K], path: str | os.PathLike[str], **overrides: Any) -> K:
        """A component using the model at ``path`` (or a shipped model's name), with the
        params it was trained with, updated by ``overrides``."""
        from tomokit.learn._files import check_model_file, find_model

        file = find_model(path)
        info = check_model_file(file, component=cls.component_id())
        params = dict(info.get("params") or {})
        known = set(cls.Params.model_fields)
        params = {k: v for k, v in params.items() if k in known}
        params.update(overrides)
        if "model" in known:
            params["model"] = str(file)
        obj = cls(params)  # type: ignore[call-arg]  # Component.__init__ via the mixin
        obj.__dict__["_info"] = info
        return obj

    @classmethod
    def recipe(cls, train: Any = None) -> _Recipe:
        """``train`` (None, a recipe, or a mapping) as this component's validated
        ``TrainParams``; one clear error naming the bad field."""
        from pydantic import ValidationError

        if train is None:
            return cls.TrainParams()
        if isinstance(train, _Recipe):
            return train
        try:
            return cls.TrainParams.model_validate(dict(train))
        except ValidationError as exc:
            from tomokit.api import format_validation_error

            raise InvalidInputError(
                f"train params: {format_validation_error(exc, 'train')}") from None

    @classmethod
    def referenced_files(cls, params: Any, base_dir: Path) -> list[Path]:
        """The model file (and its sidecar) these params use, hashed by content for
        ``--resume``: retraining a model in place reruns the steps that use it."""
        from tomokit.learn._files import find_model, sidecar_path

        ref = getattr(params, "model", None) or cls.default_model
        if ref is None:
            return []
        try:
            path = find_model(ref if Path(str(ref)).is_absolute() or not
                              (base_dir / str(ref)).is_file() else base_dir / str(ref))
        except InvalidInputError:
            return []
        return [p for p in (path, sidecar_path(path)) if p.is_file()]

    @property
    def model_path(self) -> Path | None:
        """The model file this component uses (none before training without one)."""
        from tomokit.learn._files import find_model

        ref = getattr(self.params, "model", None) or type(self).default_model
        return None if ref is None else find_model(ref)

    @property
    def network(self) -> Any:
        """The Keras model: trained by :meth:`fit`, or loaded on first use (checked,
        ``safe_mode=True``) from ``params.model`` or the class's ``default_model``."""
        net = self.__dict__.get("_network")
        if net is not None:
            return net
        with _LOAD_LOCK:
            net = self.__dict__.get("_network")
            if net is None:
                from tomokit.learn._devices import device_scope
                from tomokit.learn._files import check_model_file, load_model

                path = self.model_path
                if path is None:
                    kind, name = type(self).component_id()
                    raise InvalidInputError(
                        f"{kind} {name!r}: no model; pass model=PATH.keras or a shipped model "
                        "name (tomokit models list), or train one (fit / tomokit train)"
                    )
                stat = path.stat()
                key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(self.device),
                       type(self).component_id())
                entry = _LOADED.pop(key, None)
                if entry is None:
                    with device_scope(self.device):
                        net = load_model(path, component=type(self).component_id())
                    entry = (net, threading.Lock(), check_model_file(path))
                _LOADED[key] = entry  # most recently used last
                while len(_LOADED) > _LOADED_MAX:
                    _LOADED.pop(next(iter(_LOADED)))
                net, lock, info = entry
                self.__dict__.setdefault("_info", info)
                self.__dict__["_predict_lock"] = lock
                self.__dict__["_network"] = net
        return net

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the Keras model (a worker loads it lazily from the file)."""
        state = self.__dict__.copy()
        if state.get("_network") is not None and self.model_path_or_none() is None:
            raise InvalidInputError(
                f"{type(self).__name__}: a trained but unsaved network cannot be sent to a "
                "worker; save() it and pass model=PATH"
            )
        for key in ("_network", "_predict_lock"):
            state.pop(key, None)
        return state

    def model_path_or_none(self) -> Path | None:
        try:
            return self.model_path
        except InvalidInputError:
            return None

    # ---------------------------------------------------------------- inference
    def predict(self, x: np.ndarray, *, batch_size: int | None = None) -> np.ndarray:
        """Run the network over the batch ``x`` (first axis) in batches on the resolved
        device; returns float32 numpy."""
        from tomokit.learn._batching import choose_batch_size
        from tomokit.learn._devices import device_scope

        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim < 2 or len(arr) == 0:
            raise InvalidInputError(f"predict: expected a non-empty batch, got shape {arr.shape}")
        network = self.network
        device = self.device
        size = batch_size or getattr(self.params, "batch_size", None) or choose_batch_size(
            arr.shape[1:], preferred=type(self).batch_size, device=device)
        lock = self.__dict__.get("_predict_lock")
        if lock is None:
            with _LOAD_LOCK:
                lock = self.__dict__.setdefault("_predict_lock", threading.Lock())
        out = []
        with lock, device_scope(device):
            for start in range(0, len(arr), size):
                out.append(np.asarray(network.predict_on_batch(arr[start : start + size]),
                                      dtype=np.float32))
        return np.concatenate(out)


def _sidecar_record(info: dict[str, Any] | None) -> dict[str, Any]:
    info = info or {}
    return {k: info.get(k) for k in ("train", "data", "validation", "report", "seed",
                                      "seconds", "device")}
