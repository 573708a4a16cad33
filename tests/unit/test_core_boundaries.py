"""The layers' arrows point one way: clients -> ``lashme.app`` -> domain packages -> ``lashme.ops``.

The import graph is read from the source with :mod:`ast` (every ``import``,
including the ones inside functions, which is where circles like to hide), so
the checks need no database and import nothing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lashme

ROOT = Path(lashme.__file__).parent

#: what a Reflex page may not touch: the database, Redis, or the domain's plumbing
UI_FORBIDDEN = ("lashme.ops", "lashme.models", "sqlmodel", "sqlalchemy", "redis")
#: the only lashme packages a Reflex state may call (besides other ``lashme.ui`` modules)
UI_ALLOWED_LASHME = ("lashme.app", "lashme.i18n", "lashme.errors", "lashme.ui")
#: clients of the application layer (may import ``lashme.app``)
CLIENTS = ("lashme.ui", "lashme.api", "lashme.lashme", "lashme.cli", "lashme.app")


def _module_name(path: Path) -> str:
    name = "lashme." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return out


MODULES: dict[str, set[str]] = {
    _module_name(p): _imports(p, _module_name(p)) for p in sorted(ROOT.rglob("*.py"))
}


def _lashme_edges(module: str) -> set[str]:
    """The lashme modules ``module`` imports (a ``from pkg import name`` of a non-module counts as ``pkg``)."""
    return {name for name in MODULES[module] if name in MODULES and name != module}


def test_the_graph_is_read():
    assert len(MODULES) > 50
    assert "lashme.app.caller" in MODULES and "lashme.ui.state" in MODULES


def test_ui_never_touches_the_database_redis_or_the_domain_directly():
    offenders = {
        module: sorted(
            name
            for name in imported
            if any(_is_under(name, bad) for bad in UI_FORBIDDEN)
            or (
                _is_under(name, "lashme")
                and name != "lashme"  # ``from lashme import i18n`` also names the package
                and not any(_is_under(name, ok) for ok in UI_ALLOWED_LASHME)
            )
        )
        for module, imported in MODULES.items()
        if _is_under(module, "lashme.ui")
    }
    assert {m: bad for m, bad in offenders.items() if bad} == {}


def test_only_the_ui_imports_reflex():
    offenders = sorted(
        module
        for module, imported in MODULES.items()
        if not (_is_under(module, "lashme.ui") or module == "lashme.lashme")
        and any(_is_under(name, "reflex") for name in imported)
    )
    assert offenders == []


def test_nothing_below_the_application_layer_imports_it():
    offenders = {
        module: sorted(n for n in imported if _is_under(n, "lashme.app"))
        for module, imported in MODULES.items()
        if not any(_is_under(module, c) for c in CLIENTS)
    }
    assert {m: bad for m, bad in offenders.items() if bad} == {}


def test_the_application_layer_imports_no_client():
    offenders = {
        module: sorted(
            n for n in imported if any(_is_under(n, c) for c in ("lashme.ui", "lashme.api", "reflex"))
        )
        for module, imported in MODULES.items()
        if _is_under(module, "lashme.app")
    }
    assert {m: bad for m, bad in offenders.items() if bad} == {}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in _lashme_edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_among_lashme_modules():
    """Package ``__init__`` modules re-exporting their children are no circle; everything else is."""
    cycles = [c for c in _cycles() if not _only_package_init_edges(c)]
    assert cycles == []


def _only_package_init_edges(component: list[str]) -> bool:
    """True for a component made only of a package and its own submodules importing each other."""
    return len(component) == 2 and component[1].startswith(component[0] + ".")


def test_core_modules_do_not_load_reflex_when_imported():
    names = [m for m in MODULES if not (_is_under(m, "lashme.ui") or m == "lashme.lashme")]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m == 'reflex' or m.startswith('reflex.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(names) > 10
    assert out.stdout.strip() == "", f"core imports reflex: {out.stdout}"


def test_the_boundary_checks_see_a_violation(tmp_path):
    """The checks are not vacuous: a UI-like module importing the ORM is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from lashme.ops.db import session_scope\nimport sqlalchemy\n\ndef f():\n    import redis\n"
    )
    names = _imports(bad, "lashme.ui.bad")
    assert {"lashme.ops.db", "lashme.ops.db.session_scope", "sqlalchemy", "redis"} <= names
