"""Draw a search space (from :func:`nasnb.graph.build_graph`) and per-candidate costs.

``draw_space`` lays the graph out left to right (the layered layout of
:func:`nasnb.graph_layout.layered_layout`, with each node's real size) and draws it with
matplotlib only (no graphviz): the candidates of a choice side by side in a box, the
active path solid and coloured, inactive candidates faded, the choices of a shared key in
one colour, unchosen inputs dashed. Long edges run through bend points in the layers they
cross and curve between layers, so no edge crosses a node it does not touch; a layout
wider than :data:`MAX_WIDTH` inches wraps into rows, broken where few edges cross. Text is
never smaller than :data:`nasnb.plot._style.MIN_FONTSIZE`: the figure is sized from the
layout instead, and long label lines are shortened with "…". On a large space, cells that
repeat an earlier one (same keys, as DARTS cells) are drawn as one box each and choices
with many candidates as one node naming the chosen candidate. ``plot_candidates`` draws
the numbers of :func:`nasnb.profile.profile_candidates` as bar charts. Both are built
from a ``_..._data`` step of plain values.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ._graph import draw_edges, frame, graph_axes
from ._style import MIN_FONTSIZE, figure_of

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
REPEAT = "#4a6d8c"
GROUP_COLORS = ("#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
FADED_ALPHA = 0.35
FONTSIZE = MIN_FONTSIZE  # every label; the figure grows instead of the text shrinking
MAX_WIDTH = 20.0  # inches: a wider layout wraps into rows ("auto")
MAX_LINE = 32  # characters per label line; longer lines end in "…"
AUTO_COLLAPSE_NODES = 100  # collapse="auto": fold repeated cells of graphs larger than this
AUTO_FOLD_NODES = 150  # candidates="auto": fold every choice's candidates in graphs larger than this
AUTO_FOLD_CANDIDATES = 24  # ... or with more candidate nodes than this
MAX_CANDIDATES = 6  # candidates="auto": fold the candidates of a choice with more than this
# geometry, in inches (the axes' data units are inches)
PAD_X, PAD_Y = 0.07, 0.045  # text to node border
GAP_X = 0.45  # between layers
GAP_Y = 0.2  # between nodes of a layer
LANE_GAP = 0.09  # between two edges running side by side
INNER_GAP = 0.04  # between the candidates of a choice
BOX_PAD = 0.05  # around the candidates of a choice
ROW_GAP = 0.3  # between the rows of a wrapped layout (plus a lane per edge crossing)
MARGIN = 0.12  # around the drawing


class SpaceDrawing(NamedTuple):
    """Everything ``draw_space`` draws, as plain values (tested by value); lengths in inches."""

    nodes: dict[str, dict[str, Any]]  # node -> x, y, w, h, color, alpha, label, fontsize, kind, active, layer, row
    edges: list[dict[str, Any]]  # u, v, points (the drawn polyline), color, alpha, width, style
    boxes: list[dict[str, Any]]  # choice node -> x0, y0, x1, y1, color, key, label
    figsize: tuple[float, float]
    limits: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)  # x0, x1, y0, y1 of the drawing
    graph: Any = None  # the graph drawn (after folding)


def _short(n: Any) -> str:
    if isinstance(n, tuple) and all(isinstance(i, int) for i in n):
        return "×".join(str(i) for i in n[1:]) if len(n) > 1 else str(n[0])
    return ""


def _choice_color(d: dict[str, Any]) -> str:
    group = d.get("group")
    return CHOICE if group is None else GROUP_COLORS[group % len(GROUP_COLORS)]


def _ellipsize(line: str, limit: int = MAX_LINE) -> str:
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _strip_common(names: Sequence[str]) -> list[str]:
    """``["normal_n3_p0", "normal_n3_p2"] -> ["p0", "p2"]``: drop a shared prefix up to a ``_`` or ``.``."""
    names = list(names)
    if len(names) < 2:
        return names
    prefix = os.path.commonprefix(names)
    cut = max(prefix.rfind("_"), prefix.rfind("."))
    return [n[cut + 1:] for n in names] if cut >= 0 else names


@functools.lru_cache(maxsize=1)
def _font() -> Any:
    from matplotlib.font_manager import FontProperties, findfont, get_font

    return get_font(findfont(FontProperties()))


@functools.lru_cache(maxsize=8192)
def _line_width(line: str, fontsize: float) -> float:
    """Width in inches of one line of text as Agg renders it with the default font."""
    font = _font()
    font.set_size(fontsize, 72)
    font.set_text(line, 0.0)
    width: float = font.get_width_height()[0] / 64 / 72  # 26.6 fixed point, at 72 dpi
    return width


def _text_size(label: str, fontsize: float) -> tuple[float, float]:
    lines = label.split("\n")
    return (max(_line_width(line, fontsize) for line in lines), len(lines) * 1.22 * fontsize / 72)


def _label(graph: "nx.DiGraph", n: str, d: dict[str, Any], show_shapes: bool) -> str:
    kind = d["kind"]
    if kind == "layer_choice":
        lines = [d["key"]]
        if d.get("folded"):
            name = d["chosen"][0] if d.get("chosen") else "-"
            name = d.get("chosen_label") or name if name.isdigit() else name
            lines.append(f"▸ {name}")
    elif kind == "input_choice":
        short = dict(zip(d["candidates"], _strip_common(d["candidates"])))
        lines = [d["key"], f"[{', '.join(short.get(c, c) for c in d['chosen']) or '-'}]"]
    else:
        lines = str(d.get("label") or n).split("\n")
    if show_shapes and kind not in ("candidate", "layer_choice") and _short(d.get("shape")):
        lines.append(_short(d["shape"]))
    return "\n".join(_ellipsize(line) for line in lines)


def _fold(graph: "nx.DiGraph", collapse: Any, candidates: Any) -> "nx.DiGraph":
    from nasnb.graph import _plain_modules, fold_candidates, fold_modules

    g = graph
    if collapse is True or (collapse == "auto" and graph.number_of_nodes() > AUTO_COLLAPSE_NODES):
        # repeated cells as one box each; containers without choices (a ReLU-conv-BN) as one node
        paths = {**dict.fromkeys(_plain_modules(graph)), **graph.graph.get("repeats", {})}
        if paths:
            g = fold_modules(graph, paths)
    elif collapse and not isinstance(collapse, str):
        g = fold_modules(graph, list(collapse))
    if candidates is True:
        return g
    choices = [n for n, d in g.nodes(data=True) if d["kind"] == "layer_choice"]
    n_candidates = sum(1 for _, d in g.nodes(data=True) if d["kind"] == "candidate")
    if candidates == "auto" and g.number_of_nodes() <= AUTO_FOLD_NODES and n_candidates <= AUTO_FOLD_CANDIDATES:
        choices = [c for c in choices if len(g.nodes[c].get("candidates", ())) > MAX_CANDIDATES]
    elif candidates not in ("auto", False):
        raise ValueError(f"draw_space: candidates={candidates!r} is not one of True, False, 'auto'")
    return fold_candidates(g, choices) if choices else g


def _rows(widths: list[float], crossings: list[int], wrap: int | str | None) -> list[tuple[int, int]]:
    """Layer ranges ``[start, end)`` of each row."""
    n = len(widths)
    if n == 0:
        return [(0, 0)]
    if wrap is None:
        return [(0, n)]
    if not isinstance(wrap, str):
        wrap = max(int(wrap), 1)
        return [(i, min(i + wrap, n)) for i in range(0, n, wrap)]
    if wrap != "auto":
        raise ValueError(f"draw_space: wrap={wrap!r} is not an int, 'auto' or None")
    if sum(widths) + GAP_X * (n - 1) <= MAX_WIDTH:
        return [(0, n)]
    # fewest rows, then fewest edges crossing from row to row, then even rows
    best: list[tuple[int, float, int] | None] = [(0, 0.0, -1)] + [None] * n
    for j in range(1, n + 1):
        w = -GAP_X
        for i in range(j - 1, -1, -1):
            w += widths[i] + GAP_X
            if w > MAX_WIDTH and j - i > 1:
                break
            prev = best[i]
            if prev is None:
                continue
            cost = prev[1] + (crossings[i - 1] if i > 0 else 0) + 0.03 * w * w
            cur = best[j]
            if cur is None or (prev[0] + 1, cost) < cur[:2]:
                best[j] = (prev[0] + 1, cost, i)
    rows = []
    j = n
    while j > 0:
        entry = best[j]
        assert entry is not None  # each end j was reached at least from j - 1 (a row of one layer)
        i = entry[2]
        rows.append((i, j))
        j = i
    return rows[::-1]


def _curve(x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> list[tuple[float, float]]:
    """Points after ``(x0, y0)`` of an S-curve to ``(x1, y1)`` that stays within ``x0..x1``."""
    if abs(y1 - y0) < 1e-9:
        return [(x1, y1)]
    xm = (x0 + x1) / 2
    pts = []
    for i in range(1, steps + 1):
        t = i / steps
        a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        pts.append((a * x0 + (b + c) * xm + e * x1, (a + b) * y0 + (c + e) * y1))
    return pts


def _space_data(graph: "nx.DiGraph", show_shapes: bool = True, wrap: int | str | None = "auto",
                collapse: Any = "auto", candidates: bool | str = "auto") -> SpaceDrawing:
    from nasnb.graph_layout import layered

    g = _fold(graph, collapse, candidates)
    fs = FONTSIZE
    nodes: dict[str, dict[str, Any]] = {}
    for n, d in g.nodes(data=True):
        kind = d["kind"]
        active = bool(d.get("active", True))
        if kind in ("input", "output"):
            color = TERMINAL
        elif kind in ("layer_choice", "input_choice"):
            color = _choice_color(d)
        elif kind == "candidate":
            color = _choice_color(g.nodes[d["choice"]])
        elif kind == "function":
            color = FUNCTION
        elif d.get("repeat_of"):
            color = REPEAT
        else:
            color = ACTIVE
        label = _label(g, n, d, show_shapes)
        tw, th = _text_size(label, fs)
        nodes[n] = dict(color=color if active else INACTIVE, alpha=1.0 if active else FADED_ALPHA, label=label,
                        kind=kind, active=active, fontsize=fs, w=tw + 2 * PAD_X, h=th + 2 * PAD_Y)

    lay = layered(g, size={n: d["h"] for n, d in nodes.items()}, gap=GAP_Y, lane_gap=LANE_GAP,
                   inner_gap=INNER_GAP, block_pad=BOX_PAD)
    n_layers = len(lay.layers)

    def width(it: Any) -> float:
        if it in lay.members:
            widest: float = max(nodes[m]["w"] for m in lay.members[it])
            return widest + 2 * BOX_PAD
        own: float = nodes[it]["w"] if it in nodes else 0.0
        return own

    widths = [max((width(it) for it in lay.layers[k]), default=0.0) for k in range(n_layers)]
    links: dict[int, set[tuple[Any, Any]]] = {k: set() for k in range(n_layers)}
    for u, v in g.edges:
        path = [lay.item[u], *lay.routes.get((u, v), []), lay.item[v]]
        for a, b in zip(path, path[1:]):
            links[lay.layer[a]].add((a, b))
    crossings = [len({a for a, _ in links[k]}) for k in range(n_layers)]
    rows = _rows(widths, crossings, wrap)
    row_of = {k: r for r, (i, j) in enumerate(rows) for k in range(i, j)}
    xs: list[float] = [0.0] * n_layers
    for i, j in rows:
        x = 0.0
        for k in range(i, j):
            xs[k] = x + widths[k] / 2
            x += widths[k] + GAP_X
    left = [xs[k] - widths[k] / 2 for k in range(n_layers)]
    right = [xs[k] + widths[k] / 2 for k in range(n_layers)]

    # rows stack downwards; each gap holds a lane per item whose edges go on to the next row
    lanes: list[list[Any]] = []
    for r, (_, j) in enumerate(rows):
        out = {a for a, b in links.get(j - 1, ()) if r + 1 < len(rows)}
        lanes.append(sorted(out, key=lambda a: lay.y[a]))
    shift: list[float] = []
    bottom = 0.0
    for r, (i, j) in enumerate(rows):
        its = [it for k in range(i, j) for it in lay.layers[k]]
        top_r = max((lay.y[it] + lay.height[it] / 2 for it in its), default=0.0)
        bot_r = min((lay.y[it] - lay.height[it] / 2 for it in its), default=0.0)
        gap = 0.0 if r == 0 else ROW_GAP + LANE_GAP * len(lanes[r - 1])
        shift.append(bottom - gap - top_r)
        bottom = bot_r + shift[-1]
    band_bottom = [min((lay.y[it] - lay.height[it] / 2 for k in range(i, j) for it in lay.layers[k]), default=0.0)
                   + shift[r] for r, (i, j) in enumerate(rows)]

    def at(it: Any) -> float:
        return lay.y[it] + shift[row_of[lay.layer[it]]]

    for n, d in nodes.items():
        k = lay.layer[n]
        d.update(x=xs[k], y=at(n), layer=k, row=row_of[k])

    edges = []
    lane_x = [0.0, 0.0]
    for u, v, e in g.edges(data=True):
        path = [lay.item[u], *lay.routes.get((u, v), []), lay.item[v]]
        pts = [(nodes[u]["x"] + nodes[u]["w"] / 2, nodes[u]["y"])]
        for idx, (a, b) in enumerate(zip(path, path[1:])):
            k = lay.layer[a]
            ya = nodes[u]["y"] if idx == 0 else at(a)
            yb = nodes[v]["y"] if idx == len(path) - 2 else at(b)
            pts.append((right[k], ya))
            if row_of[k] == row_of[k + 1]:
                pts.extend(_curve(right[k], ya, left[k + 1], yb))
            else:
                r = row_of[k]
                i, n_lanes = lanes[r].index(a), len(lanes[r])
                xr = right[k] + GAP_X / 2 + LANE_GAP * i
                xl = left[k + 1] - GAP_X / 2 - LANE_GAP * (n_lanes - 1 - i)
                yg = band_bottom[r] - ROW_GAP / 2 - LANE_GAP * (n_lanes - 1 - i)
                pts.extend([(xr, ya), (xr, yg), (xl, yg), (xl, yb), (left[k + 1], yb)])
                lane_x = [min(lane_x[0], xl), max(lane_x[1], xr)]
        pts.append((nodes[v]["x"] - nodes[v]["w"] / 2, nodes[v]["y"]))
        active = bool(e.get("active", True))
        dashed = "chosen" in e and not e["chosen"]
        edges.append(dict(u=u, v=v, points=pts, color=ACTIVE if active else INACTIVE,
                          alpha=1.0 if active else FADED_ALPHA + 0.15, width=1.6 if active else 0.9,
                          style="dashed" if dashed else "solid"))
    boxes = []
    for it in lay.members:
        c = it[1]
        d = g.nodes[c]
        k = lay.layer[it]
        half = (width(it)) / 2
        boxes.append(dict(node=c, key=d["key"], color=_choice_color(d), x0=xs[k] - half, x1=xs[k] + half,
                          y0=at(it) - lay.height[it] / 2, y1=at(it) + lay.height[it] / 2, label=d["key"]))
    if nodes:
        x0 = min(min(left), lane_x[0]) - MARGIN
        x1 = max(max(right), lane_x[1]) + MARGIN
        y1 = max(at(it) + lay.height[it] / 2 for it in lay.layer if it in lay.height) + MARGIN
        y0 = min(band_bottom) - MARGIN
    else:
        x0, x1, y0, y1 = 0.0, 1.0, 0.0, 1.0
    return SpaceDrawing(nodes, edges, boxes, (x1 - x0, y1 - y0), (x0, x1, y0, y1), g)


def draw_space(
    space: Any,
    example_input: Any = None,
    *,
    ax: "Axes | None" = None,
    depth: int | None = None,
    collapse: Iterable[str] | str | bool | None = "auto",
    candidates: bool | str = "auto",
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
        Draw there; by default a new Figure sized to the graph (one data unit per inch)
        is made. Labels keep their size in points, so give ``ax`` about that size.
    depth : int, optional
        Fold submodules without choices nested deeper than this (see
        :func:`nasnb.graph.build_graph`); only with a model/space.
    collapse : "auto", True, iterable of str or None
        Module paths to draw as one node each (with a model/space they are passed to
        ``build_graph``; on a graph :func:`nasnb.graph.fold_modules` folds them). True:
        every cell that repeats an earlier one (same keys, as DARTS cells) is one box,
        the first of each kind is drawn in full; "auto": that, on graphs of more than
        :data:`AUTO_COLLAPSE_NODES` nodes; None or ``()``: nothing is folded.
    candidates : "auto", True or False
        Draw the candidates of each LayerChoice (True) or one node per choice naming its
        chosen candidate (False). "auto": fold choices of more than
        :data:`MAX_CANDIDATES` candidates, and all of them in graphs of more than
        :data:`AUTO_FOLD_NODES` nodes or :data:`AUTO_FOLD_CANDIDATES` candidates.
    show_shapes : bool
        Print each node's output shape (without the batch dimension).
    wrap : int, "auto" or None
        Fold the layers into rows of this many ("auto": as few rows as keep the figure
        within :data:`MAX_WIDTH` inches, broken where few edges cross; None: one row).
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
        paths = () if collapse is None or isinstance(collapse, (str, bool)) else list(collapse)
        space = build_graph(space, example_input, depth=depth, collapse=paths)
        if paths:
            collapse = None
    data = _space_data(space, show_shapes=show_shapes, wrap=wrap, collapse=collapse, candidates=candidates)
    return _draw(data, ax=ax, title=title)


def _draw(data: SpaceDrawing, *, ax: "Axes | None" = None, title: str | None = None) -> "Figure":
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import to_rgba
    from matplotlib.patches import FancyBboxPatch

    fig, ax = graph_axes(ax, data.figsize, title=bool(title))
    for b in data.boxes:
        ax.add_patch(FancyBboxPatch((b["x0"], b["y0"]), b["x1"] - b["x0"], b["y1"] - b["y0"],
                                    boxstyle="round,pad=0,rounding_size=0.05", facecolor=b["color"], alpha=0.1,
                                    edgecolor=b["color"], linewidth=0.8, zorder=0))
    for style in ("solid", "dashed"):
        for active in (False, True):
            sel = [e for e in data.edges if e["style"] == style and (e["color"] == ACTIVE) == active]
            if sel:
                draw_edges(ax, [e["points"] for e in sel], colors=[e["color"] for e in sel],
                           widths=[e["width"] for e in sel], zorder=1 + active, alpha=sel[0]["alpha"],
                           linestyles=style, capstyle="butt", joinstyle="round")
    nodes = list(data.nodes.values())
    ax.add_collection(PatchCollection(  # one collection: far faster than a bbox per text
        [FancyBboxPatch((d["x"] - d["w"] / 2, d["y"] - d["h"] / 2), d["w"], d["h"],
                        boxstyle=f"round,pad=0,rounding_size={min(d['w'], d['h'], 0.3) * 0.3:.4f}") for d in nodes],
        facecolors=[to_rgba(d["color"], d["alpha"]) for d in nodes], edgecolors="none", zorder=3))
    for d in nodes:
        ax.text(d["x"], d["y"], d["label"], ha="center", va="center", fontsize=d["fontsize"], linespacing=1.15,
                color="white" if d["active"] else "#333333", alpha=max(d["alpha"], 0.6), zorder=4)
    frame(ax, data.limits, title)
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
        fig, axes = figure_of(ax), [ax]
    for a, m in zip(axes, metrics):
        a.barh(data["names"], data[m], color=data["colors"])
        a.invert_yaxis()
        a.set_title(f"{data['key']}: {_METRICS[m]}", fontsize=9)
        a.tick_params(labelsize=MIN_FONTSIZE)
    return fig
