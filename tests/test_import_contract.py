"""The import contract of the three packages, read from their sources with `ast` (nothing is imported):

- no import cycle among the project's modules. Every executed `import` counts: at module level (inside
  `if`/`try` too) and inside functions and methods (a function-level import only defers a cycle to the
  first call); imports under `if TYPE_CHECKING:` never run and do not count. An import of `a.b.c` is an
  edge to the module `a.b.c` (its parent packages' `__init__` are not counted as edges: they import
  nothing of their children here);
- `auditor` imports nothing from `oracle` or `finetune` (the dependency direction of
  docs/architecture.md: `oracle -> auditor`, `finetune -> auditor`).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("auditor", "oracle", "finetune")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "__pycache__" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, functions: bool = True) -> list[ast.Import | ast.ImportFrom]:
    """Every import that can run, TYPE_CHECKING blocks left out; `functions=False`: only those that run
    when the module is imported (not inside a function or a lambda)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if not functions and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _project(name: str) -> str | None:
    """The project module an import of `name` loads (its longest known prefix), None outside the project."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules():
            return ".".join(parts)
        parts.pop()
    return None


@cache
def graph(functions: bool = True) -> dict[str, frozenset[str]]:
    """Module -> the project modules it imports (`functions=False`: at import time only)."""
    edges: dict[str, frozenset[str]] = {}
    for name, path in modules().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path)), functions):
            if isinstance(node, ast.Import):
                targets.update(t for a in node.names if (t := _project(a.name)))
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:        # `from a.b import c`: the module a.b.c if there is one, else a.b
                if target := _project(f"{base}.{alias.name}") or _project(base):
                    targets.add(target)
        targets.discard(name)
        edges[name] = frozenset(targets)
    return edges


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:             # iterative: no recursion limit on a deep graph
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return sorted(found)


def test_the_graph_sees_the_project():
    edges = graph()
    assert {"auditor.cli", "auditor.pipeline", "oracle.daemon"} <= set(edges)
    assert "auditor.report.model" in edges["auditor.report.registry"] | {
        m for t in edges["auditor.report.registry"] for m in edges[t]}
    assert "auditor" in {m.split(".")[0] for m in edges["oracle.cli"] | edges["oracle.daemon"]}


def test_cycle_detection_finds_a_planted_cycle():
    planted = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert cycles(planted) == [["a", "b", "c"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_auditor_imports_nothing_from_oracle_or_finetune():
    bad = {f"{m} -> {t}" for m, targets in graph().items() if m.split(".")[0] == "auditor"
           for t in targets if t.split(".")[0] in ("oracle", "finetune")}
    assert not bad, sorted(bad)


def test_no_import_cycle_at_import_time():
    """Module-level imports alone: a cycle here is one that can break `import` itself."""
    assert not cycles(graph(functions=False))


def test_no_import_cycle():
    """Module-level and function-level imports together."""
    assert not cycles(graph())
