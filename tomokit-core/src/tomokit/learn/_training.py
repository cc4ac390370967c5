"""The training loop every learned component shares: seeds, schedule, early stopping,
progress and per-epoch checkpoints that a killed run resumes from.

Why a loop of our own (``train_on_batch``) rather than ``keras.Model.fit``: everything a
resumed run needs must be saved and restored exactly, and only then does a run killed
by SIGKILL end, on CPU, with bit-identical weights to an uninterrupted one. That state
is: every model variable (seed-generator states included), every optimiser variable
(iteration count, moments, learning rate), the epoch, the history and the schedule's
and early stopping's counters. Randomness is derived, not carried: epoch ``e`` shuffles
and augments with ``numpy.random.default_rng([seed, e])`` and reseeds Keras with
``keras.utils.set_random_seed`` from the same pair, so no generator state needs saving.
Ops are deterministic on CPU (``tf.config.experimental.enable_op_determinism``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tomokit.errors import InvalidInputError
from tomokit.learn._params import TrainParams, TrainReport

if TYPE_CHECKING:
    from tomokit.learn._component import KerasComponent
    from tomokit.learn._data import TrainData

__all__ = [
    "Checkpoint",
    "CheckpointCallback",
    "ProgressCallback",
    "TrainCallback",
    "TrainState",
    "run_training",
]


class TrainState:
    """What callbacks see: the network, the epoch (0-based), history so far and the
    loop's own counters (``state["lr"]``, ``state["best"]``, ``state["wait"]``...)."""

    def __init__(self, network: Any, train: TrainParams, epochs: int) -> None:
        self.network = network
        self.train = train
        self.epochs = epochs
        self.epoch = 0
        self.step = 0
        self.steps_per_epoch: int | None = None
        self.history: dict[str, list[float]] = {}
        self.counters: dict[str, Any] = {}
        self.stop = False


class TrainCallback:
    """Hooks of the training loop (all optional). ``logs`` map metric names to floats."""

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_epoch_begin(self, state: TrainState) -> None: ...

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...

    def on_train_end(self, state: TrainState, report: TrainReport) -> None: ...


class ProgressCallback(TrainCallback):
    """A rich progress bar on stderr: epoch, batch, loss, validation metric, ETA."""

    def __init__(self, description: str = "training", console: Any = None) -> None:
        self.description = description
        self.console = console
        self._bars: Any = None
        self._task: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console or Console(stderr=True), transient=False,
        )
        self._bars.start()
        self._task = self._bars.add_task(
            f"{self.description} epoch {state.epoch + 1}/{state.epochs}",
            total=state.epochs, completed=state.epoch, metrics="",
        )

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self._bars is None:
            return
        spe = state.steps_per_epoch
        frac = (state.step + 1) / spe if spe else 0.0
        self._bars.update(
            self._task, completed=state.epoch + min(frac, 1.0),
            description=f"{self.description} epoch {state.epoch + 1}/{state.epochs}",
            metrics=f"loss {logs.get('loss', float('nan')):.4g}",
        )

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self._bars is None:
            return
        text = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss")
                         or k.startswith("val_"))
        self._bars.update(self._task, completed=state.epoch + 1, metrics=text)

    def on_train_end(self, state: TrainState, report: TrainReport) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None


