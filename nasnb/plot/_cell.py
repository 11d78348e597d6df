"""Draw the cells of a cell-based search space the way NAS papers do (DARTS Fig. 4/5).

``draw_cell`` draws each *cell type* once: its states (cell inputs ``c_{k-2}``,
``c_{k-1}``, intermediate nodes ``0, 1, ...`` and the output ``c_{k}``) as circles and
one arrow per incoming connection, labelled with the op on it. In the default discrete
mode only the connections an architecture keeps are drawn, with the chosen op's name;
with ``weights=`` (or ``history=``, a one-shot trainer's :class:`~nasnb.oneshot.ArchHistory`)
every candidate connection is drawn, its width and opacity growing with its weight and
its label giving the top candidate and that candidate's weight.

Nothing relies on how keys are spelled. The structure comes from the space itself:

* **cells** (:func:`_cell_types`): for every module, the set of keys of the mutables
  inside it. A key set S is a cell type when the innermost modules whose key set is
  exactly S (its *instances*) hold every mutable of every key in S. Cell types are the
  largest such sets with two or more instances (cells sharing keys: all DARTS normal
  cells share one set, all reduction cells another; NB-201's cells share one), plus the
  largest such sets used once beside them; without shared cells, the smallest such set
  holding every InputChoice and the keys its ``choose_from`` names (a hand-written
  NNI-style cell). One instance of each type is drawn.
* **states** (:func:`_cell_structure`): one forward of :func:`nasnb.graph.build_graph`
  (every candidate runs) records what feeds what. A state is a tensor that feeds a
  LayerChoice of the cell, the output of an InputChoice that combines op outputs (a
  DARTS node), a sum of op outputs (an NB-201 node), a tensor an InputChoice picks for
  an op or a sum (ENAS), or what leaves the cell (its output: a concatenation or sum of
  nodes, or the last node itself). States no choice of the cell computes from are the
  cell inputs; a state that is only another state passed through fixed layers (a
  BatchNorm, a reduction) is folded into it.
* **connections**: every path from one state to the next through at most one op
  (LayerChoice), fixed single-use layers (drop-path) and InputChoice slots; one is kept
  when every slot on it is chosen and its op is not a zero op (a ``Zero`` candidate or
  one named ``none``): NB-201's ``none`` edges are dropped edges (left out, or dashed
  with ``show_dropped``). Connections without an op (nodes concatenated into the
  output) are drawn plain and unlabelled.

Limits: cells that do not share keys and sit side by side in one model are drawn as one
cell unless ``modules=`` names them; a loose end that depends on the architecture (ENAS
concatenates the nodes no other node uses) is taken from the traced architecture.

Each drawing is built from plain values first (``_cell_info`` then ``_cell_layout``,
tested by value); nothing calls ``plt.show`` or changes global style.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.plot import draw_cell
>>> class Cell(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.a = mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="a")
...         self.b = mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="b")
...         self.pick = mutables.InputChoice(choose_from=["a", "b"], n_chosen=1, key="pick")
...     def forward(self, x):
...         return self.pick([self.a(x), self.b(x)])
>>> fig = draw_cell(Cell(), torch.zeros(1, 2))
>>> type(fig).__name__, len(fig.axes)
('Figure', 1)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._style import MIN_FONTSIZE, figure_of, series_style

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_cell"]

INPUT_COLOR = "#a1d99b"
NODE_COLOR = "#9ecae1"
OUTPUT_COLOR = "#fdd49e"
IDENTITY_COLOR = "#6b6b6b"
DROPPED_COLOR = "#9a9a9a"
MAX_WIDTH = 14.0  # inches: wider rows of cell types are stacked instead
NODE_RADIUS = 0.3  # data units; the drawing uses 1 data unit = 1 inch
DX, DY = 2.1, 1.25  # column and row spacing
STATE_FONTSIZE = 11.0
LABEL_FONTSIZE = max(9.0, MIN_FONTSIZE)
TITLE_FONTSIZE = 11.0
_RADS = (0.0, 0.15, -0.15, 0.25, -0.25, 0.35, -0.35, 0.5, -0.5, 0.65, -0.65, 0.85, -0.85, 1.05, -1.05)
_ZERO_TYPES = {"Zero"}
_ZERO_NAMES = {"none", "zero"}

_NO_CELL = ("draw_cell: {what} has no cell to draw: no InputChoice and no group of mutables repeated with "
            "shared keys (cells of the same type share keys, as DARTS' normal cells do). Draw the whole "
            "space with nasnb.plot.draw_space(model, example_input) instead, or name the cell modules "
            "with modules=[...].")


# ------------------------------------------------------------------ cells (key sets)
def _inside(path: str | None, prefix: str) -> bool:
    if path is None:
        return False
    return prefix == "" or path == prefix or path.startswith(prefix + ".")


def _prefixes(path: str) -> list[str]:
    parts = path.split(".") if path else []
    return [""] + [".".join(parts[: i + 1]) for i in range(len(parts))]


def _parent(path: str) -> str | None:
    if path == "":
        return None
    return path.rsplit(".", 1)[0] if "." in path else ""


def _cell_types(space: Any, modules: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The cell types of ``space``: ``[{"name", "keys", "instances", "modules"}]``, in model order.

    ``instances`` are the innermost module paths holding exactly the type's keys (one is
    drawn); ``modules`` the outermost module paths of those cells (for titles).
    """
    paths: dict[str, tuple[str, ...]] = {k: tuple(space[k].paths) for k in space}
    kind = {k: space[k].kind for k in space}
    keyset: dict[str, set[str]] = {}
    order: dict[str, int] = {}
    for key, ps in paths.items():
        for p in ps:
            for q in _prefixes(p):
                keyset.setdefault(q, set()).add(key)
                order.setdefault(q, len(order))
    children: dict[str, list[str]] = {}
    for q in keyset:
        par = _parent(q)
        if par is not None:
            children.setdefault(par, []).append(q)

    def instances_of(s: frozenset[str]) -> list[str]:
        found = [q for q, ks in keyset.items()
                 if ks == s and not any(keyset[c] == s for c in children.get(q, ()))]
        return sorted(found, key=order.__getitem__)

    def closed(s: frozenset[str], inst: list[str]) -> bool:
        return all(any(_inside(p, i) for i in inst) for k in s for p in paths[k])

    def outer(inst: str, all_inst: list[str]) -> str:
        """Widest module around ``inst`` with the same keys that holds no other instance."""
        s, cur = keyset[inst], inst
        while True:
            par = _parent(cur)
            if par is None or keyset.get(par) != s or any(_inside(o, par) for o in all_inst if o != inst):
                return cur
            cur = par

    def describe(s: frozenset[str], inst: list[str]) -> dict[str, Any]:
        keys = [k for k in space if k in s]
        return {"keys": keys, "instances": inst, "modules": [outer(i, inst) for i in inst]}

    if modules is not None:
        groups: dict[frozenset[str], list[str]] = {}
        for m in ([modules] if isinstance(modules, str) else list(modules)):
            if m not in keyset:
                raise ValueError(f"draw_cell: module {m!r} holds no mutable of the space; module paths with "
                                 f"mutables include {sorted(q for q in keyset if q)[:8]}")
            groups.setdefault(frozenset(keyset[m]), []).append(m)
        types: list[dict[str, Any]] = [{"keys": [k for k in space if k in s], "instances": ms, "modules": list(ms)}
                 for s, ms in groups.items()]
    else:
        sets = {frozenset(ks) for ks in keyset.values()}
        found: dict[frozenset[str], list[str]] = {}
        for s in sets:
            inst = instances_of(s)
            if inst and closed(s, inst):
                found[s] = inst

        def qualifies(s: frozenset[str]) -> bool:
            return any(kind[k] == "input" for k in s) or len(s) >= 2

        repeated = [s for s, inst in found.items() if len(inst) >= 2 and qualifies(s)]
        chosen = [s for s in repeated if not any(s < t for t in repeated)]
        if chosen:  # a cell type used once next to repeated ones (DARTS with one normal cell)
            single = [s for s in found if qualifies(s) and not any(s & t for t in chosen)]
            chosen += [s for s in single if not any(s < t for t in single)]
        else:
            ic_keys = {k for k in kind if kind[k] == "input"}
            ic_keys |= {space[n].key for k in list(ic_keys) for n in space[k].names if n and n in space}
            holding = [s for s in found if ic_keys and ic_keys <= s]
            if holding:
                chosen = [min(holding, key=len)]
            elif found:  # maybe an NB-201-like cell (sums of ops) used once: decided after the trace
                chosen = [max(found, key=len)]
        types = [describe(s, found[s]) for s in chosen]
        types.sort(key=lambda t: order[t["instances"][0]])
    model = space.model
    names: list[str] = []
    for t in types:
        keys = t["keys"]
        prefix = os.path.commonprefix(keys) if len(keys) > 1 else ""
        cut = max(prefix.rfind(c) for c in "_.-/: ")
        name = prefix[:cut].strip("_.-/: ") if cut >= 2 else ""
        if not name:
            try:
                name = type(model.get_submodule(t["modules"][0])).__name__.strip("_") or "cell"
            except AttributeError:  # pragma: no cover - paths come from the space
                name = "cell"
        names.append(name)
    for i, (t, name) in enumerate(zip(types, names)):
        t["name"] = name if names.count(name) == 1 else f"{name} {names[: i + 1].count(name)}"
    return types


