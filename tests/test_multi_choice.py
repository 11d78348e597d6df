"""NNI 1.x multi-choice LayerChoice (several candidates, none, weights) and ``export(keys="nni")``."""

from __future__ import annotations

import copy
import json
import pickle
import random
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.architecture import Choice, Weighted
from nasnb.decision import Decision
from nasnb.exceptions import short_repr
from nasnb.fixed import FixedMultiChoice, UnusedChoice, apply_fixed_architecture
from nasnb.mutables import LayerChoice

NAMES = ("a", "b", "c")
X = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))


def _candidates(named: bool):
    torch.manual_seed(0)
    mods = [nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)]
    return OrderedDict(zip(NAMES, mods)) if named else mods


class Net(nn.Module):
    def __init__(self, named: bool = True, reduction: str = "sum", return_mask: bool = False):
        super().__init__()
        self.op = LayerChoice(_candidates(named), reduction=reduction, return_mask=return_mask, key="op")

    def forward(self, x):
        return self.op(x)


def _spell(named: bool, *idx: int) -> list:
    return [NAMES[i] for i in idx] if named else list(idx)


# ----------------------------------------------------------------- parsing
@pytest.fixture
def op():
    return Choice.layer("op", NAMES)


@pytest.mark.parametrize("value, indices", [
    ("b", (1,)), (1, (1,)), (["c", "a"], (0, 2)), ([2, 0], (0, 2)), (("a", "c"), (0, 2)), (["b"], (1,)),
    ([], ()), ([True, False, True], (0, 2)), ([False, False, False], ()), ([1.0, 0.0, 1.0], (0, 2)),
    ([1, 0.0, 1], (0, 2)), ({"_idx": [0, 2], "_value": ["a", "c"]}, (0, 2)),
    (np.array([True, True, False]), (0, 1)), (torch.tensor([0, 2]), (0, 2)),
])
def test_layer_encodings_parse_to_plain_indices(op, value, indices):
    got = op.parse(value)
    assert got == indices and type(got) is tuple


@pytest.mark.parametrize("value, indices, weights", [
    ([0.2, 0.0, 0.8], (0, 2), (0.2, 0.8)),
    ([0.0, 0.5, 0.0], (1,), (0.5,)),
    ([2.0, 1, 3], (0, 1, 2), (2.0, 1.0, 3.0)),
    ((0.25, 0.0, 1.0), (0, 2), (0.25, 1.0)),
    (np.array([0.5, 0.0, 0.25]), (0, 2), (0.5, 0.25)),
    (torch.tensor([0.5, 0.0, 0.25]), (0, 2), (0.5, 0.25)),
])
def test_weight_lists_parse_to_weighted(op, value, indices, weights):
    got = op.parse(value)
    assert type(got) is Weighted and tuple(got) == indices and got.weights == weights
    assert op.parse(op.encode(got)) == got


@pytest.mark.parametrize("indices, written", [
    ((1,), "b"), ((0, 2), ["a", "c"]), ((), []), ((0, 1, 2), ["a", "b", "c"]),
    (Weighted((0, 2), (0.2, 0.8)), [0.2, 0.0, 0.8]), (Weighted((1,), (0.5,)), [0.0, 0.5, 0.0]),
])
def test_encode_and_round_trip(op, indices, written):
    assert op.encode(indices) == written
    assert op.parse(written) == indices
    json_back = json.loads(json.dumps(written))
    assert op.parse(json_back) == indices


def test_unnamed_candidates_write_indices():
    spec = Choice.layer("op", ("0", "1", "2"))
    assert spec.encode((2,)) == 2 and spec.encode((0, 2)) == [0, 2] and spec.encode(()) == []
    assert spec.parse([0, 2]) == spec.parse(["0", "2"]) == (0, 2)


def test_digit_names_stay_ambiguous_as_ints():
    spec = Choice.layer("op", ("1", "0"))
    assert spec.parse(["1", "0"]) == (0, 1) and spec.encode((0, 1)) == ["1", "0"]
    with pytest.raises(nasnb.architecture.InvalidChoice, match="ambiguous"):
        spec.parse([0, 1])


