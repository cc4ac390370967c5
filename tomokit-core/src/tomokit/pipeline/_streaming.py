"""Streaming volumes through a step: per-slice components block by block through the
executor (memory bounded by the block size), model-based ones a block per batch, and
reconstructors a scan's sinograms row by row."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import (
    Distortion,
    Observer,
    Reconstructor,
    Scorer,
    Segmenter,
    Sinogram,
    SuperResolver,
)
from tomokit.errors import InvalidInputError
from tomokit.pipeline._results import convert_node, describe

__all__ = ["StreamContext", "describe_value", "is_lazy", "load_checkpoint", "materialize", "stream_step"]



def is_lazy(value: Any) -> bool:
    from tomokit.io import VolumeReader

    return isinstance(value, VolumeReader)


def materialize(value: Any) -> Any:
    """An in-memory value for components that need the whole array."""
    from tomokit.io import TomoScanReader

    if isinstance(value, TomoScanReader):
        data = value.read(slice(None))
        if len(value) == 1:
            return Sinogram(data=data[0], angles=value.angles)
        return data
    if is_lazy(value):
        return value.read_all()
    return value


def describe_value(value: Any) -> str:
    from tomokit.io import TomoScanReader

    if isinstance(value, TomoScanReader):
        return f"scan: {value.shape[0]} sinograms of {value.shape[1:]} (streamed)"
    if is_lazy(value):
        return f"{value.dtype} volume {value.shape} (streamed)"
    return describe(value)


def load_checkpoint(path: Path, node: str) -> Any:
    """A value written by :func:`write_value` (or a streamed volume) back: 3-D numeric
    datasets lazily, everything else in memory."""
    import h5py

    from tomokit import io

    with h5py.File(path, "r") as h5:
        if node not in h5:
            return None
        obj = h5[node]
        lazy = isinstance(obj, h5py.Dataset) and obj.ndim == 3 and obj.dtype.kind in "biuf"
        if not lazy:
            return convert_node(obj)
    return io.open_volume(path, dataset=node)


class _VolumeSink:
    """Collects a streamed step's slices into a checkpoint volume created on the first
    block (when the output slice shape and dtype are known)."""

    def __init__(self, path: Path, n: int, attrs: dict[str, Any]) -> None:
        self.path, self.n, self.attrs = path, n, attrs
        self.writer: Any = None

    def __call__(self, start: int, results: list[Any]) -> None:
        from tomokit import io

        block = np.stack([np.asarray(r) for r in results])
        if self.writer is None:
            self.writer = io.create_volume(
                self.path, (self.n, *block.shape[1:]), block.dtype, dataset="/value",
                overwrite=True, attrs=self.attrs,
            )
        self.writer.write(start, block)

    def commit(self) -> None:
        if self.writer is not None:
            self.writer.commit()

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()


def _compare_pair(component: Observer, pair: np.ndarray) -> float:
    return float(component.compare(pair[0], pair[1]))


def _reconstruct_row(component: Reconstructor, angles: np.ndarray, data: np.ndarray) -> Any:
    return component.reconstruct(Sinogram(data=data, angles=angles))


def _overrides(component: Any, base: type) -> bool:
    return type(component).run_step is not base.run_step  # type: ignore[attr-defined]


class StreamContext:
    """What a streamed step needs: the executor, block sizes, progress, checkpoint."""

    def __init__(self, executor: Any, advance: Callable[[int], None], checkpoint: Path,
                 attrs: dict[str, Any]) -> None:
        self.executor = executor
        self.advance = advance
        self.checkpoint = checkpoint
        self.attrs = attrs
        self.slices = 0

    def to_volume(self, fn: Callable[[Any], Any], reader: Any, *, indexed: bool = False) -> Any:
        from tomokit import io

        sink = _VolumeSink(self.checkpoint, len(reader), self.attrs)
        try:
            self.executor.map_blocks(fn, reader, sink=sink, indexed=indexed,
                                     progress=self._count)
        except BaseException:
            sink.discard()
            raise
        sink.commit()
        return io.open_volume(self.checkpoint, dataset="/value")

    def to_list(self, fn: Callable[[Any], Any], reader: Any) -> list[Any]:
        out = self.executor.map_blocks(fn, reader, progress=self._count)
        assert out is not None
        return out

    def _count(self, n: int) -> None:
        self.slices += n
        self.advance(n)


def stream_step(component: Any, inputs: dict[str, Any], rng: np.random.Generator,
            ctx: StreamContext) -> tuple[bool, Any]:
    """Run ``component`` on lazy volume inputs block by block; ``(False, None)`` when it
    cannot be streamed (the caller then materialises the inputs)."""
    from tomokit.io import TomoScanReader
    from tomokit.io._views import ZipReader

    lazy = {k: v for k, v in inputs.items() if is_lazy(v)}
    if not lazy:
        return False, None
    scans = [v for v in lazy.values() if isinstance(v, TomoScanReader)]
    if isinstance(component, Reconstructor) and isinstance(inputs.get("sinogram"), TomoScanReader):
        scan = inputs["sinogram"]
        fn = functools.partial(_reconstruct_row, component, scan.angles)
        return True, ctx.to_volume(fn, scan)
    if scans:
        return False, None
    if (isinstance(component, Distortion) and component.domain == "image"
            and not _overrides(component, Distortion) and "image" in lazy):
        reader = lazy["image"]
        seeds = component.slice_seeds(rng, len(reader))  # the same streams as in memory
        fn = functools.partial(component.apply_slice, seeds)
        return True, ctx.to_volume(fn, reader, indexed=True)
    if (isinstance(component, Observer) and not _overrides(component, Observer)
            and set(lazy) == {"reference", "distorted"}):
        ref, dist = lazy["reference"], lazy["distorted"]
        if ref.shape != dist.shape:
            raise InvalidInputError(
                f"reference shape {ref.shape} and distorted shape {dist.shape} differ"
            )
        pairs = ZipReader([ref, dist])  # borrows the two readers, does not close them
        values = ctx.to_list(functools.partial(_compare_pair, component), pairs)
        return True, np.asarray(values, dtype=np.float64)
    if isinstance(component, Scorer | Segmenter | SuperResolver) or (
        isinstance(component, Observer) and set(lazy) == {"reference", "distorted"}
    ):  # model-based or vectorised: one block of slices is one batch
        return True, _stream_batches(component, inputs, lazy, rng, ctx)
    return False, None


def _stream_batches(component: Any, inputs: dict[str, Any], lazy: dict[str, Any],
                    rng: np.random.Generator, ctx: StreamContext) -> Any:
    """Model-based components: one block of slices is one batch."""
    first = next(iter(lazy.values()))
    n = len(first)
    for key, reader in lazy.items():
        if len(reader) != n:
            raise InvalidInputError(
                f"input {key!r} has {len(reader)} slices, {next(iter(lazy))!r} has {n}"
            )
    per_block = max(ctx.executor.block_slices(first), 1)
    sink = _VolumeSink(ctx.checkpoint, n, ctx.attrs)
    flat: list[np.ndarray] = []
    try:
        for start in range(0, n, per_block):
            stop = min(n, start + per_block)
            batch = dict(inputs)
            for key, reader in lazy.items():
                batch[key] = reader.read(slice(start, stop))
            out = np.asarray(component.run_step(batch, rng=rng, mapper=ctx.executor.map))
            if out.ndim <= 1:
                flat.append(np.atleast_1d(out))
            else:
                sink(start, list(out))
            ctx._count(stop - start)
    except BaseException:
        sink.discard()
        raise
    if flat:
        return np.concatenate(flat)
    sink.commit()
    from tomokit import io

    return io.open_volume(ctx.checkpoint, dataset="/value")