# ---------------------------------------------------------------- states and edges
def _cell_structure(graph: "nx.DiGraph", prefix: str) -> dict[str, Any] | None:
    """States and connections of the cell whose mutables sit under module path ``prefix``.

    Returns ``{"states": [{"node", "role", "key"}], "edges": [{"src", "dst", "ops", "inputs"}]}``
    with graph node ids (``ops``: LayerChoice nodes, ``inputs``: (InputChoice node, slot));
    None when the cell has no choice node in the graph.
    """
    import networkx as nx

    g = graph
    kind = {n: d["kind"] for n, d in g.nodes(data=True)}
    ch = [n for n, d in g.nodes(data=True)
          if d["kind"] in ("layer_choice", "input_choice") and _inside(d.get("path"), prefix)]
    if not ch:
        return None
    ch_set = set(ch)
    lcs = [n for n in ch if kind[n] == "layer_choice"]
    ics = [n for n in ch if kind[n] == "input_choice"]

    def up(n: str) -> str:
        return g.nodes[n]["choice"] if kind[n] == "candidate" else n

    succ_cache: dict[str, list[str]] = {}

    def succ(v: str) -> list[str]:
        if v not in succ_cache:
            out: list[str] = []
            for s in g.successors(v):
                s = up(s)
                if s != v and s not in out:
                    out.append(s)
            succ_cache[v] = out
        return succ_cache[v]

    downstream = set(ch)
    for n in ch:
        downstream |= nx.descendants(g, n)
    downstream = {up(n) for n in downstream}
    upstream: set[str] = set()  # what feeds the cell's choices (e.g. a reduction between ENAS-macro layers)
    for n in ch:
        upstream |= {up(a) for a in nx.ancestors(g, n)}

    def passes(v: str) -> bool:
        """``v`` only carries one value on to one consumer (drop-path, a per-edge ReLU)."""
        k = kind[v]
        if v in ch_set or k not in ("op", "module", "function"):
            return False
        if k == "function" and v not in downstream:
            return False
        if k != "function" and not _inside(g.nodes[v].get("path"), prefix):
            return False
        preds = list(g.predecessors(v))
        return len(preds) == 1 and kind[preds[0]] != "input" and len(succ(v)) == 1

    def canon(v: str) -> str:
        seen = set()
        while passes(v) and v not in seen:
            seen.add(v)
            v = next(iter(g.predecessors(v)))
        return v

    def consumers(v: str) -> set[str]:
        out: set[str] = set()
        for s in succ(v):
            if passes(s):
                out |= consumers(s)
            else:
                out.add(s)
        return out

    src_of: dict[str, list[str]] = {}
    for n in lcs:
        srcs: list[str] = []
        for c in g.predecessors(n):
            if kind[c] != "candidate":
                continue
            for p in g.predecessors(c):
                p = canon(p)
                if p not in srcs:
                    srcs.append(p)
        src_of[n] = srcs
    slots: dict[str, list[tuple[str, int]]] = {}
    for n in ics:
        items = []
        for p in g.predecessors(n):
            e = g.edges[p, n]
            if "index" in e:
                items.append((canon(p), int(e["index"]), p))
        items.sort(key=lambda t: t[1])
        slots[n] = [(p, i) for p, i, _ in items]

    ic_set, lc_set = set(ics), set(lcs)
    edge_value = {n: bool(consumers(n)) and consumers(n) <= ic_set for n in lcs}

    def selector(n: str) -> bool:
        """An InputChoice picking states for one op or one sum (ENAS), not a node of its own (DARTS)."""
        if any(edge_value.get(p, False) for p, _ in slots[n]):
            return False
        cons = consumers(n)
        return bool(cons) and (cons <= lc_set or (len(cons) == 1 and all(kind[c] == "function" for c in cons)))

    aggregator = {n: not selector(n) for n in ics}

    inputs: list[str] = []
    states: list[str] = []

    def add_input(u: str) -> None:
        if u not in inputs:
            inputs.append(u)

    def is_state_source(u: str) -> bool:
        return not (u in ic_set and not aggregator[u]) and not (u in lc_set and edge_value[u])

    for n in ch:
        sources = src_of[n] if n in lc_set else [p for p, _ in slots[n]]
        for u in sources:
            if u not in downstream:
                add_input(u)
            elif is_state_source(u) and u not in states:
                states.append(u)
        if n in ic_set and aggregator[n] and n not in states:
            states.append(n)

    state_set = set(inputs) | set(states)
    memo: dict[str, list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]]] = {}

    def contrib(v: str, top: bool = False) -> list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]]:
        if not top and v in state_set:
            return [(v, (), ())]
        if not top and v in memo:
            return memo[v]
        res: list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]] = []
        if v in lc_set:
            for u in src_of[v]:
                res += [(s, ops + (v,), sel) for s, ops, sel in contrib(u)]
        elif v in ic_set:
            for u, i in slots[v]:
                res += [(s, ops, sel + ((v, i),)) for s, ops, sel in contrib(u)]
        elif v not in downstream or kind[v] == "input":
            add_input(v)
            state_set.add(v)
            res = [(v, (), ())]
        else:
            for p in g.predecessors(v):
                res += contrib(canon(p))
        if not top:
            memo[v] = res
        return res

    # region of the cell: its choices, the ops inside its module and what joins them
    topo = list(nx.topological_sort(g))
    region: set[str] = set()
    for v in topo:
        k = kind[v]
        if v in ch_set or (k == "candidate" and g.nodes[v]["choice"] in ch_set):
            region.add(v)
        elif v in downstream and k in ("op", "module") and _inside(g.nodes[v].get("path"), prefix):
            region.add(v)
        elif v in downstream and k == "function" and all(p in region or p in state_set for p in g.predecessors(v)):
            region.add(v)
    # sums of op outputs are nodes (NB-201), unless they only feed a larger sum of the same kind
    for v in topo:
        if v in region and kind[v] == "function" and v not in state_set:
            cons = consumers(v)
            partial = len(cons) == 1 and all(kind[c] == "function" and g.nodes[c]["type"] == g.nodes[v]["type"]
                                             and c in region for c in cons)
            if not partial and any(ops for _, ops, _ in contrib(v, top=True)):
                states.append(v)
                state_set.add(v)
                memo.clear()
    exits: list[str] = []
    for v in topo:
        if v in region and kind[v] != "candidate" and not passes(v):
            if any(s not in region and s not in upstream for s in succ(v)) or not succ(v):
                c = canon(v)
                if c not in exits:
                    exits.append(c)
    output: str | None = None
    extra_edges: list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]] = []
    if len(exits) == 1 and exits[0] in state_set and exits[0] not in inputs:
        output = exits[0]
        states.remove(output)
    elif len(exits) == 1 and exits[0] not in state_set:
        output = exits[0]
        state_set.add(output)
        memo.clear()
    elif exits:
        output = "<output>"
        for e in exits:
            extra_edges += [(s, ops, sel) for s, ops, sel in ([(e, (), ())] if e in state_set else contrib(e, True))]

    rank = {v: i for i, v in enumerate(topo)}
    states.sort(key=rank.__getitem__)
    out_states = [{"node": u, "role": "input", "key": None} for u in inputs]
    out_states += [{"node": u, "role": "node", "key": g.nodes[u]["key"] if u in ic_set else None} for u in states]
    edges: list[dict[str, Any]] = []

    def add_edges(dst: str, items: list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]]) -> None:
        seen = set()
        for s, ops, sel in items:
            if (s, ops, sel) in seen or s == dst:
                continue
            seen.add((s, ops, sel))
            edges.append({"src": s, "dst": dst, "ops": list(ops), "inputs": [list(x) for x in sel]})

    for u in states:
        add_edges(u, contrib(u, top=True))
    if output is not None:
        key = g.nodes[output]["key"] if output in ic_set else None
        out_states.append({"node": output, "role": "output", "key": key})
        add_edges(output, extra_edges if output == "<output>" else contrib(output, top=True))
    return _merge_copies(g, out_states, edges)