def test_size_draw_and_default_stay_single(op):
    rng = random.Random(0)
    assert op.size == 3 and op.default == (0,)
    assert {op.draw(rng) for _ in range(50)} == {(0,), (1,), (2,)}
    assert list(op.all_indices()) == [(0,), (1,), (2,)]
    assert op.describe() == "one of ['a', 'b', 'c'] (a candidate name) or an index in 0..2"
    assert op.describe_several().startswith("a list of distinct candidates (names from ['a', 'b', 'c'] or indices "
                                            "in 0..2), a multi-hot list of 3 bools, or 3 non-negative weights; or one of")


# --------------------------------------------------------------- Weighted
def test_weighted_equality_includes_weights():
    w = Weighted((0, 2), (0.2, 0.8))
    assert w == Weighted((0, 2), (0.2, 0.8)) and hash(w) == hash(Weighted((0, 2), (0.2, 0.8)))
    assert w != Weighted((0, 2), (0.3, 0.7))
    assert w != (0, 2) and (0, 2) != w and not (w == (0, 2)) and not ((0, 2) == w)
    assert len({w, Weighted((0, 2), (0.2, 0.8)), (0, 2)}) == 2
    with pytest.raises(ValueError, match="2 indices but 1 weights"):
        Weighted((0, 2), (1.0,))


def test_weighted_survives_pickle_and_deepcopy():
    w = Weighted((0, 2), (0.2, 0.8))
    for back in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w), copy.copy(w)):
        assert type(back) is Weighted and back == w and back.weights == (0.2, 0.8)
    d = pickle.loads(pickle.dumps(Decision(w)))
    assert type(d.indices) is Weighted and d.indices.weights == (0.2, 0.8)


def test_decision_hears_a_weight_change():
    d = Decision(Weighted((0, 2), (0.2, 0.8)))
    heard = []
    d.listeners.append(lambda dec, old, new: heard.append((old, new)))
    d.set(Weighted((0, 2), (0.2, 0.8)))
    assert heard == []
    d.set(Weighted((0, 2), (0.3, 0.8)))
    d.set((0, 2))  # the same indices, unweighted: a change too
    assert [new for _, new in heard] == [Weighted((0, 2), (0.3, 0.8)), (0, 2)]
    assert type(heard[-1][1]) is tuple


# ---------------------------------------------------------------- forward
def _by_hand(cands, reduction, idx, weights=None):
    outs = [cands[i](X) for i in idx]
    if weights is not None:
        outs = [o * w for o, w in zip(outs, weights)]
    if reduction == "none":
        return outs
    if reduction == "concat":
        return torch.cat(outs, dim=1)
    total = outs[0]
    for o in outs[1:]:
        total = total + o
    return total / len(outs) if reduction == "mean" else total


@pytest.mark.parametrize("named", [True, False])
@pytest.mark.parametrize("reduction", ["sum", "mean", "concat", "none"])
@pytest.mark.parametrize("idx, weights", [((0, 2), None), ((0, 1, 2), None), ((0, 2), (0.25, 0.75)),
                                          ((1,), (0.5,))])
def test_forward_reduces_the_chosen_candidates(named, reduction, idx, weights):
    net = Net(named, reduction)
    space = nasnb.SearchSpace(net)
    if weights is None:
        space.apply({"op": _spell(named, *idx)})
    else:
        value = [0.0] * 3
        for i, w in zip(idx, weights):
            value[i] = w
        space.apply({"op": value})
    want = _by_hand(list(net.op), reduction, idx, weights)
    got = net(X)
    if reduction == "none":
        assert len(got) == len(want) and all(torch.allclose(g, w) for g, w in zip(got, want))
    else:
        assert got.shape == want.shape and torch.allclose(got, want)


def test_single_index_keeps_the_fast_path():
    net = Net()
    nasnb.SearchSpace(net).apply({"op": ["b"]})
    assert net.op.decision.indices == (1,) and torch.equal(net(X), net.op.b(X))


@pytest.mark.parametrize("reduction, empty", [("sum", None), ("mean", None), ("concat", None), ("none", [])])
def test_no_candidate_returns_none(reduction, empty):
    net = Net(reduction=reduction)
    calls = []
    for m in net.op:
        m.register_forward_hook(lambda *a: calls.append(1))
    nasnb.SearchSpace(net).apply({"op": []})
    assert net(X) == empty if empty == [] else net(X) is None
    assert calls == []


