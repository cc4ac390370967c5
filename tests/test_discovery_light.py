"""Listing plugins imports no heavy framework (TensorFlow, Keras, ASTRA, Dask, torch)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("tensorflow", "keras", "astra", "dask", "distributed", "torch")

PROBE = f"""
import sys, io, contextlib, json
from tomokit.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    code = main(["plugins", "list", "--format", "json"])
rows = json.loads(buf.getvalue())
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
print(json.dumps({{"code": code, "rows": len(rows), "heavy": heavy}}))
"""


def test_plugins_list_imports_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert result["rows"] >= 10
    assert result["heavy"] == []


def test_importing_every_plugin_module_is_light():
    code = (
        "import sys, importlib\n"
        "from importlib.metadata import entry_points\n"
        "for ep in entry_points(group='tomokit'):\n"
        "    ep.load()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
