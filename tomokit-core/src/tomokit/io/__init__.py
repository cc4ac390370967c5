"""Data formats: images, TIFF stacks, HDF5 (DXchange, NeXus NXtomo) and ``.npy``.

Volumes are opened lazily (:func:`open_volume`) and read a block of slices at a time;
:func:`read_array` reads a whole array. Formats come from plugins through the
``tomokit_formats`` hook, the built-in ones included, so a lab can add its own.
"""

from __future__ import annotations

from tomokit.io._api import (
    create_volume,
    find_format,
    formats,
    open_volume,
    read_array,
    write_array,
)
from tomokit.io._base import Block, Format, VolumeReader, VolumeWriter
from tomokit.io._color import to_grey
from tomokit.io._tomo import TomoScanReader, open_scan

__all__ = [
    "Block",
    "Format",
    "TomoScanReader",
    "VolumeReader",
    "VolumeWriter",
    "create_volume",
    "find_format",
    "formats",
    "open_scan",
    "open_volume",
    "read_array",
    "to_grey",
    "write_array",
]
