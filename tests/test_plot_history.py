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