class Checkpoint:
    """Per-epoch training state in a folder: ``variables-E.npz`` (model and optimiser
    variables, plain arrays, no pickle), ``state-E.json`` and the pointer ``latest.json``
    written last by an atomic rename, so a kill at any moment leaves the previous
    complete checkpoint readable."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def save(self, network: Any, optimizer: Any, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        epoch = int(state["epoch"])
        arrays = {f"m{i}": np.asarray(v.numpy()) for i, v in enumerate(network.variables)}
        arrays.update({f"o{i}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
        var_file = self.directory / f"variables-{epoch}.npz"
        tmp = self.directory / f".variables-{epoch}.partial.npz"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, var_file)
        state_file = self.directory / f"state-{epoch}.json"
        _write_json(state_file, state)
        _write_json(self.directory / "latest.json", {"epoch": epoch})
        for old in self.directory.glob("*-*.*"):
            stem = old.stem.split("-")[-1]
            if stem.isdigit() and int(stem) != epoch and not old.name.startswith("."):
                old.unlink(missing_ok=True)

    def load(self) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """``(state, arrays)`` of the latest complete checkpoint, or ``None``."""
        latest = self.directory / "latest.json"
        if not latest.is_file():
            return None
        try:
            epoch = int(json.loads(latest.read_text())["epoch"])
            state = json.loads((self.directory / f"state-{epoch}.json").read_text())
            with np.load(self.directory / f"variables-{epoch}.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(f"checkpoint {self.directory} unreadable ({exc}); starting over",
                          stacklevel=2)
            return None
        return state, arrays

    def clear(self) -> None:
        """Remove the checkpoint files (after training completed)."""
        if not self.directory.is_dir():
            return
        for f in self.directory.iterdir():
            if f.is_file():
                f.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.directory.rmdir()


class CheckpointCallback(TrainCallback):
    """Saves a :class:`Checkpoint` at the end of every epoch (the loop adds it when
    ``checkpoint_dir`` is given)."""

    def __init__(self, checkpoint: Checkpoint, fingerprint: str) -> None:
        self.checkpoint = checkpoint
        self.fingerprint = fingerprint

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        self.checkpoint.save(
            state.network,
            state.network.optimizer,
            {"epoch": state.epoch + 1, "history": state.history, "counters": state.counters,
             "fingerprint": self.fingerprint, "stop": state.stop},
        )


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, default=float)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fingerprint(component: KerasComponent, train: TrainParams, data: TrainData,
                validation: TrainData | None) -> str:
    """What a checkpoint belongs to: component, its params, the recipe and the data."""
    blob = {
        "component": [*type(component).component_id(),
                      f"{type(component).__module__}:{type(component).__qualname__}"],
        "params": component.params.model_dump(mode="json"),
        "train": train.model_dump(mode="json"),
        "data": data.summary()["sha256"],
        "rows": [int(r) for r in data.rows[:1000]] + [len(data)],
        "validation": validation.summary()["sha256"] if validation is not None else None,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def component_name(cls: type) -> str:
    return str(getattr(cls, "name", "") or cls.__name__.lower())


def make_optimizer(train: TrainParams) -> Any:
    import keras

    if train.optimizer == "adam":
        return keras.optimizers.Adam(train.learning_rate)
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(train.learning_rate, momentum=0.9)
    return keras.optimizers.RMSprop(train.learning_rate)


def epoch_seed(seed: int, epoch: int) -> int:
    """The Keras/Python/numpy global seed of an epoch, derived from the recipe's seed."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] >> 1)


def _finite(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in logs.items()}


def _batches(component: KerasComponent, data: TrainData, train: TrainParams, *,
             rng: np.random.Generator, training: bool) -> Iterator[tuple[Any, Any]]:
    it = component.batches(data, train, rng=rng, training=training)
    yield from it


def _evaluate(component: KerasComponent, network: Any, data: TrainData,
              train: TrainParams) -> dict[str, float]:
    network.reset_metrics()
    logs: dict[str, float] = {}
    rng = np.random.default_rng([train.seed, 2**31])
    for x, y in _batches(component, data, train, rng=rng, training=False):
        logs = _finite(network.test_on_batch(x, y, return_dict=True))
    return logs


def _schedule_lr(train: TrainParams, counters: dict[str, Any], epoch: int) -> float:
    if train.schedule == "step":
        drops = sum(1 for s in train.lr_steps if s <= epoch)
        return max(train.learning_rate * train.lr_factor**drops, train.min_learning_rate)
    return float(counters.get("lr", train.learning_rate))


def _after_epoch(train: TrainParams, counters: dict[str, Any], value: float) -> bool:
    """Update plateau and early-stopping counters with this epoch's monitored value;
    return whether to stop."""
    best = counters.get("best")
    improved = best is None or value < best - 1e-12
    if improved:
        counters["best"] = value
        counters["wait"] = 0
        counters["plateau_wait"] = 0
    else:
        counters["wait"] = counters.get("wait", 0) + 1
        counters["plateau_wait"] = counters.get("plateau_wait", 0) + 1
    if train.schedule == "plateau" and counters["plateau_wait"] >= train.patience:
        counters["lr"] = max(float(counters.get("lr", train.learning_rate)) * train.lr_factor,
                             train.min_learning_rate)
        counters["plateau_wait"] = 0
    return train.early_stopping is not None and counters["wait"] >= train.early_stopping


