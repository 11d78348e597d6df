"""nasnb.graph: the recorded DiGraph, node by node, on small models."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.exceptions import ForwardError
from nasnb.graph import build_graph, describe, fold_candidates, fold_modules, layered_layout, mark_active

from .models import CellNet, MaskNet, SeedNet

nx = pytest.importorskip("networkx")
X = torch.zeros(1, 1, 28, 28)


def test_seed_net_nodes_kinds_and_shapes(seed_space):
    g = build_graph(seed_space, X)
    kinds = {n: d["kind"] for n, d in g.nodes(data=True)}
    assert kinds == {
        "input": "input", "conv1.0": "candidate", "conv1.1": "candidate", "conv1": "layer_choice",
        "conv2": "op", "skipcon": "input_choice", "conv3": "op", "add": "function", "dropout1": "op",
        "fc1": "op", "dropout2": "op", "fc2": "op", "output": "output",
    }
    assert g.nodes["conv1.0"]["shape"] == (1, 32, 26, 26)
    assert g.nodes["conv1.1"]["shape"] == (1, 32, 8, 8)  # the unchosen candidate ran too
    assert g.nodes["conv1.1"]["params"] == 32 * 25 + 32
    assert g.nodes["conv2"]["type"] == "Conv2d"
    assert g.nodes["fc1"]["shape"] == (1, 128)
    assert g.nodes["output"]["shape"] == (1, 10)
    assert g.nodes["conv1"]["candidates"] == ["0", "1"] and g.nodes["conv1"]["chosen"] == ["0"]
    assert g.graph["keys"] == ["conv1", "skipcon"] and g.graph["size"] == 4


def test_seed_net_edges_follow_the_data(seed_space):
    g = build_graph(seed_space, X)
    assert set(g.successors("input")) == {"conv1.0", "conv1.1"}
    assert set(g.predecessors("conv1")) == {"conv1.0", "conv1.1"}
    assert set(g.successors("conv2")) == {"skipcon", "conv3"}  # conv3 reads conv2, not the skip
    assert set(g.predecessors("add")) == {"conv3", "skipcon"}  # x += x0
    assert g.edges["conv2", "skipcon"] == {"key": "skipcon", "index": 0, "chosen": True, "active": True}
    assert nx.is_directed_acyclic_graph(g)


def test_empty_input_choice_still_records_the_code_after_it(seed_space):
    seed_space.apply({"skipcon": []})
    g = build_graph(seed_space, X)  # `if x0 is not None` ran: the add is in the graph
    assert g.edges["conv2", "skipcon"]["chosen"] is False
    assert g.edges["conv2", "skipcon"]["active"] is False
    assert g.nodes["skipcon"]["active"] is False and g.nodes["skipcon"]["chosen"] == []
    assert g.edges["skipcon", "add"]["active"] is False
    assert g.edges["conv3", "add"]["active"] is True
    assert g.nodes["output"]["active"] is True


def test_active_path_marks_chosen_candidate_only(seed_space):
    g = build_graph(seed_space, X)
    assert g.nodes["conv1.0"]["active"] and g.nodes["conv1.0"]["chosen"]
    assert not g.nodes["conv1.1"]["active"] and not g.nodes["conv1.1"]["chosen"]
    assert g.edges["input", "conv1.1"]["active"] is False
    assert g.edges["conv1.1", "conv1"]["active"] is False
    assert g.edges["conv1.0", "conv1"]["active"] is True


def test_mark_active_without_running_the_model(seed_space):
    g = build_graph(seed_space, X)
    mark_active(g, {"conv1": 1, "skipcon": []}, space=seed_space)
    assert g.nodes["conv1.1"]["active"] and not g.nodes["conv1.0"]["active"]
    assert g.nodes["conv1"]["chosen"] == ["1"]
    assert g.edges["conv2", "skipcon"]["chosen"] is False
    assert seed_space.current() == {"conv1": 0, "skipcon": [0]}  # the model is untouched


def test_build_graph_leaves_model_state_alone(seed_space):
    class Marker:
        def forward_layer_choice(self, m, a, k):  # pragma: no cover - never called
            raise AssertionError

        def forward_input_choice(self, m, i):  # pragma: no cover
            raise AssertionError

    marker = Marker()
    seed_space.decision("conv1").mixer = marker
    seed_space.model.train()
    seed_space.apply({"conv1": 0, "skipcon": [0]})
    seed_space.decision("conv1").mixer = marker
    build_graph(seed_space, X)
    assert seed_space.decision("conv1").mixer is marker
    assert seed_space.decision("skipcon").mixer is None
    assert all(m.training for m in seed_space.model.modules())
    assert seed_space.current() == {"conv1": 0, "skipcon": [0]}
    seed_space.decision("conv1").mixer = None
    for m in seed_space.model.modules():  # no hook left behind
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_batchnorm_running_stats_unchanged():
    net = nn.Sequential(mutables.LayerChoice([nn.BatchNorm1d(3), nn.Identity()], key="bn"))
    before = net[0][0].running_mean.clone()
    build_graph(net, torch.randn(4, 3))
    assert torch.equal(net[0][0].running_mean, before)


def test_failing_architecture_names_module_and_keys(seed_space):
    seed_space.apply({"conv1": "1"})
    with pytest.raises(ForwardError, match=r"(?s)mat1 and mat2 shapes.*in module 'fc1' \(Linear\)") as info:
        build_graph(seed_space, X)
    assert info.value.module == "fc1"
    assert info.value.value == {"conv1": 1, "skipcon": [0]}
    assert seed_space.decision("conv1").mixer is None


def test_identity_candidate_does_not_steal_its_input():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = mutables.LayerChoice(OrderedDict(skip=nn.Identity(), lin=nn.Linear(2, 2)), key="a")
            self.b = nn.Linear(2, 2)

        def forward(self, x):
            return self.a(x) + self.b(x)

    g = build_graph(Net(), torch.zeros(1, 2))
    assert set(g.predecessors("b")) == {"input"}
    assert set(g.predecessors("add")) == {"a", "b"}


def test_shared_keys_form_groups():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    groups = g.graph["key_groups"]
    assert groups["normal_n0_p0"] == ["cell0.edges.0.0", "cell1.edges.0.0"]
    a, b = (g.nodes[n] for n in groups["normal_n0_p0"])
    assert a["group"] == b["group"] is not None
    assert g.nodes["cell0.edges.0.0"]["group"] != g.nodes["cell0.edges.0.1"]["group"]


def test_input_choice_edges_for_every_candidate_input():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    switch = "cell0.switches.1"
    edges = {u: d for u, _, d in g.in_edges(switch, data=True)}
    assert set(edges) == {"cell0.edges.1.0", "cell0.edges.1.1", "cell0.edges.1.2"}
    assert sorted(d["index"] for d in edges.values()) == [0, 1, 2]
    assert [edges[u]["chosen"] for u in sorted(edges)] == [True, True, False]
    assert g.nodes[switch]["candidates"] == ["normal_n1_p0", "normal_n1_p1", "normal_n1_p2"]


def test_dict_inputs_masks_and_reduction_none():
    g = build_graph(MaskNet(), torch.zeros(1, 4))
    assert set(g.predecessors("pick")) == {"op", "listop"}
    assert g.edges["listop", "pick"]["chosen"] is False
    assert [n for n in g if g.nodes[n]["kind"] == "function"] == []  # the choice's own sum is not a node


def test_depth_folds_submodules_without_choices():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()),
                        mutables.LayerChoice([nn.Linear(3, 3), nn.Identity()], key="op"))
    deep = build_graph(net, torch.zeros(1, 2))
    assert {"0.0", "0.1"} <= set(deep)
    folded = build_graph(net, torch.zeros(1, 2), depth=1)
    assert "0.0" not in folded
    assert folded.nodes["0"]["kind"] == "module" and folded.nodes["0"]["params"] == 9
    assert set(folded.successors("0")) == {"1.0", "1.1"}


def test_collapse_folds_choices_too():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8), collapse=["cell1"])
    assert g.nodes["cell1"]["kind"] == "module"
    assert "normal_n0_p0" in g.nodes["cell1"]["keys"]
    assert not any(n.startswith("cell1.") for n in g)
    assert set(g.successors("cell1")) == {"head"}


def test_functional_option_adds_single_input_ops(seed_space):
    g = build_graph(seed_space, X, functional=True)
    funcs = [n for n in g if g.nodes[n]["kind"] == "function"]
    assert {"relu", "max_pool2d", "flatten", "log_softmax"} <= set(funcs)


def test_layered_layout_goes_left_to_right_and_groups_candidates(seed_space):
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    pos = layered_layout(g)
    for u, v in g.edges:
        assert pos[u][0] < pos[v][0]
    cands = [n for n in g if g.nodes[n].get("choice") == "cell0.edges.0.0"]
    assert len({pos[c][0] for c in cands}) == 1
    ys = sorted(pos[c][1] for c in cands)
    assert [round(b - a, 6) for a, b in zip(ys, ys[1:])] == [0.5, 0.5, 0.5]  # contiguous block


def test_twenty_layer_chain_is_a_line():
    net = nn.Sequential(*[mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key=f"l{i}") for i in range(20)])
    g = build_graph(net, torch.zeros(1, 4))
    pos = layered_layout(g)
    xs = [pos[str(i)][0] for i in range(20)]
    assert xs == sorted(xs) and len(set(xs)) == 20
    assert {pos[str(i)][1] for i in range(20)} == {0.0}


def test_graph_is_plain_networkx(seed_space):
    g = build_graph(seed_space, X)
    path = nx.shortest_path(g, "input", "output")
    assert path[0] == "input" and path[-1] == "output"
    active = g.subgraph(n for n, d in g.nodes(data=True) if d["active"])
    assert "conv1.1" not in active


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_graph_of_a_model_on_gpu(seed_space):
    seed_space.model.to("cuda")
    g = build_graph(seed_space, X)  # the CPU input follows the model
    assert g.nodes["output"]["shape"] == (1, 10)


# ---------------------------------------------------------------- labels
def test_describe_shows_kernel_stride_dilation_features_and_windows():
    assert describe(nn.Conv2d(1, 32, 5, 3)) == "Conv2d 5×5 s3"
    assert describe(nn.Conv2d(1, 32, 3, 1)) == "Conv2d 3×3"  # stride 1 is not shown
    assert describe(nn.Conv2d(4, 4, (1, 7), (1, 2), dilation=2)) == "Conv2d 1×7 s1×2 d2"
    assert describe(nn.Conv1d(4, 4, 3, groups=2)) == "Conv1d 3 g2"
    assert describe(nn.Linear(64, 10)) == "Linear 64→10"
    assert describe(nn.MaxPool2d(3, 2)) == "MaxPool 3×3 s2"
    assert describe(nn.MaxPool2d(2)) == "MaxPool 2×2 s2"  # a pooling's stride defaults to its window
    assert describe(nn.AvgPool2d(3, 1, 1)) == "AvgPool 3×3"
    assert describe(nn.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool →1×1"
    assert describe(nn.Dropout(0.5)) == "Dropout 0.5"
    assert describe(nasnb.ops.create_op("sep_conv_5x5", 4, 2)) == "SepConv 5×5 s2"
    assert describe(nasnb.ops.create_op("dil_conv_3x3", 4)) == "DilConv 3×3 d2"
    assert describe(nasnb.ops.create_op("none", 4, 2)) == "Zero s2"


def test_candidate_labels_carry_settings_and_names(seed_space):
    g = build_graph(seed_space, X)
    assert g.nodes["conv1.0"]["label"] == "0: Conv2d 3×3"
    assert g.nodes["conv1.1"]["label"] == "1: Conv2d 5×5 s3"  # a list's candidates: index and settings
    assert g.nodes["conv1.1"]["desc"] == "Conv2d 5×5 s3"
    assert g.nodes["conv2"]["label"] == "conv2\nConv2d 3×3"
    assert g.nodes["fc1"]["label"] == "fc1\nLinear 9216→128"
    cells = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    assert cells.nodes["cell0.edges.0.0.conv3x3"]["label"] == "conv3x3: Conv2d 3×3"  # an OrderedDict's: name first
    assert cells.nodes["cell0.edges.0.0.maxpool"]["label"] == "maxpool: MaxPool 3×3"
    assert cells.nodes["cell0.edges.0.0.skip"]["label"] == "skip: Identity"
    darts = build_graph(nasnb.spaces.DARTS.small(), torch.zeros(1, 3, 32, 32))
    assert darts.nodes["cells.0.nodes.0.ops.0.sep_conv_3x3"]["label"] == "sep_conv_3x3: SepConv 3×3"
    assert darts.nodes["cells.1.nodes.0.ops.0.dil_conv_5x5"]["label"] == "dil_conv_5x5: DilConv 5×5 s2 d2"
    assert darts.nodes["cells.0.preproc0.1"]["label"] == "preproc0.1\nConv2d 1×1"  # a Sequential's index keeps its parent


# ---------------------------------------------------------------- a fresh space
def test_first_call_of_a_fresh_space_is_not_traced_twice():
    """A space bound on the fly probes its data flow on its first call; that run must not be recorded."""
    g = build_graph(nasnb.spaces.DARTS.small(), torch.zeros(1, 3, 32, 32))
    assert not [n for n in g if n.startswith("add")]  # the probe's own reductions
    assert set(g.predecessors("cat")) == {f"cells.0.nodes.{i}.input_switch" for i in range(4)}
    assert g.nodes["cat"]["scope"] == "cells.0"
    assert nx.is_directed_acyclic_graph(g)


# ---------------------------------------------------------------- folding
def test_repeated_cells_are_found_by_their_keys():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    assert g.graph["repeats"] == {"cell1": "cell0"}
    darts = build_graph(nasnb.spaces.DARTS.small(), torch.zeros(1, 3, 32, 32))
    assert darts.graph["repeats"] == {"cells.2": "cells.0", "cells.3": "cells.1", "cells.4": "cells.0"}
    seed = build_graph(nasnb.SearchSpace(SeedNet()), X)
    assert seed.graph["repeats"] == {}


def test_fold_modules_draws_the_first_cell_fully_and_the_others_as_one_node():
    full = build_graph(nasnb.spaces.DARTS.small(), torch.zeros(1, 3, 32, 32))
    folded = fold_modules(full)
    assert folded.number_of_nodes() < full.number_of_nodes() - 3 * 100
    for first in ("cells.0", "cells.1"):  # every node of the first normal and reduction cell is kept
        inside = {n for n, d in full.nodes(data=True) if (d.get("path") or d.get("scope") or "").startswith(first + ".")}
        assert len(inside) > 100 and inside <= set(folded)
        assert {(u, v) for u, v in full.edges if u in inside and v in inside} <= set(folded.edges)
    for cell, first, key in (("cells.2", "cells.0", "normal_n2_p0"), ("cells.3", "cells.1", "reduce_n2_p0"),
                             ("cells.4", "cells.0", "normal_n5_switch")):
        d = folded.nodes[cell]
        assert d["kind"] == "module" and d["repeat_of"] == first and key in d["keys"]
        assert not any(n.startswith(cell + ".") for n in folded)
    assert folded.nodes["cells.2"]["label"] == "cells.2\n_Cell, as cells.0"
    assert folded.nodes["cells.4"]["shape"] == full.nodes["cat@5"]["shape"]
    assert set(folded.predecessors("cells.4")) == {"cells.2", "cells.3"}  # s0 and s1 of the cell
    assert set(folded.successors("cells.4")) == {"global_pooling"}
    assert nx.is_directed_acyclic_graph(folded) and nx.has_path(folded, "input", "output")
    assert full.nodes["cells.2.nodes.0.ops.0"]["kind"] == "layer_choice"  # the full graph is untouched


def test_fold_modules_matches_collapse_at_build_time():
    g = build_graph(CellNet(), torch.zeros(1, 1, 8, 8))
    built = build_graph(CellNet(), torch.zeros(1, 1, 8, 8), collapse=["cell1"])
    folded = fold_modules(g, ["cell1"])
    assert set(folded) == set(built)
    assert set(folded.edges) == set(built.edges)
    assert folded.nodes["cell1"]["params"] == built.nodes["cell1"]["params"]
    assert sorted(folded.nodes["cell1"]["keys"]) == sorted(set(built.nodes["cell1"]["keys"]))


def test_fold_candidates_keeps_the_choice_and_names_the_chosen_one(seed_space):
    g = build_graph(seed_space, X)
    folded = fold_candidates(g)
    assert "conv1.0" not in folded and set(folded.predecessors("conv1")) == {"input"}
    assert folded.nodes["conv1"]["folded"] == 2 and folded.nodes["conv1"]["chosen_label"] == "0: Conv2d 3×3"
    assert folded.edges["input", "conv1"]["active"] is True
    assert folded.edges["conv2", "skipcon"] == g.edges["conv2", "skipcon"]
    assert "conv1.0" in g  # a copy


# ---------------------------------------------------------------- layout: long edges bend around nodes
class ThreeNodeCell(nn.Module):
    """A user's cell: node j = op_j(InputChoice over the cell input and earlier nodes)."""

    def __init__(self, c: int = 4):
        super().__init__()
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.op1 = mutables.LayerChoice([nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 5, padding=2)], key="op1")
        self.in2 = mutables.InputChoice(choose_from=["", "op1"], n_chosen=1, key="in2")
        self.op2 = mutables.LayerChoice([nn.Conv2d(c, c, 3, padding=1), nn.MaxPool2d(3, 1, 1)], key="op2")
        self.in3 = mutables.InputChoice(choose_from=["", "op1", "op2"], n_chosen=1, key="in3")
        self.op3 = mutables.LayerChoice([nn.Conv2d(c, c, 3, padding=1), nn.Identity()], key="op3")
        self.out = mutables.InputChoice(choose_from=["op1", "op2", "op3"], n_chosen=2, key="out")

    def forward(self, x):
        n0 = self.stem(x)
        n1 = self.op1(n0)
        n2 = self.op2(self.in2([n0, n1]))
        n3 = self.op3(self.in3([n0, n1, n2]))
        return self.out([n1, n2, n3])