def test_return_mask_is_bool_or_the_weights():
    net = Net(return_mask=True)
    space = nasnb.SearchSpace(net)
    space.apply({"op": ["a", "c"]})
    out, mask = net(X)
    assert mask.dtype == torch.bool and mask.tolist() == [True, False, True]
    assert torch.allclose(out, net.op.a(X) + net.op.c(X))
    space.apply({"op": [0.5, 0.0, 2.0]})
    out, mask = net(X)
    assert mask.is_floating_point() and mask.tolist() == [0.5, 0.0, 2.0]
    assert torch.allclose(out, 0.5 * net.op.a(X) + 2.0 * net.op.c(X))
    space.apply({"op": []})
    out, mask = net(X)
    assert out is None and mask.tolist() == [False, False, False]
    space.apply({"op": "b"})
    assert net(X)[1].tolist() == [False, True, False]


def test_model_with_weights_pickles_and_deep_copies():
    net = Net()
    nasnb.SearchSpace(net).apply({"op": [0.2, 0.0, 0.8]})
    for back in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert back.op.decision.indices == Weighted((0, 2), (0.2, 0.8))
        assert torch.allclose(back(X), net(X))


def test_binding_again_keeps_a_multi_choice():
    net = Net()
    nasnb.SearchSpace(net).apply({"op": [0.2, 0.0, 0.8]})
    assert nasnb.SearchSpace(net).current() == {"op": [0.2, 0.0, 0.8]}
    nasnb.SearchSpace(net).apply({"op": ["a", "b"]})
    assert nasnb.SearchSpace(net).current() == {"op": ["a", "b"]}


def test_active_refuses_several_candidates():
    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": ["a", "c"]})
    with pytest.raises(ValueError, match=r"'op': the choice \['a', 'c'\] selects 2 candidates.*list\(lc\)"):
        _ = net.op.active
    space.apply({"op": []})
    with pytest.raises(ValueError, match="selects 0 candidates"):
        _ = net.op.active
    space.apply({"op": [0.0, 0.5, 0.0]})
    assert net.op.active is net.op.b


def test_deleting_a_candidate_keeps_the_surviving_chosen_ones():
    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": [0.2, 0.0, 0.8]})
    del net.op["a"]
    assert space.current() == {"op": [0.0, 0.8]} and net.op.decision.indices == Weighted((1,), (0.8,))
    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": ["a", "c"]})
    del net.op[1]
    assert space.current() == {"op": ["a", "c"]}
    del net.op["a"]
    assert space.current() == {"op": "c"} and net(X) is not None
    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": ["a", "c"]})
    del net.op[::2]  # none of the chosen left: the first candidate
    assert space.current() == {"op": "b"}
    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": []})
    del net.op["a"]
    assert space.current() == {"op": []}


# ------------------------------------------------------------------ fixing
def _n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("value, idx", [(["a", "c"], (0, 2)), ([0.2, 0.0, 0.8], (0, 2)), (["a", "b", "c"], (0, 1, 2))])
@pytest.mark.parametrize("reduction", ["sum", "concat", "none"])
def test_fix_keeps_exactly_the_chosen_candidates(value, idx, reduction):
    net = Net(reduction=reduction, return_mask=True)
    space = nasnb.SearchSpace(net)
    fixed = space.fix({"op": value})
    assert isinstance(fixed.op, FixedMultiChoice)
    assert fixed.op.indices == idx and len(fixed.op.candidates) == len(idx)
    assert _n_params(fixed) == 20 * len(idx)  # each Linear(4, 4) holds 20
    chosen = [net.op[i] for i in idx]
    assert all(c is not m for c, m in zip(fixed.op.candidates, chosen)), "copied, not shared"
    assert all(torch.equal(c.weight, m.weight) for c, m in zip(fixed.op.candidates, chosen))
    assert fixed.op.weights == (getattr(space["op"].parse(value), "weights", None))
    space.apply({"op": value})
    (got, got_mask), (want, want_mask) = fixed(X), net(X)
    if reduction == "none":
        assert all(torch.equal(g, w) for g, w in zip(got, want))
    else:
        assert torch.equal(got, want)
    assert torch.equal(got_mask, want_mask)
    assert pickle.loads(pickle.dumps(fixed)).op.weights == fixed.op.weights


