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
``label`` (readable text: ``"conv2\nConv2d 3×3"``, ``"0: Conv2d 5×5 s3"``,
``"sep_conv_3x3: SepConv 3×3"``; other views reuse it), ``desc`` (the module's settings,
:func:`describe`), ``path``, ``shape`` (output shape, or None), ``params`` and ``active``;
functional nodes add ``scope`` (the module whose forward called them). Choice
nodes add ``key``, ``candidates``, ``chosen`` and ``group`` (the index of a key shared by
several mutables, else None); candidates add ``key``, ``candidate``, ``index``, ``choice``
(their choice node) and ``chosen``. Edges carry ``active``; edges into an InputChoice add
``key``, ``index`` and ``chosen``. ``graph.graph`` holds ``keys``, ``key_groups``
(shared key -> choice nodes), ``size``, ``module_types`` (module path -> class name of
the modules the graph looks into) and ``repeats`` (path of a module that shares its keys
with an earlier sibling, as DARTS cells do -> that sibling's path). :func:`mark_active`
recomputes the active path for another architecture without running the model;
:func:`fold_modules` and :func:`fold_candidates` simplify a recorded graph (one node per
repeated cell, one node per choice); :func:`nasnb.graph_layout.layered_layout` places the
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

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.hooks import RemovableHandle

from ._device import model_device, to_device
from ._reduction import reduce_outputs
from .architecture import Weighted
from .graph_layout import Layered as Layered  # their old home: ``from nasnb.graph import ...``
from .graph_layout import layered as _layered  # noqa: F401  (tests read it)
from .graph_layout import layered_layout as layered_layout
from .mutables import InputChoice, LayerChoice, choice_mask
from .profile import as_args, forward_error
from .space import SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

__all__ = ["build_graph", "describe", "fold_candidates", "fold_modules", "mark_active"]


def _nx() -> Any:  # the networkx module (imported lazily, untyped)
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


# ------------------------------------------------------------------ labels
def _dims(name: str, default: int = 2) -> int:
    return int(name[-2]) if len(name) > 2 and name[-1] == "d" and name[-2] in "123" else default


def _size_text(value: Any, dims: int) -> str:
    t = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    return "×".join(str(v) for v in t)


def _step_text(prefix: str, value: Any) -> str:
    """``"s2"`` for a stride of 2 (or (2, 2)), ``""`` for 1; ``"s1×2"`` when the sides differ."""
    t = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if all(v == 1 for v in t):
        return ""
    return prefix + (str(t[0]) if len(set(t)) == 1 else "×".join(str(v) for v in t))


def _conv_settings(m: nn.modules.conv._ConvNd) -> list[str]:
    parts = [_size_text(m.kernel_size, len(m.kernel_size)), _step_text("s", m.stride), _step_text("d", m.dilation)]
    if m.groups > 1:
        parts.append("dw" if m.groups == m.in_channels else f"g{m.groups}")
    return [p for p in parts if p]


def describe(module: nn.Module) -> str:
    """A short text of a module's type and settings, as the graph labels show it.

    Kernel size always, stride and dilation when not 1 (``d``), depthwise/grouped
    convolutions (``dw``/``g4``), features of a Linear, window of a pooling layer (pooling
    types lose their ``2d``), ``p`` of a Dropout. A module made of others (``SepConv``)
    shows the settings of its first convolution or pooling.

    Examples
    --------
    >>> from torch import nn
    >>> describe(nn.Conv2d(1, 32, 5, 3)), describe(nn.Conv2d(8, 8, 3, padding=2, dilation=2))
    ('Conv2d 5×5 s3', 'Conv2d 3×3 d2')
    >>> describe(nn.Linear(64, 10)), describe(nn.MaxPool2d(3, 2)), describe(nn.AvgPool2d(3, 1, 1))
    ('Linear 64→10', 'MaxPool 3×3 s2', 'AvgPool 3×3')
    >>> describe(nn.Conv2d(4, 4, 3, groups=4)), describe(nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, 2, groups=4)))
    ('Conv2d 3×3 dw', 'Sequential 3×3 s2')
    >>> describe(nn.Dropout(0.25)), describe(nn.Identity())
    ('Dropout 0.25', 'Identity')
    """
    name = type(module).__name__
    if isinstance(module, nn.modules.conv._ConvNd):
        return " ".join([name, *_conv_settings(module)])
    if isinstance(module, nn.Linear):
        return f"{name} {module.in_features}→{module.out_features}"
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._LPPoolNd)):
        dims = _dims(name)
        short = name[:-2] if dims == _dims(name, 0) else name
        kernel = module.kernel_size
        stride = getattr(module, "stride", None) or kernel
        dilation = getattr(module, "dilation", 1)
        parts = [short, _size_text(kernel, dims), _step_text("s", stride), _step_text("d", dilation)]
        return " ".join(p for p in parts if p)
    if isinstance(module, (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)):
        return f"{name[:-2] if _dims(name, 0) else name} →{_size_text(module.output_size, _dims(name))}"
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return f"{name} {module.p:g}"
    if not any(True for _ in module.children()):
        stride = getattr(module, "stride", 1)  # e.g. the DARTS "none" op (Zero)
        step = _step_text("s", stride) if isinstance(stride, (int, tuple)) else ""
        return f"{name} {step}" if step else name
    for sub in module.modules():
        if isinstance(sub, nn.modules.conv._ConvNd):
            parts = [_size_text(sub.kernel_size, len(sub.kernel_size)), _step_text("s", sub.stride),
                     _step_text("d", sub.dilation)]
            return " ".join([name, *(p for p in parts if p)])
        if isinstance(sub, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
            return f"{name} {describe(sub).split(' ', 1)[1]}"
    return name


def _short_name(path: str | None, default: str = "") -> str:
    """The last part of a module path; ``"preproc0.1"`` rather than ``"1"`` in a Sequential."""
    if not path:
        return default
    parts = path.split(".")
    if len(parts) > 1 and parts[-1].split("@")[0].isdigit():
        return ".".join(parts[-2:])
    return parts[-1]


def _candidate_label(name: str, desc: str) -> str:
    if name.isdigit():
        return f"{name}: {desc}"
    if desc.lower() == name.lower():  # "tanh: Tanh" says it twice
        return name
    return f"{name}: {desc}"


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
        self.scope: list[str] = []  # paths of the containers whose forward runs now

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

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
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
            rec.g.add_node(nid, kind="function", type=name, label=name.strip("_"), desc=name.strip("_"), path=None,
                           scope=rec.scope[-1] if rec.scope else "", shape=_shape(out), params=0)
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

    def _discrete(self, mutable: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        decision, mixer = mutable.decision, mutable.decision.mixer
        decision.mixer = None
        try:
            out = mutable(*args, **kwargs)
        finally:
            decision.mixer = mixer
        return out if not mutable.return_mask else out[0]

    def forward_layer_choice(self, mutable: LayerChoice, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        rec = self.rec
        if rec.inside:  # inside a folded module: behave like the model
            return self._discrete(mutable, args, kwargs), None
        srcs = rec.sources(args, kwargs)
        cid = rec.node_id(mutable.name or mutable.key)
        indices = mutable.decision.indices
        chosen = set(indices)
        outs, shapes = [], []
        for i, (name, cand) in enumerate(zip(mutable.names, mutable)):
            nid = f"{cid}.{name}"
            rec.inside += 1
            error = None
            try:
                out = _fresh(cand(*args, **kwargs), args, kwargs)
            except Exception as err:  # an unchosen candidate may not fit: record it, go on
                if i in chosen:
                    raise
                out, error = None, f"{type(err).__name__}: {err}"
            finally:
                rec.inside -= 1
            outs.append(out)
            shapes.append(_shape(out))
            desc = describe(cand)
            rec.g.add_node(nid, kind="candidate", type=type(cand).__name__, label=_candidate_label(name, desc),
                           desc=desc, path=nid,
                           shape=shapes[-1], params=_n_params(cand), key=mutable.key, candidate=name,
                           index=i, choice=cid, chosen=i in chosen, error=error)
            rec.connect(srcs, nid)
            rec.g.add_edge(nid, cid)
        out, mask = self._combine(mutable, indices, outs)
        shape = shapes[indices[0]] if len(indices) == 1 else _shape(out)
        rec.g.add_node(cid, kind="layer_choice", type="LayerChoice", label=mutable.key, desc=None,
                       path=mutable.name,
                       shape=shape, params=0, key=mutable.key, candidates=list(mutable.names),
                       chosen=[mutable.names[i] for i in indices], group=self.groups.get(mutable.key))
        rec.produce(out, frozenset({cid}))
        return out, mask

    def _combine(self, mutable: LayerChoice, indices: tuple[int, ...], outs: list[Any]) -> tuple[Any, Any]:
        """The discrete output and mask of ``mutable`` from every candidate's output (``outs``)."""
        n = len(mutable.names)
        if len(indices) == 1 and type(indices) is tuple:
            out = outs[indices[0]]
            return ([out] if mutable.reduction == "none" else out), choice_mask(n, indices, None)
        picked = [outs[i] for i in indices]
        self.rec.inside += 1  # weighting and reducing are part of the choice, not functions of the model
        try:
            if isinstance(indices, Weighted):
                picked = [o * w for o, w in zip(picked, indices.weights)]
            out = reduce_outputs(mutable.reduction, picked)
        finally:
            self.rec.inside -= 1
        return out, choice_mask(n, indices, None)

    def forward_input_choice(self, mutable: InputChoice, inputs: list[Any]) -> tuple[Any, Any]:
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
        rec.g.add_node(cid, kind="input_choice", type="InputChoice", label=mutable.key, desc=None,
                       path=mutable.name,
                       shape=_shape(out), params=0, key=mutable.key, candidates=names,
                       chosen=[names[i] for i in chosen], n_chosen=mutable.n_chosen,
                       group=self.groups.get(mutable.key))
        if out is not None:
            rec.produce(out, frozenset({cid}))
        return out, mask


def _contains_choice(module: nn.Module) -> bool:
    return any(isinstance(m, (LayerChoice, InputChoice)) for m in module.modules())


def _module_tree(model: nn.Module, depth: int | None, collapse: set[str]) -> tuple[
        list[tuple[str, nn.Module, str]], list[tuple[str, nn.Module]], dict[str, str], set[str]]:
    """Atomic modules, the containers the graph looks into, the repeated containers, and
    the containers without choices.

    A container *repeats* an earlier sibling when both have the same class and the same
    (non-empty) set of choice keys, as DARTS normal cells do; only the outermost repeats
    are listed (path -> the first sibling's path).
    """
    found: list[tuple[str, nn.Module, str]] = []
    containers: list[tuple[str, nn.Module]] = []
    kids: dict[str, list[tuple[str, nn.Module]]] = {}

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
                containers.append((p, child))
                kids.setdefault(path, []).append((p, child))
                visit(child, p, level + 1)

    visit(model, "", 0)
    memo: dict[int, frozenset[str]] = {}

    def keys_of(module: nn.Module) -> frozenset[str]:
        got = memo.get(id(module))
        if got is None:
            if isinstance(module, (LayerChoice, InputChoice)):
                got = frozenset({module.key})
            else:
                got = frozenset().union(*(keys_of(c) for c in module.children()))
            memo[id(module)] = got
        return got

    repeats: dict[str, str] = {}

    def walk(path: str) -> None:
        groups: dict[tuple[type, frozenset[str]], list[str]] = {}
        for p, child in kids.get(path, []):
            ks = keys_of(child)
            if ks:
                groups.setdefault((type(child), ks), []).append(p)
        for paths in groups.values():
            for p in paths[1:]:
                repeats[p] = paths[0]
        for p, _ in kids.get(path, []):
            if p not in repeats:
                walk(p)

    walk("")
    plain = {p for p, m in containers if not keys_of(m)}
    return found, containers, repeats, plain


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
    groups = {key: i for i, key in enumerate(k for k, spec in space.items() if len(spec.paths) > 1)}
    g = nx.DiGraph()
    g.graph["keys"] = list(space)
    g.graph["size"] = space.size
    rec = _Recorder(g, functional)
    args = to_device(as_args(example_input), model_device(module))
    for i, a in enumerate(args):
        nid = "input" if len(args) == 1 else f"input{i}"
        g.add_node(nid, kind="input", type="input", label=nid, desc=None, path=None, shape=_shape(a), params=0)
        rec.produce(a, frozenset({nid}))

    # A space that has not run yet learns its data flow on its first call (SearchSpace.probe);
    # let that happen now, outside the trace, not as a second forward recorded inside it.
    if getattr(space, "_exclusive", ()) is None and hasattr(space, "_auto_probe"):
        space._auto_probe(args, {})
    atomic, containers, repeats, plain = _module_tree(module, depth, set(collapse))
    g.graph["module_types"] = {p: type(m).__name__ for p, m in containers}
    g.graph["module_descs"] = {p: describe(m) for p, m in containers if p in plain}  # what folding them shows
    g.graph["repeats"] = repeats
    handles = _hook_scopes(rec, containers) + _hook_leaves(rec, atomic)
    out = _traced_forward(space, rec, groups, args, handles)
    _finish(g, rec, out, space)
    return g


def _hook_scopes(rec: _Recorder, containers: list[tuple[str, nn.Module]]) -> list[RemovableHandle]:
    """Hooks that keep ``rec.scope`` (the modules running now), so functional ops record the container they ran in."""
    handles: list[RemovableHandle] = []
    for path, mod in containers:
        def enter(m: nn.Module, a: tuple[Any, ...], _path: str = path) -> None:
            rec.scope.append(_path)

        def leave(m: nn.Module, a: tuple[Any, ...], out: Any) -> None:
            if rec.scope:
                rec.scope.pop()

        handles.append(mod.register_forward_pre_hook(enter))
        handles.append(mod.register_forward_hook(leave, always_call=True))
    return handles


def _hook_leaves(rec: _Recorder, atomic: list[tuple[str, nn.Module, str]]) -> list[RemovableHandle]:
    """Hooks that add a node for each leaf (or folded) module, with edges from what it read."""
    g = rec.g
    handles: list[RemovableHandle] = []
    for path, mod, kind in atomic:
        def pre(m: nn.Module, a: tuple[Any, ...], kw: dict[str, Any], _path: str = path) -> None:
            if rec.inside:
                rec.inside += 1
                return
            rec.pending.append(rec.sources(a, kw))
            rec.inside += 1

        def post(m: nn.Module, a: tuple[Any, ...], kw: dict[str, Any], out: Any, _path: str = path,
                 _kind: str = kind) -> Any:
            rec.inside -= 1
            if rec.inside:
                return
            srcs = rec.pending.pop()
            out = _fresh(out, a, kw)
            nid = rec.node_id(_path)
            keys = [mm.key for mm in m.modules() if isinstance(mm, (LayerChoice, InputChoice))] if _kind == "module" else []
            desc = type(m).__name__ if keys else describe(m)  # a folded cell's first conv says little of it
            attrs = dict(kind=_kind, type=type(m).__name__, label=f"{_short_name(_path)}\n{desc}", desc=desc,
                         path=_path, shape=_shape(out), params=_n_params(m))
            if _kind == "module":
                attrs["keys"] = keys
            g.add_node(nid, **attrs)
            rec.connect(srcs, nid)
            rec.produce(out, frozenset({nid}))
            return out

        handles.append(mod.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(mod.register_forward_hook(post, with_kwargs=True))
    return handles


def _traced_forward(space: SearchSpace, rec: _Recorder, groups: Mapping[str, int], args: tuple[Any, ...],
                    handles: list[RemovableHandle]) -> Any:
    """Run the model once with every candidate (a :class:`_TraceMixer`), then restore it and remove ``handles``.

    The decisions' mixers and the modules' training flags are put back even when the
    forward fails; the failure is raised as a :class:`~nasnb.exceptions.ForwardError`.
    """
    module = space.model
    probing = getattr(space, "_probing", None)
    saved_mixers = {key: space.decision(key).mixer for key in space}
    training = {m: m.training for m in module.modules()}
    space.set_mixer(_TraceMixer(rec, groups))
    failure: Exception | None = None
    try:
        if probing is not None:
            space._probing = True  # a probe that failed above is not retried inside the trace
        module.eval()
        with torch.no_grad(), _TraceMode(rec):
            out = module(*args)
    except Exception as err:  # noqa: BLE001 - re-raised below, once the model is restored
        failure = err
    finally:
        if probing is not None:
            space._probing = probing
        for h in handles:
            h.remove()
        for key, mixer in saved_mixers.items():
            space.decision(key).mixer = mixer
        for m, flag in training.items():
            m.training = flag
    if failure is not None:
        raise forward_error(failure, space, module, args) from failure
    return out


def _finish(g: "nx.DiGraph", rec: _Recorder, out: Any, space: SearchSpace) -> None:
    """Add the output node, the shared keys' groups, and mark the active path of the current architecture."""
    g.add_node("output", kind="output", type="output", label="output", desc=None, path=None, shape=_shape(out),
               params=0)
    rec.connect(rec.sources(out), "output")
    key_groups: dict[str, list[str]] = {}
    for n, d in g.nodes(data=True):
        if d["kind"] in ("layer_choice", "input_choice") and d.get("group") is not None:
            key_groups.setdefault(d["key"], []).append(n)
    g.graph["key_groups"] = key_groups
    for _, d in g.nodes(data=True):
        d.setdefault("active", True)
    for _, _, d in g.edges(data=True):
        d.setdefault("active", True)
    mark_active(g, space.current(), space=space)


def _chosen_candidates(candidates: list[str], value: Any) -> list[str]:
    """Names a readable LayerChoice value selects: a name, an index, a list of them, a multi-hot or weight list."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == len(candidates) and any(isinstance(v, (bool, float)) for v in values):
        return [c for c, v in zip(candidates, values) if v]
    return [candidates[v] if isinstance(v, int) else str(v) for v in values]


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
    for _, d in graph.nodes(data=True):
        kind = d["kind"]
        if kind in ("layer_choice", "input_choice") and d["key"] in arch:
            value = arch[d["key"]]
            if space is not None:
                idx = space[d["key"]].parse(value)
                d["chosen"] = [d["candidates"][i] for i in idx]
            elif kind == "layer_choice":
                d["chosen"] = _chosen_candidates(d["candidates"], value)
            else:
                vals = value if isinstance(value, (list, tuple)) else [value]
                d["chosen"] = [d["candidates"][v] if isinstance(v, int) else str(v) for v in vals]
    for _, d in graph.nodes(data=True):
        if d["kind"] == "candidate":
            d["chosen"] = d["candidate"] in graph.nodes[d["choice"]]["chosen"]
    for _, v, d in graph.edges(data=True):
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


def _owner(d: Mapping[str, Any], paths: set[str]) -> str | None:
    """The folded path a node belongs to (its module path, or for a functional op its scope)."""
    p = d.get("scope") if d.get("kind") == "function" else d.get("path")
    if not p:
        return None
    parts = p.split(".")
    for i in range(1, len(parts) + 1):
        head = ".".join(parts[:i])
        if head in paths:
            return head
    return None


def _contract(graph: "nx.DiGraph", rep: Mapping[str, str], make: Mapping[str, dict[str, Any]]) -> "nx.DiGraph":
    """``graph`` with each node ``n`` replaced by ``rep.get(n, n)``; ``make`` gives new nodes' attributes."""
    nx = _nx()
    out = nx.DiGraph()
    out.graph.update(graph.graph)
    for n, d in graph.nodes(data=True):
        r = rep.get(n, n)
        if r == n:
            out.add_node(n, **d)
        elif r not in out:
            out.add_node(r, **(make[r] if r in make else graph.nodes[r]))
    for u, v, d in graph.edges(data=True):
        a, b = rep.get(u, u), rep.get(v, v)
        if a == b:
            continue
        if out.has_edge(a, b):
            e = out.edges[a, b]
            e["active"] = bool(e.get("active", True) or d.get("active", True))
            if "chosen" in e:
                e["chosen"] = bool(e["chosen"] or d.get("chosen", True))
        else:
            attrs = dict(d) if b == v else {"active": d.get("active", True)}
            if b != v or a != u:  # an input slot's index means nothing once its ends are folded
                attrs.pop("index", None)
                attrs.pop("key", None)
            out.add_edge(a, b, **attrs)
    return out


def fold_modules(graph: "nx.DiGraph", paths: Iterable[str] | None = None) -> "nx.DiGraph":
    """A copy of ``graph`` with every node inside each module of ``paths`` folded into one node.

    The result is what ``build_graph(..., collapse=paths)`` records, without running the
    model again: one ``"module"`` node per path (its ``keys``, ``params``, output ``shape``,
    ``active`` if anything inside is), the edges in and out of the module kept. By default
    ``paths`` are the graph's ``repeats``: every cell that shares its keys with an earlier
    one (DARTS' normal cells after the first, reduction cells after the first), which then
    carry ``repeat_of``. A path whose folding would make a cycle (a module called twice,
    with code in between) is left as it is.

    Examples
    --------
    >>> import torch
    >>> from nasnb import spaces
    >>> g = build_graph(spaces.DARTS.small(), torch.zeros(1, 3, 32, 32))
    >>> sorted(g.graph["repeats"].items())
    [('cells.2', 'cells.0'), ('cells.3', 'cells.1'), ('cells.4', 'cells.0')]
    >>> small = fold_modules(g)
    >>> small.number_of_nodes() < g.number_of_nodes(), small.nodes["cells.2"]["repeat_of"]
    (True, 'cells.0')
    """
    nx = _nx()
    repeats = graph.graph.get("repeats", {})
    wanted = dict(repeats) if paths is None else {p: repeats.get(p) for p in paths}
    if not wanted:
        return graph.copy()
    types = graph.graph.get("module_types", {})
    members: dict[str, list[str]] = {}
    wanted_set = set(wanted)
    for n, d in graph.nodes(data=True):
        o = _owner(d, wanted_set)
        if o is not None:
            members.setdefault(o, []).append(n)
    ok = []
    for p in wanted:  # a fold that would make a cycle is skipped
        inside = set(members.get(p, ()))
        if not inside or inside == {p}:  # nothing there, or folded already
            continue
        outside_from = {v for u in inside for v in graph.successors(u) if v not in inside}
        back = False
        reach: set[str] = set()
        stack = list(outside_from)
        while stack and not back:
            x = stack.pop()
            if x in reach:
                continue
            reach.add(x)
            for y in graph.successors(x):
                if y in inside:
                    back = True
                    break
                stack.append(y)
        if not back:
            ok.append(p)
    rep: dict[str, str] = {}
    make: dict[str, dict[str, Any]] = {}
    order = {n: i for i, n in enumerate(nx.topological_sort(graph))}
    for p in ok:
        group = members[p]
        inside_set = set(group)
        for n in group:
            rep[n] = p
        leaving = [n for n in group if any(v not in inside_set for v in graph.successors(n))]
        last = max(leaving or group, key=order.__getitem__)
        keys: list[str] = []
        for n in sorted(group, key=order.__getitem__):
            d = graph.nodes[n]
            keys.extend(k for k in [d.get("key")] + list(d.get("keys", ())) if k is not None and k not in keys)
        typ = types.get(p, "Module")
        first = wanted[p]
        desc = graph.graph.get("module_descs", {}).get(p, typ) if first is None else f"{typ}, as {_short_name(first)}"
        make[p] = dict(kind="module", type=typ, label=f"{_short_name(p)}\n{desc}", desc=desc, path=p,
                       shape=graph.nodes[last].get("shape"),
                       params=sum(graph.nodes[n].get("params", 0) for n in group
                                  if graph.nodes[n]["kind"] in ("op", "module", "candidate")),
                       keys=keys, active=any(graph.nodes[n].get("active", True) for n in group), folded=len(group))
        if first is not None:
            make[p]["repeat_of"] = first
    return _contract(graph, rep, make)


def _plain_modules(graph: "nx.DiGraph") -> list[str]:
    """The outermost containers with no choice inside that hold several nodes of ``graph``."""
    with_choice: set[str] = set()
    for _, d in graph.nodes(data=True):
        if d["kind"] in ("layer_choice", "input_choice", "candidate") or d.get("keys"):
            parts = (d.get("path") or "").split(".")
            with_choice.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    plain = [p for p in graph.graph.get("module_types", {})
             if p not in with_choice and (p.rpartition(".")[0] in with_choice or "." not in p)]
    count: dict[str, int] = dict.fromkeys(plain, 0)
    plain_set = set(plain)
    for _, d in graph.nodes(data=True):
        o = _owner(d, plain_set)
        if o is not None:
            count[o] += 1
    return [p for p in plain if count[p] > 1]


def fold_candidates(graph: "nx.DiGraph", choices: Iterable[str] | None = None) -> "nx.DiGraph":
    """A copy of ``graph`` in which each LayerChoice of ``choices`` (default: all) absorbs its candidates.

    The choice node keeps its attributes and adds ``folded`` (its number of candidates)
    and ``chosen_label`` (the ``label`` of its chosen candidate); its inputs connect to it
    directly.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Conv2d(1, 2, 3), nn.Conv2d(1, 2, 5, 3)], key="op"))
    >>> g = fold_candidates(build_graph(net, torch.zeros(1, 1, 8, 8)))
    >>> list(g.edges), g.nodes["0"]["chosen_label"], g.nodes["0"]["folded"]
    ([('input', '0'), ('0', 'output')], '0: Conv2d 3×3', 2)
    """
    wanted = None if choices is None else set(choices)
    rep: dict[str, str] = {}
    folded: dict[str, list[str]] = {}
    for n, d in graph.nodes(data=True):
        if d["kind"] == "candidate" and (wanted is None or d["choice"] in wanted) and d["choice"] in graph:
            rep[n] = d["choice"]
            folded.setdefault(d["choice"], []).append(n)
    out = _contract(graph, rep, {})
    for c, cands in folded.items():
        d = out.nodes[c]
        d["folded"] = len(cands)
        chosen = [graph.nodes[n]["label"] for n in cands if graph.nodes[n].get("chosen")]
        d["chosen_label"] = chosen[0] if chosen else None
    return out
