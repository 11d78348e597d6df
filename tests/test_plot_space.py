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
    MAX_WIDTH,
    TERMINAL,
    _candidates_data,
    _space_data,
)
from nasnb.plot._style import MIN_FONTSIZE
from nasnb.profile import profile_candidates

from .models import CellNet, SeedNet
from .test_graph import ThreeNodeCell

pytest.importorskip("matplotlib")
np = pytest.importorskip("numpy")
X = torch.zeros(1, 1, 28, 28)
XD = torch.zeros(1, 3, 32, 32)


@pytest.fixture
def seed_graph():
    torch.manual_seed(0)
    space = nasnb.SearchSpace(SeedNet())
    space.apply({"skipcon": []})
    return build_graph(space, X)


@pytest.fixture(scope="module")
def darts_graph():
    return build_graph(nasnb.spaces.DARTS.small(), XD)


@pytest.fixture(scope="module")
def cell_graph():
    return build_graph(ThreeNodeCell(), torch.zeros(1, 1, 8, 8))


def passes_through(data, samples: int = 12) -> list[tuple[str, str, str]]:
    """(u, v, node) for each edge that has a point strictly inside the box of a node other than u and v."""
    names = list(data.nodes)
    index = {n: i for i, n in enumerate(names)}
    box = np.array([[d["x"], d["y"], d["w"] / 2, d["h"] / 2] for d in data.nodes.values()])
    found = set()
    t = np.linspace(0.0, 1.0, samples)[:, None]
    for e in data.edges:
        pts = np.asarray(e["points"], dtype=float)
        dense = np.concatenate([a + (b - a) * t for a, b in zip(pts[:-1], pts[1:])])
        inside = ((np.abs(dense[:, None, 0] - box[None, :, 0]) < box[None, :, 2] - 1e-9)
                  & (np.abs(dense[:, None, 1] - box[None, :, 1]) < box[None, :, 3] - 1e-9))
        inside[:, [index[e["u"]], index[e["v"]]]] = False
        for j in np.nonzero(inside.any(axis=0))[0]:
            found.add((e["u"], e["v"], names[j]))
    return sorted(found)


def texts(fig):
    import matplotlib.text

    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


def test_positions_follow_the_layered_layout(seed_graph):
    data = _space_data(seed_graph)
    pos = layered_layout(seed_graph)
    by_layer = {}
    for n, d in data.nodes.items():
        assert d["layer"] == pos[n][0]
        by_layer.setdefault(d["layer"], set()).add(round(d["x"], 9))
    assert all(len(xs) == 1 for xs in by_layer.values())  # one column per layer
    columns = [by_layer[k].pop() for k in sorted(by_layer)]
    assert columns == sorted(columns) and len(set(columns)) == len(columns)  # left to right, one row
    for u, v in seed_graph.edges:
        assert data.nodes[u]["x"] < data.nodes[v]["x"]


def test_colours_active_faded_and_terminals(seed_graph):
    nodes = _space_data(seed_graph).nodes
    assert nodes["conv2"]["color"] == ACTIVE and nodes["conv2"]["alpha"] == 1.0
    assert nodes["conv1.0"]["color"] == CHOICE and nodes["conv1"]["color"] == CHOICE
    assert nodes["conv1.1"]["color"] == INACTIVE and nodes["conv1.1"]["alpha"] == FADED_ALPHA
    assert nodes["skipcon"]["color"] == INACTIVE  # nothing chosen
    assert nodes["input"]["color"] == TERMINAL and nodes["output"]["color"] == TERMINAL


def test_labels_show_names_settings_and_shapes(seed_graph):
    nodes = _space_data(seed_graph).nodes
    assert nodes["conv2"]["label"] == "conv2\nConv2d 3×3\n64×24×24"
    assert nodes["conv1.1"]["label"] == "1: Conv2d 5×5 s3"  # list candidates: index, kernel, stride
    assert nodes["fc1"]["label"] == "fc1\nLinear 9216→128\n128"
    assert nodes["skipcon"]["label"].startswith("skipcon\n[-]")
    assert _space_data(seed_graph, show_shapes=False).nodes["conv2"]["label"] == "conv2\nConv2d 3×3"


