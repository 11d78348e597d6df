"""Where to draw the nodes of a recorded graph: a left-to-right layered (Sugiyama) layout.

:func:`layered_layout` gives positions ``node -> (x, y)`` for a graph from
:func:`nasnb.graph.build_graph`; :func:`nasnb.plot.draw_space` uses the same layout
(:func:`layered`, with each node's real size) and draws the edges through its bend
points. The layout reads only node attributes (``kind``, ``choice``, ``index``) and
never imports the recording module, so views can use it without the core.

The steps: assign layers (longest path; a choice moves right, next to where its output
is used), group the candidates of one choice into a block, put a dummy item on each layer
that a long edge crosses, order each layer by barycentre sweeps, then place the items
near the mean of their neighbours without overlaps (isotonic regression, :func:`_pav`).

Examples
--------
>>> import networkx as nx
>>> g = nx.DiGraph([("input", "a"), ("input", "output"), ("a", "output")])
>>> lay = layered(g)
>>> lay.layers
[['input'], ['a', ('dummy', 'input', 1)], ['output']]
>>> lay.routes
{('input', 'output'): [('dummy', 'input', 1)]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Layered", "layered", "layered_layout"]

Links = dict[Any, list[Any]]


class Layered(NamedTuple):
    """A layered (Sugiyama) layout: layers of items, where an item is a node, the
    candidates of one choice stacked as a block, or a dummy bend point of long edges."""

    layers: list[list[Any]]  # items of each layer, top to bottom
    layer: dict[Any, int]  # item or node -> layer
    y: dict[Any, float]  # item or node -> centre (y grows upwards)
    item: dict[str, Any]  # node -> its item (itself, or its candidates' block)
    members: dict[Any, list[str]]  # block -> its candidates, top to bottom
    height: dict[Any, float]  # item -> height
    routes: dict[tuple[str, str], list[Any]]  # edge -> the dummy items it passes, left to right


def _pav(desired: list[float], seps: list[float], weights: list[float]) -> list[float]:
    """Positions closest (least squares) to ``desired`` with ``t[i+1] - t[i] >= seps[i]``."""
    off = [0.0]
    for sep in seps:
        off.append(off[-1] + sep)
    blocks: list[list[float]] = []  # [value, weight, count]
    for c, w in zip((d - o for d, o in zip(desired, off)), weights):
        blocks.append([c, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for v, _, n in blocks:
        out.extend([v] * int(n))
    return [u + o for u, o in zip(out, off)]


def _assign_layers(graph: "nx.DiGraph", order: list[str]) -> dict[Any, int]:
    """Longest-path layers; a choice (and a node with no more inputs than outputs) moves right.

    A choice with its candidates sits next to where its output is used, so the edges of a
    DARTS node sit beside that node instead of piling up after the cell input; a cell's
    preprocessing sits in that cell, not where its input was made.
    """
    layer: dict[Any, int] = {}
    for n in order:
        layer[n] = 1 + max((layer[p] for p in graph.predecessors(n)), default=-1)
    for n in reversed(order):
        succ = list(graph.successors(n))
        kind = graph.nodes[n].get("kind")
        if not succ or kind in ("input", "candidate"):
            continue
        target = min(layer[s] for s in succ) - 1
        if target <= layer[n]:
            continue
        if kind == "layer_choice":
            layer[n] = target
            for c in graph.predecessors(n):
                if graph.nodes[c].get("kind") == "candidate":
                    layer[c] = target - 1
        elif graph.out_degree(n) >= graph.in_degree(n):
            layer[n] = target
    return layer


def _blocks(graph: "nx.DiGraph", order: list[str], layer: dict[Any, int], height: Callable[[str], float],
            inner_gap: float, block_pad: float) -> tuple[dict[str, Any], dict[Any, list[str]], dict[Any, float]]:
    """Each node's item (itself, or the block of its choice's candidates in that layer), blocks and their heights."""
    item: dict[str, Any] = {}
    members: dict[Any, list[str]] = {}
    for n in order:
        d = graph.nodes[n]
        it = ("block", d["choice"], layer[n]) if d.get("kind") == "candidate" and d.get("choice") in graph else n
        item[n] = it
        members.setdefault(it, []).append(n)
    members = {it: sorted(ms, key=lambda m: graph.nodes[m].get("index", 0))
               for it, ms in members.items() if isinstance(it, tuple)}
    hgt: dict[Any, float] = {}
    for it, ms in members.items():
        hgt[it] = sum(height(m) for m in ms) + inner_gap * (len(ms) - 1) + 2 * block_pad
        layer[it] = layer[ms[0]]
    return item, members, hgt


def _link_with_dummies(graph: "nx.DiGraph", item: dict[str, Any], layer: dict[Any, int], layers: list[list[Any]],
                       hgt: dict[Any, float], preds: Links, succs: Links) -> dict[tuple[str, str], list[Any]]:
    """Link the items along the edges; a long edge passes a dummy in each layer between its ends.

    The long edges of one source share their dummies (a lane that the edges leave where
    their target is), so they never cross a node and run parallel instead of fanning out.
    Returns each long edge's dummies, left to right.
    """
    def link(a: Any, b: Any) -> None:
        if b not in succs[a]:
            succs[a].append(b)
            preds[b].append(a)

    reach: dict[Any, int] = {}  # source item -> last layer its lane must reach
    long_edges = []
    for u, v in graph.edges:
        a, b = item[u], item[v]
        if a == b:
            continue
        if layer[b] - layer[a] == 1:
            link(a, b)
        else:
            reach[a] = max(reach.get(a, 0), layer[b] - 1)
            long_edges.append((u, v, a, b))
    for a, last in reach.items():
        prev = a
        for k in range(layer[a] + 1, last + 1):
            dummy = ("dummy", a, k)
            layer[dummy] = k
            hgt[dummy] = 0.0
            layers[k].append(dummy)
            preds[dummy], succs[dummy] = [], []
            link(prev, dummy)
            prev = dummy
    routes: dict[tuple[str, str], list[Any]] = {}
    for u, v, a, b in long_edges:
        link(("dummy", a, layer[b] - 1), b)
        routes[(u, v)] = [("dummy", a, k) for k in range(layer[a] + 1, layer[b])]
    return routes


def _order(layers: list[list[Any]], preds: Links, succs: Links, sweeps: int) -> None:
    """Order each layer (in place) by barycentre sweeps down and up."""
    pos: dict[Any, float] = {it: float(i) for lay in layers for i, it in enumerate(lay)}

    def sweep(ks: Iterable[int], nbrs: Links) -> None:
        for k in ks:
            lay = layers[k]
            key = {it: (sum(pos[p] for p in nbrs[it]) / len(nbrs[it]) if nbrs[it] else pos[it]) for it in lay}
            lay.sort(key=key.__getitem__)
            for i, it in enumerate(lay):
                pos[it] = float(i)

    n_layers = len(layers)
    for _ in range(sweeps):
        sweep(range(1, n_layers), preds)
        sweep(range(n_layers - 2, -1, -1), succs)
    sweep(range(1, n_layers), preds)


def _is_dummy(it: Any) -> bool:
    return isinstance(it, tuple) and it[0] == "dummy"


def _place(layers: list[list[Any]], hgt: Mapping[Any, float], preds: Links, succs: Links, sweeps: int,
           gap: float, lane_gap: float) -> dict[Any, float]:
    """Each item's position along its layer: near the mean of its neighbours, without overlaps."""
    def seps(lay: list[Any]) -> list[float]:
        out = []
        for a, b in zip(lay, lay[1:]):
            da, db = _is_dummy(a), _is_dummy(b)
            g = lane_gap if da and db else gap if not (da or db) else (gap + lane_gap) / 2
            out.append((hgt[a] + hgt[b]) / 2 + g)
        return out

    t: dict[Any, float] = {}
    for lay in layers:
        placed = _pav([0.0] * len(lay), seps(lay), [1.0] * len(lay))
        mid = (placed[0] + placed[-1]) / 2 if placed else 0.0
        for it, v in zip(lay, placed):
            t[it] = v - mid

    def place(ks: Iterable[int], nbr_sets: list[Links]) -> None:
        for k in ks:
            lay = layers[k]
            desired, weights = [], []
            for it in lay:
                ns = [p for nb in nbr_sets for p in nb[it]]
                desired.append(sum(t[p] for p in ns) / len(ns) if ns else t[it])
                weights.append(2.0 if _is_dummy(it) else 1.0)
            for it, v in zip(lay, _pav(desired, seps(lay), weights)):
                t[it] = v

    n_layers = len(layers)
    for _ in range(sweeps):
        place(range(1, n_layers), [preds])
        place(range(n_layers - 2, -1, -1), [succs])
    place(range(n_layers), [preds, succs])
    place(range(1, n_layers), [preds])
    return t