def _merge_copies(g: "nx.DiGraph", states: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold states that are fixed transforms of one other state into it.

    A state whose only connection is a plain one (no op, no choice) from one state is that
    state passed through fixed layers (a BatchNorm after a node, ENAS-macro's reduction of
    every earlier output); a cell input computed from another cell input only (every path
    to it from the model input runs through that one) is the same input.
    """
    import networkx as nx

    role = {s["node"]: s["role"] for s in states}
    alias: dict[str, str] = {}
    inputs = [s["node"] for s in states if s["role"] == "input"]
    if len(inputs) > 1:
        roots = [n for n, d in g.nodes(data=True) if d["kind"] == "input"]
        h = g.copy()
        h.add_edges_from(("<root>", r) for r in roots)
        dom = nx.immediate_dominators(h, "<root>")
        for u in inputs:
            v = dom.get(u)
            while v is not None and v != "<root>" and v not in inputs:
                v = dom.get(v) if dom.get(v) != v else None
            if v in inputs and v != u:
                alias[u] = v

    def find(u: str) -> str:
        while u in alias:
            u = alias[u]
        return u

    for s in states:
        u = s["node"]
        if s["role"] == "input" or u in alias:
            continue
        incoming = [e for e in edges if find(e["dst"]) == u and find(e["src"]) != u]
        if len(incoming) == 1 and not incoming[0]["ops"] and not incoming[0]["inputs"]:
            src = find(incoming[0]["src"])
            if not (s["role"] == "output" and role[src] == "input"):
                alias[u] = src
                if s["role"] == "output":
                    role[src] = "output"
    if not alias:
        return {"states": states, "edges": edges}
    kept_states = []
    for s in states:
        if s["node"] not in alias:
            kept_states.append(dict(s, role=role[s["node"]]))
    out: list[dict[str, Any]] = []
    seen = set()
    for e in edges:
        src, dst = find(e["src"]), find(e["dst"])
        sig = (src, dst, tuple(e["ops"]), tuple(map(tuple, e["inputs"])))
        if src == dst or sig in seen:
            continue
        seen.add(sig)
        out.append(dict(e, src=src, dst=dst))
    # the output stays last
    kept_states.sort(key=lambda s: s["role"] == "output")
    return {"states": kept_states, "edges": out}


# ------------------------------------------------------------------- info (by value)
def _history_weights(history: Any, record: int) -> tuple[dict[str, list[float]], str]:
    if not hasattr(history, "records") or not hasattr(history, "names"):
        raise TypeError(f"draw_cell: history must be an nasnb.oneshot.ArchHistory, got {type(history).__name__}")
    if not history.records:
        raise ValueError("draw_cell: the history has no records yet; train first (or record at least once)")
    try:
        rec = history.records[record]
    except IndexError:
        raise ValueError(f"draw_cell: record={record} is out of range; the history has "
                         f"{len(history.records)} records") from None
    note = f"{history.kind}, epoch {rec.epoch:g}, step {rec.step}"
    return {k: list(v) for k, v in rec.weights.items()}, note


def _is_zero(spec: Any, index: int) -> bool:
    types = getattr(spec, "candidate_types", ()) or ()
    return (index < len(types) and types[index] in _ZERO_TYPES) or str(spec.names[index]).lower() in _ZERO_NAMES


def _input_labels(n: int) -> list[str]:
    return [f"c_{{k-{n - i}}}" for i in range(n)]


def _resolve_arch(space: Any, arch: Mapping[str, Any] | None) -> dict[str, tuple[int, ...]]:
    current = space.current()
    if arch is not None:
        if not isinstance(arch, Mapping):
            raise TypeError(f"draw_cell: arch must be a mapping key -> choice, got {type(arch).__name__}")
        merged = dict(current)
        for k, v in arch.items():
            merged[space[k].key] = v
        current = space.validate(merged)
    return {k: tuple(space[k].parse(v)) for k, v in current.items()}


def _cell_info(
    space: Any,
    graph: "nx.DiGraph",
    *,
    arch: Mapping[str, Any] | None = None,
    weights: Mapping[str, Sequence[float]] | None = None,
    modules: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Every cell type with its states and connections, as plain values.

    Each cell type: ``name``, ``keys``, ``modules`` (every cell of the type), ``drawn``
    (the module drawn), ``states`` (``index``, ``role`` input/node/output, ``label``,
    ``node``, ``key``) and ``edges``: ``src``/``dst`` (state indices), ``op_keys``
    (LayerChoice keys on it), ``inputs`` ([InputChoice key, slot]), ``op`` (chosen op, or
    the top one with ``weights``), ``zero``, ``selected`` (every slot chosen), ``kept``,
    ``label``, and with ``weights`` ``op_weight`` (the top op's weight) and ``weight``.
    """
    types = _cell_types(space, modules)
    chosen = _resolve_arch(space, arch)
    specs = {k: space[k] for k in space}
    cells: list[dict[str, Any]] = []
    for t in types:
        struct = _cell_structure(graph, t["instances"][0])
        if struct is None or not struct["edges"]:
            continue
        n_ops = sum(1 for e in struct["edges"] if e["ops"])
        has_ic = any(specs[k].kind == "input" for k in t["keys"])
        merged: dict[str, int] = {}  # state -> edges with ops into it
        for e in struct["edges"]:
            merged[e["dst"]] = merged.get(e["dst"], 0) + bool(e["ops"])
        if not has_ic and len(t["instances"]) < 2 and not any(v >= 2 for v in merged.values()):
            continue  # a plain chain of LayerChoices is no cell
        if n_ops == 0:
            continue
        index = {s["node"]: i for i, s in enumerate(struct["states"])}
        n_in = sum(1 for s in struct["states"] if s["role"] == "input")
        in_labels = _input_labels(n_in)
        states = []
        j = 0
        for i, s in enumerate(struct["states"]):
            if s["role"] == "input":
                label = in_labels[i]
            elif s["role"] == "output":
                label = "c_{k}"
            else:
                label, j = str(j), j + 1
            states.append({"index": i, "role": s["role"], "label": label, "node": s["node"], "key": s["key"]})
        edges = []
        for e in struct["edges"]:
            op_keys = [graph.nodes[n]["key"] for n in e["ops"]]
            inputs = [[graph.nodes[n]["key"], i] for n, i in e["inputs"]]
            selected = all(i in chosen[k] for k, i in inputs)
            names = [specs[k].names[chosen[k][0]] for k in op_keys]
            zero = any(_is_zero(specs[k], chosen[k][0]) for k in op_keys)
            edge = {"src": index[e["src"]], "dst": index[e["dst"]], "op_keys": op_keys, "inputs": inputs,
                    "op": " · ".join(names) if names else None, "zero": zero, "selected": selected,
                    "kept": selected and not zero, "label": " · ".join(names)}
            if weights is not None:
                tops, op_w = [], 1.0
                for k in op_keys:
                    if k not in weights:
                        raise ValueError(f"draw_cell: weights has no entry for key {k!r} (an op of cell "
                                         f"{t['name']!r}); give one weight per candidate {list(specs[k].names)}")
                    w = [float(x) for x in weights[k]]
                    if len(w) != len(specs[k].names):
                        raise ValueError(f"draw_cell: weights[{k!r}] has {len(w)} values, expected "
                                         f"{len(specs[k].names)} ({list(specs[k].names)})")
                    live = [i for i in range(len(w)) if not _is_zero(specs[k], i)] or list(range(len(w)))
                    top = max(live, key=lambda i: w[i])
                    tops.append(specs[k].names[top])
                    op_w *= w[top]
                slot_ws = []
                for k, i in inputs:
                    if k in weights:
                        if len(weights[k]) != len(specs[k].names):
                            raise ValueError(f"draw_cell: weights[{k!r}] has {len(weights[k])} values, expected "
                                             f"one per input ({len(specs[k].names)})")
                        slot_ws.append(float(weights[k][i]))
                if slot_ws:
                    weight = math.prod(slot_ws)
                elif op_keys:
                    weight = op_w
                else:
                    weight = None
                edge["op"] = " · ".join(tops) if tops else None
                edge["op_weight"] = op_w if op_keys else None
                edge["weight"] = weight
                edge["label"] = f"{edge['op']} {op_w:.2f}" if op_keys else ""
            edges.append(edge)
        edges.sort(key=lambda e: (e["dst"], e["src"]))
        cells.append({"name": t["name"], "keys": t["keys"], "modules": t["modules"], "drawn": t["modules"][0],
                      "states": states, "edges": edges})
    return cells


# ------------------------------------------------------------------------- layout
def _bezier(p0: tuple[float, float], p1: tuple[float, float], rad: float, t: float) -> tuple[float, float]:
    """Point at ``t`` of matplotlib's ``arc3,rad=rad`` curve from ``p0`` to ``p1`` (equal aspect)."""
    (x0, y0), (x1, y1) = p0, p1
    cx = (x0 + x1) / 2 + rad * (y1 - y0)
    cy = (y0 + y1) / 2 - rad * (x1 - x0)
    a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
    return a * x0 + b * cx + c * x1, a * y0 + b * cy + c * y1


def _arc_points(p0: tuple[float, float], p1: tuple[float, float], rad: float, n: int = 41) -> list[tuple[float, float]]:
    """Points along the drawn arrow from ``p0`` to ``p1`` (``n`` samples, endpoints included)."""
    return [_bezier(p0, p1, rad, i / (n - 1)) for i in range(n)]


def _text_size(text: str, fontsize: float) -> tuple[float, float]:
    """Approximate width and height (inches = data units) of a one-line label with its box."""
    return len(text) * 0.58 * fontsize / 72 + 0.1, 1.25 * fontsize / 72 + 0.08


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def _cell_layout(cell: dict[str, Any], *, mode: str = "discrete", show_dropped: bool = False) -> dict[str, Any]:
    """Positions of states, arcs and labels of one cell type (1 data unit = 1 inch).

    Returns ``{"pos": {index: (x, y)}, "radius", "edges": [edge + {"rad", "label_xy",
    "style", "color", "width", "alpha"}], "xlim", "ylim"}``; ``edges`` holds only what is
    drawn.
    """
    states, all_edges = cell["states"], cell["edges"]
    if mode == "weights":
        drawn = [dict(e, style="weights") for e in all_edges]
    else:
        drawn = []
        for e in all_edges:
            if e["kept"] or (not e["op_keys"] and e["selected"]):
                drawn.append(dict(e, style="kept" if e["op_keys"] else "identity"))
            elif show_dropped:
                drawn.append(dict(e, style="dropped"))
    for e in drawn:  # connections without an op: plain, unless they carry an InputChoice's weight
        weighted = e["style"] == "weights" and e.get("weight") is not None
        if not e["op_keys"] and e["style"] != "dropped" and not weighted:
            e["style"] = "identity"
    roles = {s["index"]: s["role"] for s in states}
    preds: dict[int, list[int]] = {s["index"]: [] for s in states}
    for e in drawn:
        if e["src"] != e["dst"]:
            preds[e["dst"]].append(e["src"])
    layer: dict[int, int] = {}

    def depth(i: int, seen: frozenset[int] = frozenset()) -> int:
        if i in layer:
            return layer[i]
        if roles[i] == "input":
            layer[i] = 0
            return 0
        ps = [p for p in preds[i] if p not in seen]
        layer[i] = 1 + max((depth(p, seen | {i}) for p in ps), default=0)
        return layer[i]

    for s in states:
        depth(s["index"])
    inner = [layer[i] for i, r in roles.items() if r != "output"]
    for i, r in roles.items():
        if r == "output":
            layer[i] = max(inner, default=0) + 1
    columns: dict[int, list[int]] = {}
    for s in states:
        columns.setdefault(layer[s["index"]], []).append(s["index"])
    y: dict[int, float] = {}

    def place(col: list[int]) -> None:
        for k, i in enumerate(col):
            y[i] = ((len(col) - 1) / 2 - k) * DY

    for c in sorted(columns):
        place(columns[c])
    for _ in range(3):
        for c in sorted(columns):
            if c == 0:
                continue
            col = columns[c]
            bary = {i: (sum(y[p] for p in preds[i]) / len(preds[i]) if preds[i] else y[i]) for i in col}
            col.sort(key=lambda i: (-bary[i], i))
            place(col)
    # a lone node in a column sits between its neighbours' rows, not on one line with them
    for c in sorted(columns):
        col = columns[c]
        if len(col) == 1 and 0 < c and roles[col[0]] != "output":
            i = col[0]
            ps = preds[i]
            if ps:
                target = sum(y[p] for p in ps) / len(ps)
                y[i] = round(target / (DY / 2)) * (DY / 2)
    widest = max((_text_size(e["label"], LABEL_FONTSIZE)[0] for e in drawn
                  if e["label"] and e["style"] not in ("dropped", "identity")), default=0.0)
    dx = max(DX, widest + 2 * NODE_RADIUS + 0.2)
    pos = {i: (layer[i] * dx, y[i]) for i in y}
    r = NODE_RADIUS
    # arcs: the straight line when it misses every other node, else the gentlest curve that does
    order = sorted(range(len(drawn)), key=lambda k: -math.dist(pos[drawn[k]["src"]], pos[drawn[k]["dst"]]))
    placed: list[tuple[int, list[tuple[float, float]]]] = []
    for k in order:
        e = drawn[k]
        p0, p1 = pos[e["src"]], pos[e["dst"]]
        others = [pos[i] for i in pos if i not in (e["src"], e["dst"])]
        best, best_cost = 0.0, float("inf")
        for rad in _RADS:
            pts = _arc_points(p0, p1, rad, 31)[1:-1]
            cost = abs(rad) * 0.5
            for o in others:
                d = min(math.dist(p, o) for p in pts)
                if d < r + 0.15:
                    cost += 100 * (r + 0.15 - d) + 10
            mid = _bezier(p0, p1, rad, 0.5)
            for kk, pts2 in placed:
                d = min(math.dist(mid, p) for p in pts2[8:-8])
                if d < 0.3:
                    cost += 20 * (0.3 - d) + (5 if {drawn[kk]["src"], drawn[kk]["dst"]} == {e["src"], e["dst"]} else 0)
            if cost < best_cost - 1e-9:
                best, best_cost = rad, cost
        e["rad"] = best
        placed.append((k, _arc_points(p0, p1, best, 31)))
    # labels: along their arc, where they cover no node, no other label and few other arcs
    boxes: list[tuple[float, float, float, float]] = []
    node_boxes = [(x - r, yy - r, x + r, yy + r) for x, yy in pos.values()]
    arcs = {k: pts for k, pts in placed}
    for k in order:
        e = drawn[k]
        e["label_xy"] = None
        if not e["label"] or e["style"] in ("dropped", "identity"):
            continue
        w, h = _text_size(e["label"], LABEL_FONTSIZE)
        p0, p1 = pos[e["src"]], pos[e["dst"]]
        length = max(math.dist(p0, p1), 1e-9)
        nx_, ny_ = (p0[1] - p1[1]) / length, (p1[0] - p0[0]) / length  # unit normal
        best_xy, best_cost = None, float("inf")
        for t in (0.5, 0.58, 0.42, 0.66, 0.34, 0.74, 0.26, 0.8, 0.2):
            bx, by = _bezier(p0, p1, e["rad"], t)
            for off in (0.0, h * 0.9, -h * 0.9):
                x, yy = bx + off * nx_, by + off * ny_
                box = (x - w / 2, yy - h / 2, x + w / 2, yy + h / 2)
                cost = abs(t - 0.5) * 0.2 + abs(off) * 0.5
                cost += 40 * sum(_overlap(box, b) for b in boxes) + 40 * sum(_overlap(box, b) for b in node_boxes)
                for kk, pts in arcs.items():
                    if kk != k:
                        cost += 0.02 * sum(1 for px, py in pts if box[0] < px < box[2] and box[1] < py < box[3])
                if cost < best_cost - 1e-9:
                    best_xy, best_cost = (x, yy), cost
        assert best_xy is not None  # every candidate position costs less than inf
        e["label_xy"] = best_xy
        boxes.append((best_xy[0] - w / 2, best_xy[1] - h / 2, best_xy[0] + w / 2, best_xy[1] + h / 2))
    # styles
    weighted = [e for e in drawn if e["style"] == "weights"]
    wmax = max((e["weight"] for e in weighted), default=0.0) or 1.0
    for e in drawn:
        if e["style"] == "identity":
            e.update(color=IDENTITY_COLOR, width=1.1, alpha=0.8, linestyle="-")
        elif e["style"] == "dropped":
            e.update(color=DROPPED_COLOR, width=1.0, alpha=0.55, linestyle="--")
        elif e["style"] == "weights":
            f = max(0.0, e["weight"]) / wmax
            e.update(color=None if e["op_keys"] else IDENTITY_COLOR, width=0.6 + 3.4 * f, alpha=0.2 + 0.8 * f,
                     linestyle="-")
        else:
            e.update(color=None, width=1.8, alpha=1.0, linestyle="-")
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    for _, pts in placed:
        xs += [p[0] for p in pts]
        ys += [p[1] for p in pts]
    for b in boxes:
        xs += [b[0], b[2]]
        ys += [b[1], b[3]]
    m = r + 0.15
    return {"pos": pos, "radius": r, "edges": [drawn[k] for k in order],
            "xlim": (min(xs) - m, max(xs) + m), "ylim": (min(ys) - m, max(ys) + m)}


# ------------------------------------------------------------------------- drawing
def _draw_one(ax: "Axes", cell: dict[str, Any], lay: dict[str, Any], colors: Mapping[str, str],
              title: str | None) -> None:
    from matplotlib.patches import Circle, FancyArrowPatch

    r = lay["radius"]
    fill = {"input": INPUT_COLOR, "node": NODE_COLOR, "output": OUTPUT_COLOR}
    circles = {}
    for s in cell["states"]:
        x, y = lay["pos"][s["index"]]
        c = Circle((x, y), r, facecolor=fill[s["role"]], edgecolor="#333333", linewidth=1.2, zorder=3,
                   gid=f"state:{s['index']}")
        ax.add_patch(c)
        circles[s["index"]] = c
        text = s["label"] if s["role"] == "node" else f"${s['label']}$"
        ax.text(x, y, text, ha="center", va="center", fontsize=STATE_FONTSIZE, zorder=4)
    for e in lay["edges"]:
        color = e["color"] or colors.get(e["op"], "#1f77b4")
        arrow = FancyArrowPatch(
            lay["pos"][e["src"]], lay["pos"][e["dst"]], connectionstyle=f"arc3,rad={e['rad']}",
            arrowstyle="-|>", mutation_scale=10 + 2 * e["width"], linewidth=e["width"], color=color,
            alpha=e["alpha"], linestyle=e["linestyle"], patchA=circles[e["src"]], patchB=circles[e["dst"]],
            shrinkA=1, shrinkB=1, zorder=1 if e["style"] == "dropped" else 1.5 + 0.5 * e["alpha"],
            gid=f"edge:{e['src']}->{e['dst']}:{','.join(e['op_keys']) or '-'}")
        ax.add_patch(arrow)
        if e["label_xy"] is not None:
            lx, ly = e["label_xy"]
            ax.text(lx, ly, e["label"], ha="center", va="center", fontsize=LABEL_FONTSIZE, zorder=5,
                    color="#222222",
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor=color, linewidth=0.8,
                              alpha=0.9))
    ax.set_xlim(*lay["xlim"])
    ax.set_ylim(*lay["ylim"])
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE_FONTSIZE)


