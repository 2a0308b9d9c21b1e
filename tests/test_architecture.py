"""The floors of the package (docs/architecture.md): engines import no model or face, models import
no face, and no module of jaxtrade imports itself back through a cycle.

Imports are read from the source (``ast``), including those inside functions: a lazy import that
closes a cycle is still a cycle in the design, and it breaks as soon as someone moves it to the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jaxtrade

ROOT = Path(jaxtrade.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    p = ROOT.parent.joinpath(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """The jaxtrade modules ``path`` imports (relative imports resolved, ``from pkg import mod`` as ``pkg.mod``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "jaxtrade")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "jaxtrade":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if _is_module(sub) else base)
    out.discard(name)
    return out


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in ROOT.rglob("*.py")}


def _floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


def test_the_import_reader_sees_relative_lazy_and_package_imports(tmp_path):
    # The reader must not be blind: on this package's own files it finds imports of every form.
    g = _graph()
    assert "jaxtrade.engine.validation" in g["jaxtrade.engine.simulate"]  # from .validation import ...
    assert "jaxtrade.engine.quadrature" in g["jaxtrade.engine.selection"]  # from . import quadrature as quad
    assert "jaxtrade.calibration" in g["jaxtrade.cli.calibrate"]  # from .. import calibration (inside a function)
    assert "jaxtrade.models.decomposition" in g["jaxtrade"]


def test_engines_import_no_model_and_no_face():
    bad = {m: sorted(d for d in deps if _floor(d) not in ("engine",) and d != "jaxtrade.engine")
           for m, deps in _graph().items() if _floor(m) == "engine"}
    bad = {m: d for m, d in bad.items() if d}
    assert not bad, f"engine modules importing models, faces or the package root: {bad}"


def test_models_import_no_face():
    bad = {m: sorted(d for d in deps if _floor(d) in ("calibration", "cli", "root"))
           for m, deps in _graph().items() if _floor(m) == "models"}
    bad = {m: d for m, d in bad.items() if d}
    assert not bad, f"model modules importing a face or the package root: {bad}"


def _find_cycle(graph):
    state, stack = {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if v not in graph:
                continue
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_no_import_cycle_inside_jaxtrade():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", ["solve_chain", "solve_tree", "simulate", "SequentialModel", "decompose", "solve_wages",
                                  "solve_free_entry", "distributions", "calibration", "melitz", "table1", "JaxtradeInputError"])
def test_public_surface_keeps_its_names(name):
    assert hasattr(jaxtrade, name)


def test_public_namespaces_import_by_their_short_names():
    import importlib

    from jaxtrade.distributions import Pareto  # noqa: F401

    for name in ("distributions", "melitz", "table1"):
        assert importlib.import_module(f"jaxtrade.{name}") is getattr(jaxtrade, name)
