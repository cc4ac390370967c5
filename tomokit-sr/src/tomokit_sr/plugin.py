"""Entry point of tomokit-sr: component and command specs only, no heavy imports."""

from __future__ import annotations

from tomokit import CommandSpec, ComponentSpec, hookimpl

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
    ]


@hookimpl
def tomokit_commands() -> list[CommandSpec]:
    return [
        CommandSpec("upscale", "tomokit_sr.commands:upscale",
                    "Super-resolve a chemical map or cube, optionally guided by absorption"),
    ]
