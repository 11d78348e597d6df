"""Plots of a one-shot trainer's architecture-weight history (:class:`nasnb.oneshot.ArchHistory`).

``plot_arch_heatmap`` (each key's weights over time), ``plot_arch_weights`` (the weights
at one record as bars, the exported choice darker), ``plot_arch_entropy`` (how decided
each key is over time) and ``plot_arch_graph`` (the space's graph, from
:func:`nasnb.graph.build_graph`, with candidate and input edges shaded by weight). Each
has a ``_..._data`` step of plain values.

Examples
--------
>>> from nasnb.oneshot import ArchHistory
>>> from nasnb.plot import plot_arch_entropy, plot_arch_heatmap, plot_arch_weights
>>> h = ArchHistory({"op": ["conv", "pool"]}, kind="softmax")
>>> h.append({"op": [0.5, 0.5]}, step=0, epoch=0.0)
>>> h.append({"op": [0.8, 0.2]}, step=1, epoch=1.0)
>>> [type(f(h)).__name__ for f in (plot_arch_heatmap, plot_arch_weights, plot_arch_entropy)]
['Figure', 'Figure', 'Figure']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nasnb.oneshot import ArchHistory

from ._graph import draw_edges, frame, graph_axes
from ._style import MIN_FONTSIZE, figure_of, series_style

__all__ = ["plot_arch_entropy", "plot_arch_graph", "plot_arch_heatmap", "plot_arch_weights"]

CHOSEN = "#1f77b4"
OTHER = "#9ecae1"

#: Height (inches) of one row of text (a candidate) at :data:`MIN_FONTSIZE`, with spacing.
ROW = 0.2
#: Legend entries per column before the legend gets another column.
LEGEND_ROWS = 16


def _check(history: Any) -> None:
    if not hasattr(history, "records") or not hasattr(history, "names"):
        raise TypeError(f"expected an nasnb.oneshot.ArchHistory, got {type(history).__name__}")
    if not history.records:
        raise ValueError("the history has no records yet; train first (or record at least once)")


def _heatmap_data(history: ArchHistory, key: str) -> dict[str, Any]:
    """``steps`` (x), candidate ``names`` (y) and ``matrix`` (candidates x records)."""
    _check(history)
    w = history.weights(key)
    matrix = [[row[i] for row in w] for i in range(len(history.names[key]))]
    return {"key": key, "steps": history.steps, "names": list(history.names[key]), "matrix": matrix}


def _scale_data(history: ArchHistory, keys: list[str] | None = None) -> dict[str, Any]:
    """What the weights of ``keys`` are and the range to show them in.

    ``vmin``/``vmax``: the colour (or bar) range, ``[0, 1]`` unless a weight exceeds 1
    (then ``[0, largest]``); ``chosen``: InputChoice key -> ``n`` when every record's
    weights sum to the same whole ``n >= 2`` (an InputChoice choosing ``n`` inputs);
    ``multiples``: those of them with a weight above 1, which cannot be a probability:
    DARTS and ProxylessNAS record such a key as ``n_chosen × softmax`` (the per-draw
    probability times the number of draws); ``label``: what the numbers are:
    ``history.kind``, plus ``"n_chosen × <kind> for InputChoice keys"`` when there are
    multiples, or ``"(not normalised: up to …)"`` when a weight above 1 has no such
    explanation, so a label never calls values above 1 a bare probability.
    """
    _check(history)
    keys = history.keys if keys is None else list(keys)
    kind = str(history.kind)
    top = max((max(r.weights[k], default=0.0) for r in history.records for k in keys), default=0.0)
    chosen: dict[str, int] = {}
    multiples: dict[str, int] = {}
    unexplained = []
    for k in keys:
        sums = {round(sum(r.weights[k]), 3) for r in history.records}
        total = next(iter(sums))
        if history.kinds.get(k) == "input" and len(sums) == 1 and total >= 2 and total == round(total):
            chosen[k] = int(total)
        if max((max(r.weights[k], default=0.0) for r in history.records), default=0.0) > 1.0 + 1e-6:
            if k in chosen:
                multiples[k] = chosen[k]
            else:
                unexplained.append(k)
    if unexplained:
        label = f"{kind} (not normalised: up to {top:.3g})"
    elif multiples and len(multiples) == len(keys) and len(set(multiples.values())) == 1:
        label = f"{next(iter(multiples.values()))} × {kind}"
    elif multiples:
        label = f"{kind}; n_chosen × {kind} for InputChoice keys"
    else:
        label = kind
    return {"vmin": 0.0, "vmax": max(1.0, top), "max": top, "label": label, "chosen": chosen,
            "multiples": multiples}


def _key_title(history: ArchHistory, key: str, scale: Mapping[str, Any]) -> str:
    n = scale["chosen"].get(key)
    if n is None:
        return key
    if key in scale["multiples"]:
        return f"{key}  (InputChoice, {n} chosen: {n} × {history.kind})"
    return f"{key}  (InputChoice, {n} chosen: weights sum to {n})"


def plot_arch_heatmap(history: ArchHistory, key: str | None = None, *, ax: Axes | None = None) -> Figure:
    """Heatmap of one key's weights over training (all keys, stacked, when ``key`` is None).

    One shared colour scale, ``0`` to ``max(1, largest weight)``; its label says what the
    numbers are (``history.kind``, and ``n_chosen × history.kind`` for InputChoice keys whose
    weights sum to ``n_chosen > 1``, as DARTS and ProxylessNAS record them). Each key's
    rows are titled with the key. The figure grows with the number of candidates, so every
    label keeps :data:`~nasnb.plot._style.MIN_FONTSIZE`.

    Parameters
    ----------
    history : ArchHistory
        ``trainer.history``.
    key : str, optional
        One key; None draws every key in its own row (then ``ax`` must be None).
    ax : matplotlib Axes, optional
        Draw there (only with ``key``).
    """
    from matplotlib.figure import Figure

    _check(history)
    keys = [key] if key is not None else history.keys
    if ax is not None and len(keys) != 1:
        raise ValueError("plot_arch_heatmap: pass key= to draw on a given ax (all keys need a figure of their own)")
    scale = _scale_data(history, keys)
    if ax is None:
        heights = [ROW * len(history.names[k]) + 0.15 for k in keys]
        extra = 0.45 * len(keys) + 1.4  # per-key titles, the x axis and the colour bar on top
        fig = Figure(figsize=(8, sum(heights) + extra), layout="constrained")
        axes = list(fig.subplots(len(keys), 1, squeeze=False, sharex=True, height_ratios=heights)[:, 0])
    else:
        fig, axes = figure_of(ax), [ax]
    for k, a in zip(keys, axes):
        d = _heatmap_data(history, k)
        steps = d["steps"]
        half = (steps[-1] - steps[0]) / (2 * (len(steps) - 1)) if len(steps) > 1 else 0.5
        half = half or 0.5
        image = a.imshow(d["matrix"], aspect="auto", interpolation="nearest", cmap="viridis", vmin=scale["vmin"],
                         vmax=scale["vmax"], extent=(steps[0] - half, steps[-1] + half, len(d["names"]) - 0.5, -0.5))
        a.set_yticks(range(len(d["names"])), d["names"], fontsize=MIN_FONTSIZE)
        a.set_title(_key_title(history, k, scale), loc="left", fontsize=MIN_FONTSIZE + 1)
        a.xaxis.set_major_locator(_int_locator())
        a.tick_params(axis="x", labelsize=MIN_FONTSIZE)
    axes[-1].set_xlabel("step", fontsize=MIN_FONTSIZE + 1)
    if ax is None:  # on top, where it is seen without scrolling down a tall stack
        total = fig.get_size_inches()[1]
        bar = fig.colorbar(image, ax=axes, location="top", fraction=0.3 / total, pad=0.15 / total, aspect=45,
                           shrink=0.75)
        bar.set_label(scale["label"], fontsize=MIN_FONTSIZE + 1)
    else:
        bar = fig.colorbar(image, ax=axes, shrink=0.9)
        bar.set_label(scale["label"].replace("; ", ";\n"), fontsize=MIN_FONTSIZE + 1)
    bar.ax.tick_params(labelsize=MIN_FONTSIZE)
    return fig


def _int_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins="auto", integer=True)  # as many as fit the axis length


def _weights_data(history: ArchHistory, index: int = -1) -> list[dict[str, Any]]:
    """Per key: ``labels``, ``weights`` at record ``index`` and the ``best`` candidate."""
    _check(history)
    record = history.records[index]
    rows = []
    for key in history.keys:
        w = record.weights[key]
        rows.append({"key": key, "labels": list(history.names[key]), "weights": list(w),
                     "best": max(range(len(w)), key=lambda i: w[i])})
    return rows


def _weights_height(history: ArchHistory) -> float:
    n = sum(len(v) for v in history.names.values()) + len(history.names)
    return max(2.6, ROW * n + 1.0)


def plot_arch_weights(history: ArchHistory, *, index: int = -1, ax: Axes | None = None) -> Figure:
    """Bars of every key's weights at record ``index`` (default: the final distribution).

    Each key is a bold heading row over its candidates' bars; the highest weight of each
    key (the exported choice of a LayerChoice) is dark, the rest light. The x label says
    what the numbers are (see :func:`plot_arch_heatmap`).
    """
    from matplotlib.figure import Figure

    rows = _weights_data(history, index)
    scale = _scale_data(history)
    if ax is None:
        fig = Figure(figsize=(7, _weights_height(history)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = figure_of(ax)
    y, ticks, labels, heads = 0.0, [], [], []
    for r in rows:
        n = scale["multiples"].get(r["key"])
        ticks.append(y)
        labels.append(r["key"] if n is None else f"{r['key']}  ({n} × {history.kind})")
        heads.append(len(labels) - 1)
        if y:
            ax.axhline(y - 0.5, color="#dddddd", linewidth=0.8)
        y += 1
        for i, (label, w) in enumerate(zip(r["labels"], r["weights"])):
            ax.barh(y, w, color=CHOSEN if i == r["best"] else OTHER, height=0.8)
            ticks.append(y)
            labels.append(label)
            y += 1
    ax.set_yticks(ticks, labels, fontsize=MIN_FONTSIZE)
    for i, t in enumerate(ax.get_yticklabels()):
        if i in heads:
            t.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(y - 0.4, -0.6)
    ax.set_xlim(0, scale["vmax"] * 1.02)
    ax.tick_params(axis="x", labelsize=MIN_FONTSIZE)
    ax.set_xlabel(f"{scale['label']}".replace("; ", ";\n") + f"\nat step {history.records[index].step}",
                  fontsize=MIN_FONTSIZE + 1)
    if len(ticks) > 30:  # a tall list: the values on top as well
        ax.tick_params(axis="x", top=True, labeltop=True)
    ax.set_title("dark bar: the highest weight of its key", loc="left", fontsize=MIN_FONTSIZE)
    return fig


def _entropy_data(history: ArchHistory) -> dict[str, Any]:
    """``steps`` and, per key, the normalised entropy per record."""
    _check(history)
    return {"steps": history.steps, "entropy": {k: history.entropy(k) for k in history.keys}}


def _legend_columns(n: int) -> int:
    return max(1, -(-n // LEGEND_ROWS))


def _draw_entropy(ax: Axes, d: Mapping[str, Any], legend: bool = True) -> list[Any]:
    """One line per key (``series_style``, markers every few records) and, with ``legend``,
    the legend beside the axes; returns the lines."""
    n_points = len(d["steps"])
    every = max(1, n_points // 6)
    lines = []
    for i, (key, values) in enumerate(d["entropy"].items()):
        style = series_style(i)
        width = 1.4 + 1.2 * (i // 30)  # series_style repeats after 30: beyond, thicker lines
        (line,) = ax.plot(d["steps"], values, label=key, linewidth=width, markersize=4.5,
                          markevery=(i % every, every), **style)
        lines.append(line)
    ax.set_ylim(-0.03, 1.03)
    ax.xaxis.set_major_locator(_int_locator())
    ax.tick_params(labelsize=MIN_FONTSIZE)
    ax.set_xlabel("step", fontsize=MIN_FONTSIZE + 1)
    ax.set_ylabel("normalised entropy\n(1 = undecided, 0 = one candidate)", fontsize=MIN_FONTSIZE + 1)
    if lines and legend:  # beside the axes, in columns of LEGEND_ROWS
        ax.legend(fontsize=MIN_FONTSIZE, ncol=_legend_columns(len(lines)), borderaxespad=0.0, handlelength=3.0,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return lines


def plot_arch_entropy(history: ArchHistory, *, ax: Axes | None = None) -> Figure:
    """Normalised entropy of each key over training (1 = undecided, 0 = one candidate).

    Each key has its own colour / line style / marker (:func:`~nasnb.plot._style.series_style`:
    30 distinct) and a legend entry, in columns beside the axes.
    """
    from matplotlib.figure import Figure

    d = _entropy_data(history)
    n = len(d["entropy"])
    if ax is None:
        ncol = _legend_columns(n)
        rows = -(-n // ncol)
        fig = Figure(figsize=(6.5 + 1.7 * ncol, max(3.8, 0.21 * rows + 1.0)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = figure_of(ax)
    _draw_entropy(ax, d)
    return fig


def _graph_data(graph: nx.DiGraph, weights: Mapping[str, list[float]]) -> dict[str, Any]:
    """Node positions/labels and edges with a ``weight`` in [0, 1] (1 for fixed edges)."""
    from nasnb.graph_layout import layered_layout

    pos = layered_layout(graph)
    nodes = {}
    for n, d in graph.nodes(data=True):
        w = None
        if d["kind"] == "candidate" and d.get("key") in weights:
            w = weights[d["key"]][d["index"]]
        nodes[n] = {"x": pos[n][0], "y": pos[n][1], "label": str(d.get("label", n)), "kind": d["kind"], "weight": w}
    edges = []
    for u, v, d in graph.edges(data=True):
        w = 1.0
        for end in (u, v):
            nd = graph.nodes[end]
            if nd["kind"] == "candidate" and nd.get("key") in weights:
                w = weights[nd["key"]][nd["index"]]
        if graph.nodes[v]["kind"] == "input_choice" and "index" in d and d.get("key") in weights:
            vec = weights[d["key"]]
            w = vec[d["index"]] / max(max(vec), 1e-12) if max(vec) > 1 else vec[d["index"]]
        edges.append({"u": u, "v": v, "x": (pos[u][0], pos[v][0]), "y": (pos[u][1], pos[v][1]),
                      "weight": float(min(max(w, 0.0), 1.0))})
    return {"nodes": nodes, "edges": edges}


def _wrap(label: str, width: int = 16) -> str:
    """``"sep_conv_3x3: Linear 8→8"`` -> two lines, so long labels do not widen every layer."""
    if len(label) <= width or ": " not in label:
        return label
    head, tail = label.split(": ", 1)
    return f"{head}:\n{tail}"


def plot_arch_graph(graph: nx.DiGraph, history: ArchHistory, *, index: int = -1,
                    ax: Axes | None = None) -> Figure:
    """The space's graph with candidate and input edges shaded by their weight at record ``index``.

    Parameters
    ----------
    graph : networkx.DiGraph
        From :func:`nasnb.graph.build_graph` (``build_graph(trainer.space, example_input)``).
    history : ArchHistory
        ``trainer.history``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.graph import build_graph
    >>> from nasnb.oneshot import ArchHistory
    >>> net = nn.Sequential(nn.Linear(2, 2), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    >>> h = ArchHistory({"act": ["0", "1"]}, kind="softmax")
    >>> h.append({"act": [0.9, 0.1]}, step=0, epoch=0.0)
    >>> fig = plot_arch_graph(build_graph(net, torch.zeros(1, 2)), h)
    >>> sorted(t.get_text().splitlines()[-1] for t in fig.axes[0].texts if "Tanh" in t.get_text() or "ReLU" in t.get_text())
    ['0.10', '0.90']
    """
    _check(history)
    d = _graph_data(graph, history.records[index].weights)
    xs = [n["x"] for n in d["nodes"].values()] or [0.0]
    ys = [n["y"] for n in d["nodes"].values()] or [0.0]
    labels = {name: _wrap(n["label"]) if n["weight"] is None else f"{_wrap(n['label'])}\n{n['weight']:.2f}"
              for name, n in d["nodes"].items()}
    # inches per layout unit: room for the widest label between layers and for the tallest
    # label between stacked candidates (half a unit apart), at MIN_FONTSIZE
    widest = max((len(line) for text in labels.values() for line in text.split("\n")), default=4)
    tallest = max((text.count("\n") + 1 for text in labels.values()), default=1)
    x_unit = max(1.3, 0.078 * widest + 0.35)
    y_unit = max(0.85, (tallest * MIN_FONTSIZE * 1.15 / 72 + 0.14) / 0.5)
    fig, ax = graph_axes(ax, (max(5.0, x_unit * (max(xs) - min(xs) + 1.2)), max(3.0, y_unit * (max(ys) - min(ys) + 1.2))))
    draw_edges(ax, [[(e["x"][0], e["y"][0]), (e["x"][1], e["y"][1])] for e in d["edges"]],
               colors=[(0.12, 0.47, 0.71, 0.1 + 0.9 * e["weight"]) for e in d["edges"]],
               widths=[0.5 + 3.0 * e["weight"] for e in d["edges"]])
    for name, n in d["nodes"].items():
        shade = None if n["weight"] is None else 0.25 + 0.75 * min(max(n["weight"], 0.0), 1.0)
        ax.text(n["x"], n["y"], labels[name], ha="center", va="center", fontsize=MIN_FONTSIZE, zorder=3,
                color="white" if shade is not None and shade > 0.6 else "black", linespacing=1.1,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": (0.12, 0.47, 0.71, shade) if shade is not None
                      else "#eeeeee", "edgecolor": "none"})
    frame(ax, (min(xs) - 0.6, max(xs) + 0.6, min(ys) - 0.6, max(ys) + 0.6))
    return fig


def _live_figure(history: ArchHistory) -> Figure:
    """The live view a trainer redraws in notebooks: weights now (left), entropy so far (right,
    its legend below it). Tall enough for every candidate's label at MIN_FONTSIZE."""
    from matplotlib.figure import Figure

    n_keys = len(history.names)
    ncol = 1 if n_keys <= 8 else 2
    legend_h = 0.21 * -(-n_keys // ncol) + 0.4
    entropy_h = 3.4
    height = max(_weights_height(history), entropy_h + legend_h)
    fig = Figure(figsize=(10.5, height), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[1.1, 1], height_ratios=[entropy_h, height - entropy_h])
    left = fig.add_subplot(grid[:, 0])
    right = fig.add_subplot(grid[0, 1])
    below = fig.add_subplot(grid[1, 1])
    plot_arch_weights(history, ax=left)
    lines = _draw_entropy(right, _entropy_data(history), legend=False)
    below.set_axis_off()
    if lines:
        below.legend(handles=lines, loc="upper right", bbox_to_anchor=(1.0, 1.0), ncol=ncol, fontsize=MIN_FONTSIZE,
                     handlelength=2.6, borderaxespad=0.0, title="key (entropy)", title_fontsize=MIN_FONTSIZE + 1)
    return fig
