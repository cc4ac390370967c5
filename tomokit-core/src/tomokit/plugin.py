"""tomokit-core's own plugin: the built-in tasks and data formats, registered like anyone
else's."""

from __future__ import annotations

from tomokit.hookspecs import hookimpl
from tomokit.specs import CommandSpec, ComponentSpec, FormatSpec


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    """Built-in tasks every pipeline can use."""
    return [
        ComponentSpec("task", "select", "tomokit.selection:Select",
                      "Rank sweep candidates by their scores and keep the best"),
        ComponentSpec("task", "train", "tomokit.learn._task:TrainTask",
                      "Train a learned component on a dataset and write its model file",
                      extras=("tf",)),
        # the steps of the pipeline `tomokit choose` builds, and of the IQA-segmentation study
        ComponentSpec("filter", "chain", "tomokit.choose:Chain",
                      "Image filters applied in order (the candidates of tomokit choose)"),
        ComponentSpec("task", "choose_sample", "tomokit.choose:ChooseSample",
                      "Evenly spaced slices of a volume, windowed to [0, 1]"),
        ComponentSpec("task", "choose_preview", "tomokit.choose:ChoosePreview",
                      "Central full-resolution crop of a candidate's middle slice"),
        ComponentSpec("task", "segmentation_scores", "tomokit.study:SegmentationScores",
                      "Per-slice F1 and IoU of a segmentation against its ground truth"),
        ComponentSpec("task", "correlation", "tomokit.study:Correlation",
                      "SROCC/PLCC between two values of sweep candidates, per group"),
    ]


@hookimpl
def tomokit_commands() -> list[CommandSpec]:
    """Built-in commands that are not part of the core CLI module."""
    return [CommandSpec("report", "tomokit.report:report_command",
                        "Write a self-contained HTML report of a results file"),
            CommandSpec("choose", "tomokit.choose:choose_command",
                        "Choose the pre-processing of a volume by a quality score")]


@hookimpl
def tomokit_formats() -> list[FormatSpec]:
    """The built-in formats; targets are imported only when a file of theirs is opened."""
    return [
        FormatSpec(
            "hdf5",
            "tomokit.io._hdf5:HDF5Format",
            (".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".cxi"),
            "HDF5 datasets (h5py), chunked and compressed when written",
        ),
        FormatSpec(
            "tiff",
            "tomokit.io._tiff:TiffFormat",
            (".tif", ".tiff"),
            "TIFF stacks: a multi-page file or a folder of one file per slice (tifffile)",
        ),
        FormatSpec(
            "image",
            "tomokit.io._image:ImageFormat",
            (".png", ".bmp", ".gif", ".jpg", ".jpeg"),
            "PNG, BMP, GIF and JPEG images (imageio); PNG written",
        ),
        FormatSpec("npy", "tomokit.io._npy:NpyFormat", (".npy",), "NumPy .npy arrays, memory-mapped"),
        FormatSpec("zarr", "tomokit.io._zarr:ZarrFormat", (".zarr",),
                   "Zarr v3 stores: one file per chunk, written by many workers at once"),
        FormatSpec(
            "dxchange",
            "tomokit.io._tomo:DXchangeFormat",
            (),
            "DXchange scans (/exchange/data, data_white, data_dark, theta) as -log sinograms",
        ),
        FormatSpec(
            "nxtomo",
            "tomokit.io._tomo:NXtomoFormat",
            (),
            "NeXus NXtomo scans (image_key, rotation_angle) as -log sinograms",
        ),
    ]