def test_ordered_dict_candidates_are_named_first():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    nodes = _space_data(g, candidates=True).nodes
    assert nodes["cell0.edges.0.0.conv3x3"]["label"] == "conv3x3: Conv2d 3×3"
    assert nodes["cell0.edges.0.0.maxpool"]["label"] == "maxpool: MaxPool 3×3"
    assert nodes["cell0.switches.1"]["label"].splitlines()[1] == "[p0, p1]"  # "normal_n1_" is said once


def test_long_labels_are_shortened_not_shrunk():
    key = "a_rather_long_key_that_goes_on_and_on_and_on"
    net = nn.Sequential(mutables.LayerChoice([nn.Linear(2, 2), nn.Tanh()], key=key))
    d = _space_data(build_graph(net, torch.zeros(1, 2))).nodes["0"]
    assert d["label"] == key[:31] + "…"
    assert d["fontsize"] == MIN_FONTSIZE


def test_edges_solid_active_dashed_unchosen_input(seed_graph):
    edges = {(e["u"], e["v"]): e for e in _space_data(seed_graph).edges}
    assert edges["conv2", "skipcon"]["style"] == "dashed"
    assert edges["conv2", "skipcon"]["color"] == INACTIVE
    assert edges["conv2", "conv3"]["style"] == "solid" and edges["conv2", "conv3"]["color"] == ACTIVE
    assert edges["input", "conv1.1"]["style"] == "solid" and edges["input", "conv1.1"]["color"] == INACTIVE
    assert edges["conv2", "conv3"]["width"] > edges["input", "conv1.1"]["width"]


def test_edges_leave_and_enter_their_nodes_sideways(seed_graph):
    data = _space_data(seed_graph)
    for e in data.edges:
        u, v = data.nodes[e["u"]], data.nodes[e["v"]]
        assert e["points"][0] == pytest.approx((u["x"] + u["w"] / 2, u["y"]))
        assert e["points"][-1] == pytest.approx((v["x"] - v["w"] / 2, v["y"]))


def test_candidates_boxed_side_by_side(seed_graph):
    data = _space_data(seed_graph)
    (box,) = data.boxes
    assert box["key"] == "conv1" and box["color"] == CHOICE
    for c in ("conv1.0", "conv1.1"):
        d = data.nodes[c]
        assert box["x0"] <= d["x"] - d["w"] / 2 and d["x"] + d["w"] / 2 <= box["x1"]
        assert box["y0"] <= d["y"] - d["h"] / 2 and d["y"] + d["h"] / 2 <= box["y1"]
    assert not box["x0"] < data.nodes["conv1"]["x"] < box["x1"]


def test_shared_key_groups_share_one_colour():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    nodes = _space_data(g, candidates=True).nodes
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
    w, h = _space_data(seed_graph).figsize
    assert tuple(own.get_size_inches()) == pytest.approx((w, h))


def test_the_figure_draws_the_routed_edges(cell_graph):
    from matplotlib.collections import LineCollection

    data = _space_data(cell_graph)
    fig = draw_space(cell_graph)
    drawn = sorted(tuple(map(tuple, np.round(seg, 6).tolist())) for c in fig.findobj(LineCollection)
                   for seg in c.get_segments())
    routed = sorted(tuple(map(tuple, np.round(e["points"], 6).tolist())) for e in data.edges)
    assert drawn == routed
    ax = fig.axes[0]  # one data unit is one inch, so boxes sized in inches hold text sized in points
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bbox = ax.get_position()
    w, h = fig.get_size_inches()
    assert (x1 - x0) == pytest.approx(bbox.width * w) and (y1 - y0) == pytest.approx(bbox.height * h)


