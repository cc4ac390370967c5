"""Synthetic tomography with ground truth: microstructure phantoms, chemical/absorption pairs, acquired slices."""

__all__: list[str] = []
