"""Learned super-resolvers: ``edsr`` (single input) and ``chemisr`` (chemical map +
absorption guide), on :class:`tomokit.learn.KerasComponent`.

Channels are super-resolved one at a time, as a batch through the network, each with
the shared guide (or its own): a network trained on single chemical maps then serves any
number of channels (3 phase maps or 128 diffraction channels), and every channel keeps
its own scale. Each channel is divided by its max ``|value|`` before the network and
multiplied back after (the network adds detail to a bilinear upsampling of its input),
so results are in the input's units; an all-zero channel stays zero.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError
from tomokit.learn import KerasComponent, LearnedParams, TrainData
from tomokit.learn import TrainParams as BaseTrainParams
from tomokit_sr._base import SRBase, SRParams, normalize_guide
from tomokit_sr.data import normalize_low, patch_batch

__all__ = ["ChemISR", "EDSR", "LearnedSRParams", "SRTrainParams", "shipped_model_name"]

_LOCK = threading.Lock()


class LearnedSRParams(SRParams, LearnedParams):
    """Parameters of the learned super-resolvers (factor, model, device, batch)."""

    channel_block: int = Field(
        16, ge=1, le=4096, description="Channels of a cube per network call (one batch)."
    )


class SRTrainParams(BaseTrainParams):
    """Recipe of the learned super-resolvers: network size, patches, augmentation."""

    epochs: int = Field(30, ge=1, le=100_000, description="Passes over the training data.")
    augment: bool = Field(True, description="Rotations, flips, guide misregistration and noise.")
    validation_fraction: float = Field(
        0.0, ge=0, lt=1, description="Share of phantoms held out when no validation set is given."
    )
    loss_kind: Literal["mse", "l1"] = Field("mse", description="Pixel loss.")
    patch: int = Field(16, ge=4, le=1024, description="Low-resolution training crop side (px).")
    max_shift: float = Field(
        2.0, ge=0, le=16, description="Largest guide misregistration of the augmentation (px)."
    )
    wrong_guide: float = Field(
        0.0, ge=0, le=1, description="Share of training crops whose guide is another "
        "crop's (no information): teaches the network not to trust a guide blindly.",
    )
    n_feats: int = Field(32, ge=1, le=512, description="Features of the low-resolution branch.")
    n_blocks: int = Field(8, ge=0, le=64, description="Residual blocks of the low branch.")
    guide_feats: int = Field(16, ge=1, le=512, description="Features of the guide branch.")
    guide_blocks: int = Field(2, ge=0, le=64, description="Residual blocks of the guide branch.")
    refine_blocks: int = Field(4, ge=0, le=64, description="Residual blocks after fusion.")
    res_scale: float = Field(0.1, gt=0, le=1, description="Residual scaling (EDSR: 0.1).")


def shipped_model_name(method: str, factor: int) -> str:
    """The name a shipped model of ``method`` at ``factor`` is registered under."""
    return f"tomokit-sr/{method}-x{factor}"


def _network_factor(network: Any) -> int:
    return 2 ** sum(type(layer).__name__ == "PixelShuffle" for layer in network.layers)


class _LearnedSR(KerasComponent, SRBase):
    """What EDSR and ChemISR share: training batches, prediction per channel, files."""

    Params: ClassVar[type[LearnedSRParams]] = LearnedSRParams  # type: ignore[assignment]
    TrainParams: ClassVar[type[SRTrainParams]] = SRTrainParams  # type: ignore[assignment]
    execution: ClassVar[Literal["slice", "batch", "whole"]] = "batch"
    device_support: ClassVar[Literal["cpu", "gpu", "any"]] = "any"
    min_size: ClassVar[int] = 2
    method: ClassVar[str] = ""

    # -------------------------------------------------------------- model files
    @property
    def model_path(self) -> Any:
        """``params.model``, else the shipped model of this factor if one is installed."""
        from tomokit.learn import find_model
        from tomokit.registry import get_registry

        ref = getattr(self.params, "model", None)
        if ref is None:
            name = shipped_model_name(self.method, self.factor)
            if not any(s.name == name for s in get_registry().models()):
                return None
            ref = name
        return find_model(ref)

    @property
    def network(self) -> Any:
        import tomokit_sr._layers  # noqa: F401 - registers PixelShuffle for safe-mode loading

        net = KerasComponent.network.fget(self)  # type: ignore[attr-defined]
        if _network_factor(net) != self.factor:
            raise InvalidInputError(
                f"{self.name}: the model upscales x{_network_factor(net)}, not factor "
                f"x{self.factor}; pass factor={_network_factor(net)} or a model for x{self.factor}"
            )
        return net

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Write the network and its sidecar (recipe, data, validation and test figures)."""
        from tomokit.learn import save_model

        record = dict(self.__dict__.get("_trained") or {})
        info = self.__dict__.get("_info") or {}
        for key in ("train", "data", "validation", "report", "seed", "seconds", "device"):
            record.setdefault(key, info.get(key))
        extra = {"test": self.__dict__.get("_test") or info.get("test") or {}}
        return save_model(self.network, path, component=type(self).component_id(),
                          params=self._params_for_sidecar(), extra=extra, **record)

    @property
    def test_figures(self) -> dict[str, Any]:
        """Held-out test figures recorded with the model (empty if none)."""
        info = self.__dict__.get("_info")
        if info is None and self.__dict__.get("_test") is None:
            path = self.model_path_or_none()
            if path is not None:  # read from the sidecar, without loading the network
                from tomokit.learn import model_info

                info = self.__dict__["_info"] = model_info(path)  # the same sidecar
        return dict(self.__dict__.get("_test") or (info or {}).get("test") or {})

    # ----------------------------------------------------------------- training
    def build_network(self, train: BaseTrainParams, data: TrainData) -> Any:
        raise NotImplementedError

    def loss(self, train: BaseTrainParams) -> Any:
        return "mae" if getattr(train, "loss_kind", "mse") == "l1" else "mse"

    def _inputs(self, low: np.ndarray, guide: np.ndarray) -> Any:
        return [low, guide] if self.uses_guide else low

    def batches(
        self, data: TrainData, train: BaseTrainParams, *, rng: np.random.Generator, training: bool
    ) -> Iterator[tuple[Any, Any]]:
        """One pass over ``data``: a crop per row (augmented when training, fixed crops
        otherwise, so every validation pass sees the same patches).

        Training batches are all full (the remainder of a shuffled pass is dropped; rows
        are drawn with replacement when there are fewer than a batch): a batch of another
        size would make Keras retrace its train step, which costs more than the step."""
        assert isinstance(train, SRTrainParams)
        n, bs = len(data), train.batch_size
        order = rng.permutation(n) if training else np.arange(n)
        crops = rng if training else np.random.default_rng(12345)
        if training:
            order = order[: (n // bs) * bs] if n >= bs else rng.choice(n, bs)
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            (low, guide), truth = patch_batch(
                data.read("low", idx), data.read("guide", idx), data.read("truth", idx),
                patch=train.patch, rng=crops, augment_data=training and train.augment,
                max_shift=train.max_shift, wrong_guide=train.wrong_guide,
            )
            yield self._inputs(low, guide), truth

    def validation_metrics(
        self, network: Any, data: TrainData, train: BaseTrainParams
    ) -> dict[str, float] | None:
        """Whole-image MSE of the network and of bicubic on up to 64 validation rows."""
        from tomokit_sr.classical import Bicubic

        idx = np.arange(min(len(data), 64))
        lows, guides, truths = data.read("low", idx), data.read("guide", idx), data.read("truth", idx)
        bic = Bicubic(factor=self.factor)
        net_err, bic_err = [], []
        for low, guide, truth in zip(lows, guides, truths, strict=True):
            out = self._run(network, low[..., None], guide[..., None])[..., 0]
            net_err.append(float(np.mean((out - truth) ** 2)))
            bic_err.append(float(np.mean((bic.upscale(low) - truth) ** 2)))
        return {"mse": float(np.mean(net_err)), "bicubic_mse": float(np.mean(bic_err))}

    # ---------------------------------------------------------------- inference
    def predict(self, x: Any, *, batch_size: int | None = None) -> np.ndarray:
        """The network on a batch of normalised inputs: one array (edsr) or
        ``[low, guide]`` (chemisr), as :meth:`batches` yields them."""
        if not isinstance(x, list | tuple):
            return KerasComponent.predict(self, x, batch_size=batch_size)
        from tomokit.learn import device_scope

        arrays = [np.asarray(a, dtype=np.float32) for a in x]
        if not arrays or len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
            raise InvalidInputError(
                f"predict: expected inputs with one equal, non-zero batch length, got "
                f"{[a.shape for a in arrays]}"
            )
        size = batch_size or int(getattr(self.params, "batch_size", None) or 8)
        network, out = self.network, []
        with _LOCK, device_scope(self.device):
            for s in range(0, len(arrays[0]), size):
                out.append(np.asarray(network.predict_on_batch([a[s:s + size] for a in arrays]),
                                      dtype=np.float32))
        return np.concatenate(out)

    def _run(self, network: Any, low: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """``low (h, w, c)``, ``guide (H, W, 1|c)`` -> ``(H, W, c)`` in low's units."""
        from tomokit.learn import device_scope

        low_n, scale = normalize_low(low)
        zero = np.abs(low).max(axis=(0, 1)) == 0
        x = np.moveaxis(low_n, -1, 0)[..., None]  # (c, h, w, 1)
        g = np.moveaxis(normalize_guide(guide), -1, 0)[..., None]
        g = np.broadcast_to(g, (x.shape[0], *g.shape[1:]))
        size = int(getattr(self.params, "batch_size", None) or 8)
        out = []
        device = self.device
        with _LOCK, device_scope(device):
            for s in range(0, len(x), size):
                inputs = self._inputs(x[s:s + size], np.ascontiguousarray(g[s:s + size]))
                out.append(np.asarray(network.predict_on_batch(inputs), dtype=np.float32))
        y = np.moveaxis(np.concatenate(out)[..., 0], 0, -1) * scale
        y[..., zero] = 0.0
        return y.astype(np.float32)

    def _upscale_block(self, low: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
        if guide is None:  # edsr: the guide only sets the shape of a dummy input
            h, w, _ = low.shape
            guide = np.zeros((self.factor * h, self.factor * w, 1), dtype=np.float32)
        return self._run(self.network, low, guide)


class EDSR(_LearnedSR):
    """Single-input EDSR-style residual network (the report's single-input comparison)."""

    summary: ClassVar[str] = "EDSR-style residual network, chemical map only (no guide)"
    method: ClassVar[str] = "edsr"
    uses_guide: ClassVar[bool] = False

    def build_network(self, train: BaseTrainParams, data: TrainData) -> Any:
        from tomokit_sr.networks import build_edsr

        assert isinstance(train, SRTrainParams)
        return build_edsr(self.factor, n_feats=train.n_feats, n_blocks=train.n_blocks,
                          res_scale=train.res_scale)


class ChemISR(_LearnedSR):
    """Dual-input ChemISR-style network: chemical map + high-resolution absorption guide."""

    summary: ClassVar[str] = "ChemISR dual-input network: chemical map + absorption guide"
    method: ClassVar[str] = "chemisr"
    uses_guide: ClassVar[bool] = True

    def build_network(self, train: BaseTrainParams, data: TrainData) -> Any:
        from tomokit_sr.networks import build_chemisr

        assert isinstance(train, SRTrainParams)
        return build_chemisr(
            self.factor, n_feats=train.n_feats, n_blocks=train.n_blocks,
            guide_feats=train.guide_feats, guide_blocks=train.guide_blocks,
            refine_blocks=train.refine_blocks, res_scale=train.res_scale,
        )
