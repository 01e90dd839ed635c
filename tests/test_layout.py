"""The package layout: imports run one way, from the entry points down to the model, and no two modules import
each other (directly or around a loop). Read from the source with `ast`, so lazy imports inside functions count."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reamo", "encoders", "grounding", "training")

# Lower layers never import higher ones. Inside a layer any direction is allowed, but no loops (test below).
LAYERS = [
    ("foundation", ("reamo", "reamo.errors", "reamo.configbase", "reamo.paths", "reamo.process_group")),
    ("records and what they are written as", ("reamo.records", "reamo.export")),
    ("media encoders and grounding heads", ("encoders", "grounding")),
    ("model", ("reamo.model",)),
    ("inference", ("reamo.inference",)),
    ("public API", ("reamo.api",)),
    ("training", ("training",)),
    ("entry points and tools", ("reamo.cli", "reamo.inference.cli", "reamo.export.cli", "reamo.planning", "reamo.evaluation",
                                "reamo.converters", "reamo.corpora", "reamo.builders", "reamo.benchmark", "reamo.quickstart", "reamo.demo", "reamo.synth")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The first-party module an import names (a name imported from a package may be a submodule)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in known.items():
        deps: set[str] = set()
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                if t.split(".")[0] in PACKAGES and (dep := _resolve(t, known)) and dep != mod:
                    deps.add(dep)
        graph[mod] = deps
    # importing a submodule runs its package's __init__; that edge is Python's, not the module's choice
    return {m: {d for d in ds if not m.startswith(d + ".")} for m, ds in graph.items()}


def layer_of(mod: str) -> int:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and len(p) > best_len and not (p == "reamo" and mod != "reamo"):
                best, best_len = i, len(p)
    if best is None:
        raise AssertionError(f"{mod} belongs to no layer: add it to LAYERS in tests/test_layout.py")
    return best


def test_every_module_has_a_layer():
    for mod in _modules():
        layer_of(mod)


def test_imports_run_down_the_layers():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
              for m, deps in import_graph().items() for d in sorted(deps) if layer_of(d) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_no_import_loops():
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                loops.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not loops, f"modules that import each other: {loops}"


def test_the_graph_sees_lazy_imports():
    """The checks above would pass on an empty graph; this one fails if the parser stops seeing imports."""
    g = import_graph()
    assert "reamo.model.modeling" in g["reamo.api"]
    assert "grounding" in g["reamo.model.modeling"]  # imported inside a method
    assert "reamo.export.visualize" in g["reamo.records.results"]  # imported inside a method


@pytest.mark.parametrize("mod", ["reamo.records", "reamo.records.formats", "reamo.records.results"])
def test_records_need_no_torch(mod):
    import subprocess
    import sys

    code = f"import sys, {mod}; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
