"""Segmentation of tomography images: D-LinkNet, threshold baselines, uncertainty and IoU maps."""

__all__: list[str] = []