def run_training(
    component: KerasComponent,
    data: TrainData,
    train: TrainParams,
    *,
    validation: TrainData | None = None,
    callbacks: Sequence[TrainCallback] = (),
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> tuple[Any, TrainReport, dict[str, Any]]:
    """Train ``component``'s network; returns ``(network, report, data_summary)``."""
    import keras
    import tensorflow as tf

    from tomokit.learn._devices import (
        device_scope,
        distribution_strategy,
        resolve_device,
        set_mixed_precision,
    )

    started = time.perf_counter()
    if train.epochs < 1 or train.batch_size < 1:
        raise InvalidInputError(
            f"train: epochs and batch_size must be >= 1, got {train.epochs} and {train.batch_size}"
        )
    device = resolve_device(train.device, what="train.device")
    if device == "cpu":
        tf.config.experimental.enable_op_determinism()
    if validation is None and train.validation_fraction > 0:
        data, validation = data.split(train.validation_fraction, seed=train.seed)
        if len(validation) == 0:
            validation = None
    if len(data) == 0:
        raise InvalidInputError("data: no training rows (after the validation split)")
    if validation is not None:
        overlap = set(np.unique(data.sources)) & set(np.unique(validation.sources))
        if overlap and validation.path == data.path and validation.path is not None:
            raise InvalidInputError(
                f"validation shares {len(overlap)} source id(s) with the training data "
                f"(e.g. {sorted(overlap)[0]!r}); split by source"
            )
    fp = fingerprint(component, train, data, validation)
    ckpt = Checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    restored = ckpt.load() if ckpt is not None else None
    if restored is not None and restored[0].get("fingerprint") != fp:
        warnings.warn(
            f"checkpoint in {checkpoint_dir} belongs to another recipe or data; starting over",
            stacklevel=2,
        )
        restored = None
    summary = {"train": data.summary(),
               "validation": validation.summary() if validation is not None else None}

    keras.utils.set_random_seed(train.seed)
    with contextlib.ExitStack() as stack:
        stack.enter_context(device_scope(device))
        stack.enter_context(set_mixed_precision(train.mixed_precision, device))
        strategy = distribution_strategy(device, distribute=train.distribute)
        stack.enter_context(strategy.scope())
        network = component.build_network(train, data)
        optimizer = make_optimizer(train)
        network.compile(optimizer=optimizer, loss=component.loss(train),
                        metrics=list(component.metrics(train)))
        state = TrainState(network, train, train.epochs)
        resumed_from: int | None = None
        if restored is not None:
            saved, arrays = restored
            optimizer.build(network.trainable_variables)
            mvars, ovars = network.variables, optimizer.variables
            if sum(k.startswith("m") for k in arrays) != len(mvars) or \
                    sum(k.startswith("o") for k in arrays) != len(ovars):
                raise InvalidInputError(
                    f"checkpoint {checkpoint_dir}: does not fit this network; delete it"
                )
            for i, v in enumerate(mvars):
                v.assign(arrays[f"m{i}"])
            for i, v in enumerate(ovars):
                v.assign(arrays[f"o{i}"])
            state.epoch = resumed_from = int(saved["epoch"])
            state.history = {k: list(v) for k, v in saved["history"].items()}
            state.counters = dict(saved["counters"])
            state.stop = bool(saved.get("stop", False))
        all_callbacks = list(callbacks)
        if ckpt is not None:
            all_callbacks.append(CheckpointCallback(ckpt, fp))
        n_rows = len(data)
        state.steps_per_epoch = train.steps_per_epoch or max(
            1, math.ceil(n_rows / train.batch_size))
        for cb in all_callbacks:
            cb.on_train_begin(state)
        while state.epoch < train.epochs and not state.stop:
            epoch = state.epoch
            keras.utils.set_random_seed(epoch_seed(train.seed, epoch))
            rng = np.random.default_rng([train.seed, epoch])
            optimizer.learning_rate = _schedule_lr(train, state.counters, epoch)
            for cb in all_callbacks:
                cb.on_epoch_begin(state)
            network.reset_metrics()
            logs: dict[str, float] = {}
            step = 0
            while True:
                for x, y in _batches(component, data, train, rng=rng, training=True):
                    state.step = step
                    logs = _finite(network.train_on_batch(x, y, return_dict=True))
                    for cb in all_callbacks:
                        cb.on_batch_end(state, logs)
                    step += 1
                    if train.steps_per_epoch is not None and step >= train.steps_per_epoch:
                        break
                if train.steps_per_epoch is None or step >= train.steps_per_epoch or step == 0:
                    break
            if step == 0:
                raise InvalidInputError(
                    f"{type(component).__name__}.batches yielded no batch for {n_rows} rows"
                )
            epoch_logs = dict(logs)
            epoch_logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
            if validation is not None and len(validation):
                val = _evaluate(component, network, validation, train)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            for k, v in epoch_logs.items():
                state.history.setdefault(k, []).append(v)
            key = train.monitor if train.monitor in epoch_logs else "loss"
            state.stop = _after_epoch(train, state.counters, epoch_logs[key])
            for cb in all_callbacks:
                cb.on_epoch_end(state, epoch_logs)
            state.epoch = epoch + 1
        figures: dict[str, float] = {}
        if validation is not None and len(validation):
            custom = component.validation_metrics(network, validation, train)
            figures = dict(custom) if custom is not None else _evaluate(
                component, network, validation, train)
        report = TrainReport(
            epochs_run=state.epoch,
            history=state.history,
            validation={k: float(v) for k, v in figures.items()},
            seconds=time.perf_counter() - started,
            device=device,
            resumed_from=resumed_from,
            n_train=len(data),
            n_validation=len(validation) if validation is not None else 0,
            stopped_early=state.stop and state.epoch < train.epochs,
        )
        for cb in all_callbacks:
            cb.on_train_end(state, report)
    return network, report, summary
