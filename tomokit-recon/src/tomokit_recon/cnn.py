"""``cnn_reconstruct``: the AI4SD report's supervised CNN, sinogram in, image out.

Why it is built this way: a supervised reconstructor is fast at inference but only as
good as its training library (the report: better than FBP on catalyst-like images,
worse on random shapes; fixed by mixing libraries and by checking that inputs lie
inside the training distribution). So the library is explicit
(:func:`tomokit_recon._learned_data.make_reconstruction_data`) and the trained model
carries an out-of-distribution check: the k-nearest-neighbour distance of an input's
embedding (the first dense block's features, scaled to unit length, so the pattern
counts and not the activity) to the training set's embeddings, flagged above a threshold
set from the validation set's distances (quantile ``ood_quantile``). Bank and threshold are weights of
the ``.keras`` file (:class:`~tomokit_recon._cnn_layers.EmbeddingBank`).

Loss: RMSE with Adam at 2.5e-4 by default (the report); ``loss_kind='mse'`` is the
tutorials' choice (they use Adam 2.5e-5 with early stopping). Both have the same
minimiser; RMSE's gradient is MSE's divided by 2 RMSE, so its steps do not shrink as the
error falls, which suits the report's short runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Reconstructor, Sinogram
from tomokit.components import Execution
from tomokit.learn import KerasComponent, LearnedParams, TrainData, TrainReport
from tomokit.learn import TrainParams as _BaseTrain
from tomokit_recon._learned_data import (
    back_projection,
    best_scale,
    make_reconstruction_data,
    phantom_images,
    project_images,
)
from tomokit_recon.classical import check_sinogram

__all__ = [
    "CNNReconstruct",
    "CNNReconstructParams",
    "CNNTrainParams",
    "OutOfDistributionWarning",
    "back_projection",
    "best_scale",
    "make_reconstruction_data",
    "phantom_images",
    "project_images",
]


class OutOfDistributionWarning(UserWarning):
    """An input sinogram lies outside the distribution the model was trained on."""


class CNNReconstructParams(LearnedParams):
    """How a trained ``cnn_reconstruct`` runs."""

    warn_ood: bool = Field(
        True, description="Warn (OutOfDistributionWarning) when an input's embedding lies "
        "farther from the training set than the model's threshold.",
    )


class CNNTrainParams(_BaseTrain):
    """The recipe (defaults: the report's architecture and optimiser)."""

    epochs: int = Field(100, ge=1, le=100_000, description="Passes over the training data.")
    batch_size: int = Field(32, ge=1, description="Sinograms per optimisation step.")
    learning_rate: float = Field(2.5e-4, gt=0, description="Adam's rate (report: 2.5e-4).")
    early_stopping: int | None = Field(
        10, ge=1, description="Stop after this many epochs without a better val_loss.")
    validation_fraction: float = Field(
        0.1, ge=0, lt=1, description="Share of phantoms held out when no validation set is given.")
    loss_kind: Literal["rmse", "mse"] = Field(
        "rmse", description="rmse (the report) or mse (the tutorials).")
    conv_filters: int = Field(64, ge=1, le=1024, description="Filters of the 4 strided convs.")
    dense_units: int = Field(1000, ge=1, le=100_000, description="Units of each dense layer.")
    dense_layers: int = Field(4, ge=1, le=16, description="Dense + dropout blocks.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout rate after each dense layer.")
    refine_filters: int = Field(128, ge=1, le=1024, description="Filters of the 3 image convs.")
    ood_bank: int = Field(1024, ge=1, le=100_000,
                          description="Training embeddings kept for the OOD check.")
    ood_k: int = Field(5, ge=1, le=64, description="Neighbours of the k-NN distance.")
    ood_quantile: float = Field(
        0.95, gt=0, le=1, description="Quantile of held-out distances that sets the threshold.")


class CNNReconstruct(KerasComponent, Reconstructor):
    """Supervised CNN reconstruction (AI4SD report, after super_tomo_py cnn_reconstruct)."""

    name: ClassVar[str] = "cnn_reconstruct"
    summary: ClassVar[str] = "Supervised CNN sinogram -> image (AI4SD report), with an OOD flag"
    Params: ClassVar[type[LearnedParams]] = CNNReconstructParams  # type: ignore[assignment]
    TrainParams: ClassVar[type[_BaseTrain]] = CNNTrainParams
    execution: ClassVar[Execution] = "slice"

    # ----------------------------------------------------------------- network
    @property
    def network(self) -> Any:
        import tomokit_recon._cnn_layers  # noqa: F401  (registers layers for safe loading)

        return KerasComponent.network.fget(self)  # type: ignore[attr-defined]

    @property
    def sinogram_shape(self) -> tuple[int, int]:
        """``(angles, detectors)`` the model was trained for."""
        shape = self.network.input_shape
        return int(shape[1]), int(shape[2])

    def build_network(self, train: _BaseTrain, data: TrainData) -> Any:
        from tomokit_recon._cnn_layers import build_cnn_reconstruct

        assert isinstance(train, CNNTrainParams)
        _check_data(data)
        sino, image = data.shape("sinogram"), data.shape("image")
        self.__dict__["_fit_train_rows"] = data
        return build_cnn_reconstruct(
            (sino[0], sino[1]), image[0], conv_filters=train.conv_filters,
            dense_units=train.dense_units, dense_layers=train.dense_layers,
            dropout=train.dropout, refine_filters=train.refine_filters,
            bank_capacity=min(train.ood_bank, len(data)),
        )

    def loss(self, train: _BaseTrain) -> Any:
        from tomokit_recon._cnn_layers import rmse_loss

        return rmse_loss if getattr(train, "loss_kind", "rmse") == "rmse" else "mse"

    def batches(
        self, data: TrainData, train: _BaseTrain, *, rng: np.random.Generator, training: bool
    ) -> Iterator[tuple[Any, Any]]:
        # full training batches only: a last, smaller batch would retrace the train step
        drop = training and len(data) >= train.batch_size
        for b in data.batches(train.batch_size, names=["sinogram", "image"], rng=rng,
                              shuffle=training, drop_remainder=drop):
            yield b["sinogram"][..., None].astype(np.float32), b["image"][..., None]

    def validation_metrics(
        self, network: Any, data: TrainData, train: _BaseTrain
    ) -> dict[str, float] | None:
        """MSE of the network and of the best-scaled plain back-projection (validation)."""
        idx = np.arange(min(len(data), 256))
        sinos, truth = data.read("sinogram", idx), data.read("image", idx)
        pred = _run(network, sinos, 32)
        angles = data.attrs.get("angles")
        figures = {"mse": float(np.mean((pred - truth) ** 2))}
        if angles is not None:
            bp = best_scale(back_projection(sinos, angles, truth.shape[-1]), truth)
            figures["bp_mse"] = float(np.mean((bp - truth) ** 2))
        return figures

    def fit(self, data: Any, *, validation: Any = None, train: Any = None,
            **kwargs: Any) -> TrainReport:
        """Train (see :meth:`tomokit.learn.KerasComponent.fit`), then calibrate the
        out-of-distribution check on the training and validation embeddings."""
        report = super().fit(data, validation=validation, train=train, **kwargs)
        recipe = self.__dict__["_trained"]["train"]
        rec = CNNTrainParams.model_validate(recipe)
        train_rows: TrainData = self.__dict__.pop("_fit_train_rows")
        held: TrainData | None
        if validation is not None:
            held = validation if isinstance(validation, TrainData) else \
                TrainData.from_hdf5(validation)
        else:
            full = data if isinstance(data, TrainData) else TrainData.from_hdf5(data)
            held = full.split(rec.validation_fraction, seed=rec.seed)[1] \
                if rec.validation_fraction > 0 else None
        figures = self._calibrate(train_rows, held, rec)
        self.__dict__["_trained"]["validation"] = {**(report.validation or {}), **figures}
        report.validation = dict(self.__dict__["_trained"]["validation"])
        return report

    # ----------------------------------------------------- out of distribution
    def _bank_layer(self) -> Any:
        from tomokit_recon._cnn_layers import BANK_LAYER

        return self.network.get_layer(BANK_LAYER)

    def embed(self, sinograms: np.ndarray) -> np.ndarray:
        """Dense features ``(n, dense_units)`` of ``(n, angles, detectors)`` sinograms."""
        import keras

        net = self.network
        sub = self.__dict__.get("_embedder")
        if sub is None:
            sub = keras.Model(net.inputs, self._bank_layer().output)
            self.__dict__["_embedder"] = sub
        stack = self._check_stack(sinograms)
        return _run(sub, stack, 64)

    def _distances(self, emb: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
        layer = self._bank_layer()
        count = round(float(np.asarray(layer.count)))
        if count == 0:
            raise InvalidInputError(
                "cnn_reconstruct: this model has no OOD reference (it was not trained by "
                "CNNReconstruct.fit)")
        bank = np.asarray(layer.bank)[:count].astype(np.float64)
        k = max(1, min(round(float(np.asarray(layer.k))), count - int(exclude_self)))
        e = _unit(emb)
        d2 = (np.sum(e * e, 1)[:, None] - 2 * e @ bank.T + np.sum(bank * bank, 1)[None, :])
        d = np.sqrt(np.clip(d2, 0, None))
        d.sort(axis=1)
        start = 1 if exclude_self else 0
        return np.asarray(d[:, start:start + k].mean(axis=1))

    def _calibrate(self, train_rows: TrainData, held: TrainData | None,
                   rec: CNNTrainParams) -> dict[str, float]:
        layer = self._bank_layer()
        cap = int(layer.capacity)
        n = len(train_rows)
        pick = np.unique(np.linspace(0, n - 1, min(cap, n)).round().astype(int))
        emb = self.embed(train_rows.read("sinogram", pick))
        bank = np.zeros((cap, emb.shape[1]), np.float32)
        bank[: len(pick)] = _unit(emb)
        layer.bank.assign(bank)
        layer.count.assign(float(len(pick)))
        layer.k.assign(float(min(rec.ood_k, max(1, len(pick) - 1))))
        if held is not None and len(held):
            ref = self._distances(self.embed(held.read("sinogram", np.arange(len(held)))))
            source = "validation"
        else:  # no held-out rows: leave-one-out distances inside the bank
            ref = self._distances(emb, exclude_self=True)
            source = "leave-one-out"
        threshold = float(np.quantile(ref, rec.ood_quantile))
        layer.threshold.assign(threshold if threshold > 0 else float(np.max(ref) or 1.0))
        return {"ood_threshold": float(np.asarray(layer.threshold)),
                "ood_reference": float(len(pick)),
                "ood_flagged_validation": float(np.mean(ref > float(np.asarray(layer.threshold))))
                if source == "validation" else float("nan")}

    def ood_score(self, sinograms: Sinogram | np.ndarray) -> np.ndarray:
        """k-NN distance of each input's embedding to the training set, divided by the
        model's threshold: above 1 means outside the training distribution."""
        stack = self._check_stack(sinograms)
        threshold = float(np.asarray(self._bank_layer().threshold))
        return self._distances(self.embed(stack)) / (threshold or 1.0)

    def is_out_of_distribution(self, sinograms: Sinogram | np.ndarray) -> np.ndarray:
        """Boolean flag per input (``ood_score > 1``)."""
        return self.ood_score(sinograms) > 1.0

    # ---------------------------------------------------------------- inference
    def _check_stack(self, sinograms: Sinogram | np.ndarray) -> np.ndarray:
        if isinstance(sinograms, Sinogram):
            stack = np.asarray(check_sinogram(sinograms).data, np.float32)[None]
        else:
            stack = np.asarray(sinograms, np.float32)
            if stack.ndim == 2:
                stack = stack[None]
        if stack.ndim != 3 or not np.all(np.isfinite(stack)):
            raise InvalidInputError(
                f"sinogram: expected finite (angles, detectors) data or a stack of them, got "
                f"shape {stack.shape}")
        want = self.sinogram_shape
        if stack.shape[1:] != want:
            raise InvalidInputError(
                f"sinogram: this cnn_reconstruct model was trained on sinograms of {want[0]} "
                f"angles x {want[1]} detectors, got {stack.shape[1]} x {stack.shape[2]}; use "
                "a model trained for this geometry (see docs/reconstruction.md)")
        return stack

    def reconstruct_many(self, sinograms: np.ndarray) -> np.ndarray:
        """``(n, angles, detectors)`` -> ``(n, N, N)`` in batches (no OOD warning)."""
        stack = self._check_stack(sinograms)
        return self.predict(stack[..., None])[..., 0]

    def reconstruct(self, sinogram: Sinogram) -> np.ndarray:
        """The network's image of one sinogram; warns if it looks out of distribution."""
        stack = self._check_stack(check_sinogram(sinogram))
        image = self.predict(stack[..., None])[0, ..., 0]
        p: Any = self.params
        if p.warn_ood and float(np.asarray(self._bank_layer().count)) > 0:
            score = float(self.ood_score(stack)[0])
            self.last_ood_score = score
            if score > 1.0:
                warnings.warn(
                    f"cnn_reconstruct: the sinogram is outside the training distribution "
                    f"(OOD score {score:.2f} > 1); the image may be unreliable",
                    OutOfDistributionWarning, stacklevel=2)
        return image


def _check_data(data: TrainData) -> None:
    for key in ("sinogram", "image"):
        if key not in data.names:
            raise InvalidInputError(
                f"data: no {key!r} array (it has {data.names}); make one with "
                "tomokit_recon.make_reconstruction_data")
    s, i = data.shape("sinogram"), data.shape("image")
    if len(s) != 2 or len(i) != 2 or i[0] != i[1]:
        raise InvalidInputError(
            f"data: sinogram rows must be (angles, detectors) and image rows (N, N); got {s}, {i}")


def _unit(emb: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length: the OOD distance compares the *pattern* of features
    (a chord of the cosine distance); raw distances call any low-activity input typical."""
    e = np.asarray(emb, np.float64)
    return e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)


def _run(network: Any, stack: np.ndarray, batch: int) -> np.ndarray:
    x = np.asarray(stack, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    out = [np.asarray(network.predict_on_batch(x[s:s + batch]), np.float32)
           for s in range(0, len(x), batch)]
    y = np.concatenate(out)
    return y[..., 0] if y.ndim == 4 else y
