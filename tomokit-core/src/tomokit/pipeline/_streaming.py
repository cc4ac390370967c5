"""Streaming volumes through a step, as the component declares (``execution``):
per-slice components block by block through the executor (memory bounded by the block
size), batch components (models) a batch of slices per call, reconstructors a scan's
sinograms row by row. A step with named outputs writes one volume per output."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tomokit.components import Component, Sinogram
from tomokit.errors import InvalidInputError
from tomokit.executors._base import DirectSink
from tomokit.pipeline._results import convert_node, describe

__all__ = [
    "StreamContext",
    "checkpoint_store",
    "stores_dir",
    "copy_store_value",
    "describe_value",
    "is_lazy",
    "lazy_parts",
    "load_checkpoint",
    "materialize",
    "serial_if_needed",
    "stream_section",
    "stream_step",
]


def is_lazy(value: Any) -> bool:
    from tomokit.io import VolumeReader

    return isinstance(value, VolumeReader)


def lazy_parts(value: Any) -> list[Any]:
    """The open readers a value holds: itself, or those of a dict of named outputs."""
    if is_lazy(value):
        return [value]
    if isinstance(value, dict):
        return [v for v in value.values() if is_lazy(v)]
    return []


def materialize(value: Any) -> Any:
    """An in-memory value for components that need the whole array."""
    from tomokit.io import TomoScanReader

    if isinstance(value, TomoScanReader):
        if len(value) == 1:  # with its angles and where it came from, as when streamed
            return value.sinogram(0)
        return value.read(slice(None))
    if is_lazy(value):
        return value.read_all()
    if isinstance(value, dict) and any(is_lazy(v) for v in value.values()):
        return {k: materialize(v) for k, v in value.items()}
    return value


def describe_value(value: Any) -> str:
    from tomokit.io import TomoScanReader

    if isinstance(value, TomoScanReader):
        return f"scan: {value.shape[0]} sinograms of {value.shape[1:]} (streamed)"
    if is_lazy(value):
        return f"{value.dtype} volume {value.shape} (streamed)"
    if isinstance(value, dict) and any(is_lazy(v) for v in value.values()):
        return "{" + ", ".join(f"{k}: {describe_value(v)}" for k, v in value.items()) + "}"
    return describe(value)


STORE_ATTR = "tomokit_store"  # a checkpoint file whose value lives in this Zarr store
KEYS_ATTR = "tomokit_store_keys"  # its named outputs (JSON list; [""] for one volume)


def stores_dir(checkpoint: Path) -> Path:
    """Where the Zarr stores of the checkpoints in ``checkpoint``'s folder live: a
    sibling folder (``.out.h5.partial.d-zarr``), so the checkpoint folder keeps one file
    per step and every name beside the output still starts like its temporary file."""
    folder = checkpoint.parent
    return folder.with_name(f"{folder.name}-zarr")


def checkpoint_store(path: Path) -> tuple[Path, list[str]] | None:
    """The Zarr store holding the streamed value of checkpoint ``path``, and its output
    names (``[""]`` for a single volume), or ``None`` when the value is in the file."""
    import json

    import h5py

    try:
        with h5py.File(path, "r") as h5:
            name = h5.attrs.get(STORE_ATTR)
            keys = h5.attrs.get(KEYS_ATTR)
    except OSError:
        return None
    if name is None:
        return None
    return path.parent / str(name), list(json.loads(str(keys)))


def _store_node(key: str) -> str:
    return f"value/{key}" if key else "value"


def load_checkpoint(path: Path, node: str) -> Any:
    """A value written by :func:`write_value` (or a streamed volume) back: 3-D and 4-D
    numeric datasets lazily (also inside a group of named outputs), the rest in memory.
    A streamed volume kept in a Zarr store beside the checkpoint is opened there."""
    import h5py

    from tomokit import io

    if node == "value":
        store = checkpoint_store(path)
        if store is not None:
            where, keys = store
            if keys == [""]:
                return io.open_volume(where, dataset="value", format="zarr")
            return {k: io.open_volume(where, dataset=_store_node(k), format="zarr")
                    for k in keys}

    def lazy(obj: Any) -> bool:
        return isinstance(obj, h5py.Dataset) and obj.ndim >= 3 and obj.dtype.kind in "biuf"

    with h5py.File(path, "r") as h5:
        if node not in h5:
            return None
        obj = h5[node]
        if isinstance(obj, h5py.Group) and obj.attrs.get("tomokit_type") is None and any(
            lazy(v) for v in obj.values()
        ):
            names = list(obj)
            small = {k: convert_node(obj[k]) for k in names if not lazy(obj[k])}
        elif not lazy(obj):
            return convert_node(obj)
        else:
            names = []
    if not names:
        return io.open_volume(path, dataset=node)
    return {k: small[k] if k in small else io.open_volume(path, dataset=f"{node}/{k}")
            for k in names}


def copy_store_value(path: Path, group: Any, name: str, *, block_bytes: int = 64 << 20) -> int:
    """Copy the streamed value of checkpoint ``path`` from its Zarr store into the HDF5
    ``group`` as ``name`` (a dataset, or a group of one per named output), uncompressed
    and chunked by slice like the checkpoint. A thread reads the next block from the
    store while this one is written, so reading overlaps the (locked) HDF5 writes.
    Returns the bytes copied."""
    from concurrent.futures import ThreadPoolExecutor

    from tomokit import io

    store = checkpoint_store(path)
    if store is None:
        raise InvalidInputError(f"{path}: not a checkpoint kept in a Zarr store")
    where, keys = store
    if keys != [""]:
        group = group.create_group(name)
    copied = 0
    with ThreadPoolExecutor(1, thread_name_prefix="tomokit-copy") as pool:
        for key in keys:
            with io.open_volume(where, dataset=_store_node(key), format="zarr") as reader:
                dset = group.create_dataset(key or name, shape=reader.shape, dtype=reader.dtype,
                                            chunks=(1, *reader.shape[1:]) if reader.ndim >= 3
                                            else None)
                n = len(reader)
                step = max(1, block_bytes // max(reader.slice_nbytes, 1))
                ahead = pool.submit(reader.read, slice(0, min(step, n))) if n else None
                for a in range(0, n, step):
                    assert ahead is not None
                    block = ahead.result()
                    b = min(n, a + step)
                    ahead = pool.submit(reader.read, slice(b, min(n, b + step))) if b < n else None
                    dset[a:b] = block
                    copied += block.nbytes
    return copied


class _NamedRegion:
    """Writes per-slice results (arrays, or mappings of named arrays) into a checkpoint
    (Zarr store or contiguous HDF5 file) from the worker that computed them. Picklable."""

    def __init__(self, regions: dict[str, Any]) -> None:
        self.regions = regions

    def __call__(self, start: int, results: list[Any]) -> None:
        for key, region in self.regions.items():
            if key:
                region.write(start, np.stack([np.asarray(r[key]) for r in results]))
            else:
                region.write(start, np.stack([np.asarray(r) for r in results]))


def _is_array_result(value: Any) -> bool:
    return isinstance(value, Mapping) or np.ndim(value) >= 1


class _VolumeSink(DirectSink):
    """Collects a streamed step's slices into its checkpoint, atomically (complete or
    absent).

    ``zarr``: a Zarr store beside the checkpoint file (``value`` or ``value/NAME`` per
    named output), created from the first slice's results and then written by the
    workers themselves, concurrently; on :meth:`commit` the store is renamed into place
    and a small HDF5 checkpoint file naming it (with the step's hash attributes) is
    written last. ``hdf5``: one HDF5 file (``/value`` or ``/value/NAME``) of contiguous
    datasets that the workers write by offset (:mod:`tomokit.io._contiguous`), renamed
    into place on commit; values of other dtypes are written by the client. Scalar
    results are collected in memory."""

    def __init__(self, path: Path, n: int, attrs: dict[str, Any], fmt: str = "zarr",
                 codec: str = "none") -> None:
        self.path, self.n, self.attrs = path, n, attrs
        self.fmt, self.codec = fmt, codec
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.store = stores_dir(path) / f"{path.stem}.zarr"
        self.store_tmp = self.store.with_name(f".{self.store.name}.tmp-{os.getpid()}")
        self.h5: Any = None
        self.named: bool | None = None
        self.keys: list[str] = []
        self.region: _NamedRegion | None = None
        self.scalars: list[Any] = []
        self.opened = False

    # -- DirectSink --------------------------------------------------------------------
    def open(self, start: int, results: list[Any]) -> Any:
        self.opened = True
        if not _is_array_result(results[0]):
            self.scalars.extend(results)
            return None
        self.named = isinstance(results[0], Mapping)
        firsts = ({k: np.asarray(v) for k, v in results[0].items()} if self.named
                  else {"": np.asarray(results[0])})
        shapes = {k: ((self.n, *v.shape), v.dtype) for k, v in firsts.items()}
        if self.fmt != "zarr":
            from tomokit.io._contiguous import contiguous_dtype, create_contiguous

            if not all(contiguous_dtype(v.dtype) for v in firsts.values()):
                self._write_h5(start, results)
                return None
            self.keys = list(firsts)
            made = create_contiguous(self.tmp, {_store_node(k): sh for k, sh in shapes.items()},
                                     self.attrs)
            self.region = _NamedRegion({k: made[_store_node(k)] for k in self.keys})
            self.region(start, results)
            return self.region
        from tomokit.io._zarr import ZarrRegion, create_store

        self.keys = list(firsts)
        self.store.parent.mkdir(exist_ok=True)
        create_store(self.store_tmp, {_store_node(k): sh for k, sh in shapes.items()},
                     codec=self.codec)
        self.region = _NamedRegion({k: ZarrRegion(self.store_tmp, _store_node(k), shapes[k][0])
                                    for k in self.keys})
        self.region(start, results)
        return self.region

    def __call__(self, start: int, results: list[Any]) -> None:
        if not self.opened:
            self.open(start, results)
        elif self.scalars or not _is_array_result(results[0]):
            self.scalars.extend(results)
        elif self.region is not None:
            self.region(start, results)
        else:
            self._write_h5(start, results)

    def _write_h5(self, start: int, results: list[Any]) -> None:
        import h5py

        named = isinstance(results[0], Mapping)
        if self.h5 is None:
            self.named = named
            self.h5 = h5py.File(self.tmp, "w")
            for key, value in self.attrs.items():
                self.h5.attrs[key] = value
        blocks = ({k: np.stack([np.asarray(r[k]) for r in results]) for k in results[0]}
                  if named else {"": np.stack([np.asarray(r) for r in results])})
        for key, block in blocks.items():
            node = f"value/{key}" if key else "value"
            if node not in self.h5:
                self.keys.append(key)
                self.h5.create_dataset(node, shape=(self.n, *block.shape[1:]), dtype=block.dtype,
                                       chunks=(1, *block.shape[1:]))  # uncompressed: lzf
                # costs 30x the write time on float slices and saves under 20 %
            self.h5[node][start : start + len(block)] = block

    def commit(self) -> None:
        if self.region is not None and self.fmt != "zarr":
            os.replace(self.tmp, self.path)  # written in place by the workers
        elif self.region is not None:
            import json

            import h5py

            from tomokit.io._zarr import commit_store

            commit_store(self.store_tmp, self.store)
            with h5py.File(self.tmp, "w") as h5:  # the checkpoint names its store, last
                for key, value in self.attrs.items():
                    h5.attrs[key] = value
                h5.attrs[STORE_ATTR] = os.path.relpath(self.store, self.path.parent)
                h5.attrs[KEYS_ATTR] = json.dumps(self.keys)
            os.replace(self.tmp, self.path)
        elif self.h5 is not None:
            self.h5.close()
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if self.h5 is not None:
            self.h5.close()
        self.tmp.unlink(missing_ok=True)
        if self.region is not None and self.fmt == "zarr":
            from tomokit.io._zarr import discard_store

            discard_store(self.store_tmp)

    def result(self) -> Any:
        if self.scalars:
            return np.asarray(self.scalars, dtype=np.float64)
        return load_checkpoint(self.path, "value")


class _Serial:
    """Calls ``fn`` one at a time: for components that declare ``thread_safe = False``.
    Pickles without its lock (each worker process gets its own copy and lock)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.lock = threading.Lock()

    def __call__(self, item: Any) -> Any:
        with self.lock:
            return self.fn(item)

    def __getstate__(self) -> dict[str, Any]:
        return {"fn": self.fn}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.fn = state["fn"]
        self.lock = threading.Lock()


def serial_if_needed(component: Component, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn``, serialised when ``component`` is not thread-safe."""
    return fn if component.thread_safe else _Serial(fn)


def _slice_call(component: Component, keys: tuple[str, ...], fixed: dict[str, Any],
                seeds: np.ndarray, angles: np.ndarray | None, item: tuple[int, Any]) -> Any:
    """One slice of a per-slice step: slice ``index`` of each streamed input (stacked
    by a ZipReader when there are several), the other inputs as they are."""
    index, data = item
    parts = [data] if len(keys) == 1 else list(data)
    inputs = dict(fixed)
    for key, part in zip(keys, parts, strict=True):
        inputs[key] = Sinogram(data=part, angles=angles) if angles is not None else part
    return component.run_slice(inputs, int(seeds[index]))


class StreamContext:
    """What a streamed step needs: the executor, block sizes, progress, checkpoint."""

    def __init__(self, executor: Any, advance: Callable[[int], None], checkpoint: Path,
                 attrs: dict[str, Any], *, output: bool = False) -> None:
        self.executor = executor
        self.advance = advance
        self.checkpoint = checkpoint
        self.attrs = attrs
        self.output = output  # a wanted output: its checkpoint may become the results file
        self.slices = 0

    def run_slices(self, fn: Callable[[Any], Any], reader: Any) -> Any:
        """Map ``fn`` over ``(index, slice)`` of ``reader``: volumes (one per named
        output) for array results, a 1-D array for numbers."""
        sink = self.sink(len(reader))
        try:
            self.executor.map_blocks(fn, reader, sink=sink, indexed=True,
                                     progress=self._count)
        except BaseException:
            sink.discard()
            raise
        if sink.scalars:
            return np.asarray(sink.scalars, dtype=np.float64)
        sink.commit()
        return sink.result()

    def sink(self, n: int) -> _VolumeSink:
        """The checkpoint sink for ``n`` slices, in the executor's checkpoint format
        (``auto``: HDF5 for a wanted, uncompressed output, which the results file then
        takes by rename rather than by copy; Zarr for the rest)."""
        cfg = getattr(self.executor, "config", None)
        fmt = getattr(cfg, "checkpoint_format", "auto")
        codec = getattr(cfg, "checkpoint_codec", "none")
        if fmt == "auto":
            fmt = "hdf5" if self.output and codec == "none" else "zarr"
        return _VolumeSink(self.checkpoint, n, self.attrs, fmt, codec)

    def _count(self, n: int) -> None:
        self.slices += n
        self.advance(n)


def stream_step(component: Component, inputs: dict[str, Any], rng: np.random.Generator,
                ctx: StreamContext) -> tuple[bool, Any]:
    """Run ``component`` on lazy volume inputs as its ``execution`` declares;
    ``(False, None)`` when it cannot be streamed (the caller then materialises)."""
    from tomokit.io import TomoScanReader
    from tomokit.io._views import ZipReader

    lazy = {k: v for k, v in inputs.items() if is_lazy(v)}
    if not lazy or component.execution == "whole":
        return False, None
    if component.execution == "batch":
        if any(isinstance(v, TomoScanReader) for v in lazy.values()):
            return False, None
        return True, _stream_batches(component, inputs, lazy, rng, ctx)
    # per slice: every streamed input is read slice by slice, side by side
    scans = [v for v in lazy.values() if isinstance(v, TomoScanReader)]
    if scans and (len(lazy) > 1 or component.input_names != ("sinogram",)):
        return False, None  # scan rows stream into reconstructors (sinogram in, image out)
    if getattr(component, "domain", "image") == "sinogram":
        return False, None
    fixed = {k: v for k, v in inputs.items() if k not in lazy}
    if any(isinstance(v, np.ndarray) and v.ndim == 3 for v in fixed.values()):
        return False, None  # an in-memory stack beside a streamed one: not slice-aligned
    keys = tuple(lazy)
    readers = list(lazy.values())
    for key, reader in lazy.items():
        if reader.shape != readers[0].shape:
            raise InvalidInputError(
                f"input {key!r} has shape {reader.shape}, {keys[0]!r} has {readers[0].shape}; "
                "streamed inputs of a per-slice step must match"
            )
    source = readers[0] if len(readers) == 1 else ZipReader(readers)  # borrows the readers
    seeds = component.slice_seeds(rng, len(source))  # the same streams as in memory
    angles = scans[0].angles if scans else None
    fn = functools.partial(_slice_call, component, keys, fixed, seeds, angles)
    return True, ctx.run_slices(serial_if_needed(component, fn), source)


def _section_call(components: list[Component], keys: list[str], seeds: list[np.ndarray],
                  item: tuple[int, Any]) -> Any:
    """One slice through every step of a section, in memory."""
    index, value = item
    for component, key, step_seeds in zip(components, keys, seeds, strict=True):
        value = component.run_slice({key: value}, int(step_seeds[index]))
    return value


def stream_section(components: list[Component], keys: list[str], rngs: list[np.random.Generator],
                   reader: Any, ctx: StreamContext) -> Any:
    """Run a section (consecutive per-slice steps) over ``reader`` in one pass: each
    slice goes through every step in memory; only the last step's result is written.
    Each step draws its per-slice seeds as it would alone, so results are identical."""
    seeds = [c.slice_seeds(rng, len(reader)) for c, rng in zip(components, rngs, strict=True)]
    fn: Callable[[Any], Any] = functools.partial(_section_call, components, keys, seeds)
    if not all(c.thread_safe for c in components):
        fn = _Serial(fn)
    return ctx.run_slices(fn, reader)


def _stream_batches(component: Component, inputs: dict[str, Any], lazy: dict[str, Any],
                    rng: np.random.Generator, ctx: StreamContext) -> Any:
    """Batch components (models): batches sized by the component's preferred batch
    size and the executor's memory budget; named outputs to one volume each."""
    from tomokit.learn import choose_batch_size

    first = next(iter(lazy.values()))
    n = len(first)
    for key, reader in lazy.items():
        if len(reader) != n:
            raise InvalidInputError(
                f"input {key!r} has {len(reader)} slices, {next(iter(lazy))!r} has {n}"
            )
    budget_slices = max(ctx.executor.block_slices(first), 1)
    per_batch = min(budget_slices, choose_batch_size(
        first.shape[1:], preferred=component.batch_size,
        device="gpu" if component.device_support == "gpu" else "cpu",
    ))
    sink = ctx.sink(n)
    flat: list[np.ndarray] = []
    try:
        for start in range(0, n, per_batch):
            stop = min(n, start + per_batch)
            batch = dict(inputs)
            for key, reader in lazy.items():
                batch[key] = reader.read(slice(start, stop))
            out = component.run_step(batch, rng=rng, mapper=None)
            if isinstance(out, Mapping):
                keys = list(out)
                sink(start, [{k: out[k][j] for k in keys} for j in range(stop - start)])
            else:
                arr = np.asarray(out)
                if arr.ndim <= 1:
                    flat.append(np.atleast_1d(arr))
                else:
                    sink(start, list(arr))
            ctx._count(stop - start)
    except BaseException:
        sink.discard()
        raise
    if flat:
        return np.concatenate(flat)
    sink.commit()
    return sink.result()
