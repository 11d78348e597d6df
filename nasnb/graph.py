"""The graph of a search space: a ``networkx.DiGraph`` recorded from one forward pass.

:func:`build_graph` runs the model once with a temporary *mixer* on every decision that
runs **every** candidate of each LayerChoice and records every input of each
InputChoice, while forward hooks record the leaf modules and a torch-function mode
follows tensors through functional code. Data-dependent code (``if x0 is not None``)
works because the model really runs; torch.fx tracing would not. The model's decisions,
mixers, training flags and buffers are left as they were.

Nodes (``graph.nodes[n]``) carry ``kind`` (``"input"``, ``"output"``, ``"op"`` for a leaf
module, ``"function"`` for a functional op joining several tensors, ``"module"`` for a
folded submodule, ``"candidate"``, ``"layer_choice"``, ``"input_choice"``), ``type``,
``label``, ``path``, ``shape`` (output shape, or None), ``params`` and ``active``. Choice
nodes add ``key``, ``candidates``, ``chosen`` and ``group`` (the index of a key shared by
several mutables, else None); candidates add ``key``, ``candidate``, ``index``, ``choice``
(their choice node) and ``chosen``. Edges carry ``active``; edges into an InputChoice add
``key``, ``index`` and ``chosen``. ``graph.graph`` holds ``keys``, ``key_groups``
(shared key -> choice nodes) and ``size``. :func:`mark_active` recomputes the active path
for another architecture without running the model; :func:`layered_layout` places the
nodes left to right for :func:`nasnb.plot.draw_space`.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.graph import build_graph
>>> net = nn.Sequential(mutables.LayerChoice([nn.Conv2d(1, 2, 3), nn.Conv2d(1, 2, 5)], key="op"), nn.ReLU())
>>> g = build_graph(net, torch.zeros(1, 1, 8, 8))
>>> [n for n in g if g.nodes[n]["kind"] == "candidate"]
['0.0', '0.1']
>>> g.nodes["0.1"]["active"], g.nodes["0.1"]["shape"]
(False, (1, 2, 4, 4))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

from ._reduction import reduce_outputs
from .mutables import InputChoice, LayerChoice
from .profile import ForwardError, _to, as_args, model_device
from .space import SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

__all__ = ["build_graph", "layered_layout", "mark_active"]


def _nx():
    try:
        import networkx
    except ImportError as err:  # pragma: no cover - networkx is a dependency
        raise ImportError("nasnb.graph needs networkx: pip install networkx") from err
    return networkx


def _shape(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (list, tuple)):
        shapes = [_shape(o) for o in out]
        return shapes[0] if len(shapes) == 1 else tuple(shapes)
    return None


def _fresh(out: Any, *inputs: Any) -> Any:
    """``out`` with every tensor that *is* one of the inputs replaced by a view of it.

    An Identity candidate (or Dropout in eval) returns its input object; the view gives
    the output its own identity so the input keeps its producer.
    """
    ids = {id(t) for t in tree_flatten(inputs)[0] if isinstance(t, torch.Tensor)}
    if not ids:
        return out
    return tree_map(lambda t: t.view_as(t) if isinstance(t, torch.Tensor) and id(t) in ids else t, out)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class _Recorder:
    """Collects nodes/edges while the model runs; maps tensors to the nodes that made them."""

    def __init__(self, graph: "nx.DiGraph", functional: bool):
        self.g = graph
        self.functional = functional
        self.inside = 0  # >0 while a leaf, a candidate or a folded module runs
        self.producers: dict[int, frozenset[str]] = {}
        self.keep: list[torch.Tensor] = []  # keeps ids unique during the pass
        self.calls: dict[str, int] = {}
        self.pending: list[list[frozenset[str]]] = []  # sources of the leaf modules running now

    def node_id(self, base: str) -> str:
        n = self.calls.get(base, 0)
        self.calls[base] = n + 1
        return base if n == 0 else f"{base}@{n + 1}"

    def sources(self, *objs: Any) -> list[frozenset[str]]:
        found = []
        for leaf in tree_flatten(objs)[0]:
            if isinstance(leaf, torch.Tensor):
                p = self.producers.get(id(leaf))
                if p is not None:
                    found.append(p)
        return found

    def produce(self, out: Any, nodes: frozenset[str]) -> None:
        for leaf in tree_flatten(out)[0]:
            if isinstance(leaf, torch.Tensor):
                self.producers[id(leaf)] = nodes
                self.keep.append(leaf)

    def connect(self, srcs: Iterable[frozenset[str]], dst: str, **attrs: Any) -> None:
        for s in srcs:
            for u in s:
                if u != dst:
                    self.g.add_edge(u, dst, **attrs)


class _TraceMode(TorchFunctionMode):
    """Follows tensors through functional code run outside leaf modules."""

    def __init__(self, rec: _Recorder):
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rec = self.rec
        if rec.inside or not any(isinstance(t, torch.Tensor) for t in tree_flatten(out)[0]):
            return out
        srcs = rec.sources(args, kwargs)
        if not srcs:
            return out
        distinct = set(srcs)
        name = getattr(func, "__name__", type(func).__name__)
        if rec.functional or len(distinct) > 1:
            nid = rec.node_id(name.strip("_"))
            rec.g.add_node(nid, kind="function", type=name, label=name.strip("_"), path=None,
                           shape=_shape(out), params=0)
            rec.connect(distinct, nid)
            rec.produce(out, frozenset({nid}))
        else:
            rec.produce(out, srcs[0])
        return out


class _TraceMixer:
    """Mixer that runs every candidate / records every input, returning the discrete output."""

    def __init__(self, rec: _Recorder, groups: Mapping[str, int]):
        self.rec = rec
        self.groups = groups

    def _discrete(self, mutable: Any, args: tuple, kwargs: dict) -> Any:
        decision, mixer = mutable.decision, mutable.decision.mixer
        decision.mixer = None
        try:
            out = mutable(*args, **kwargs)
        finally:
            decision.mixer = mixer
        return out if not mutable.return_mask else out[0]

    def forward_layer_choice(self, mutable: LayerChoice, args: tuple, kwargs: dict) -> tuple[Any, Any]:
        rec = self.rec
        if rec.inside:  # inside a folded module: behave like the model
            return self._discrete(mutable, args, kwargs), None
        srcs = rec.sources(args, kwargs)
        cid = rec.node_id(mutable.name or mutable.key)
        chosen = mutable.decision.indices[0]
        outs, shapes = [], []
        for i, (name, cand) in enumerate(zip(mutable.names, mutable)):
            nid = f"{cid}.{name}"
            rec.inside += 1
            error = None
            try:
                out = _fresh(cand(*args, **kwargs), args, kwargs)
            except Exception as err:  # an unchosen candidate may not fit: record it, go on
                if i == chosen:
                    raise
                out, error = None, f"{type(err).__name__}: {err}"
            finally:
                rec.inside -= 1
            outs.append(out)
            shapes.append(_shape(out))
            rec.g.add_node(nid, kind="candidate", type=type(cand).__name__, label=name, path=nid,
                           shape=shapes[-1], params=_n_params(cand), key=mutable.key, candidate=name,
                           index=i, choice=cid, chosen=i == chosen, error=error)
            rec.connect(srcs, nid)
            rec.g.add_edge(nid, cid)
        out = outs[chosen]
        rec.g.add_node(cid, kind="layer_choice", type="LayerChoice", label=mutable.key, path=mutable.name,
                       shape=shapes[chosen], params=0, key=mutable.key, candidates=list(mutable.names),
                       chosen=[mutable.names[chosen]], group=self.groups.get(mutable.key))
        if mutable.reduction == "none":
            out = [out]
        rec.produce(out, frozenset({cid}))
        mask = torch.zeros(len(mutable.names), dtype=torch.bool)
        mask[chosen] = True
        return out, mask

    def forward_input_choice(self, mutable: InputChoice, inputs: list) -> tuple[Any, Any]:
        rec = self.rec
        chosen = mutable.decision.indices
        mask = torch.zeros(mutable.n_candidates, dtype=torch.bool)
        mask[list(chosen)] = True
        if rec.inside:
            return reduce_outputs(mutable.reduction, [inputs[i] for i in chosen]), mask
        cid = rec.node_id(mutable.name or mutable.key)
        spec = mutable.spec
        for i, x in enumerate(inputs):
            for s in rec.sources([x]):
                for u in s:
                    rec.g.add_edge(u, cid, key=mutable.key, index=i, chosen=i in chosen)
        # Every input "runs": with sum/mean over equal shapes, pass all of them on so code
        # after an (now empty) choice is recorded too; otherwise behave like the model.
        tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
        rec.inside += 1  # the reduction is part of this node, not a functional node
        try:
            if (mutable.reduction in ("sum", "mean") and len(tensors) == len(inputs)
                    and len({t.shape for t in tensors}) == 1):
                out = reduce_outputs(mutable.reduction, inputs)
            else:
                out = reduce_outputs(mutable.reduction, [inputs[i] for i in chosen])
            out = _fresh(out, inputs)
        finally:
            rec.inside -= 1
        names = [n or str(i) for i, n in enumerate(spec.names)]
        rec.g.add_node(cid, kind="input_choice", type="InputChoice", label=mutable.key, path=mutable.name,
                       shape=_shape(out), params=0, key=mutable.key, candidates=names,
                       chosen=[names[i] for i in chosen], n_chosen=mutable.n_chosen,
                       group=self.groups.get(mutable.key))
        if out is not None:
            rec.produce(out, frozenset({cid}))
        return out, mask


def _contains_choice(module: nn.Module) -> bool:
    return any(isinstance(m, (LayerChoice, InputChoice)) for m in module.modules())


def _atomic_modules(model: nn.Module, depth: int | None, collapse: set[str]) -> list[tuple[str, nn.Module, str]]:
    """Modules drawn as one node: (path, module, kind 'op' | 'module')."""
    found: list[tuple[str, nn.Module, str]] = []

    def visit(module: nn.Module, path: str, level: int) -> None:
        for name, child in module.named_children():
            p = f"{path}.{name}" if path else name
            if isinstance(child, (LayerChoice, InputChoice)):
                continue
            if p in collapse:
                found.append((p, child, "module"))
            elif not any(True for _ in child.children()):
                found.append((p, child, "op"))
            elif depth is not None and level + 1 >= depth and not _contains_choice(child):
                found.append((p, child, "module"))
            else:
                visit(child, p, level + 1)

    visit(model, "", 0)
    return found


def build_graph(
    model: nn.Module | SearchSpace,
    example_input: Any,
    *,
    depth: int | None = None,
    collapse: Iterable[str] = (),
    functional: bool = False,
) -> "nx.DiGraph":
    """Record the graph of a search space from one forward pass in which every candidate runs.

    Use it to see or analyse the structure of a space (``networkx`` algorithms work on
    the result); :func:`nasnb.plot.draw_space` draws it.

    Parameters
    ----------
    model : nn.Module or SearchSpace
        The model with mutables (a SearchSpace is bound on the fly).
    example_input : Tensor or tuple
        Positional argument(s) of ``model.forward``; a tuple is unpacked.
    depth : int, optional
        Fold submodules nested deeper than ``depth`` levels into one ``"module"`` node,
        unless they contain choices.
    collapse : iterable of str
        Module paths to fold into one node even if they contain choices.
    functional : bool
        Also draw single-input functional ops (``F.relu``, ``flatten``); by default only
        functional ops joining tensors from different nodes (``add``, ``cat``) get a node.

    Returns
    -------
    networkx.DiGraph
        Nodes and attributes as described in :mod:`nasnb.graph`.

    Raises
    ------
    ForwardError
        The active architecture fails in forward (the module and the keys are named).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.graph import build_graph
    >>> net = nn.Sequential(nn.Linear(2, 2), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    >>> g = build_graph(net, torch.zeros(1, 2))
    >>> list(g.successors("0"))
    ['1.0', '1.1']
    >>> g.nodes["1"]["kind"], g.nodes["1"]["chosen"]
    ('layer_choice', ['0'])
    """
    nx = _nx()
    space = model if isinstance(model, SearchSpace) else SearchSpace(model)
    module = space.model
    collapse = set(collapse)
    groups: dict[str, int] = {}
    for key, spec in space.items():
        if len(spec.paths) > 1:
            groups[key] = len(groups)

    g = nx.DiGraph()
    g.graph["keys"] = list(space)
    g.graph["size"] = space.size
    rec = _Recorder(g, functional)
    args = _to(as_args(example_input), model_device(module))
    for i, a in enumerate(args):
        nid = "input" if len(args) == 1 else f"input{i}"
        g.add_node(nid, kind="input", type="input", label=nid, path=None, shape=_shape(a), params=0)
        rec.produce(a, frozenset({nid}))

    handles = []
    for path, mod, kind in _atomic_modules(module, depth, collapse):
        def pre(m, a, kw, _path=path):
            if rec.inside:
                rec.inside += 1
                return
            rec.pending.append(rec.sources(a, kw))
            rec.inside += 1

        def post(m, a, kw, out, _path=path, _kind=kind):
            rec.inside -= 1
            if rec.inside:
                return
            srcs = rec.pending.pop()
            out = _fresh(out, a, kw)
            nid = rec.node_id(_path)
            attrs = dict(kind=_kind, type=type(m).__name__, label=_path, path=_path, shape=_shape(out),
                         params=_n_params(m))
            if _kind == "module":
                attrs["keys"] = [mm.key for mm in m.modules() if isinstance(mm, (LayerChoice, InputChoice))]
            g.add_node(nid, **attrs)
            rec.connect(srcs, nid)
            rec.produce(out, frozenset({nid}))
            return out

        handles.append(mod.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(mod.register_forward_hook(post, with_kwargs=True))

    saved_mixers = {key: space.decision(key).mixer for key in space}
    training = {m: m.training for m in module.modules()}
    space.set_mixer(_TraceMixer(rec, groups))
    failure: Exception | None = None
    try:
        module.eval()
        with torch.no_grad(), _TraceMode(rec):
            out = module(*args)
    except Exception as err:  # noqa: BLE001 - re-raised below, once the model is restored
        failure = err
    finally:
        for h in handles:
            h.remove()
        for key, mixer in saved_mixers.items():
            space.decision(key).mixer = mixer
        for m, flag in training.items():
            m.training = flag
    if failure is not None:
        raise ForwardError.from_exception(failure, space, module, args) from failure

    g.add_node("output", kind="output", type="output", label="output", path=None, shape=_shape(out), params=0)
    rec.connect(rec.sources(out), "output")
    key_groups: dict[str, list[str]] = {}
    for n, d in g.nodes(data=True):
        if d["kind"] in ("layer_choice", "input_choice") and d.get("group") is not None:
            key_groups.setdefault(d["key"], []).append(n)
    g.graph["key_groups"] = key_groups
    for n, d in g.nodes(data=True):
        d.setdefault("active", True)
    for u, v, d in g.edges(data=True):
        d.setdefault("active", True)
    mark_active(g, space.current(), space=space)
    return g


def mark_active(graph: "nx.DiGraph", arch: Mapping[str, Any], *, space: SearchSpace | None = None) -> "nx.DiGraph":
    """Set ``active``/``chosen`` attributes of ``graph`` for ``arch`` without running the model.

    ``arch`` maps keys to readable choices (``SearchSpace.current()``); keys not given keep
    their chosen candidates. A node is active when one of its incoming edges is; an edge
    when its source is active and, for a candidate or an input, it is chosen.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.graph import build_graph, mark_active
    >>> g = build_graph(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"), torch.zeros(1))
    >>> _ = mark_active(g, {"act": 1})
    >>> g.nodes["act.1"]["active"], g.nodes["act.0"]["active"]
    (True, False)
    """
    nx = _nx()
    for n, d in graph.nodes(data=True):
        kind = d["kind"]
        if kind in ("layer_choice", "input_choice") and d["key"] in arch:
            value = arch[d["key"]]
            if space is not None:
                idx = space[d["key"]].parse(value)
                d["chosen"] = [d["candidates"][i] for i in idx]
            elif kind == "layer_choice":
                d["chosen"] = [d["candidates"][value] if isinstance(value, int) else str(value)]
            else:
                vals = value if isinstance(value, (list, tuple)) else [value]
                d["chosen"] = [d["candidates"][v] if isinstance(v, int) else str(v) for v in vals]
    for n, d in graph.nodes(data=True):
        if d["kind"] == "candidate":
            d["chosen"] = d["candidate"] in graph.nodes[d["choice"]]["chosen"]
    for u, v, d in graph.edges(data=True):
        vd = graph.nodes[v]
        if vd["kind"] == "input_choice" and "index" in d:
            d["chosen"] = vd["candidates"][d["index"]] in vd["chosen"]
    for n in nx.topological_sort(graph):
        d = graph.nodes[n]
        preds = list(graph.predecessors(n))
        if not preds:
            active = d["kind"] != "candidate" or d["chosen"]
        else:
            active = any(graph.edges[p, n]["active"] for p in preds)
        d["active"] = active
        for s in graph.successors(n):
            e = graph.edges[n, s]
            sd = graph.nodes[s]
            ok = active
            if sd["kind"] == "candidate":
                ok = ok and sd["chosen"]
            if d["kind"] == "candidate":
                ok = ok and d["chosen"]
            if "chosen" in e:
                ok = ok and e["chosen"]
            e["active"] = ok
    return graph


def layered_layout(graph: "nx.DiGraph", *, sweeps: int = 4) -> dict[str, tuple[float, float]]:
    """Left-to-right layered positions ``node -> (x, y)`` for a graph from :func:`build_graph`.

    ``x`` is the longest-path layer; within a layer nodes are ordered by the mean ``y`` of
    their predecessors (a few barycentre sweeps) and the candidates of one choice stay
    together, stacked with half spacing, so they can be drawn side by side in a box.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("input", "a"), ("a", "output")])
    >>> for n in g:
    ...     g.nodes[n]["kind"] = "op"
    >>> layered_layout(g)
    {'input': (0.0, 0.0), 'a': (1.0, 0.0), 'output': (2.0, 0.0)}
    """
    nx = _nx()
    layer: dict[str, int] = {}
    order = list(nx.topological_sort(graph))
    for n in order:
        preds = list(graph.predecessors(n))
        layer[n] = 1 + max((layer[p] for p in preds), default=-1)
    # a choice (with its candidates) moves right, next to where its output is used, so the
    # edges of a DARTS node sit beside that node instead of piling up after the cell input
    for n in reversed(order):
        d = graph.nodes[n]
        succ = list(graph.successors(n))
        if d.get("kind") != "layer_choice" or not succ:
            continue
        target = min(layer[s] for s in succ) - 1
        if target > layer[n]:
            layer[n] = target
            for c in graph.predecessors(n):
                if graph.nodes[c].get("kind") == "candidate":
                    layer[c] = target - 1
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(layer[n], []).append(n)

    def group_of(n: str) -> str:
        d = graph.nodes[n]
        return d["choice"] if d.get("kind") == "candidate" else n

    def place(nodes: list[str]) -> dict[str, float]:
        ys: dict[str, float] = {}
        blocks: list[list[str]] = []
        for n in nodes:
            if blocks and group_of(blocks[-1][-1]) == group_of(n) and graph.nodes[n].get("kind") == "candidate":
                blocks[-1].append(n)
            else:
                blocks.append([n])
        heights = [0.5 * (len(b) - 1) for b in blocks]
        total = sum(heights) + (len(blocks) - 1)
        y = total / 2
        for b, h in zip(blocks, heights):
            for j, n in enumerate(b):
                ys[n] = y - 0.5 * j
            y -= h + 1
        return ys

    y: dict[str, float] = {}
    for k in sorted(layers):
        y.update(place(layers[k]))
    for _ in range(sweeps):
        for k in sorted(layers):
            if k == 0:
                continue

            def bary(n: str) -> tuple[float, int]:
                g = group_of(n)
                members = [m for m in layers[k] if group_of(m) == g]
                preds = [p for m in members for p in graph.predecessors(m)]
                idx = graph.nodes[n].get("index", 0)
                return (sum(y[p] for p in preds) / len(preds) if preds else y[n], idx)

            key = {n: bary(n) for n in layers[k]}
            layers[k].sort(key=lambda n: (-key[n][0], group_of(n), key[n][1]))
            y.update(place(layers[k]))
    return {n: (float(layer[n]), float(y[n]) + 0.0) for n in graph}
