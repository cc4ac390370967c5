"""TIQA (Zhang et al., npj Comput. Mater. 2022) and the RankIQA baseline (Liu et al.,
ICCV 2017): a CNN that scores a slice's quality without a reference, trained in two
stages on an auto-labelled IQA dataset (:mod:`tomokit_iqa.dataset`).

* **rank** (no labels): each batch holds one reference crop and its levels of each
  distortion, ``[ref, blur1..5, ref, noise1..5, ref, ring1..5]`` (18 images); the loss is
  the hinge over every within-type pair (i less distorted than j),
  ``mean(max(0, m - (y_i - y_j)))`` with margin ``m = 6`` over the 45 pairs (TIQA), or
  RankIQA's sum over pairs divided by the batch size with ``m = 10``;
* **regress**: MSE to the generated labels (1..5; human scores where the dataset holds
  them), starting from the ranked network.

Choices where the paper and its code (TomoIQA) differ, the paper wins: Adam, rank
learning rate 3e-5 (code: 5e-5 with steps at epochs 80 and 160), regression 5e-5
decayed by 0.5 every 4 epochs; EfficientNet-B0 from ``keras.applications`` with
``weights=None`` (no ImageNet download), global average pooling, then the code's head
``Dense + Dropout 0.5, Dense + Dropout 0.5, Dense(1)`` (ReLU; width 1280, 4096 for
VGG16). Inputs are grey crops in [0, 1]; ``channels=3`` replicates them (the paper's
RGB backbone), ``channels=1`` gives the stem one input channel. Higher is better.

Scoring any size: the mean (or median) over ``n_crops`` random crops (deterministic for
``seed``) or a grid; an image smaller than the crop is reflect-padded up to it (down to
``MIN_SIDE`` pixels; smaller is an error).

Network builders and the loss are plain functions; the components wire them into
:class:`tomokit.learn.KerasComponent` (training loop, checkpoints, model files, devices).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Scorer
from tomokit.components import SliceMapper, check_image, resolve_data_range
from tomokit.learn import KerasComponent, LearnedParams, TrainData, TrainReport
from tomokit.learn import TrainParams as BaseTrainParams

__all__ = [
    "MIN_SIDE",
    "TIQA",
    "RankIQA",
    "RankIQATrainParams",
    "TIQAParams",
    "TIQATrainParams",
    "build_network",
    "rank_hinge_loss",
    "rank_layout",
]

#: The smallest image side scored (smaller images are an error; up to the crop they are
#: reflect-padded).
MIN_SIDE = 16
Backbone = Literal["efficientnet_b0", "vgg16", "small"]
Norm = Literal["batch", "group", "none"]


# ------------------------------------------------------------------------ network
def build_network(
    backbone: Backbone = "efficientnet_b0",
    *,
    input_size: int = 224,
    channels: Literal[1, 3] = 3,
    head_width: int = 1280,
    dropout: float = 0.5,
    small_width: int = 32,
    norm: Norm = "batch",
) -> Any:
    """``keras.Model``: grey ``(input_size, input_size, 1)`` in [0, 1] -> one score.

    ``small`` is a 4-block CNN (``small_width`` filters doubling per block; ``norm``: batch
    normalisation, group normalisation (up to 8 groups, per image) or none after each
    convolution); ``efficientnet_b0`` and ``vgg16`` are ``keras.applications`` backbones
    with ``weights=None`` (their own normalisation; ``norm`` must stay ``batch``)."""
    import keras
    from keras import layers

    if norm != "batch" and backbone != "small":
        raise InvalidInputError(f"norm: {norm!r} needs the small backbone ({backbone} has its own)")

    def _norm(x: Any, name: str) -> Any:
        if norm == "batch":
            return layers.BatchNormalization(momentum=0.9, name=f"bn{name}")(x)
        if norm == "group":
            groups = math.gcd(8, int(x.shape[-1]))
            return layers.GroupNormalization(groups=groups, name=f"gn{name}")(x)
        return x

    inp = keras.Input((input_size, input_size, 1), name="slice")
    x = inp
    if channels == 3:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if backbone == "efficientnet_b0":
        x = layers.Rescaling(255.0, name="to_255")(x)  # the backbone rescales 0..255 itself
        base = keras.applications.EfficientNetB0(
            include_top=False, weights=None, input_shape=(input_size, input_size, channels),
            pooling="avg",
        )
        x = base(x)
    elif backbone == "vgg16":
        x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(x)
        base = keras.applications.VGG16(
            include_top=False, weights=None, input_shape=(input_size, input_size, channels),
            pooling="avg",
        )
        x = base(x)
    elif backbone == "small":
        x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(x)
        width = small_width
        for b in range(4):
            x = layers.Conv2D(width, 3, padding="same", use_bias=norm == "none",
                              name=f"conv{b}a")(x)
            x = _norm(x, f"{b}a")
            x = layers.ReLU(name=f"relu{b}a")(x)
            x = layers.Conv2D(width, 3, padding="same", use_bias=norm == "none",
                              name=f"conv{b}b")(x)
            x = _norm(x, f"{b}b")
            x = layers.ReLU(name=f"relu{b}b")(x)
            if b < 3:
                x = layers.MaxPooling2D(2, name=f"pool{b}")(x)
            width *= 2
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        raise InvalidInputError(f"backbone: expected efficientnet_b0, vgg16 or small, got {backbone!r}")
    x = layers.Dense(head_width, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="drop1")(x)
    x = layers.Dense(head_width, activation="relu", name="fc2")(x)
    x = layers.Dropout(dropout, name="drop2")(x)
    out = layers.Dense(1, name="score", dtype="float32")(x)
    return keras.Model(inp, out, name=f"tiqa_{backbone}")


def rank_hinge_loss(
    group: int, margin: float = 6.0, reduction: Literal["mean", "rankiqa"] = "mean"
) -> Any:
    """Keras loss for rank batches laid out in groups of ``group`` rows (a reference
    then its levels, mildest first): hinge over all pairs ``i < j`` of each group.

    ``mean``: TIQA's mean over pairs; ``rankiqa``: the sum over pairs divided by the
    number of images in the batch (RankIQA's own loss). ``y_true`` is ignored."""
    from keras import ops

    upper = np.triu(np.ones((group, group), dtype=np.float32), k=1)

    def loss(y_true: Any, y_pred: Any) -> Any:
        p = ops.reshape(ops.cast(y_pred, "float32"), (-1, group))
        diff = p[:, :, None] - p[:, None, :]  # y_i - y_j
        hinge = ops.relu(margin - diff) * upper
        total = ops.sum(hinge)
        if reduction == "mean":
            n_pairs = ops.cast(ops.shape(p)[0], "float32") * float(upper.sum())
            return total / n_pairs
        return total / ops.cast(ops.shape(p)[0] * group, "float32")

    loss.__name__ = f"rank_hinge_{reduction}"
    return loss


def rank_layout(
    distortion: np.ndarray, level: np.ndarray, source: np.ndarray,
    distortions: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], tuple[str, ...], tuple[int, ...]]:
    """For each source with a complete set, the row positions of its rank batch:
    ``[ref, t1 levels..., ref, t2 levels..., ...]``; and the distortion types and levels.
    Sources missing a reference or a level are left out."""
    dist = np.asarray(distortion).astype(str)
    lev = np.asarray(level).astype(int)
    src = np.asarray(source).astype(str)
    types = tuple(distortions) if distortions else tuple(sorted(set(dist) - {"reference"}))
    levels = tuple(sorted(set(lev[dist != "reference"].tolist())))
    if not types or not levels:
        raise InvalidInputError("data: no distorted rows to rank (need distortion and level)")
    out: dict[str, np.ndarray] = {}
    table: dict[tuple[str, str, int], int] = {}
    for i, (s, d, k) in enumerate(zip(src, dist, lev, strict=True)):
        table.setdefault((s, d, int(k)), i)
    for s in dict.fromkeys(src.tolist()):
        ref = table.get((s, "reference", 0))
        if ref is None:
            continue
        rows: list[int] = []
        for t in types:
            idx = [table.get((s, t, k)) for k in levels]
            if any(i is None for i in idx):
                break
            rows += [ref, *(int(i) for i in idx if i is not None)]
        else:
            out[s] = np.asarray(rows, dtype=np.int64)
    if not out:
        raise InvalidInputError(
            "data: no source has a reference row (level 0) and every level of "
            f"{', '.join(types)}; generate the dataset with include_reference"
        )
    return out, types, levels


