"""Tomographic reconstruction: FBP/SIRT/SART/CGLS through ASTRA, acquisition simulation, SD2I."""

__all__: list[str] = []
