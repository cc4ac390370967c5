"""The ``dlinknet`` segmenter: D-LinkNet34 trained on labelled phantoms, tiled inference.

Why this shape: the network (:mod:`tomokit_seg.network`) is fully convolutional, so a
model trained on 256 x 256 crops runs on 2048 x 2048 slices through the core's blended
tiles (:func:`tomokit.learn.predict_tiled`) with bounded memory. Every slice is
normalised by its own robust percentiles (:func:`tomokit_seg.data.normalize_image`) in
training and inference alike. Training (:class:`DLinkNetTrainParams`) reads tomokit-
phantom datasets (``images`` + ``labels``), distorts each image by a random TIQA
distortion (noise, blur or rings, levels 0..5; needs tomokit-iqa), then takes random
augmented crops: flips, 90-degree rotations, small intensity shifts.

Recipe facts (the reference code): Adam at 2e-4, learning rate divided by 5 on a
plateau, BCE + Dice loss (batch Dice) for two phases and its multi-class form above.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from tomokit import InvalidInputError, Segmenter
from tomokit.components import Execution
from tomokit.learn import KerasComponent, LearnedParams, TrainData
from tomokit.learn import TrainParams as _TrainParams
from tomokit_seg.data import augment, normalize_image, random_crops, targets

__all__ = [
    "QUICK_ACQUISITION",
    "QUICK_PHANTOM",
    "QUICK_RECIPE",
    "DLinkNet",
    "DLinkNetParams",
    "DLinkNetTrainParams",
    "distort_for_training",
]

#: The shipped model's name (``tomokit models list``).
SHIPPED_MODEL = "tomokit-seg/dlinknet"
MIN_SIDE = 32

#: The quick (CI) recipe: a narrow, shallow network on 128 px two-phase electrodes
#: (``QUICK_PHANTOM``), trained on noisy crops; tests and the recipe script share it.
QUICK_RECIPE: dict[str, Any] = {
    "epochs": 20, "batch_size": 8, "learning_rate": 5e-3, "schedule": "step",
    "lr_steps": (14,), "lr_factor": 0.2, "crop": 64, "crops_per_image": 4, "width": 0.25,
    "blocks": (1, 1, 1, 1), "distortions": ("noise",), "min_level": 2, "max_level": 4,
    "validation_levels": (3,), "seed": 0,
}
QUICK_PHANTOM: dict[str, Any] = {"cbd_fraction": 0.0, "radius_mean": 10.0}
#: A fast, low-dose scan (tomokit-phantom acquisition): 2000 photons per pixel and angle.
#: At the default 1e4 the noise-level-3 slices are boundary-limited, where a network this
#: small only ties Otsu (its finest skip is at 1/4 resolution); see docs/segmentation.md.
QUICK_ACQUISITION: dict[str, Any] = {"i0": 2000.0}


class DLinkNetParams(LearnedParams):
    """How a trained D-LinkNet runs."""

    classes: int | None = Field(
        None, ge=2,
        description="Phases the caller expects; an error if the model was trained for "
        "another number (none: the model's).",
    )
    tile: int = Field(512, ge=32, multiple_of=32, description="Tile side for large slices (px).")
    overlap: int = Field(64, ge=0, multiple_of=32, description="Overlap of tiles (px).")

    @model_validator(mode="after")
    def _tiles(self) -> DLinkNetParams:
        if self.overlap >= self.tile:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than tile ({self.tile})")
        return self


class DLinkNetTrainParams(_TrainParams):
    """The D-LinkNet recipe (defaults: the reference code's, at 256 x 256 crops)."""

    epochs: int = Field(100, ge=1, le=100_000, description="Passes over the training images.")
    batch_size: int = Field(8, ge=1, description="Crops per optimisation step.")
    learning_rate: float = Field(2e-4, gt=0, description="Adam's initial learning rate.")
    schedule: Literal["constant", "step", "plateau"] = Field(
        "plateau", description="Learning-rate schedule (the reference divides by 5 on a plateau).")
    lr_factor: float = Field(0.2, gt=0, lt=1, description="Factor of each learning-rate drop.")
    augment: bool = Field(True, description="Flips, 90-degree rotations, intensity shifts.")
    classes: int | None = Field(
        None, ge=2, le=255,
        description="Phases of the network; none: from the dataset (its phases attribute, "
        "else the largest label + 1).",
    )
    width: float = Field(1.0, gt=0, le=4, description="Channel multiplier (1: DinkNet34).")
    blocks: tuple[int, int, int, int] = Field(
        (3, 4, 6, 3), description="Basic blocks per encoder stage (ResNet34: 3, 4, 6, 3).")
    crop: int = Field(256, ge=32, multiple_of=32, description="Training crop side (px).")
    crops_per_image: int = Field(2, ge=1, description="Random crops per image and epoch.")
    image_key: str = Field("images", description="Dataset of images.")
    label_key: str = Field("labels", description="Dataset of labels.")
    distortions: tuple[str, ...] = Field(
        ("noise", "blur", "ring"),
        description="Distortions drawn per training image (tomokit-iqa names); () for none.")
    min_level: int = Field(0, ge=0, le=5, description="Lowest distortion level drawn (0: none).")
    max_level: int = Field(5, ge=0, le=5, description="Levels min_level..max_level are drawn uniformly.")
    intensity_shift: float = Field(0.05, ge=0, le=0.5, description="Augmentation: max offset.")
    intensity_scale: float = Field(0.05, ge=0, le=0.5, description="Augmentation: max gain change.")
    validation_levels: tuple[int, ...] = Field(
        (0, 1, 2, 3, 4, 5),
        description="Levels at which validation F1 is reported per distortion (sidecar).")

    @model_validator(mode="after")
    def _levels(self) -> DLinkNetTrainParams:
        if self.min_level > self.max_level:
            raise ValueError(f"min_level ({self.min_level}) exceeds max_level ({self.max_level})")
        return self


def distort_for_training(
    image: np.ndarray, distortion: str | None, level: int, rng: np.random.Generator
) -> np.ndarray:
    """Normalise a slice, apply a TIQA distortion at ``level`` on [0, 1], renormalise.

    The second normalisation is what inference does to a distorted slice, so the network
    sees the same grey-value scale in training and in use."""
    from tomokit import load

    x = np.clip(normalize_image(image), 0.0, 1.0)
    if distortion is not None and level > 0:
        comp: Any = load("distortion", distortion, data_range=1.0)
        x = comp.apply(x, level, rng)
    return normalize_image(x)


def _crop32(arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape[-2:]
    return arr[..., : h - h % 32, : w - w % 32]


class DLinkNet(KerasComponent, Segmenter):
    """D-LinkNet34 (Zhou et al. 2018) phase segmentation with per-pixel probabilities."""

    summary: ClassVar[str] = "D-LinkNet34 segmentation (trained from scratch on phantoms)"
    Params: ClassVar[type[LearnedParams]] = DLinkNetParams  # type: ignore[assignment]
    TrainParams: ClassVar[type[_TrainParams]] = DLinkNetTrainParams
    default_model: ClassVar[str | None] = SHIPPED_MODEL
    execution: ClassVar[Execution] = "batch"
    batch_size: ClassVar[int | None] = 4

    # ---------------------------------------------------------------- inference
    @property
    def model_path(self) -> Any:
        if getattr(self.params, "model", None) is None:
            from tomokit import get_registry

            if SHIPPED_MODEL not in {m.name for m in get_registry().models()}:
                raise InvalidInputError(
                    "segmenter 'dlinknet': the shipped model is not installed (train it with "
                    "`python benchmarks/segmentation_train.py`, or pass model=PATH.keras)"
                )
        return super().model_path

    @property
    def n_classes(self) -> int:
        """Phases of the model (a one-channel sigmoid output is two phases)."""
        import tomokit_seg.network  # noqa: F401  (registers the losses for loading)

        channels = int(self.network.output_shape[-1])
        n = 2 if channels == 1 else channels
        expected = getattr(self.params, "classes", None)
        if expected is not None and expected != n:
            raise InvalidInputError(
                f"classes: the model was trained for {n} phases, {expected} were asked for; "
                "use a model trained for that many phases"
            )
        return n

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        from tomokit.learn import predict_tiled

        stack = np.asarray(images, dtype=np.float32)
        if stack.ndim != 3:
            raise InvalidInputError(f"images: expected (N, H, W), got shape {stack.shape}")
        if min(stack.shape[1:]) < MIN_SIDE:
            raise InvalidInputError(
                f"images: D-LinkNet needs slices of at least {MIN_SIDE} x {MIN_SIDE} px, "
                f"got {stack.shape[1]} x {stack.shape[2]}"
            )
        n = self.n_classes
        p: Any = self.params
        tile, overlap = int(p.tile), int(p.overlap)

        def run(tiles: np.ndarray) -> np.ndarray:
            return self.predict(tiles[..., None])

        out = []
        for sl in normalize_image(stack):
            h, w = sl.shape
            if h % 32 == 0 and w % 32 == 0 and max(h, w) <= tile:
                prob = run(sl[None])[0]
            else:
                prob = predict_tiled(run, sl, tile=tile, overlap=overlap, multiple=32,
                                     batch_size=int(p.batch_size or type(self).batch_size or 4))
            if prob.ndim == 2:
                prob = prob[..., None]
            out.append(prob)
        probs = np.stack(out).astype(np.float32)
        if probs.shape[-1] == 1:
            probs = np.concatenate([1.0 - probs, probs], axis=-1)
        if probs.shape[-1] != n:
            raise InvalidInputError(f"model gave {probs.shape[-1]} channels for {n} phases")
        return probs

    # ----------------------------------------------------------------- training
    def _classes(self, train: DLinkNetTrainParams, data: TrainData) -> int:
        if train.classes is not None:
            return int(train.classes)
        phases = data.attrs.get("phases")
        if phases:
            return max(2, len(json.loads(phases)))
        top = 0
        for batch in data.batches(64, names=[train.label_key], shuffle=False):
            top = max(top, int(np.max(batch[train.label_key])))
        return max(2, top + 1)

    def build_network(self, train: _TrainParams, data: TrainData) -> Any:
        from tomokit_seg.network import build_dlinknet34

        assert isinstance(train, DLinkNetTrainParams)
        self._check_data(train, data)
        classes = self._classes(train, data)
        self.__dict__["_train_classes"] = classes
        return build_dlinknet34(classes, width=train.width, blocks=train.blocks)

    def loss(self, train: _TrainParams) -> Any:
        from tomokit_seg.network import segmentation_loss

        return segmentation_loss(int(self.__dict__.get("_train_classes", 2)))

    def _check_data(self, train: DLinkNetTrainParams, data: TrainData) -> None:
        for key in (train.image_key, train.label_key):
            if key not in data.names:
                raise InvalidInputError(
                    f"data: no {key!r} array (it has {data.names}); a tomokit-phantom dataset "
                    "has images and labels"
                )
        shape = data.shape(train.image_key)
        if data.shape(train.label_key) != shape or len(shape) != 2:
            raise InvalidInputError(
                f"data: images {shape} and labels {data.shape(train.label_key)} must be equal 2-D"
            )
        if min(shape) < train.crop:
            raise InvalidInputError(f"crop: {train.crop} px exceeds the images' size {shape}")

    def _prepared(
        self, data: TrainData, rows: np.ndarray, train: DLinkNetTrainParams,
        rng: np.random.Generator, *, distortion: str | Literal["random"] | None = "random",
        level: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        images = data.read(train.image_key, rows).astype(np.float32)
        labels = data.read(train.label_key, rows).astype(np.uint8)
        out = np.empty_like(images)
        for i, im in enumerate(images):
            if distortion == "random":
                name = (train.distortions[int(rng.integers(len(train.distortions)))]
                        if train.distortions else None)
                lev = int(rng.integers(train.min_level, train.max_level + 1))
            else:
                name, lev = distortion, int(level or 0)
            out[i] = distort_for_training(im, name, lev, rng)
        return out, labels

    def batches(
        self, data: TrainData, train: _TrainParams, *, rng: np.random.Generator, training: bool
    ) -> Iterator[tuple[Any, Any]]:
        assert isinstance(train, DLinkNetTrainParams)
        classes = int(self.__dict__.get("_train_classes") or self._classes(train, data))
        n = len(data)
        if training:
            per = train.crops_per_image
            rows_per_batch = max(1, math.ceil(train.batch_size / per))
            order = rng.permutation(n)
            for start in range(0, n, rows_per_batch):
                rows = np.sort(order[start:start + rows_per_batch])
                images, labels = self._prepared(data, rows, train, rng)
                x, y = random_crops(images, labels, train.crop, len(rows) * per, rng)
                if train.augment:
                    x, y = augment(x, y, rng, shift=train.intensity_shift,
                                   scale=train.intensity_scale)
                yield x[..., None], targets(y, classes)
        else:  # fixed: the validation images at a mid level of the drawn distortions
            for start in range(0, n, train.batch_size):
                rows = np.arange(start, min(n, start + train.batch_size))
                images, labels = self._prepared(data, rows, train, rng)
                yield _crop32(images)[..., None], targets(_crop32(labels), classes)

    def validation_metrics(
        self, network: Any, data: TrainData, train: _TrainParams
    ) -> dict[str, float] | None:
        """Mean F1 on the validation images per distortion and level (the sidecar's table)."""
        from tomokit import metrics

        assert isinstance(train, DLinkNetTrainParams)
        classes = int(self.__dict__.get("_train_classes", 2))
        figures: dict[str, float] = {}
        cases: list[tuple[str | None, int]] = [(None, 0)]
        cases += [(d, lev) for d in train.distortions for lev in train.validation_levels if lev > 0]
        rows = np.arange(len(data))
        for name, lev in cases:
            rng = np.random.default_rng([train.seed, lev, len(figures)])
            images, labels = self._prepared(data, rows, train, rng, distortion=name, level=lev)
            x, t = _crop32(images), _crop32(labels)
            preds = []
            for s in range(0, len(x), train.batch_size):
                p = np.asarray(network.predict_on_batch(x[s:s + train.batch_size, ..., None]))
                preds.append((p[..., 0] > 0.5) if p.shape[-1] == 1 else p.argmax(-1))
            pred = np.concatenate(preds).astype(np.uint8)
            key = "f1/clean" if name is None else f"f1/{name}/{lev}"
            figures[key] = metrics.mean_f1(pred, t, n_classes=classes)
        figures["f1"] = float(np.mean(list(figures.values())))
        return figures
