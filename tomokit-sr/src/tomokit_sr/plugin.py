"""Entry point of tomokit-sr: component and command specs only, no heavy imports."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from tomokit import CommandSpec, ComponentSpec, hookimpl
from tomokit.specs import ModelSpec

_C = "tomokit_sr.classical"
_L = "tomokit_sr.learned"


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("super_resolver", "nearest", f"{_C}:Nearest",
                      "Nearest-neighbour upscaling (pixel replication), x2/x4/x8"),
        ComponentSpec("super_resolver", "bilinear", f"{_C}:Bilinear",
                      "Bilinear interpolation, x2/x4/x8"),
        ComponentSpec("super_resolver", "bicubic", f"{_C}:Bicubic",
                      "Bicubic (cubic spline, scikit-image order 3) interpolation, x2/x4/x8"),
        ComponentSpec("super_resolver", "guided_filter", f"{_C}:GuidedFilter",
                      "Fast guided filter upsampling with the absorption image as guide"),
        ComponentSpec("super_resolver", "joint_bilateral", f"{_C}:JointBilateral",
                      "Joint bilateral upsampling with the absorption image as guide"),
        ComponentSpec("super_resolver", "edsr", f"{_L}:EDSR",
                      "EDSR-style residual network, chemical map only (no guide)",
                      extras=("tf",)),
        ComponentSpec("super_resolver", "chemisr", f"{_L}:ChemISR",
                      "ChemISR dual-input network: chemical map + absorption guide",
                      extras=("tf",)),
    ]


#: Shipped models (trained by ``tomokit sr-train --recipe shipped``): name, file, summary.
_MODELS = (
    ("tomokit-sr/chemisr-x4", "data/models/chemisr_x4.keras",
     "ChemISR x4 on tomokit-phantom chemical/absorption pairs"),
    ("tomokit-sr/edsr-x4", "data/models/edsr_x4.keras",
     "EDSR x4 on tomokit-phantom chemical maps"),
)


@hookimpl
def tomokit_models() -> list[ModelSpec]:
    """The shipped models whose files are in the installed package (a file check only)."""
    spec = find_spec("tomokit_sr")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return [
        ModelSpec(name, f"tomokit_sr:{rel}", summary)
        for name, rel, summary in _MODELS
        if any((root / rel).is_file() for root in roots)
    ]


@hookimpl
def tomokit_commands() -> list[CommandSpec]:
    return [
        CommandSpec("upscale", "tomokit_sr.commands:upscale",
                    "Super-resolve a chemical map or cube, optionally guided by absorption"),
        CommandSpec("sr-train", "tomokit_sr.commands:sr_train",
                    "Train the edsr/chemisr super-resolvers by a recipe (quick or shipped)"),
    ]