def _title(cell: dict[str, Any], note: str | None) -> str:
    mods = cell["modules"]
    where = ", ".join(m or "<model>" for m in mods[:4]) + (", ..." if len(mods) > 4 else "")
    head = f"{cell['name']} cell" if not cell["name"].lower().endswith("cell") else cell["name"]
    line = f"{head} (×{len(mods)}: {where})" if len(mods) > 1 else (f"{head} ({where})" if mods[0] else head)
    return line if not note else f"{line}\n{note}"


def draw_cell(
    space: Any,
    example_input: Any = None,
    *,
    arch: Mapping[str, Any] | None = None,
    weights: Mapping[str, Sequence[float]] | Any = None,
    history: Any = None,
    record: int = -1,
    show_dropped: bool = False,
    cell: str | int | None = None,
    modules: str | Sequence[str] | None = None,
    graph: "nx.DiGraph | None" = None,
    ax: "Axes | Sequence[Axes] | None" = None,
    title: str | None = None,
) -> "Figure":
    """Draw each cell type of a cell-based space as NAS papers do: states and labelled op edges.

    Discrete (default): the connections the architecture keeps, each labelled with its
    chosen op; dropped ones (an unchosen InputChoice slot, or a zero op such as
    NB-201's ``none``) are left out, or drawn grey and dashed with ``show_dropped``.
    With ``weights`` or ``history``: every candidate connection, its width and opacity
    growing with its weight, labelled with its top candidate (zero ops aside, as DARTS
    derives genotypes) and that candidate's weight. A connection's weight is the
    product of the weights of the InputChoice slots on it when those keys have weights
    (DARTS records edge strengths there), else its top candidate's weight. Cells
    sharing keys are drawn once per type (DARTS: "normal" and "reduce" side by side,
    or one above the other when a row would be wider than 14 inches); connections
    without an op (nodes concatenated into the output) are plain grey arrows. The
    structure comes from one forward of :func:`nasnb.graph.build_graph`, never from how
    keys are spelled; see :mod:`nasnb.plot._cell` for how cells and states are found.

    Parameters
    ----------
    space : SearchSpace or nn.Module
        The space (a model is bound on the fly).
    example_input : Tensor or tuple, optional
        Input of one forward (default: ``model.example_input()`` when the model has it).
    arch : mapping, optional
        Architecture to draw (partial: the rest is the space's current choice).
    weights : mapping key -> list of float, or ArchHistory, optional
        One weight per candidate (e.g. ``trainer.history.final()``).
    history : ArchHistory, optional
        A one-shot trainer's history; ``record`` picks the record (default: the last).
    record : int
        Which record of ``history`` to draw.
    show_dropped : bool
        Also draw the dropped connections (discrete mode), faint and dashed, unlabelled.
    cell : str or int, optional
        Draw only this cell type (its name, e.g. ``"normal"``, or its position).
    modules : str or list of str, optional
        Module paths of the cells to draw, when they are not found automatically
        (cells that do not share keys); cells with the same keys are one type.
    graph : networkx.DiGraph, optional
        A graph of this space from :func:`nasnb.graph.build_graph` (skips the forward).
    ax : matplotlib Axes or list of Axes, optional
        Draw there (one Axes per cell type drawn); by default a new Figure sized so that
        every text is readable (1 inch per layout unit: a small ``ax`` crowds the labels).
    title : str, optional
        Figure title (each cell type has its own).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        The space has no cell (no InputChoice, no repeated group of shared keys); a
        key of a cell has no weights; an unknown ``cell``.

    Examples
    --------
    >>> import nasnb
    >>> from nasnb import spaces
    >>> from nasnb.plot import draw_cell
    >>> space = nasnb.SearchSpace(spaces.NB201.small())
    >>> arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    >>> space.apply(spaces.nb201_arch(arch))
    >>> fig = draw_cell(space)
    >>> fig.axes[0].get_title()
    'Cell (×3: cells.0, cells.2, cells.4)'
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nasnb.graph import build_graph
    from nasnb.space import SearchSpace

    model_space = space if isinstance(space, SearchSpace) else SearchSpace(space)
    if weights is not None and hasattr(weights, "records"):
        history, weights = weights, None
    note = None
    if history is not None:
        if weights is not None:
            raise ValueError("draw_cell: give weights= or history=, not both")
        weights, note = _history_weights(history, record)
    if weights is not None and not isinstance(weights, Mapping):
        raise TypeError(f"draw_cell: weights must map keys to lists of weights, got {type(weights).__name__}")
    if graph is None:
        if example_input is None:
            make = getattr(model_space.model, "example_input", None)
            if not callable(make):
                raise TypeError("draw_cell: example_input is required (the model has no example_input() method)")
            example_input = make()
        graph = build_graph(model_space, example_input)
    cells = _cell_info(model_space, graph, arch=arch, weights=weights, modules=modules)
    if not cells:
        raise ValueError(_NO_CELL.format(what=type(model_space.model).__name__))
    if cell is not None:
        names = [c["name"] for c in cells]
        if isinstance(cell, int) and not isinstance(cell, bool):
            if not -len(cells) <= cell < len(cells):
                raise ValueError(f"draw_cell: cell={cell} is out of range; cell types are {names}")
            cells = [cells[cell]]
        elif cell in names:
            cells = [cells[names.index(cell)]]
        else:
            raise ValueError(f"draw_cell: no cell type {cell!r}; cell types are {names}")
    mode = "weights" if weights is not None else "discrete"
    layouts = [_cell_layout(c, mode=mode, show_dropped=show_dropped) for c in cells]
    ops = sorted({e["op"] for lay in layouts for e in lay["edges"] if e["op"] and e["color"] is None})
    colors = {op: series_style(i)["color"] for i, op in enumerate(ops)}
    titles = [_title(c, note) for c in cells]
    if ax is None:
        pad, head = 0.25, 0.5 if note is None else 0.75
        sizes = [(max(lay["xlim"][1] - lay["xlim"][0], 2.6), lay["ylim"][1] - lay["ylim"][0] + head)
                 for lay in layouts]
        side = sum(w for w, _ in sizes) + pad * (len(sizes) - 1) <= MAX_WIDTH
        if side:  # one row
            fig_w = sum(w for w, _ in sizes) + pad * (len(sizes) + 1)
            fig_h = max(h for _, h in sizes) + 2 * pad
        else:  # one cell type per row
            fig_w = max(w for w, _ in sizes) + 2 * pad
            fig_h = sum(h for _, h in sizes) + pad * (len(sizes) + 1)
        sup = 0.4 if title else 0.0
        fig_h += sup
        fig = Figure(figsize=(fig_w, fig_h))
        axes = []
        x, top = pad, fig_h - sup - pad
        for w, h in sizes:
            if side:
                rect = (x + (w - w) / 2, pad + (max(hh for _, hh in sizes) - h) / 2, w, h - head)
                x += w + pad
            else:
                rect = ((fig_w - w) / 2, top - h, w, h - head)
                top -= h + pad
            axes.append(fig.add_axes((rect[0] / fig_w, rect[1] / fig_h, rect[2] / fig_w, rect[3] / fig_h)))
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(cells):
            raise ValueError(f"draw_cell: got {len(axes)} Axes for {len(cells)} cell types "
                             f"{[c['name'] for c in cells]}; pass cell= to draw one, or one Axes per type")
        fig = figure_of(axes[0])
    for a, c, lay, t in zip(axes, cells, layouts, titles):
        _draw_one(a, c, lay, colors, t)
    if title:
        fig.suptitle(title, fontsize=TITLE_FONTSIZE + 1)
    return fig
