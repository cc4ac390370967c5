"""An example third-party tomokit plugin, written only against tomokit's public API."""

from tomokit_example_plugin.backprojection import BackProjection
from tomokit_example_plugin.salt_pepper import SaltPepper

__all__ = ["BackProjection", "SaltPepper"]