def test_fix_of_no_candidate_is_an_unused_choice():
    fixed = nasnb.SearchSpace(Net()).fix({"op": []})
    assert isinstance(fixed.op, UnusedChoice) and _n_params(fixed) == 0 and fixed(X) is None


def test_apply_fixed_architecture_in_place():
    net = Net()
    reference = copy.deepcopy(net)
    nasnb.SearchSpace(reference).apply({"op": [0.5, 0.0, 2.0]})
    assert apply_fixed_architecture(net, {"op": [0.5, 0.0, 2.0]}) == {"op": [0.5, 0.0, 2.0]}
    assert isinstance(net.op, FixedMultiChoice) and _n_params(net) == 40
    assert torch.allclose(net(X), reference(X))
    assert "weights=[0.5, 2.0]" in repr(net.op)


def test_fixed_multi_choice_checks_its_arguments():
    with pytest.raises(ValueError, match="2 candidates, 1 indices"):
        FixedMultiChoice([nn.ReLU(), nn.ReLU()], (0,), 3)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("value, expected", [
    ([0.5, -0.2, 0.0], "finite, non-negative weights"),
    ([0.5, float("inf"), 0.0], "finite, non-negative weights"),
    ([0.5, 10**400, 0], "finite, non-negative weights"),
    ([0.5, 0.5], "expected a list of 3 weights (one number per candidate ['a', 'b', 'c']); a list of distinct"),
    ([True, False], "expected a list of distinct candidates"),
    (["a", "a"], "expected a list of distinct candidates"),
    ([0, 0], "expected a list of distinct candidates"),
    (["a", "zz"], "expected a list of distinct candidates (names from ['a', 'b', 'c'] or indices in 0..2)"),
    ([0, 5], "expected a list of distinct candidates (names from ['a', 'b', 'c'] or indices in 0..2)"),
    ("zz", "expected one of ['a', 'b', 'c'] (a candidate name)"),
])
def test_bad_values_name_key_value_and_expectation(value, expected):
    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": ["a", "b"]})
    with pytest.raises(nasnb.ArchitectureError) as info:
        space.apply({"op": value})
    text = str(info.value)
    assert f"'op': got {short_repr(value)}" in text and expected in text
    assert info.value.keys == ["op"]
    assert space.current() == {"op": ["a", "b"]}
    with pytest.raises(nasnb.ArchitectureError, match="'op': got"):
        net.op.choice = value


# --------------------------------------------------------------- observers
def test_observers_hear_weight_changes():
    space = nasnb.SearchSpace(Net())
    heard = []
    space.observe(heard.append)
    space.apply({"op": [0.2, 0.0, 0.8]})
    space.apply({"op": [0.2, 0.0, 0.8]})
    space.apply({"op": [0.3, 0.0, 0.8]})
    space.apply({"op": [1.0, 0.0, 1.0]})
    assert heard == [{"op": ("a", [0.2, 0.0, 0.8])}, {"op": ([0.2, 0.0, 0.8], [0.3, 0.0, 0.8])},
                     {"op": ([0.3, 0.0, 0.8], ["a", "c"])}]


def test_sample_and_grid_stay_single():
    space = nasnb.SearchSpace(Net())
    space.apply({"op": ["a", "b"]})
    draws = {space.sample(seed=s)["op"] for s in range(40)}
    assert draws == set(NAMES)
    assert [a["op"] for a in space.grid()] == list(NAMES) and space.size == 3


