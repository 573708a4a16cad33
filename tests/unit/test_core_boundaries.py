"""The domain core must not import Reflex (it runs in the worker and in plain tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lashme

CORE = sorted(
    p
    for p in Path(lashme.__file__).parent.rglob("*.py")
    if "ui" not in p.relative_to(Path(lashme.__file__).parent).parts and p.name != "lashme.py"
)


def test_core_modules_do_not_import_reflex():
    names = [
        "lashme." + ".".join(p.relative_to(Path(lashme.__file__).parent).with_suffix("").parts) for p in CORE
    ]
    names = [n.removesuffix(".__init__") for n in names]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m == 'reflex' or m.startswith('reflex.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(names) > 10
    assert out.stdout.strip() == "", f"core imports reflex: {out.stdout}"


def test_no_core_source_mentions_reflex_import():
    offenders = [p.name for p in CORE if "import reflex" in p.read_text() or "from reflex" in p.read_text()]
    assert offenders == []
