"""Regenerate the PNGs of docs/phantoms.md: ``python docs/make_gallery.py [OUT_DIR]``."""

from __future__ import annotations

import sys
from pathlib import Path

from tomokit_phantom.gallery import main

if __name__ == "__main__":
    args = sys.argv[1:] or [str(Path(__file__).resolve().parent / "gallery")]
    raise SystemExit(main(args))
