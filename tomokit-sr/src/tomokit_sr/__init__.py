"""Super-resolution of chemical tomography: ChemISR-Net and baselines."""

__all__: list[str] = []