# ------------------------------------------------------ graph, NNI, widgets
def test_graph_marks_every_chosen_candidate_active():
    pytest.importorskip("networkx")
    from nasnb.graph import build_graph, mark_active

    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": [0.5, 0.0, 2.0]})
    g = build_graph(net, X)
    assert [g.nodes[f"op.{n}"]["active"] for n in NAMES] == [True, False, True]
    assert g.nodes["op"]["chosen"] == ["a", "c"] and g.nodes["op"]["shape"] == (2, 4)
    assert not any(d["kind"] == "function" for _, d in g.nodes(data=True)), "the weighted sum is the choice's"
    assert torch.allclose(net(X), 0.5 * net.op.a(X) + 2.0 * net.op.c(X)), "the model is left as it was"
    mark_active(g, {"op": []})
    assert [g.nodes[f"op.{n}"]["active"] for n in NAMES] == [False, False, False]
    mark_active(g, {"op": ["b", "c"]})
    assert [g.nodes[f"op.{n}"]["active"] for n in NAMES] == [False, True, True]
    mark_active(g, {"op": [True, False, False]})
    assert [g.nodes[f"op.{n}"]["active"] for n in NAMES] == [True, False, False]
    mark_active(g, {"op": [0.0, 0.3, 0.7]}, space=space)
    assert [g.nodes[f"op.{n}"]["active"] for n in NAMES] == [False, True, True]
    space.apply({"op": []})
    g = build_graph(net, X)
    assert not any(g.nodes[f"op.{n}"]["active"] for n in NAMES)


def test_nni_tuner_parameters_refuse_several_candidates():
    from nasnb.nni_format import to_nni_parameters

    space = nasnb.SearchSpace(Net())
    assert to_nni_parameters(space, {"op": ["c"]}) == {"op": {"_value": "c", "_idx": 2}}
    for value in (["a", "c"], [], [0.0, 0.5, 0.0]):
        with pytest.raises(nasnb.ArchitectureError, match=r"'op': got .*expected a single candidate \(NNI's tuner"):
            to_nni_parameters(space, {"op": value})


def test_widgets_show_a_multi_choice():
    pytest.importorskip("ipywidgets")
    from nasnb.widgets import Explorer, choice_widget

    net = Net()
    space = nasnb.SearchSpace(net)
    space.apply({"op": ["a", "c"]})
    w = choice_widget(net.op)
    assert w.value == ["a", "c"] and w.control.control.value is None
    assert w._table().count("&#9679;") == 2
    space.apply({"op": [0.2, 0.0, 0.8]})
    assert w.value == [0.2, 0.0, 0.8] and w.control.control.value is None
    space.apply({"op": "b"})
    assert w.value == "b" and w.control.control.value == 1
    space.apply({"op": []})
    assert w.value == [] and w._table().count("&#9679;") == 0
    w.control.control.value = 2  # a click selects one candidate
    assert space.current() == {"op": "c"}
    w.close()

    space.apply({"op": ["a", "b"]})
    ex = Explorer(net, X, repeats=1)
    assert ex.controls["op"].value == ["a", "b"] and "output shape: (2, 4)" in ex.summary_text
    ex.space.apply({"op": [0.5, 0.0, 0.5]})
    assert ex.controls["op"].value == [0.5, 0.0, 0.5] and ex.graph.nodes["op.c"]["active"]
    assert json.loads(json.dumps(ex.export())) == {"op": [0.5, 0.0, 0.5]}
    ex.controls["op"].control.value = 0
    assert ex.space.current() == {"op": "a"}
    ex.close()


# ------------------------------------------------------ export(keys="nni")
class NniNet(nn.Module):
    """NNI 1.x style: choices without keys, an InputChoice naming them by their automatic keys."""

    def __init__(self):
        super().__init__()
        self.a = LayerChoice(OrderedDict(lin=nn.Linear(4, 4), idn=nn.Identity()))
        self.b = LayerChoice([nn.Linear(4, 4), nn.Identity()], key="explicit_b")
        self.c = LayerChoice([nn.Linear(4, 4), nn.Identity()])
        self.pick = mutables.InputChoice(choose_from=[self.a.key, "explicit_b", self.c.key], n_chosen=2)

    def forward(self, x):
        return self.pick([self.a(x), self.b(x), self.c(x)])


@pytest.fixture
def fresh_numbering():
    mutables._reset_global_mutable_counting()  # as in a fresh NNI 1.x process


def test_export_nni_writes_automatic_keys_and_raw_sources(fresh_numbering):
    space = nasnb.SearchSpace(NniNet())
    space.apply({"a": "idn", "c": [0.5, 0.5], "pick": ["a", "c"]})
    assert space.export() == space.current() == {"a": "idn", "explicit_b": 0, "c": [0.5, 0.5], "pick": ["a", "c"]}
    nni = space.export(keys="nni")
    assert nni == {"LayerChoice1": "idn", "explicit_b": 0, "LayerChoice2": [0.5, 0.5],
                   "InputChoice3": ["LayerChoice1", "LayerChoice2"]}
    fresh = nasnb.SearchSpace(NniNet())  # built after a bind: numbered from 1 again
    fresh.apply(nni)
    assert fresh.current() == space.current()
    assert fresh.validate(nni) == space.current()


