"""nasnb.plot draw_space / plot_candidates: tested on their data (positions, colours), not pixels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.graph import build_graph, layered_layout
from nasnb.plot import draw_space, plot_candidates
from nasnb.plot._space import (
    ACTIVE,
    CHOICE,
    FADED_ALPHA,
    GROUP_COLORS,
    INACTIVE,
    TERMINAL,
    _candidates_data,
    _space_data,
)
from nasnb.profile import profile_candidates

from .models import CellNet, SeedNet

pytest.importorskip("matplotlib")
X = torch.zeros(1, 1, 28, 28)


@pytest.fixture
def seed_graph():
    torch.manual_seed(0)
    space = nasnb.SearchSpace(SeedNet())
    space.apply({"skipcon": []})
    return build_graph(space, X)


def test_positions_come_from_the_layered_layout(seed_graph):
    data = _space_data(seed_graph)
    pos = layered_layout(seed_graph)
    assert {n: (d["x"], d["y"]) for n, d in data.nodes.items()} == pos


def test_colours_active_faded_and_terminals(seed_graph):
    nodes = _space_data(seed_graph).nodes
    assert nodes["conv2"]["color"] == ACTIVE and nodes["conv2"]["alpha"] == 1.0
    assert nodes["conv1.0"]["color"] == CHOICE and nodes["conv1"]["color"] == CHOICE
    assert nodes["conv1.1"]["color"] == INACTIVE and nodes["conv1.1"]["alpha"] == FADED_ALPHA
    assert nodes["skipcon"]["color"] == INACTIVE  # nothing chosen
    assert nodes["input"]["color"] == TERMINAL and nodes["output"]["color"] == TERMINAL


def test_labels_show_names_types_and_shapes(seed_graph):
    nodes = _space_data(seed_graph).nodes
    assert nodes["conv2"]["label"] == "conv2\nConv2d\n64×24×24"
    assert nodes["conv1.1"]["label"] == "1: Conv2d"
    assert nodes["skipcon"]["label"].startswith("skipcon\n[-]")
    assert _space_data(seed_graph, show_shapes=False).nodes["conv2"]["label"] == "conv2\nConv2d"


def test_edges_solid_active_dashed_unchosen_input(seed_graph):
    edges = {(e["u"], e["v"]): e for e in _space_data(seed_graph).edges}
    assert edges["conv2", "skipcon"]["style"] == "dashed"
    assert edges["conv2", "skipcon"]["color"] == INACTIVE
    assert edges["conv2", "conv3"]["style"] == "solid" and edges["conv2", "conv3"]["color"] == ACTIVE
    assert edges["input", "conv1.1"]["style"] == "solid" and edges["input", "conv1.1"]["color"] == INACTIVE
    assert edges["conv2", "conv3"]["width"] > edges["input", "conv1.1"]["width"]


def test_candidates_boxed_side_by_side(seed_graph):
    data = _space_data(seed_graph)
    (box,) = data.boxes
    assert box["key"] == "conv1" and box["color"] == CHOICE
    for c in ("conv1.0", "conv1.1"):
        x, y = data.nodes[c]["x"], data.nodes[c]["y"]
        assert box["x0"] < x < box["x1"] and box["y0"] < y < box["y1"]
    assert not box["x0"] < data.nodes["conv1"]["x"] < box["x1"]


def test_shared_key_groups_share_one_colour():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    nodes = _space_data(g).nodes
    a, b = g.graph["key_groups"]["normal_n0_p0"]
    assert nodes[a]["color"] == nodes[b]["color"] == GROUP_COLORS[g.nodes[a]["group"] % len(GROUP_COLORS)]
    assert nodes[f"{a}.conv3x3"]["color"] == nodes[a]["color"]
    c = g.graph["key_groups"]["normal_n0_p1"][0]
    assert nodes[c]["color"] != nodes[a]["color"]


def test_draw_space_on_given_axes_and_new_figure(seed_graph):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert draw_space(seed_graph, ax=ax, title="seed") is fig
    assert ax.get_title() == "seed"
    assert len(ax.texts) == seed_graph.number_of_nodes()
    assert len(ax.patches) == 1  # the conv1 box
    own = draw_space(seed_graph)
    assert own is not fig and tuple(own.get_size_inches()) == _space_data(seed_graph).figsize


def test_draw_space_builds_the_graph_from_a_model():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
                        mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="a"))
    fig = draw_space(net, torch.zeros(1, 2), depth=1)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(lbl.startswith("0\nSequential") for lbl in labels)
    with pytest.raises(TypeError, match="example_input is required"):
        draw_space(net)


def test_darts_cell_and_long_chain_stay_bounded():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    w, h = _space_data(g).figsize
    assert 10 < w <= 60 and 4 < h <= 60
    chain = nn.Sequential(*[mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key=f"l{i}") for i in range(20)])
    g = build_graph(chain, torch.zeros(1, 4))
    assert _space_data(g, wrap=None).figsize[0] == 52.5  # one row of 42 columns: too wide
    data = _space_data(g)  # "auto": three rows of 14 columns
    assert max(d["x"] for d in data.nodes.values()) == 13
    assert len({d["y"] for d in data.nodes.values() if d["kind"] == "layer_choice"}) == 3
    assert data.figsize[0] < 20 and data.figsize[1] > 3
    pos = layered_layout(g)
    assert _space_data(g, wrap=10).nodes["12"]["x"] == pos["12"][0] % 10


def test_candidates_data_and_plot():
    space = nasnb.SearchSpace(nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key="op")))
    rows = profile_candidates(space, "op", torch.zeros(1, 4), latency=False)
    data = _candidates_data(rows)
    assert data["names"] == ["0", "1"] and data["params"] == [20, 0] and data["flops"] == [32, 0]
    assert data["colors"] == [ACTIVE, INACTIVE] and data["latency_ms"] == [0.0, 0.0]
    fig = plot_candidates(rows)
    assert [a.get_title() for a in fig.axes] == ["op: parameters", "op: FLOPs", "op: latency (ms)"]
    assert [p.get_width() for p in fig.axes[0].patches] == [20, 0]
    one = plot_candidates(rows, metric="flops")
    assert len(one.axes) == 1
    with pytest.raises(ValueError, match=r"metric 'speed' is not one of \['params', 'flops', 'latency_ms'\]"):
        plot_candidates(rows, metric="speed")
    with pytest.raises(ValueError, match="got no rows"):
        plot_candidates([])


def test_node_boxes_fit_their_labels(seed_graph):
    nodes = _space_data(seed_graph).nodes
    assert nodes["conv2"]["w"] > nodes["fc1"]["w"] > 0  # "64×24×24" is wider than "Linear"
    assert nodes["conv2"]["h"] > nodes["conv1"]["h"] > 0  # three lines against one
    assert nodes["conv1.0"]["fontsize"] < nodes["conv2"]["fontsize"]  # candidates are smaller