def test_draw_space_builds_the_graph_from_a_model():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
                        mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="a"))
    fig = draw_space(net, torch.zeros(1, 2), depth=1)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(lbl.startswith("0\nSequential") for lbl in labels)
    with pytest.raises(TypeError, match="example_input is required"):
        draw_space(net)


def test_collapse_paths_still_fold_at_build_time():
    fig = draw_space(CellNet(), torch.zeros(1, 1, 8, 8), collapse=["cell1"])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(lbl.startswith("cell1\nCell") for lbl in labels)
    assert sum(lbl.startswith("normal_n0_p0") for lbl in labels) == 1  # cell0's choice; cell1's is folded
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    folded = _space_data(g, collapse=["cell1"])  # on a recorded graph too
    assert "cell1" in folded.nodes and not any(n.startswith("cell1.") for n in folded.nodes)


# ---------------------------------------------------------------- readability
@pytest.mark.parametrize("which", ["seed", "cell", "darts", "darts_full"])
def test_no_edge_passes_through_a_node_it_does_not_touch(which, seed_graph, cell_graph, darts_graph):
    graph, kw = {"seed": (seed_graph, {}), "cell": (cell_graph, {}), "darts": (darts_graph, {}),
                 "darts_full": (darts_graph, dict(collapse=None))}[which]
    data = _space_data(graph, **kw)
    assert passes_through(data) == []
    if which == "darts":
        assert len({d["row"] for d in data.nodes.values()}) >= 2  # edges from row to row are checked too


def test_the_pass_through_check_catches_straight_edges(cell_graph):
    """Drawn straight from end to end (as before), the cell's skip inputs cross the chain's nodes."""
    data = _space_data(cell_graph)
    straight = data._replace(edges=[dict(e, points=[e["points"][0], e["points"][-1]]) for e in data.edges])
    crossed = passes_through(straight)
    assert ("stem", "in3", "in2") in crossed or any(u == "stem" and v == "in3" for u, v, _ in crossed)
    assert len(crossed) > 3


def test_the_cell_does_not_look_like_a_chain(cell_graph):
    """Inputs from earlier nodes run beside the chain: off the line that joins the chain's nodes."""
    data = _space_data(cell_graph)
    nodes = data.nodes
    for u, v in (("stem", "in3"), ("op1", "out"), ("op2", "out")):
        (e,) = [e for e in data.edges if (e["u"], e["v"]) == (u, v)]
        ys = [y for _, y in e["points"]]
        assert max(abs(y - nodes[u]["y"]) for y in ys) > nodes[u]["h"] / 2


@pytest.mark.parametrize("which", ["seed", "cell", "darts"])
def test_every_text_is_at_least_the_minimum_size(which, seed_graph, cell_graph, darts_graph):
    graph = {"seed": seed_graph, "cell": cell_graph, "darts": darts_graph}[which]
    fig = draw_space(graph, title="a title")
    found = texts(fig)
    assert len(found) == len(_space_data(graph).nodes) + 1
    assert min(t.get_fontsize() for t in found) >= MIN_FONTSIZE