def test_layered_layout_keeps_long_edges_off_other_nodes():
    g = build_graph(ThreeNodeCell(), torch.zeros(1, 1, 8, 8))
    pos = layered_layout(g)
    # stem -> in3 skips 5 layers; in the old layout it ran straight along the chain
    assert pos["in3"][0] - pos["stem"][0] > 2
    layer_y = {}
    for x, y in pos.values():
        layer_y.setdefault(x, []).append(y)
    from nasnb.graph import _layered

    lay = _layered(g)
    dummies = lay.routes[("stem", "in3")]
    assert [lay.layer[d] for d in dummies] == list(range(int(pos["stem"][0]) + 1, int(pos["in3"][0])))
    for d in dummies:  # a bend point in each layer crossed, clear of that layer's nodes
        ys = [lay.y[it] for it in lay.layers[lay.layer[d]] if it in g]
        assert all(abs(lay.y[d] - y) >= 0.5 for y in ys)


def test_the_layout_lives_in_its_own_module_and_old_imports_still_work():
    import nasnb.graph_layout

    assert layered_layout is nasnb.graph_layout.layered_layout
    assert nasnb.graph._layered is nasnb.graph_layout.layered
    assert "layered_layout" in nasnb.graph_layout.__all__ and "layered_layout" not in nasnb.graph.__all__
