"""Image-quality assessment for tomography: distortions, full-reference observers, label projection, TIQA and evaluation."""

__all__: list[str] = []
