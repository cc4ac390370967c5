"""Entry point of tomokit-seg: component and command specs only, no heavy imports."""

from __future__ import annotations

from importlib import resources

from tomokit import CommandSpec, ComponentSpec, hookimpl
from tomokit.specs import ModelSpec

_B = "tomokit_seg.baselines"
#: Where the shipped D-LinkNet lives inside the package (with its .json sidecar).
MODEL_RESOURCE = "models/dlinknet.keras"


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("segmenter", "dlinknet", "tomokit_seg.dlinknet:DLinkNet",
                      "D-LinkNet34 phase segmentation (trained from scratch on phantoms)",
                      extras=("tf",)),
        ComponentSpec("segmenter", "otsu", f"{_B}:Otsu",
                      "Otsu threshold, two phases, logistic soft membership"),
        ComponentSpec("segmenter", "multi_otsu", f"{_B}:MultiOtsu",
                      "Multi-Otsu thresholds, k phases, ordinal logistic soft membership"),
        ComponentSpec("segmenter", "fuzzy_cmeans", f"{_B}:FuzzyCMeans",
                      "Fuzzy c-means on grey values, memberships as probabilities"),
        ComponentSpec("segmenter", "kmeans", f"{_B}:KMeans",
                      "k-means on grey values, soft assignment by distance"),
    ]


@hookimpl
def tomokit_commands() -> list[CommandSpec]:
    return [
        CommandSpec("segment", "tomokit_seg.commands:segment",
                    "Segment an image or volume: labels, probabilities, uncertainty (+ F1/IoU)"),
    ]


@hookimpl
def tomokit_models() -> list[ModelSpec]:
    """The shipped D-LinkNet, once trained into the package (see docs/segmentation.md)."""
    if not resources.files("tomokit_seg").joinpath(*MODEL_RESOURCE.split("/")).is_file():
        return []
    return [ModelSpec("tomokit-seg/dlinknet", f"tomokit_seg:{MODEL_RESOURCE}",
                      "D-LinkNet34 for battery electrode phantoms (tomokit's recipe)")]