# ------------------------------------------------------------------------ params
class TIQAParams(LearnedParams):
    """How a trained TIQA/RankIQA network scores images."""

    data_range: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="White level of the input (1.0 for [0, 1] floats, 255 for 8-bit); "
        "None: the integer dtype's maximum (float input then needs a value).",
    )
    n_crops: int = Field(30, ge=1, le=1024, description="Crops per image (RankIQA: 30).")
    crops: Literal["random", "grid"] = Field(
        "random", description="random: n_crops random crops (seeded); grid: ceil(sqrt(n))^2."
    )
    aggregate: Literal["mean", "median"] = Field("mean", description="How crop scores combine.")
    seed: int = Field(0, ge=0, description="Seed of the random crops.")


class TIQATrainParams(BaseTrainParams):
    """TIQA's two-stage recipe (paper values by default; see the module docstring)."""

    stage: Literal["both", "rank", "regress"] = Field(
        "both", description="both: rank then regress in one call; or one stage alone "
        "(regress continues from the current network, e.g. a loaded model)."
    )
    backbone: Backbone = Field("efficientnet_b0", description="CNN backbone.")
    input_size: int = Field(224, ge=32, le=1024, description="Crop side fed to the network.")
    channels: Literal[1, 3] = Field(3, description="3: grey replicated; 1: one-channel stem.")
    head_width: int = Field(1280, ge=1, description="Width of both dense layers.")
    dropout: float = Field(0.5, ge=0, lt=1, description="Dropout after each dense layer.")
    small_width: int = Field(32, ge=4, description="Filters of the small backbone's first block.")
    norm: Norm = Field("batch", description="Normalisation of the small backbone: batch, "
                       "group (per image: the same in training and scoring) or none.")
    margin: float = Field(6.0, gt=0, description="Hinge margin of the rank stage.")
    rank_reduction: Literal["mean", "rankiqa"] = Field(
        "mean", description="mean over pairs (TIQA) or sum / batch size (RankIQA)."
    )
    refs_per_batch: int = Field(1, ge=1, description="References per rank batch (18 images each).")
    rank_epochs: int = Field(30, ge=0, description="Epochs of the rank stage (stage both).")
    rank_learning_rate: float = Field(3e-5, gt=0, description="Rank-stage learning rate.")
    rank_lr_steps: tuple[int, ...] = Field((10, 20), description="Rank-stage step epochs.")
    # the inherited epochs / learning_rate / schedule are the regression stage's
    epochs: int = Field(20, ge=1, le=100_000, description="Epochs of the regression stage.")
    learning_rate: float = Field(5e-5, gt=0, description="Regression-stage learning rate.")
    schedule: Literal["constant", "step", "plateau"] = Field("step", description="LR schedule.")
    lr_steps: tuple[int, ...] = Field((4, 8, 12, 16), description="Regression step epochs.")
    lr_factor: float = Field(0.5, gt=0, lt=1, description="Factor of each learning-rate drop.")
    batch_size: int = Field(16, ge=1, description="Regression batch size.")
    augment: bool = Field(True, description="Random flips / 90-degree turns, same per group.")