@pytest.mark.parametrize("which", ["seed", "cell", "darts"])
def test_labels_fit_inside_their_boxes(which, seed_graph, cell_graph, darts_graph):
    graph = {"seed": seed_graph, "cell": cell_graph, "darts": darts_graph}[which]
    data = _space_data(graph)
    fig = draw_space(graph)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    by_label = {}
    for d in data.nodes.values():
        by_label.setdefault(d["label"], []).append(d)
    for t in ax.texts:
        bb = t.get_window_extent(renderer)
        (x, y) = ax.transData.inverted().transform(((bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2))
        d = min(by_label[t.get_text()], key=lambda d: abs(d["x"] - x) + abs(d["y"] - y))
        (bx0, by0), (bx1, by1) = ax.transData.transform(
            [(d["x"] - d["w"] / 2, d["y"] - d["h"] / 2), (d["x"] + d["w"] / 2, d["y"] + d["h"] / 2)])
        assert bx0 - 1 <= bb.x0 and bb.x1 <= bx1 + 1 and by0 - 1 <= bb.y0 and bb.y1 <= by1 + 1, t.get_text()


def test_darts_is_collapsed_and_wrapped_into_a_readable_figure(darts_graph):
    data = _space_data(darts_graph)
    full = _space_data(darts_graph, collapse=None, candidates=True)
    assert len(data.nodes) < len(full.nodes) / 5
    assert data.graph.number_of_nodes() < darts_graph.number_of_nodes()
    for cell in ("cells.2", "cells.3", "cells.4"):
        assert data.nodes[cell]["kind"] == "module" and "as cells." in data.nodes[cell]["label"]
    # the first normal cell is drawn fully: each of its edges, nodes and its concatenation
    firsts = [f"cells.0.nodes.{i}.ops.{j}" for i in range(4) for j in range(i + 2)]
    assert set(firsts + [f"cells.0.nodes.{i}.input_switch" for i in range(4)] + ["cat"]) <= set(data.nodes)
    assert data.nodes["cells.0.nodes.0.ops.0"]["label"] == "normal_n2_p0\n▸ max_pool_3x3"  # 8 candidates: one node
    w, h = data.figsize
    assert w <= MAX_WIDTH + 1.5 and h < 20
    assert full.figsize[1] > 3 * h


def test_collapse_and_candidates_options(darts_graph, seed_graph):
    assert "cells.2.nodes.0.input_switch" in _space_data(darts_graph, collapse=None).nodes
    assert "cells.2" in _space_data(darts_graph, collapse=True).nodes
    shown = _space_data(darts_graph, candidates=True).nodes
    assert shown["cells.0.nodes.0.ops.0.sep_conv_3x3"]["label"] == "sep_conv_3x3: SepConv 3×3"
    assert shown["cells.1.nodes.0.ops.0.max_pool_3x3"]["label"] == "max_pool_3x3: MaxPool 3×3 s2"
    small = _space_data(seed_graph)  # small graphs are drawn in full
    assert "conv1.1" in small.nodes and small.graph.number_of_nodes() == seed_graph.number_of_nodes()
    many = _space_data(build_graph(CellNet(), torch.zeros(1, 1, 8, 8))).nodes  # 40 candidates: folded
    assert "cell0.edges.0.0.conv3x3" not in many and many["cell0.edges.0.0"]["label"].endswith("▸ conv3x3")
    folded = _space_data(seed_graph, candidates=False).nodes
    assert "conv1.1" not in folded and folded["conv1"]["label"] == "conv1\n▸ 0: Conv2d 3×3"
    assert "cell1" in _space_data(build_graph(CellNet(), torch.zeros(1, 1, 8, 8)), collapse=True).nodes
    with pytest.raises(ValueError, match="candidates='some'"):
        _space_data(seed_graph, candidates="some")


def test_long_chain_wraps_into_rows():
    chain = nn.Sequential(*[mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key=f"l{i}") for i in range(20)])
    g = build_graph(chain, torch.zeros(1, 4))
    one = _space_data(g, wrap=None)
    assert len({d["row"] for d in one.nodes.values()}) == 1 and one.figsize[0] > MAX_WIDTH
    data = _space_data(g)  # "auto": as few rows as fit MAX_WIDTH
    rows = {d["row"] for d in data.nodes.values()}
    assert len(rows) >= 2 and data.figsize[0] <= MAX_WIDTH + 1.5
    fives = _space_data(g, wrap=5)
    assert max(d["layer"] for d in fives.nodes.values() if d["row"] == 0) == 4
    for r in rows:  # rows stack downwards without overlapping
        if r + 1 in rows:
            low = min(d["y"] - d["h"] / 2 for d in data.nodes.values() if d["row"] == r)
            high = max(d["y"] + d["h"] / 2 for d in data.nodes.values() if d["row"] == r + 1)
            assert high < low
    assert passes_through(data) == [] and passes_through(fives) == []
    with pytest.raises(ValueError, match="wrap='wide'"):
        _space_data(g, wrap="wide")


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


