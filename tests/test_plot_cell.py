"""nasnb.plot.draw_cell: cell structure derived from the space (tested by value), then the figure's artists."""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables, spaces
from nasnb.graph import build_graph
from nasnb.oneshot import ArchHistory
from nasnb.plot import draw_cell
from nasnb.plot._cell import _arc_points, _cell_info, _cell_types
from nasnb.plot._style import MIN_FONTSIZE

from .test_unused import NNICell

pytest.importorskip("matplotlib")

NB201_STR = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
GREEK = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]


class GreekCell(nn.Module):
    """An NNI-style cell written without any naming convention: 2 inputs, 3 nodes summed into the output."""

    def __init__(self, c: int = 4):
        super().__init__()
        self.first = nn.Conv2d(1, c, 1)
        self.second = nn.Conv2d(1, c, 3, padding=1)
        self.branches = nn.ModuleDict({
            k: mutables.LayerChoice(OrderedDict(conv=nn.Conv2d(c, c, 3, padding=1), pool=nn.AvgPool2d(3, 1, 1),
                                                ident=nn.Identity()), key=k)
            for k in GREEK
        })
        self.picks = nn.ModuleList([
            mutables.InputChoice(choose_from=["alpha", "beta"], n_chosen=2, key="pick1"),
            mutables.InputChoice(choose_from=["gamma", "delta", "epsilon"], n_chosen=2, key="pick2"),
            mutables.InputChoice(choose_from=["zeta", "eta", "theta", "iota"], n_chosen=2, key="pick3"),
        ])

    def forward(self, x):
        a, b, e = self.first(x), self.second(x), self.branches
        n1 = self.picks[0]([e["alpha"](a), e["beta"](b)])
        n2 = self.picks[1]([e["gamma"](a), e["delta"](b), e["epsilon"](n1)])
        n3 = self.picks[2]([e["zeta"](a), e["eta"](b), e["theta"](n1), e["iota"](n2)])
        return n1 + n2 + n3


@pytest.fixture(scope="module")
def darts():
    net = spaces.DARTS.small()
    space = nasnb.SearchSpace(net)
    space.probe(net.example_input())
    space.apply(spaces.darts_arch(spaces.DARTS_V2))
    return space, build_graph(space, net.example_input())


@pytest.fixture(scope="module")
def nb201():
    net = spaces.NB201.small()
    space = nasnb.SearchSpace(net)
    space.apply(spaces.nb201_arch(NB201_STR))
    return space, build_graph(space, net.example_input())


def _roles(cell):
    return [s["role"] for s in cell["states"]]


def _kept_ops(cell):
    return {(e["op"], e["src"], e["dst"]) for e in cell["edges"] if e["kept"] and e["op_keys"]}


def _arrows(ax):
    return {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith("edge:")}


def _circles(ax):
    return {int(p.get_gid().split(":")[1]): p for p in ax.patches if (p.get_gid() or "").startswith("state:")}


def _edge_ends(gid):
    src, dst = gid.split(":")[1].split("->")
    return int(src), int(dst)


def _check_readable(fig):
    """Every text >= MIN_FONTSIZE, no circles overlap, arrows miss every node they do not join,
    and no two edge labels overlap."""
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
             if t.get_text() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= MIN_FONTSIZE
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
    for ax in fig.axes:
        circles = _circles(ax)
        for (i, a), (j, b) in itertools.combinations(circles.items(), 2):
            assert math.dist(a.center, b.center) >= a.radius + b.radius, (i, j)
        for gid, arrow in _arrows(ax).items():
            src, dst = _edge_ends(gid)
            p0, p1 = circles[src].center, circles[dst].center
            rad = arrow.get_connectionstyle().rad
            for k, c in circles.items():
                if k in (src, dst):
                    continue
                # on the straight segment between the endpoints: then the arrow must be curved
                (x0, y0), (x1, y1), (cx, cy) = p0, p1, c.center
                t = max(0.0, min(1.0, ((cx - x0) * (x1 - x0) + (cy - y0) * (y1 - y0)) / math.dist(p0, p1) ** 2))
                if math.dist((x0 + t * (x1 - x0), y0 + t * (y1 - y0)), c.center) < c.radius:
                    assert rad != 0, (gid, k)
                # and the drawn (curved) arrow misses it
                assert min(math.dist(p, c.center) for p in _arc_points(p0, p1, rad)) > c.radius, (gid, k)
        labels = [t for t in ax.texts if t.get_bbox_patch() is not None]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for (a, ta), (b, tb) in itertools.combinations(zip(boxes, labels), 2):
            assert not a.overlaps(b), (ta.get_text(), tb.get_text())


