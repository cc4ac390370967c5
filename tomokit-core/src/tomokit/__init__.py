"""tomokit: reconstruct, assess, segment and super-resolve X-ray tomography images.

The public API is re-exported here; modules whose names start with ``_`` are private.
Importing ``tomokit`` never imports TensorFlow, ASTRA or Dask.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from tomokit.api import component_class, load
from tomokit.components import (
    KINDS,
    Component,
    Distortion,
    Filter,
    NoParams,
    Observer,
    Params,
    Phantom,
    PhantomParams,
    PhantomSample,
    Projector,
    Reconstructor,
    Scorer,
    Segmenter,
    Sinogram,
    SuperResolver,
    Task,
    Trainable,
)
from tomokit.errors import InvalidInputError, PipelineError, PluginError, RunError, TomokitError
from tomokit.hookspecs import hookimpl
from tomokit.registry import get_registry
from tomokit.specs import CommandSpec, ComponentSpec, FormatSpec

try:
    __version__ = _metadata.version("tomokit-core")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "KINDS",
    "CommandSpec",
    "Component",
    "ComponentSpec",
    "Distortion",
    "Filter",
    "FormatSpec",
    "InvalidInputError",
    "NoParams",
    "Observer",
    "Params",
    "Phantom",
    "Projector",
    "PhantomParams",
    "PhantomSample",
    "PipelineError",
    "PluginError",
    "Reconstructor",
    "RunError",
    "Scorer",
    "Segmenter",
    "Sinogram",
    "SuperResolver",
    "TomokitError",
    "Task",
    "Trainable",
    "__version__",
    "component_class",
    "get_registry",
    "hookimpl",
    "load",
]
