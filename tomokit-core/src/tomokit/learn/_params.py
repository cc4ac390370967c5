"""Parameters of learned components and of their training, and what training reports.

Why separate models: a component's ``Params`` say how it *runs* (which model file, which
device, what batch); ``TrainParams`` say how it *learns* (epochs, learning rate, seed).
Training settings never change how a trained model predicts, so they are not part of the
component's frozen params and they travel with the model in its sidecar instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tomokit.components import Params

__all__ = ["Device", "LearnedParams", "TrainParams", "TrainReport"]

Device = Literal["auto", "cpu", "gpu"]


class LearnedParams(Params):
    """Base of a learned component's ``Params``: which model, where it runs, what batch."""

    model: str | None = Field(
        None,
        description="A .keras model file (with its .json sidecar) or the name of a model an "
        "installed package ships (tomokit models list); none: the component's default model.",
    )
    device: Device = Field(
        "auto", description="auto (GPU if TensorFlow sees one, else CPU with a warning), cpu or gpu."
    )
    batch_size: int | None = Field(
        None, ge=1, description="Slices per model call; none: chosen from the slice size and device."
    )
    mixed_precision: bool = Field(
        False, description="Compute in float16 on a GPU (ignored on CPU)."
    )

    @field_validator("model")
    @classmethod
    def _model_file_usable(cls, value: str | None) -> str | None:
        """A named model file is checked when params are validated (sidecar, sha256, size,
        no Lambda layers), so a pipeline with a bad model fails before anything runs."""
        if value is None:
            return value
        from tomokit.learn._files import check_model_file, find_model, looks_like_path

        if looks_like_path(value):
            check_model_file(find_model(value))
        else:
            find_model(value)  # a shipped name must exist; its file is checked when loaded
        return value


class TrainParams(Params):
    """How a learned component is trained: a recipe, stored with the trained model.

    Components subclass it for recipe-specific settings (for example a loss weight) and
    name the subclass in their ``TrainParams`` class attribute.
    """

    epochs: int = Field(10, ge=1, le=100_000, description="Passes over the training data.")
    batch_size: int = Field(16, ge=1, description="Samples per optimisation step.")
    learning_rate: float = Field(1e-3, gt=0, description="Initial learning rate.")
    optimizer: Literal["adam", "sgd", "rmsprop"] = Field("adam", description="Optimiser.")
    schedule: Literal["constant", "step", "plateau"] = Field(
        "constant",
        description="constant; step (multiply by lr_factor at each epoch in lr_steps); "
        "plateau (multiply by lr_factor when the monitored value has not improved for "
        "patience epochs).",
    )
    lr_steps: tuple[int, ...] = Field((), description="Epochs (0-based) where a step schedule drops.")
    lr_factor: float = Field(0.1, gt=0, lt=1, description="Factor of each learning-rate drop.")
    patience: int = Field(3, ge=1, description="Epochs without improvement before a plateau drop.")
    min_learning_rate: float = Field(0.0, ge=0, description="Floor of the learning rate.")
    early_stopping: int | None = Field(
        None, ge=1, description="Stop after this many epochs without improvement (none: never)."
    )
    monitor: str = Field(
        "val_loss",
        description="History key the schedule and early stopping watch (val_loss without "
        "validation data falls back to loss).",
    )
    seed: int = Field(0, ge=0, description="Seed of initial weights, shuffling and augmentation.")
    augment: bool = Field(False, description="Apply the component's data augmentation.")
    validation_fraction: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Share of sources (not rows) held out for validation when no validation "
        "data are given; crops of one source never land on both sides.",
    )
    steps_per_epoch: int | None = Field(
        None, ge=1, description="Batches per epoch (none: one pass over the training rows)."
    )
    device: Literal["auto", "cpu", "gpu"] = Field("auto", description="Where to train.")
    mixed_precision: bool = Field(False, description="float16 compute on a GPU.")
    distribute: bool = Field(
        False, description="Train on every visible GPU at once (tf.distribute.MirroredStrategy)."
    )

    @model_validator(mode="after")
    def _steps_sorted(self) -> TrainParams:
        if list(self.lr_steps) != sorted(set(self.lr_steps)):
            raise ValueError("lr_steps must be increasing epochs without repeats")
        return self


@dataclass
class TrainReport:
    """What :meth:`KerasComponent.fit` did: per-epoch history and final validation figures."""

    epochs_run: int
    history: dict[str, list[float]]
    validation: dict[str, float]
    seconds: float
    device: str
    resumed_from: int | None = None
    n_train: int = 0
    n_validation: int = 0
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (what the model sidecar stores)."""
        return asdict(self)