class RankIQATrainParams(TIQATrainParams):
    """RankIQA (Liu et al. 2017): VGG16, width 4096, margin 10, sum over pairs / batch."""

    backbone: Backbone = Field("vgg16", description="CNN backbone.")
    head_width: int = Field(4096, ge=1, description="Width of both dense layers.")
    margin: float = Field(10.0, gt=0, description="Hinge margin of the rank stage.")
    rank_reduction: Literal["mean", "rankiqa"] = Field(
        "rankiqa", description="mean over pairs (TIQA) or sum / batch size (RankIQA)."
    )


# ------------------------------------------------------------------------ data
def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def _crop_to(images: np.ndarray, size: int, rng: np.random.Generator | None) -> np.ndarray:
    """One crop position for the whole group (random with ``rng``, else centred)."""
    h, w = images.shape[1:3]
    if h < size or w < size:
        raise InvalidInputError(
            f"data: images are {h}x{w}, smaller than the network input {size}; generate the "
            "dataset with a larger crop or train with a smaller input_size"
        )
    if rng is None:
        top, left = (h - size) // 2, (w - size) // 2
    else:
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return images[:, top : top + size, left : left + size]


def _augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k = int(rng.integers(4))
    out = np.rot90(images, k, axes=(1, 2))
    if rng.random() < 0.5:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


