"""The entry-point module: it only describes components, so discovery stays fast."""

from __future__ import annotations

import tomokit


@tomokit.hookimpl
def tomokit_components() -> list[tomokit.ComponentSpec]:
    return [
        tomokit.ComponentSpec(
            kind="distortion",
            name="salt_pepper",
            target="tomokit_example_plugin.salt_pepper:SaltPepper",
            summary="Salt-and-pepper (impulse) noise, levels 1..5",
        ),
        tomokit.ComponentSpec(
            kind="reconstructor",
            name="backprojection",
            target="tomokit_example_plugin.backprojection:BackProjection",
            summary="Unfiltered back-projection in numpy (blurry, but simple)",
        ),
    ]