# ------------------------------------------------------------------ 1. DARTS
def test_darts_v2_normal_and_reduce_cells_match_the_genotype(darts):
    space, graph = darts
    cells = _cell_info(space, graph)
    assert [c["name"] for c in cells] == ["normal", "reduce"]
    assert cells[0]["modules"] == ["cells.0", "cells.2", "cells.4"] and cells[1]["modules"] == ["cells.1", "cells.3"]
    for cell, pairs in zip(cells, (spaces.DARTS_V2.normal, spaces.DARTS_V2.reduce)):
        assert _roles(cell) == ["input"] * 2 + ["node"] * 4 + ["output"]
        assert [s["label"] for s in cell["states"]] == ["c_{k-2}", "c_{k-1}", "0", "1", "2", "3", "c_{k}"]
        expected = {(op, i, 2 + n // 2) for n, (op, i) in enumerate(pairs)}  # input 0 = c_{k-2}, node d = state d
        assert _kept_ops(cell) == expected and len(expected) == 8
        # every candidate edge is known: node d has one edge from each earlier state
        assert sorted((e["src"], e["dst"]) for e in cell["edges"] if e["op_keys"]) == \
            sorted((i, d) for d in range(2, 6) for i in range(d))
        concat = sorted((e["src"], e["dst"]) for e in cell["edges"] if not e["op_keys"])
        assert concat == [(d, 6) for d in range(2, 6)]
        assert all(e["kept"] for e in cell["edges"] if not e["op_keys"])


def test_darts_figure_draws_kept_edges_labelled_and_is_readable(darts):
    space, graph = darts
    fig = draw_cell(space, graph=graph)
    assert [a.get_title().split(" (")[0] for a in fig.axes] == ["normal cell", "reduce cell"]
    for ax, pairs in zip(fig.axes, (spaces.DARTS_V2.normal, spaces.DARTS_V2.reduce)):
        arrows = _arrows(ax)
        assert len(arrows) == 8 + 4
        labels = sorted(t.get_text() for t in ax.texts if t.get_bbox_patch() is not None)
        assert labels == sorted(op for op, _ in pairs)
    _check_readable(fig)
    dropped = draw_cell(space, graph=graph, show_dropped=True, cell="normal")
    arrows = _arrows(dropped.axes[0])
    assert len(arrows) == 14 + 4
    dashed = [a for a in arrows.values() if a.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == 6 and all(a.get_alpha() < 1 for a in dashed)
    _check_readable(dropped)


def test_darts_other_arch_and_cell_selection(darts):
    space, graph = darts
    arch = spaces.darts_arch(spaces.PDARTS)
    cells = _cell_info(space, graph, arch=arch)
    assert _kept_ops(cells[1]) == {(op, i, 2 + n // 2) for n, (op, i) in enumerate(spaces.PDARTS.reduce)}
    assert space.current()["normal_n2_p0"] == "sep_conv_3x3"  # drawing another arch changes nothing
    fig = draw_cell(space, graph=graph, arch=arch, cell="reduce")
    assert len(fig.axes) == 1 and fig.axes[0].get_title().startswith("reduce cell")
    _check_readable(fig)
    with pytest.raises(ValueError, match="no cell type 'cnn'"):
        draw_cell(space, graph=graph, cell="cnn")


def test_a_cell_type_used_once_next_to_repeated_ones():
    space = nasnb.SearchSpace(spaces.DARTS.small(layers=3))  # one normal cell, two reduction cells
    assert [(t["name"], t["modules"]) for t in _cell_types(space)] == [
        ("normal", ["cells.0"]), ("reduce", ["cells.1", "cells.2"])]


# ------------------------------------------------------------------ 2. NB-201
def test_nb201_one_cell_four_nodes_six_edges(nb201):
    space, graph = nb201
    (cell,) = _cell_info(space, graph)
    assert cell["modules"] == ["cells.0", "cells.2", "cells.4"]
    assert _roles(cell) == ["input", "node", "node", "output"]
    arch = spaces.nb201_arch(NB201_STR)
    edges = {(e["src"], e["dst"]): e for e in cell["edges"]}
    assert len(cell["edges"]) == 6
    assert {k: edges[k]["op"] for k in edges} == {(int(k[0]), int(k[2])): v for k, v in arch.items()}
    assert all(e["kept"] and e["op_keys"] == [f"{e['src']}_{e['dst']}"] for e in cell["edges"])
    fig = draw_cell(space, graph=graph)
    assert len(_arrows(fig.axes[0])) == 6
    _check_readable(fig)


def test_nb201_none_edges_are_dropped(nb201):
    """A ``none`` (Zero) op means no connection: not drawn, or dashed with show_dropped."""
    space, graph = nb201
    arch = spaces.nb201_arch("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    (cell,) = _cell_info(space, graph, arch=arch)
    zero = sorted((e["src"], e["dst"]) for e in cell["edges"] if e["zero"])
    assert zero == [(0, 1), (1, 2)] and not any(e["kept"] for e in cell["edges"] if e["zero"])
    fig = draw_cell(space, graph=graph, arch=arch)
    assert sorted(_edge_ends(g) for g in _arrows(fig.axes[0])) == [(0, 2), (0, 3), (1, 3), (2, 3)]
    fig = draw_cell(space, graph=graph, arch=arch, show_dropped=True)
    arrows = _arrows(fig.axes[0])
    assert len(arrows) == 6
    assert sum(a.get_linestyle() not in ("-", "solid") for a in arrows.values()) == 2


# ------------------------------------------------------------------ 3. user cells
def test_cell_without_naming_convention_is_derived_from_the_graph():
    space = nasnb.SearchSpace(GreekCell())
    space.apply({"pick2": ["gamma", "epsilon"], "pick3": ["eta", "iota"]})
    x = torch.zeros(1, 1, 8, 8)
    fig = draw_cell(space, x)
    (cell,) = _cell_info(space, build_graph(space, x))
    assert cell["modules"] == [""] and cell["name"] == "GreekCell"
    assert _roles(cell) == ["input", "input", "node", "node", "node", "output"]
    assert [s["key"] for s in cell["states"][2:5]] == ["pick1", "pick2", "pick3"]
    ends = {e["op_keys"][0]: (e["src"], e["dst"]) for e in cell["edges"] if e["op_keys"]}
    assert ends == {"alpha": (0, 2), "beta": (1, 2), "gamma": (0, 3), "delta": (1, 3), "epsilon": (2, 3),
                    "zeta": (0, 4), "eta": (1, 4), "theta": (2, 4), "iota": (3, 4)}
    kept = sorted(e["op_keys"][0] for e in cell["edges"] if e["kept"] and e["op_keys"])
    assert kept == ["alpha", "beta", "epsilon", "eta", "gamma", "iota"]
    assert sorted((e["src"], e["dst"]) for e in cell["edges"] if not e["op_keys"]) == [(2, 5), (3, 5), (4, 5)]
    # node 3 takes node 1 (state 2->3) and node 2 takes cell input 0 (0->3): not a chain
    assert sorted(_edge_ends(g) for g in _arrows(fig.axes[0])) == sorted(
        [(0, 2), (1, 2), (0, 3), (2, 3), (1, 4), (3, 4), (2, 5), (3, 5), (4, 5)])
    _check_readable(fig)


def test_nni_cell_reading_one_tensor_twice_gets_parallel_arcs():
    """tests/test_unused.py's NNI DARTS cell: both cell inputs are the stem output, drop-path sits between."""
    space = nasnb.SearchSpace(NNICell())
    fig = draw_cell(space, torch.zeros(1, 1, 8, 8))
    (cell,) = _cell_info(space, build_graph(space, torch.zeros(1, 1, 8, 8)))
    assert _roles(cell) == ["input", "node", "node", "node", "output"]
    assert sorted((e["src"], e["dst"]) for e in cell["edges"] if e["op_keys"]) == [
        (0, 1), (0, 1), (0, 2), (0, 2), (0, 3), (0, 3), (1, 2), (1, 3), (2, 3)]
    arrows = _arrows(fig.axes[0])
    into_0 = [a.get_connectionstyle().rad for g, a in arrows.items() if _edge_ends(g) == (0, 1)]
    assert len(into_0) == 2 and into_0[0] != into_0[1]
    _check_readable(fig)


def test_enas_micro_inputs_are_chosen_per_op():
    """ENAS: each half of a node picks one earlier state (InputChoice) and applies one op (LayerChoice)."""
    net = spaces.ENASMicro.small(num_nodes=3)
    space = nasnb.SearchSpace(net)
    space.apply(space.sample(seed=0))
    x = torch.zeros(1, 3, 16, 16)
    cells = _cell_info(space, build_graph(space, x))
    assert sorted((c["name"], len(c["modules"])) for c in cells) == [("normal_node", 1), ("reduce_node", 2)]
    arch = space.current()
    for cell in cells:
        assert _roles(cell)[:2] == ["input", "input"] and _roles(cell)[-1] == "output"
        for d in range(2, 5):  # node d-2: two halves, each with one candidate edge per earlier state
            into = [e for e in cell["edges"] if e["dst"] == d]
            assert sorted(e["src"] for e in into) == sorted(list(range(d)) * 2)
            kept = [e for e in into if e["kept"]]
            assert len(kept) == 2
            for e in kept:
                (key, slot), = e["inputs"]
                assert slot == e["src"] and slot in space[key].parse(arch[key])  # choose_from: inputs, then nodes
                assert e["op"] == arch[e["op_keys"][0]]
    fig = draw_cell(space, x)
    assert len(fig.axes) == 2
    _check_readable(fig)


# ------------------------------------------------------------------ 4. weights
def _nb201_weights(space, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.softmax(3 * torch.randn(len(space[k].names), generator=g), 0).tolist() for k in space}


def test_weights_draw_every_edge_by_weight_with_the_top_candidate(nb201):
    space, graph = nb201
    weights = _nb201_weights(space)
    weights["0_1"] = [0.6, 0.1, 0.1, 0.15, 0.05]  # 'none' on top: the label shows the best real op
    (cell,) = _cell_info(space, graph, weights=weights)
    e01 = next(e for e in cell["edges"] if e["op_keys"] == ["0_1"])
    assert e01["op"] == "nor_conv_3x3" and e01["weight"] == pytest.approx(0.15) and e01["label"] == "nor_conv_3x3 0.15"
    fig = draw_cell(space, graph=graph, weights=weights)
    arrows = _arrows(fig.axes[0])
    assert len(arrows) == 6
    by_weight = sorted((e["weight"], arrows[f"edge:{e['src']}->{e['dst']}:{e['op_keys'][0]}"]) for e in cell["edges"])
    widths = [a.get_linewidth() for _, a in by_weight]
    alphas = [a.get_alpha() for _, a in by_weight]
    assert widths == sorted(widths) and alphas == sorted(alphas) and widths[0] < widths[-1] and alphas[0] < alphas[-1]
    labels = {t.get_text() for t in fig.axes[0].texts if t.get_bbox_patch() is not None}
    tops = set()
    for k, w in weights.items():
        live = [i for i, n in enumerate(space[k].names) if n != "none"]
        i = max(live, key=lambda i: w[i])
        tops.add(f"{space[k].names[i]} {w[i]:.2f}")
    assert labels == tops
    _check_readable(fig)


def test_history_draws_its_last_record_and_darts_slot_weights(nb201, darts):
    space, graph = nb201
    history = ArchHistory(space, kind="softmax")
    first, last = _nb201_weights(space, 1), _nb201_weights(space, 2)
    history.append(first, step=0, epoch=0.0)
    history.append(last, step=10, epoch=1.0)
    fig = draw_cell(space, graph=graph, history=history)
    same = draw_cell(space, graph=graph, weights=last)
    def labels(f):
        return sorted(t.get_text() for t in f.axes[0].texts if t.get_bbox_patch() is not None)

    assert labels(fig) == labels(same) != labels(draw_cell(space, graph=graph, history=history, record=0))
    assert "softmax, epoch 1, step 10" in fig.axes[0].get_title()
    assert labels(draw_cell(space, graph=graph, weights=history)) == labels(fig)  # weights= takes a history too
    with pytest.raises(ValueError, match="no entry for key '0_1'"):
        draw_cell(space, graph=graph, weights={k: v for k, v in last.items() if k != "0_1"})
    # DARTS: an InputChoice's weight on a slot is how strongly that edge is used
    dspace, dgraph = darts
    g = torch.Generator().manual_seed(0)
    w = {k: torch.softmax(2 * torch.randn(len(dspace[k].names), generator=g), 0).tolist()
         for k in dspace if dspace[k].kind == "layer"}
    for k in dspace:
        if dspace[k].kind == "input":
            w[k] = [max(w[n]) for n in dspace[k].names]
    cells = _cell_info(dspace, dgraph, weights=w)
    edge = next(e for e in cells[0]["edges"] if e["op_keys"] == ["normal_n4_p3"])
    assert edge["weight"] == pytest.approx(w["normal_n4_switch"][3])
    fig = draw_cell(dspace, graph=dgraph, weights=w)
    assert all(len(_arrows(ax)) == 14 + 4 for ax in fig.axes)
    _check_readable(fig)


# ------------------------------------------------------------------ 6. no cell
@pytest.mark.parametrize("net", [
    nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")),
    nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="a"), nn.Linear(2, 2),
                  mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="b")),
])
def test_a_space_without_cells_is_refused(net):
    with pytest.raises(ValueError, match="no cell to draw.*InputChoice.*draw_space"):
        draw_cell(net, torch.zeros(1, 2))


def test_cells_named_by_module(nb201):
    space, graph = nb201
    (cell,) = _cell_info(space, graph, modules=["cells.2"])
    assert cell["modules"] == ["cells.2"] and len(cell["edges"]) == 6
    with pytest.raises(ValueError, match="holds no mutable"):
        draw_cell(space, graph=graph, modules=["stem"])


def test_draws_on_given_axes(nb201):
    from matplotlib.figure import Figure

    space, graph = nb201
    fig = Figure()
    ax = fig.add_subplot()
    assert draw_cell(space, graph=graph, ax=ax) is fig and len(ax.patches) == 4 + 6
    with pytest.raises(ValueError, match="Axes for"):
        draw_cell(space, graph=graph, ax=[ax, ax])
