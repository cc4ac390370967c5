"""The ``executor:`` section of a pipeline file: where per-slice work runs."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

__all__ = ["MAX_WORKERS", "ExecutorConfig", "default_workers"]

#: Most workers an executor starts: more threads or processes than any one machine has
#: cores only cost memory (a Dask worker process holds about 200 MiB before any work).
MAX_WORKERS = 1024


def default_workers() -> int:
    """Cores this process may use (respects CPU affinity, as containers set it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class ExecutorConfig(BaseModel):
    """Where per-slice work runs. The choice changes speed and memory, never results."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["local", "dask"] = Field(
        "local",
        description="'local': a thread pool in this process. 'dask': a dask.distributed "
        "cluster (a LocalCluster, or the scheduler at 'address'); needs tomokit-core[dask].",
    )
    workers: int | None = Field(
        None, ge=1, le=MAX_WORKERS,
        description="Threads (local) or worker processes of a LocalCluster (dask). "
        "Default: every core this process may use. Ignored with 'address'.",
    )
    address: str | None = Field(
        None,
        description="Address of a running Dask scheduler, e.g. 'tcp://10.0.0.5:8786'. "
        "Empty: start a LocalCluster. Only with kind 'dask'.",
    )
    threads_per_worker: int = Field(
        1, ge=1, description="Threads per Dask worker process of a LocalCluster."
    )
    block_slices: int | None = Field(
        None, ge=1,
        description="Slices per block when a volume is streamed. Default: as many as "
        "block_memory allows.",
    )
    block_memory: ByteSize = Field(
        ByteSize(1 << 30),
        description="Memory for the blocks in flight when streaming a volume (input and "
        "output of two blocks), e.g. '1GiB' or '512MB'. Sets block_slices when that is empty.",
    )

    checkpoint_format: Literal["auto", "zarr", "hdf5"] = Field(
        "auto",
        description="How streamed volumes are checkpointed. 'zarr': a Zarr v3 store that "
        "workers write concurrently, one chunk file per slice (the results file is still "
        "HDF5). 'hdf5': one HDF5 file of contiguous datasets that workers write by offset. "
        "'auto': HDF5 for the pipeline's outputs (the results file takes the largest by a "
        "rename, not a copy), Zarr for the intermediate volumes.",
    )
    checkpoint_codec: Literal["none", "blosc-lz4"] = Field(
        "none",
        description="Compression of Zarr checkpoints: 'none' (filtered float slices gain "
        "little from compression) or 'blosc-lz4' (fast; for masks and labels).",
    )

    @model_validator(mode="after")
    def _address_needs_dask(self) -> ExecutorConfig:
        if self.address is not None and self.kind != "dask":
            raise ValueError("'address' is a Dask scheduler address; set kind: dask to use it")
        return self

    def slices_per_block(self, slice_nbytes: int, out_nbytes: int | None = None, *,
                         out_copies: int = 1) -> int:
        """``block_slices``, or the count that keeps two blocks of input and output (the
        output ``out_copies`` times: 2 where results travel between processes) in
        ``block_memory``."""
        if self.block_slices is not None:
            return self.block_slices
        out = slice_nbytes if out_nbytes is None else out_nbytes
        per_slice = 2 * (slice_nbytes + out_copies * out)
        return max(1, int(self.block_memory) // max(per_slice, 1))
