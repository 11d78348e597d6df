"""Draw a search space (from :func:`nasnb.graph.build_graph`) and per-candidate costs.

``draw_space`` lays the graph out left to right (:func:`nasnb.graph.layered_layout`) and
draws it with matplotlib only (no graphviz): the candidates of a choice side by side in a
box, the active path solid and coloured, inactive candidates faded, the choices of a
shared key in one colour, unchosen inputs dashed. ``plot_candidates`` draws the numbers
of :func:`nasnb.profile.profile_candidates` as bar charts. Both are built from a
``_..._data`` step of plain values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, NamedTuple, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_space", "plot_candidates"]

ACTIVE = "#1f77b4"
INACTIVE = "#b0b0b0"
TERMINAL = "#444444"
CHOICE = "#2ca02c"
FUNCTION = "#6baed6"
GROUP_COLORS = ("#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
FADED_ALPHA = 0.35
X_INCH, Y_INCH = 1.25, 0.75  # figure inches per layer (x) and per unit of y
MARGIN = 0.6  # data units around the outermost nodes


class SpaceDrawing(NamedTuple):
    """Everything ``draw_space`` draws, as plain values (tested by value)."""

    nodes: dict[str, dict[str, Any]]  # node -> x, y, w, h, color, alpha, label, fontsize, kind, active
    edges: list[dict[str, Any]]  # u, v, x, y (endpoints), color, alpha, width, style
    boxes: list[dict[str, Any]]  # choice node -> x0, y0, x1, y1, color, key, label
    figsize: tuple[float, float]


def _short(n: Any) -> str:
    if isinstance(n, tuple) and all(isinstance(i, int) for i in n):
        return "×".join(str(i) for i in n[1:]) if len(n) > 1 else str(n[0])
    return ""


def _choice_color(d: dict[str, Any]) -> str:
    group = d.get("group")
    return CHOICE if group is None else GROUP_COLORS[group % len(GROUP_COLORS)]


def _wrap(pos: dict[str, tuple[float, float]], wrap: int | str | None) -> dict[str, tuple[float, float]]:
    """Fold a long left-to-right layout into rows of ``wrap`` columns ("auto": beyond 20 columns)."""
    if not pos:
        return pos
    n_cols = int(max(x for x, _ in pos.values())) + 1
    if wrap == "auto":
        if n_cols <= 20:
            return pos
        rows = -(-n_cols // 16)
        wrap = -(-n_cols // rows)
    if wrap is None or n_cols <= wrap:
        return pos
    ys = [y for _, y in pos.values()]
    band = max(ys) - min(ys) + 1.6
    return {n: (x % wrap, y - (x // wrap) * band) for n, (x, y) in pos.items()}


def _space_data(graph: "nx.DiGraph", pos: dict[str, tuple[float, float]] | None = None,
                show_shapes: bool = True, wrap: int | str | None = "auto") -> SpaceDrawing:
    from nasnb.graph import layered_layout

    pos = _wrap(layered_layout(graph) if pos is None else pos, wrap)
    nodes: dict[str, dict[str, Any]] = {}
    for n, d in graph.nodes(data=True):
        kind = d["kind"]
        active = bool(d.get("active", True))
        if kind in ("input", "output"):
            color = TERMINAL
        elif kind in ("layer_choice", "input_choice"):
            color = _choice_color(d)
        elif kind == "candidate":
            color = _choice_color(graph.nodes[d["choice"]])
        elif kind == "function":
            color = FUNCTION
        else:
            color = ACTIVE
        if kind == "candidate":  # a list's candidates are "0", "1", ...: add the type
            label = f"{d['candidate']}: {d['type']}" if d["candidate"].isdigit() else d["candidate"]
        elif kind in ("op", "module"):
            label = f"{d['path'].rsplit('.', 1)[-1] if d['path'] else n}\n{d['type']}"
        elif kind in ("layer_choice", "input_choice"):
            label = d["key"]
            if kind == "input_choice":
                label += f"\n[{', '.join(d['chosen']) or '-'}]"
        else:
            label = d.get("label", n)
        if show_shapes and kind not in ("candidate", "layer_choice") and _short(d.get("shape")):
            label += f"\n{_short(d['shape'])}"
        nodes[n] = dict(x=pos[n][0], y=pos[n][1], color=color if active else INACTIVE,
                        alpha=1.0 if active else FADED_ALPHA, label=label, kind=kind, active=active)
    edges = []
    for u, v, d in graph.edges(data=True):
        active = bool(d.get("active", True))
        dashed = "chosen" in d and not d["chosen"]
        edges.append(dict(u=u, v=v, x=(pos[u][0], pos[v][0]), y=(pos[u][1], pos[v][1]),
                          color=ACTIVE if active else INACTIVE, alpha=1.0 if active else FADED_ALPHA + 0.15,
                          width=1.8 if active else 0.9, style="dashed" if dashed else "solid"))
    boxes = []
    for n, d in graph.nodes(data=True):
        if d["kind"] != "layer_choice":
            continue
        members = [c for c in graph.predecessors(n) if graph.nodes[c]["kind"] == "candidate"]
        if not members:
            continue
        xs = [pos[c][0] for c in members]
        ys = [pos[c][1] for c in members]
        boxes.append(dict(node=n, key=d["key"], color=_choice_color(d), x0=min(xs) - 0.42, x1=max(xs) + 0.42,
                          y0=min(ys) - 0.24, y1=max(ys) + 0.24, label=d["key"]))
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    width = min(max(3.0, X_INCH * (max(xs) - min(xs) + 1)), 60.0)
    height = min(max(2.0, Y_INCH * (max(ys) - min(ys) + 1) + 0.6), 60.0)
    # each node's rounded box, in data units, from its label's size at the figure's scale
    sx = width / (max(xs) - min(xs) + 2 * MARGIN)
    sy = height / (max(ys) - min(ys) + 2 * MARGIN)
    base = 7.0 if len(nodes) < 60 else 5.5
    for d in nodes.values():
        fs = base - (1 if d["kind"] in ("candidate", "function") else 0)
        lines = d["label"].split("\n")
        pad = 0.3 * fs / 72
        d["fontsize"] = fs
        d["w"] = (max(len(line) for line in lines) * 0.62 * fs / 72 + 2 * pad) / sx
        d["h"] = (len(lines) * 1.2 * fs / 72 + 2 * pad) / sy
    return SpaceDrawing(nodes, edges, boxes, (width, height))


def draw_space(
    space: Any,
    example_input: Any = None,
    *,
    ax: "Axes | None" = None,
    depth: int | None = None,
    collapse: Iterable[str] = (),
    show_shapes: bool = True,
    wrap: int | str | None = "auto",
    title: str | None = None,
) -> "Figure":
    """Draw the graph of a search space with its active path.

    Parameters
    ----------
    space : networkx.DiGraph, SearchSpace or nn.Module
        A graph from :func:`nasnb.graph.build_graph`, or a model / space to build it from.
    example_input : Tensor or tuple, optional
        Needed when ``space`` is a model or a SearchSpace.
    ax : matplotlib Axes, optional
        Draw there; by default a new Figure sized to the graph is made.
    depth, collapse
        Fold submodules (see :func:`nasnb.graph.build_graph`); only with a model/space.
    show_shapes : bool
        Print each node's output shape (without the batch dimension).
    wrap : int, "auto" or None
        Fold a long chain into rows of this many columns ("auto": rows of about 16
        columns when there are more than 20; None: one row).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.plot import draw_space
    >>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    >>> fig = draw_space(net, torch.zeros(1, 2))
    >>> type(fig).__name__
    'Figure'
    """
    from nasnb.graph import build_graph

    if not hasattr(space, "nodes") or not hasattr(space, "edges"):
        if example_input is None:
            raise TypeError("draw_space: example_input is required when drawing a model or a SearchSpace "
                            "(pass a graph from nasnb.graph.build_graph otherwise)")
        space = build_graph(space, example_input, depth=depth, collapse=collapse)
    data = _space_data(space, show_shapes=show_shapes, wrap=wrap)
    return _draw(data, ax=ax, title=title)


def _draw(data: SpaceDrawing, *, ax: "Axes | None" = None, title: str | None = None) -> "Figure":
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    if ax is None:
        fig = Figure(figsize=data.figsize)
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 if title is None else 0.92))
    else:
        fig = ax.figure
    for b in data.boxes:
        ax.add_patch(FancyBboxPatch((b["x0"], b["y0"]), b["x1"] - b["x0"], b["y1"] - b["y0"],
                                    boxstyle="round,pad=0.02", facecolor=b["color"], alpha=0.08,
                                    edgecolor=b["color"], linewidth=1.0, zorder=0))
    for style in ("solid", "dashed"):
        for active in (False, True):
            sel = [e for e in data.edges if e["style"] == style and (e["color"] == ACTIVE) == active]
            if not sel:
                continue
            segs = [[(e["x"][0], e["y"][0]), (e["x"][1], e["y"][1])] for e in sel]
            ax.add_collection(LineCollection(segs, colors=[e["color"] for e in sel],
                                             linewidths=[e["width"] for e in sel], alpha=sel[0]["alpha"],
                                             linestyles=style, zorder=1 + active))
    nodes = list(data.nodes.values())
    ax.add_collection(PatchCollection(  # one collection: far faster than a bbox per text
        [FancyBboxPatch((d["x"] - d["w"] / 2, d["y"] - d["h"] / 2), d["w"], d["h"],
                        boxstyle=f"round,pad=0,rounding_size={min(d['w'], d['h']) * 0.25:.4f}") for d in nodes],
        facecolors=[to_rgba(d["color"], d["alpha"]) for d in nodes], edgecolors="none", zorder=3))
    for d in nodes:
        ax.text(d["x"], d["y"], d["label"], ha="center", va="center", fontsize=d["fontsize"],
                color="white" if d["active"] else "#333333", alpha=max(d["alpha"], 0.6), zorder=4)
    xs = [d["x"] for d in nodes] or [0.0]
    ys = [d["y"] for d in nodes] or [0.0]
    ax.set_xlim(min(xs) - MARGIN, max(xs) + MARGIN)
    ax.set_ylim(min(ys) - MARGIN, max(ys) + MARGIN)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return fig


# ---------------------------------------------------------------- candidates
_METRICS = {"params": "parameters", "flops": "FLOPs", "latency_ms": "latency (ms)"}


def _candidates_data(rows: Sequence[Any]) -> dict[str, Any]:
    if not rows:
        raise ValueError("plot_candidates: got no rows; expected the list from nasnb.profile.profile_candidates")
    return {
        "key": rows[0].key,
        "names": [r.candidate for r in rows],
        "params": [r.params for r in rows],
        "flops": [r.flops for r in rows],
        "latency_ms": [r.latency_ms if r.latency_ms is not None else 0.0 for r in rows],
        "colors": [ACTIVE if r.chosen else INACTIVE for r in rows],
        "errors": [r.error for r in rows],
    }


def plot_candidates(rows: Sequence[Any], *, metric: str | None = None, ax: "Axes | None" = None) -> "Figure":
    """Bar charts of each candidate's parameters, FLOPs and latency (chosen one coloured).

    Parameters
    ----------
    rows : list of CandidateProfile
        From :func:`nasnb.profile.profile_candidates`.
    metric : {"params", "flops", "latency_ms"}, optional
        Draw only this one (required with ``ax``; default: all three side by side).
    ax : matplotlib Axes, optional

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.profile import profile_candidates
    >>> from nasnb.plot import plot_candidates
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key="op"))
    >>> fig = plot_candidates(profile_candidates(net, "op", torch.zeros(1, 4), latency=False))
    >>> len(fig.axes)
    3
    """
    from matplotlib.figure import Figure

    data = _candidates_data(rows)
    if metric is not None and metric not in _METRICS:
        raise ValueError(f"plot_candidates: metric {metric!r} is not one of {list(_METRICS)}")
    metrics = [metric] if metric is not None else (["params"] if ax is not None else list(_METRICS))
    if ax is None:
        fig = Figure(figsize=(3.2 * len(metrics), 0.4 * len(data["names"]) + 1.4), layout="constrained")
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    else:
        fig, axes = ax.figure, [ax]
    for a, m in zip(axes, metrics):
        a.barh(data["names"], data[m], color=data["colors"])
        a.invert_yaxis()
        a.set_title(f"{data['key']}: {_METRICS[m]}", fontsize=9)
        a.tick_params(labelsize=8)
    return fig
