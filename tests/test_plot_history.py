"""Plots of the one-shot architecture-weight history: data steps by value, drawings smoke-tested."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("matplotlib")

from nasnb import mutables
from nasnb.oneshot import ArchHistory
from nasnb.plot import (
    plot_arch_entropy,
    plot_arch_graph,
    plot_arch_heatmap,
    plot_arch_weights,
)
from nasnb.plot._history import (
    _entropy_data,
    _graph_data,
    _heatmap_data,
    _live_figure,
    _weights_data,
)


@pytest.fixture
def history():
    h = ArchHistory({"op": ["conv", "pool", "skip"], "act": ["relu", "tanh"]}, kind="softmax")
    h.append({"op": [1 / 3, 1 / 3, 1 / 3], "act": [0.5, 0.5]}, step=0, epoch=0.0)
    h.append({"op": [0.6, 0.3, 0.1], "act": [0.2, 0.8]}, step=10, epoch=1.0)
    return h


def test_heatmap_data(history):
    d = _heatmap_data(history, "op")
    assert d["steps"] == [0, 10] and d["names"] == ["conv", "pool", "skip"]
    assert [row[1] for row in d["matrix"]] == [0.6, 0.3, 0.1]
    assert [row[0] for row in d["matrix"]] == pytest.approx([1 / 3] * 3)


def test_weights_data_marks_the_best(history):
    rows = _weights_data(history)
    assert [(r["key"], r["best"]) for r in rows] == [("op", 0), ("act", 1)]
    assert rows[1]["weights"] == [0.2, 0.8]
    assert _weights_data(history, 0)[0]["weights"] == pytest.approx([1 / 3] * 3)


def test_entropy_data(history):
    d = _entropy_data(history)
    assert d["steps"] == [0, 10]
    assert d["entropy"]["op"][0] == pytest.approx(1.0) and d["entropy"]["act"][1] < 0.75


def test_figures(history):
    from matplotlib.figure import Figure

    for fig in (plot_arch_heatmap(history), plot_arch_heatmap(history, "op"), plot_arch_weights(history),
                plot_arch_entropy(history), _live_figure(history)):
        assert isinstance(fig, Figure)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_arch_entropy(history, ax=ax) is fig
    assert len(ax.lines) == 2
    assert plot_arch_heatmap(history, "act", ax=ax) is fig


def test_errors(history):
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="the history has no records yet"):
        plot_arch_weights(ArchHistory({"op": ["a"]}))
    with pytest.raises(TypeError, match="expected an nasnb.oneshot.ArchHistory, got dict"):
        plot_arch_entropy({})
    with pytest.raises(ValueError, match="pass key= to draw on a given ax"):
        plot_arch_heatmap(history, ax=Figure().add_subplot())


def test_graph_edges_are_shaded_by_weight():
    from nasnb.graph import build_graph

    net = nn.Sequential(nn.Linear(2, 2), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    g = build_graph(net, torch.zeros(1, 2))
    h = ArchHistory({"act": ["0", "1"]})
    h.append({"act": [0.9, 0.1]}, step=0, epoch=0)
    d = _graph_data(g, h.final())
    into = {e["v"]: e["weight"] for e in d["edges"] if e["v"].startswith("1.")}
    assert into == {"1.0": pytest.approx(0.9), "1.1": pytest.approx(0.1)}
    assert d["nodes"]["1.0"]["weight"] == pytest.approx(0.9)
    assert type(plot_arch_graph(g, h)).__name__ == "Figure"


def test_scale_and_titles_say_what_the_weights_are():
    from types import SimpleNamespace

    from nasnb.plot._history import _scale_data

    h = ArchHistory({"op": ["a", "b"], "mix": SimpleNamespace(names=["x", "y", "z"], kind="input")},
                    kind="gate probability")
    h.append({"op": [0.5, 0.5], "mix": [2 / 3] * 3}, step=0, epoch=0)
    h.append({"op": [0.9, 0.1], "mix": [1.4, 0.4, 0.2]}, step=5, epoch=1)
    s = _scale_data(h)
    assert (s["vmax"], s["multiples"]) == (1.4, {"mix": 2})
    assert s["label"] == "gate probability; n_chosen × gate probability for InputChoice keys"
    assert _scale_data(h, ["op"])["label"] == "gate probability" and _scale_data(h, ["mix"])["label"] == (
        "2 × gate probability")
    fig = plot_arch_heatmap(h)
    assert [a.get_title(loc="left") for a in fig.axes if a.images] == [
        "op", "mix  (InputChoice, 2 chosen: 2 × gate probability)"]
    assert list(fig.axes[0].images[0].get_extent()[:2]) == [-2.5, 7.5]  # one column per record, centred on its step
    labels = [t.get_text() for t in plot_arch_weights(h).axes[0].get_yticklabels()]
    assert labels == ["op", "a", "b", "mix  (2 × gate probability)", "x", "y", "z"]


def test_live_figure_has_weights_entropy_and_a_legend(history):
    fig = _live_figure(history)
    weights, entropy, legend = fig.axes
    assert weights.get_xlabel().startswith("softmax") and entropy.get_xlabel() == "step"
    assert [t.get_text() for t in legend.get_legend().get_texts()] == ["op", "act"]
    assert len({(ln.get_color(), ln.get_linestyle()) for ln in entropy.get_lines()}) == 2