def test_save_with_nni_keys_loads_in_a_fresh_model(fresh_numbering, tmp_path):
    space = nasnb.SearchSpace(NniNet())
    space.apply({"a": "lin", "explicit_b": 1, "pick": ["explicit_b", "c"]})
    path = tmp_path / "arch.json"
    written = space.save(path, keys="nni")
    assert json.loads(path.read_text()) == written
    assert written == {"LayerChoice1": "lin", "explicit_b": 1, "LayerChoice2": 0,
                       "InputChoice3": ["explicit_b", "LayerChoice2"]}
    other = {"a": "idn", "explicit_b": 0, "c": 1, "pick": ["a", "explicit_b"]}
    assert space.save(path, other, keys="nni")["InputChoice3"] == ["LayerChoice1", "explicit_b"]
    assert space.current()["a"] == "lin", "save does not apply"
    fresh = nasnb.SearchSpace(NniNet())
    assert fresh.load(path) == other


def test_export_nni_of_explicit_keys_and_the_model_itself(fresh_numbering):
    space = nasnb.SearchSpace(Net())
    assert space.export(keys="nni") == {"op": "a"}
    lc = LayerChoice([nn.ReLU(), nn.Tanh()])
    space = nasnb.SearchSpace(lc)  # the model itself keeps its automatic key
    assert list(space) == ["LayerChoice1"] and space.export(keys="nni") == {"LayerChoice1": 0}


def test_export_nni_refuses_keys_without_an_nni_name(fresh_numbering):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.op = LayerChoice([nn.ReLU(), nn.Tanh()])

    first = Block()  # LayerChoice1
    nasnb.SearchSpace(first)  # restarts the numbering: the next Block's choice is LayerChoice1 too
    space = nasnb.SearchSpace(nn.Sequential(first, Block()))
    assert space.export() == {"0.op": 0, "1.op": 0}
    with pytest.raises(nasnb.SearchSpaceError, match=r"key '0.op' has no unambiguous NNI 1.x key: its automatic "
                                                      r"key 'LayerChoice1' .*several mutables") as info:
        space.export(keys="nni")
    assert info.value.key == "0.op"

    mutables._reset_global_mutable_counting()
    net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()]), LayerChoice([nn.ReLU()], key="LayerChoice1"))
    space = nasnb.SearchSpace(net)
    with pytest.raises(nasnb.SearchSpaceError, match=r"key '0' .*'LayerChoice1' .*also a key of this space"):
        space.export(keys="nni")


def test_keys_must_be_space_or_nni(tmp_path):
    space = nasnb.SearchSpace(Net())
    for call in (lambda: space.export(keys="NNI"), lambda: space.save(tmp_path / "a.json", keys="paths")):
        with pytest.raises(ValueError, match=r"expected 'space' .* or 'nni'"):
            call()
    assert not (tmp_path / "a.json").exists()


@pytest.mark.parametrize("name", ["SPOS", "ENASMacro"])
def test_export_nni_round_trips_ready_made_spaces(fresh_numbering, name):
    from nasnb import spaces

    build = getattr(spaces, name).small
    space = nasnb.SearchSpace(build())
    space.apply(space.sample(seed=1))
    layer = next(k for k, spec in space.items() if spec.kind == "layer")
    space.apply({layer: [0.5] * space[layer].n_candidates})
    nni = space.export(keys="nni")
    assert list(nni) == [spec.aliases[0] for spec in space.values()]
    numbers = sorted(int(re.fullmatch(r"(?:Layer|Input)Choice(\d+)", k).group(1)) for k in nni)
    assert numbers == list(range(1, len(space) + 1)), "NNI numbers every choice from 1 in a fresh process"
    assert nni[space[layer].aliases[0]] == [0.5] * space[layer].n_candidates
    fresh = nasnb.SearchSpace(build())
    fresh.apply(nni)
    assert fresh.current() == space.current()