def layered(graph: "nx.DiGraph", *, sweeps: int = 4, size: Mapping[str, float] | None = None,
            gap: float = 0.5, lane_gap: float = 0.25, inner_gap: float = 0.2, block_pad: float = 0.0) -> Layered:
    """Layers, order and y coordinates of a graph, with dummy items on long edges.

    ``size`` gives each node's height (default 0.5, candidates 0.3); ``gap`` separates
    items of a layer, ``lane_gap`` two dummies, ``inner_gap`` the candidates of a block
    (which also gets ``block_pad`` above and below). An edge spanning several layers
    passes a dummy in each layer between its ends; the long edges of one source share
    their dummies (a lane that the edges leave where their target is), so they never cross
    a node and run parallel instead of fanning out.
    """
    import networkx

    def height(n: str) -> float:
        if size is not None and n in size:
            return size[n]
        return 0.3 if graph.nodes[n].get("kind") == "candidate" else 0.5

    order = list(networkx.topological_sort(graph))
    layer = _assign_layers(graph, order)
    item, members, hgt = _blocks(graph, order, layer, height, inner_gap, block_pad)
    layers: list[list[Any]] = [[] for _ in range(1 + max(layer.values(), default=-1))]
    seen: set[Any] = set()
    for n in order:
        it = item[n]
        if it not in seen:
            seen.add(it)
            layers[layer[it]].append(it)
            hgt.setdefault(it, height(n))
    preds: Links = {it: [] for it in seen}
    succs: Links = {it: [] for it in seen}
    routes = _link_with_dummies(graph, item, layer, layers, hgt, preds, succs)
    _order(layers, preds, succs, sweeps)
    t = _place(layers, hgt, preds, succs, sweeps, gap, lane_gap)
    y: dict[Any, float] = {it: -v + 0.0 for it, v in t.items()}
    for it, ms in members.items():
        top = y[it] + hgt[it] / 2 - block_pad
        for m in ms:
            y[m] = top - height(m) / 2 + 0.0
            top -= height(m) + inner_gap
    return Layered(layers, layer, y, item, members, hgt, routes)


def layered_layout(graph: "nx.DiGraph", *, sweeps: int = 4) -> dict[str, tuple[float, float]]:
    """Left-to-right layered positions ``node -> (x, y)`` for a graph from :func:`build_graph`.

    ``x`` is the longest-path layer (a choice moves right, next to where its output is
    used); an edge spanning several layers gets a bend point in each layer it crosses, so
    nodes are placed around it rather than on it (a Sugiyama layout); within a layer nodes
    are ordered by barycentre sweeps and placed near the mean of their neighbours. The
    candidates of one choice stay together, stacked with half spacing, so they can be drawn
    side by side in a box. :func:`nasnb.plot.draw_space` uses the same layout (:func:`layered`)
    with each node's real size and draws the edges through their bend points.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("input", "a"), ("a", "output")])
    >>> for n in g:
    ...     g.nodes[n]["kind"] = "op"
    >>> layered_layout(g)
    {'input': (0.0, 0.0), 'a': (1.0, 0.0), 'output': (2.0, 0.0)}
    """
    lay = layered(graph, sweeps=sweeps)
    return {n: (float(lay.layer[n]), float(lay.y[n]) + 0.0) for n in graph}
