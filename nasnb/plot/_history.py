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

__all__ = ["plot_arch_entropy", "plot_arch_graph", "plot_arch_heatmap", "plot_arch_weights"]

CHOSEN = "#1f77b4"
OTHER = "#9ecae1"


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


def plot_arch_heatmap(history: ArchHistory, key: str | None = None, *, ax: Axes | None = None) -> Figure:
    """Heatmap of one key's weights over training (all keys, stacked, when ``key`` is None).

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
    if ax is None:
        heights = [max(0.9, 0.28 * len(history.names[k]) + 0.5) for k in keys]
        fig = Figure(figsize=(7, sum(heights) + 0.4), layout="constrained")
        axes = fig.subplots(len(keys), 1, squeeze=False, sharex=True, height_ratios=heights)[:, 0]
    else:
        fig, axes = ax.figure, [ax]
    vmax = max(1.0, max(max(max(r) for r in _heatmap_data(history, k)["matrix"]) for k in keys))
    for k, a in zip(keys, axes):
        d = _heatmap_data(history, k)
        steps = d["steps"]
        x0, x1 = (steps[0], steps[-1]) if len(steps) > 1 else (steps[0] - 0.5, steps[0] + 0.5)
        image = a.imshow(d["matrix"], aspect="auto", interpolation="nearest", cmap="viridis", vmin=0.0, vmax=vmax,
                         extent=(x0, x1, len(d["names"]) - 0.5, -0.5))
        a.set_yticks(range(len(d["names"])), d["names"], fontsize=7)
        a.set_ylabel(k, rotation=0, ha="right", va="center", fontsize=8)
    axes[-1].set_xlabel("step")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label=history.kind)
    return fig


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


def plot_arch_weights(history: ArchHistory, *, index: int = -1, ax: Axes | None = None) -> Figure:
    """Bars of every key's weights at record ``index`` (default: the final distribution)."""
    from matplotlib.figure import Figure

    rows = _weights_data(history, index)
    n = sum(len(r["labels"]) for r in rows) + len(rows)
    if ax is None:
        fig = Figure(figsize=(6, 0.22 * n + 0.8), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    y, ticks, labels, sep = 0.0, [], [], []
    for r in rows:
        for i, (label, w) in enumerate(zip(r["labels"], r["weights"])):
            ax.barh(y, w, color=CHOSEN if i == r["best"] else OTHER, height=0.8)
            ticks.append(y)
            labels.append(f"{r['key']}: {label}" if i == 0 else label)
            y += 1
        sep.append(y)
        y += 1
    for s in sep[:-1]:
        ax.axhline(s, color="#dddddd", linewidth=0.8)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{history.kind} (step {history.records[index].step})")
    return fig


def _entropy_data(history: ArchHistory) -> dict[str, Any]:
    """``steps`` and, per key, the normalised entropy per record."""
    _check(history)
    return {"steps": history.steps, "entropy": {k: history.entropy(k) for k in history.keys}}


def plot_arch_entropy(history: ArchHistory, *, ax: Axes | None = None) -> Figure:
    """Normalised entropy of each key over training (1 = undecided, 0 = one candidate)."""
    from matplotlib.figure import Figure

    d = _entropy_data(history)
    if ax is None:
        fig = Figure(figsize=(6, 3), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for key, values in d["entropy"].items():
        ax.plot(d["steps"], values, label=key, linewidth=1.2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("normalised entropy")
    if len(d["entropy"]) <= 12:
        ax.legend(fontsize=7, loc="lower left")
    return fig


def _graph_data(graph: nx.DiGraph, weights: Mapping[str, list[float]]) -> dict[str, Any]:
    """Node positions/labels and edges with a ``weight`` in [0, 1] (1 for fixed edges)."""
    from nasnb.graph import layered_layout

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


def plot_arch_graph(graph: nx.DiGraph, history: ArchHistory, *, index: int = -1,
                    ax: Axes | None = None) -> Figure:
    """The space's graph with candidate and input edges shaded by their weight at record ``index``.

    Parameters
    ----------
    graph : networkx.DiGraph
        From :func:`nasnb.graph.build_graph` (``build_graph(trainer.space, example_input)``).
    history : ArchHistory
        ``trainer.history``.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    _check(history)
    d = _graph_data(graph, history.records[index].weights)
    xs = [n["x"] for n in d["nodes"].values()] or [0.0]
    ys = [n["y"] for n in d["nodes"].values()] or [0.0]
    if ax is None:
        fig = Figure(figsize=(max(5.0, 1.3 * (max(xs) - min(xs) + 1)), max(3.0, 0.6 * (max(ys) - min(ys) + 1))))
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    else:
        fig = ax.figure
    segs = [[(e["x"][0], e["y"][0]), (e["x"][1], e["y"][1])] for e in d["edges"]]
    colors = [(0.12, 0.47, 0.71, 0.1 + 0.9 * e["weight"]) for e in d["edges"]]
    widths = [0.5 + 3.0 * e["weight"] for e in d["edges"]]
    ax.add_collection(LineCollection(segs, colors=colors, linewidths=widths, zorder=1))
    for n in d["nodes"].values():
        label = n["label"] if n["weight"] is None else f"{n['label']}\n{n['weight']:.2f}"
        shade = 1.0 if n["weight"] is None else 0.25 + 0.75 * min(max(n["weight"], 0.0), 1.0)
        ax.text(n["x"], n["y"], label, ha="center", va="center", fontsize=6.5, zorder=3,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": (0.12, 0.47, 0.71, shade) if n["weight"] is not None
                          else "#eeeeee", "edgecolor": "none"})
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    return fig


def _live_figure(history: ArchHistory) -> Figure:
    """The live view a trainer redraws in notebooks: weights now, entropy so far."""
    from matplotlib.figure import Figure

    n = sum(len(v) for v in history.names.values()) + len(history.names)
    fig = Figure(figsize=(10, max(2.8, 0.2 * n + 0.8)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.2])
    plot_arch_weights(history, ax=left)
    plot_arch_entropy(history, ax=right)
    return fig
