"""The import graph of streamlearn has no cycles (issue 14).

Every module's imports are read with ``ast``, those inside functions (lazy
imports) included, and resolved to modules of the package: ``from .x import y``
is an import of ``x.y`` when that is a module, otherwise of ``x``. Importing a
submodule also runs its package's ``__init__``; that implicit edge is not
counted (every module would then "import" ``streamlearn``), only what a
module's own text names.
"""

import ast
from pathlib import Path

import streamlearn

PACKAGE = Path(streamlearn.__file__).parent
ROOT = PACKAGE.parent


def _modules():
    """Dotted name -> path of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name):
    return MODULES[name].name == "__init__.py"


def _resolve(module, level, name):
    """The absolute name of ``from <level dots><name> import ...`` in ``module``."""
    if level == 0:
        return name
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    if level > 1:
        base = base[:-(level - 1)]
    return ".".join(base + ([name] if name else []))


def _targets(module, node):
    """The package's modules that an import node names."""
    found = []
    if isinstance(node, ast.Import):
        found = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(module, node.level, node.module)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            found.append(sub if sub in MODULES else base)
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
          and node.func.attr == "import_module" and node.args
          and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        found = [node.args[0].value]  # importlib.import_module("streamlearn.x")
    out = set()
    for name in found:
        # ``import a.b.c`` imports a.b.c (and its parents, not counted)
        while name and name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            out.add(name)
    return out


def import_graph():
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for node in ast.walk(tree):
            edges |= _targets(module, node)
        graph[module] = edges
    return graph


GRAPH = import_graph()


def test_graph_sees_lazy_imports():
    # imports inside functions count: streamlearn/__init__ loads the River learners lazily
    assert "streamlearn.regressor" in GRAPH["streamlearn"]
    assert "streamlearn.experiments.tuning" in GRAPH["streamlearn.experiments.cli"]


def test_no_two_modules_import_each_other():
    pairs = sorted((a, b) for a, edges in GRAPH.items() for b in edges
                   if a < b and a in GRAPH.get(b, ()))
    assert pairs == [], f"modules that import each other: {pairs}"


def test_import_graph_is_acyclic():
    """No cycle of any length (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
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
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == [], f"import cycles: {cycles}"