class _TIQABase(KerasComponent, Scorer):
    """Shared by TIQA and RankIQA: the two-stage fit and patch scoring."""

    Params = TIQAParams
    TrainParams: ClassVar[type[BaseTrainParams]] = TIQATrainParams
    higher_is_better: ClassVar[bool] = True
    batch_size: ClassVar[int | None] = 32
    execution: ClassVar[Any] = "batch"

    # ------------------------------------------------------------ training contract
    def _recipe(self, train: BaseTrainParams) -> TIQATrainParams:
        if not isinstance(train, TIQATrainParams):
            raise InvalidInputError(f"train: expected {type(self).TrainParams.__name__}")
        return train

    def build_network(self, train: BaseTrainParams, data: TrainData) -> Any:
        t = self._recipe(train)
        self._prepare_layout(data, t)
        if t.stage == "regress":
            existing = self.__dict__.get("_network")
            if existing is None and self.model_path_or_none() is not None:
                existing = self.network
            if existing is not None:  # continue from it: a copy built in this run's scope
                import keras

                net = keras.Model.from_config(existing.get_config())
                net.set_weights(existing.get_weights())
                return net
        return build_network(
            t.backbone, input_size=t.input_size, channels=t.channels,
            head_width=t.head_width, dropout=t.dropout, small_width=t.small_width,
            norm=t.norm,
        )

    def _prepare_layout(self, data: TrainData, t: TIQATrainParams) -> None:
        if t.stage == "rank":
            _, types, levels = rank_layout(data["distortion"], data["level"], data.sources)
            self.__dict__["_group"] = 1 + len(levels)
            self.__dict__["_types"] = types

    def loss(self, train: BaseTrainParams) -> Any:
        t = self._recipe(train)
        if t.stage == "rank":
            return rank_hinge_loss(int(self.__dict__.get("_group", 6)), t.margin, t.rank_reduction)
        return "mse"

    def batches(
        self, data: TrainData, train: BaseTrainParams, *, rng: np.random.Generator, training: bool
    ) -> Iterator[tuple[Any, Any]]:
        t = self._recipe(train)
        size = t.input_size
        crop_rng = rng if training else None
        if t.stage == "rank":
            layout, _, _ = rank_layout(data["distortion"], data["level"], data.sources)
            keys = list(layout)
            if training:
                rng.shuffle(keys)
            for start in range(0, len(keys), t.refs_per_batch):
                xs = []
                for key in keys[start : start + t.refs_per_batch]:
                    imgs = data.read("images", layout[key]).astype(np.float32)
                    imgs = _crop_to(imgs, size, crop_rng)
                    if training and t.augment:
                        imgs = _augment(imgs, rng)
                    xs.append(imgs)
                x = np.concatenate(xs)[..., None]
                yield x, np.zeros((len(x), 1), np.float32)
            return
        order = np.arange(len(data))
        if training:
            rng.shuffle(order)
        for start in range(0, len(order), t.batch_size):
            idx = order[start : start + t.batch_size]
            imgs = data.read("images", idx).astype(np.float32)
            y = data.read("score", idx).astype(np.float32)[:, None]
            parts = []
            for im in imgs:  # each crop its own position / turn
                one = _crop_to(im[None], size, crop_rng)
                parts.append(_augment(one, rng)[0] if training and t.augment else one[0])
            yield np.stack(parts)[..., None], y

    def validation_metrics(
        self, network: Any, data: TrainData, train: BaseTrainParams
    ) -> dict[str, float] | None:
        """SROCC of the network's crop scores against minus the level and against the
        labels, per distortion type and for all distorted rows (centre crops)."""
        t = self._recipe(train)
        dist = np.asarray(data["distortion"]).astype(str)
        level = np.asarray(data["level"], dtype=np.float64)
        score = np.asarray(data["score"], dtype=np.float64)
        preds = []
        for start in range(0, len(data), 64):
            idx = np.arange(start, min(len(data), start + 64))
            imgs = _crop_to(data.read("images", idx).astype(np.float32), t.input_size, None)
            preds.append(np.asarray(network.predict_on_batch(imgs[..., None])).ravel())
        pred = np.concatenate(preds)
        out: dict[str, float] = {}
        distorted = dist != "reference"
        for name in ["all", *sorted(set(dist[distorted].tolist()))]:
            m = distorted if name == "all" else dist == name
            out[f"srocc_level_{name}"] = _spearman(pred[m], -level[m])
            out[f"srocc_label_{name}"] = _spearman(pred[m], score[m])
        return out

    def fit(  # type: ignore[override]
        self,
        data: TrainData | Any,
        *,
        validation: TrainData | Any = None,
        train: BaseTrainParams | Mapping[str, Any] | None = None,
        callbacks: Sequence[Any] = (),
        checkpoint_dir: Any = None,
        progress: bool = False,
    ) -> TrainReport:
        """Train; ``stage="both"`` (default) runs the rank stage then the regression stage
        on the same network (checkpoints in ``checkpoint_dir/rank`` and ``/regress``)."""
        from pathlib import Path


        cls = type(self)
        recipe = cls.recipe(train)
        t = self._recipe(recipe)
        td = data if isinstance(data, TrainData) else TrainData.from_hdf5(data)
        if t.stage != "both":
            return super().fit(td, validation=validation, train=t, callbacks=callbacks,
                               checkpoint_dir=checkpoint_dir, progress=progress)
        ck = Path(checkpoint_dir) if checkpoint_dir is not None else None
        rank_report = None
        if t.rank_epochs > 0:
            rank = t.model_copy(update={
                "stage": "rank", "epochs": t.rank_epochs, "learning_rate": t.rank_learning_rate,
                "lr_steps": tuple(s for s in t.rank_lr_steps if s < t.rank_epochs),
                "lr_factor": 0.2, "schedule": "step" if t.rank_lr_steps else "constant",
            })
            rank_report = super().fit(td, validation=validation, train=rank,
                                      callbacks=callbacks,
                                      checkpoint_dir=None if ck is None else ck / "rank",
                                      progress=progress)
        regress = t.model_copy(update={
            "stage": "regress", "lr_steps": tuple(s for s in t.lr_steps if s < t.epochs),
        })
        report = super().fit(td, validation=validation, train=regress, callbacks=callbacks,
                             checkpoint_dir=None if ck is None else ck / "regress",
                             progress=progress)
        trained = self.__dict__.get("_trained")
        if trained is not None:
            trained["train"] = t.model_dump(mode="json")
            if rank_report is not None:
                trained["report"]["extra"]["rank"] = rank_report.to_dict()
                trained["seconds"] = rank_report.seconds + report.seconds
        if rank_report is not None:
            report.extra["rank"] = rank_report.to_dict()
            report.seconds += rank_report.seconds
        if ck is not None:  # both stages done: a rerun would start over, not resume
            from tomokit.learn import Checkpoint

            for sub in ("rank", "regress"):
                Checkpoint(ck / sub).clear()
        return report

    # ------------------------------------------------------------------ scoring
    def _to_unit(self, images: np.ndarray) -> np.ndarray:
        p = self.params
        assert isinstance(p, TIQAParams)
        raw = np.asarray(images)
        arr = check_image(raw, name="images")
        stack = arr[None] if arr.ndim == 2 else arr
        if stack.ndim != 3:
            raise InvalidInputError(f"images: expected (H, W) or (N, H, W), got {raw.shape}")
        dr = 1.0 if raw.dtype == np.bool_ and p.data_range is None else resolve_data_range(
            p.data_range, raw, who='tiqa')  # the core's one policy
        lo, hi = float(stack.min()), float(stack.max())
        if lo < -1e-6 * dr or hi > dr * (1 + 1e-6):
            raise InvalidInputError(
                f"data_range: the images span [{lo:.6g}, {hi:.6g}], outside [0, {dr:g}]; "
                "pass the right data_range or normalise the data first"
            )
        h, w = stack.shape[1:]
        if min(h, w) < MIN_SIDE:
            raise InvalidInputError(
                f"images: {h}x{w} is smaller than the minimum {MIN_SIDE}x{MIN_SIDE} "
                "(images below the crop size are reflect-padded up to it)"
            )
        for i, im in enumerate(stack):
            if float(im.max()) == float(im.min()):
                raise InvalidInputError(f"images[{i}]: the image is constant; nothing to score")
        return (stack.astype(np.float32) / np.float32(dr)).clip(0, 1)

    def crops(self, image: np.ndarray) -> np.ndarray:
        """The crops one image is scored on ``(n, s, s)`` (s: the network's input side)."""
        from tomokit.learn import sample_patches

        p = self.params
        assert isinstance(p, TIQAParams)
        size = int(self.network.input_shape[1])
        h, w = image.shape
        if h == size and w == size:
            return image[None]
        if h <= size and w <= size:  # one padded crop holds the whole image
            return sample_patches(image, size, 1, rng=p.seed, mode="grid")
        return sample_patches(image, size, p.n_crops, rng=p.seed, mode=p.crops)

    def score(self, images: np.ndarray) -> np.ndarray:
        from tomokit.learn import aggregate_scores

        p = self.params
        assert isinstance(p, TIQAParams)
        stack = self._to_unit(images)
        per = [self.crops(im) for im in stack]
        flat = np.concatenate(per)[..., None]
        preds = self.predict(flat).ravel()
        out, start = [], 0
        for c in per:
            out.append(float(aggregate_scores(preds[start : start + len(c)], p.aggregate)))
            start += len(c)
        return np.asarray(out, dtype=np.float64)

    def run_step(
        self, inputs: Mapping[str, Any], *, rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        return self.score(np.asarray(inputs["images"]))


def _shipped_model() -> str | None:
    from importlib import resources

    from tomokit_iqa.plugin import TIQA_MODEL

    found = resources.files("tomokit_iqa").joinpath(*TIQA_MODEL.split("/")).is_file()
    return "tomokit-iqa/tiqa" if found else None


class TIQA(_TIQABase):
    """TIQA: EfficientNet-B0, rank (hinge, margin 6) then regress; higher is better.

    Without ``model`` it uses the shipped model ``tomokit-iqa/tiqa`` once its recipe
    (``python -m tomokit_iqa.recipes.tiqa``) has written it into the package."""

    TrainParams: ClassVar[type[BaseTrainParams]] = TIQATrainParams
    default_model: ClassVar[str | None] = _shipped_model()


class RankIQA(_TIQABase):
    """RankIQA baseline: VGG16, margin 10, hinge summed over pairs / batch size."""

    TrainParams: ClassVar[type[BaseTrainParams]] = RankIQATrainParams

