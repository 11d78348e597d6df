"""Imports point one way: the modules split for "one idea, one place" do not import back up.

Read with ``scripts/import_graph.py`` (source, not ``sys.modules``), counting the imports made
inside functions too, so a lazy import that closes a cycle is caught as well.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import networkx as nx
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_graph.py"


def _build(lazy: bool) -> nx.DiGraph:
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(lazy=lazy)


@pytest.fixture(scope="module")
def lazy_graph() -> nx.DiGraph:
    """Every import, less the one sanctioned upward edge: a mutable's notebook display hook
    (``_repr_mimebundle_``) loads ``nasnb.widgets`` when a notebook first shows it."""
    graph = _build(lazy=True)
    assert sorted(graph.successors("nasnb.mutables")) == [
        "nasnb._reduction", "nasnb.architecture", "nasnb.decision", "nasnb.exceptions", "nasnb.widgets"]
    graph.remove_edge("nasnb.mutables", "nasnb.widgets")
    return graph


def _reaches(graph: nx.DiGraph, a: str, b: str) -> bool:
    return nx.has_path(graph, a, b)


def test_space_does_not_import_fixed(lazy_graph):
    """fixed.apply_fixed_architecture binds a space; the space builds from _fixed_modules, never fixed."""
    assert not _reaches(lazy_graph, "nasnb.space", "nasnb.fixed")
    assert not _reaches(lazy_graph, "nasnb._fixed_modules", "nasnb.space")
    assert lazy_graph.has_edge("nasnb.fixed", "nasnb.space")


@pytest.mark.parametrize("low, high", [
    ("nasnb.graph_layout", "nasnb.graph"),  # the layout reads node attributes only
    ("nasnb.graph_layout", "nasnb.plot"),
    ("nasnb._fingerprint", "nasnb.nni_format"),  # journals hash a space without NNI interop
    ("nasnb.journal", "nasnb.widgets"),
])
def test_lower_module_does_not_import_higher(lazy_graph, low, high):
    assert not _reaches(lazy_graph, low, high), nx.shortest_path(lazy_graph, low, high)


def test_lazy_cycles_all_pass_through_the_display_hook(lazy_graph):
    assert list(nx.simple_cycles(lazy_graph)) == []


def test_graph_does_not_import_the_views_at_load_time():
    graph = _build(lazy=False)
    assert not any(_reaches(graph, "nasnb.graph", view) for view in ("nasnb.plot", "nasnb.widgets"))
