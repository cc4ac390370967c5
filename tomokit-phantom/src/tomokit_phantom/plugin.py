"""Entry point of tomokit-phantom: component and command specs only, no heavy imports."""

from __future__ import annotations

from tomokit import CommandSpec, ComponentSpec, hookimpl

_P = "tomokit_phantom"


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("phantom", "electrode", f"{_P}._electrode:Electrode",
                      "Li-ion electrode cross-section: irregular particles, carbon-binder, pores"),
        ComponentSpec("phantom", "jelly_roll", f"{_P}._jelly_roll:JellyRoll",
                      "Cylindrical cell (21700) cross-section: wound jelly roll in a can"),
        ComponentSpec("phantom", "catalyst", f"{_P}._catalyst:Catalyst",
                      "Porous catalyst body (printed lattice or packed bed) with crystalline phases"),
        ComponentSpec("phantom", "shepp_logan", f"{_P}.classic:SheppLogan",
                      "Modified Shepp-Logan phantom at any size, with labels"),
        ComponentSpec("phantom", "random_shapes", f"{_P}.classic:RandomShapes",
                      "scikit-image random shapes with per-pixel class labels"),
        ComponentSpec("task", "chemical_pair", f"{_P}.chemical:ChemicalPair",
                      "XRD-CT-like chemical cube + absorption image, low/high-resolution pair"),
        ComponentSpec("task", "phantom_dataset", f"{_P}.dataset:PhantomDataset",
                      "Generate N phantoms (images, labels, maps), optionally write HDF5"),
        ComponentSpec("task", "acquired_slices", f"{_P}._acquire:AcquiredSlices",
                      "Phantom -> projection -> acquisition effects -> reconstruction, with truth",
                      extras=("recon",)),
    ]


@hookimpl
def tomokit_commands() -> list[CommandSpec]:
    return [
        CommandSpec("phantom", f"{_P}.commands:phantom",
                    "Generate synthetic phantoms with ground truth into HDF5/PNG/TIFF"),
    ]
