"""Entry point of tomokit-seg: component and command specs only, no heavy imports."""

from __future__ import annotations

from tomokit import CommandSpec, ComponentSpec, hookimpl

_B = "tomokit_seg.baselines"


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return [
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
