"""Print nasnb's internal import graph and its cycles: ``python scripts/import_graph.py [--lazy]``.

Edges are the imports of one nasnb module by another, read from the source with :mod:`ast`.
By default only load-time imports count (module level, outside ``if TYPE_CHECKING:``);
``--lazy`` adds the imports made inside functions. Cycles are found with networkx.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "nasnb"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The nasnb modules an ``import from`` names (``from . import a`` names ``pkg.a`` when that is a module)."""
    if node.level:
        base = current.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test) if test is not None else False


def imports(path: Path, lazy: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    name, is_package = module_name(path), path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom) and (top or lazy):
                found.update(resolve(name, is_package, child))
            elif isinstance(child, ast.Import) and (top or lazy):
                found.update(alias.name for alias in child.names)
            visit(child, inner)

    visit(tree, True)
    return found


def build(lazy: bool) -> nx.DiGraph:
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        for target in imports(path, lazy):
            if target in files and target != name and not name.startswith(target + "."):
                graph.add_edge(name, target)
    return graph


def _rotated(cycle: list[str]) -> list[str]:
    """The cycle starting at its smallest name, in import order, closed."""
    i = cycle.index(min(cycle))
    return cycle[i:] + cycle[:i] + [cycle[i]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lazy", action="store_true", help="count imports inside functions too")
    parser.add_argument("--edges", action="store_true", help="print every edge")
    args = parser.parse_args(argv)
    graph = build(args.lazy)
    if args.edges:
        for a, b in sorted(graph.edges):
            print(f"{a} -> {b}")
    cycles = sorted(_rotated(c) for c in nx.simple_cycles(graph) if len(c) > 1)
    kind = "load-time and lazy" if args.lazy else "load-time"
    print(f"{graph.number_of_nodes()} modules, {graph.number_of_edges()} {kind} import edges, {len(cycles)} cycles")
    for cycle in cycles[:20]:
        print("  cycle: " + " -> ".join(cycle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
