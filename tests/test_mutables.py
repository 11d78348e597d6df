"""NNI 1.x semantics of LayerChoice, InputChoice and MutableScope."""

from __future__ import annotations

import copy
import io
import pickle
import re
import warnings
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.mutables import InputChoice, LayerChoice, MutableScope

from .models import MaskNet, SeedNet


def test_seed_net_runs_right_after_construction():
    net = SeedNet().eval()
    out = net(torch.randn(2, 1, 28, 28))
    assert out.shape == (2, 10)
    assert net.conv1.choice == 0 and net.skipcon.choice == [0]


def test_automatic_keys_follow_nni_counter_and_restart_after_bind():
    mutables._reset_global_mutable_counting()
    net = SeedNet()
    assert (net.conv1.key, net.skipcon.key) == ("LayerChoice1", "InputChoice2")
    nasnb.SearchSpace(net)
    assert (net.conv1.key, net.skipcon.key) == ("conv1", "skipcon")
    assert (net.conv1.alias, net.skipcon.alias) == ("LayerChoice1", "InputChoice2")
    again = SeedNet()  # counting restarts after a bind, like a fresh NNI process
    assert again.conv1.key == "LayerChoice1"


def test_non_string_key_is_converted_with_a_warning():
    with pytest.warns(UserWarning, match="not a string"):
        lc = LayerChoice([nn.ReLU()], key=3)
    assert lc.key == "3"


def test_layer_choice_list_and_ordereddict_names():
    lc = LayerChoice([nn.ReLU(), nn.Tanh()])
    assert lc.names == ["0", "1"]
    od = LayerChoice(OrderedDict(a=nn.ReLU(), b=nn.Tanh()), key="act")
    assert od.names == ["a", "b"]
    assert isinstance(od["b"], nn.Tanh)
    assert set(dict(od.named_modules(prefix="act"))) == {"act", "act.a", "act.b"}
    assert list(dict(LayerChoice(OrderedDict(lin=nn.Linear(2, 2))).named_parameters())) == ["lin.weight", "lin.bias"]


def test_layer_choice_container_protocol():
    lc = LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()], key="c")
    assert len(lc) == 3
    assert [type(m) for m in lc] == [nn.ReLU, nn.Tanh, nn.Sigmoid]
    assert isinstance(lc[1], nn.Tanh)
    assert isinstance(lc[1:], list) and len(lc[1:]) == 2
    lc[0] = nn.ELU()
    assert isinstance(lc["0"], nn.ELU)
    lc.choice = "2"
    del lc[1]
    assert lc.names == ["0", "2"] and len(lc) == 2
    assert lc.choice == "2" and lc.active is lc["2"], "deleting another candidate keeps the current choice"
    # the names "0", "2" are no longer positions: exports write the name, an int would be ambiguous
    with pytest.warns(DeprecationWarning):
        assert lc.length == 2
    with pytest.warns(DeprecationWarning):
        assert len(lc.choices) == 2


@pytest.mark.parametrize("bad", [(nn.ReLU(),), nn.ModuleList([nn.ReLU()]), "relu"])
def test_layer_choice_rejects_unsupported_candidate_containers(bad):
    with pytest.raises(TypeError, match="must be a list or an OrderedDict"):
        LayerChoice(bad, key="op")


def test_layer_choice_constructor_errors_name_the_key():
    with pytest.raises(ValueError, match="'op'.*reserved name 'key'"):
        LayerChoice(OrderedDict(key=nn.ReLU()), key="op")
    with pytest.raises(ValueError, match="'op'.*empty"):
        LayerChoice([], key="op")
    with pytest.raises(TypeError, match="'op'.*candidate '0' must be an nn.Module, got int"):
        LayerChoice([1], key="op")
    with pytest.raises(ValueError, match="'op'.*reduction 'max'"):
        LayerChoice([nn.ReLU()], reduction="max", key="op")


def test_layer_choice_passes_args_and_kwargs_to_candidate():
    class Two(nn.Module):
        def forward(self, x, mask=None, *, scale=1.0):
            return x * mask * scale

    lc = LayerChoice([Two(), Two()], key="two")
    x = torch.ones(2)
    assert torch.equal(lc(x, torch.full((2,), 2.0), scale=3.0), torch.full((2,), 6.0))


def test_return_mask_reduction_none_and_dict_inputs():
    net = MaskNet()
    out, mask, pick_mask = net(torch.ones(1, 4))
    assert mask.dtype == torch.bool and mask.tolist() == [True, False]
    assert pick_mask.tolist() == [True, False]
    assert out.shape == (1, 4)


@pytest.mark.parametrize(
    "reduction, chosen, expected",
    [("sum", [0, 1], 3.0), ("mean", [0, 1], 1.5), ("sum", [1], 2.0), ("concat", [0, 1], [1.0, 2.0])],
)
def test_input_choice_reductions(reduction, chosen, expected):
    ic = InputChoice(n_candidates=3, n_chosen=None, reduction=reduction, key="in")
    ic.choice = chosen
    out = ic([torch.ones(1, 1), torch.full((1, 1), 2.0), torch.full((1, 1), 4.0)])
    assert out.flatten().tolist() == (expected if isinstance(expected, list) else [expected])


def test_input_choice_nothing_chosen_returns_none_or_empty_list():
    ic = InputChoice(n_candidates=2, n_chosen=None, key="in")
    ic.choice = []
    assert ic([torch.ones(1), torch.ones(1)]) is None
    listed = InputChoice(n_candidates=2, n_chosen=None, reduction="none", key="in2")
    listed.choice = []
    assert listed([torch.ones(1), torch.ones(1)]) == []


def test_input_choice_defaults_choose_first_n():
    assert InputChoice(n_candidates=4, n_chosen=2).choice == [0, 1]
    assert InputChoice(n_candidates=3).choice == [0, 1, 2]
    named = InputChoice(choose_from=["a", "b", "c"], n_chosen=1)
    assert named.choice == ["a"] and named.n_candidates == 3


def test_input_choice_no_key_constant_and_stored_attributes():
    ic = InputChoice(n_candidates=2, n_chosen=1, reduction="mean", return_mask=True, key="x")
    assert InputChoice.NO_KEY == ""
    assert ic.choose_from == ["", ""]
    assert (ic.n_candidates, ic.n_chosen, ic.reduction, ic.return_mask) == (2, 1, "mean", True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "at least one of `n_candidates` and `choose_from`"),
        ({"n_candidates": 2, "choose_from": ["a"]}, "must equal the length of choose_from"),
        ({"n_candidates": 0}, "greater than 0"),
        ({"n_candidates": 2, "n_chosen": 3}, r"n_chosen must be None or an int in 0..2, got 3"),
        ({"n_candidates": 2, "reduction": "max"}, "reduction 'max'"),
    ],
)
def test_input_choice_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InputChoice(key="in", **kwargs)


def test_input_choice_forward_errors_name_the_key():
    ic = InputChoice(choose_from=["a", "b"], n_chosen=1, key="in")
    with pytest.raises(ValueError, match="'in': got 1 inputs, expected 2"):
        ic([torch.ones(1)])
    with pytest.raises(TypeError, match="'in': optional inputs must be a list or a dict, not Tensor"):
        ic(torch.ones(1))
    with pytest.raises(ValueError, match=r"'in': input dict has keys \['a', 'c'\]"):
        ic({"a": torch.ones(1), "c": torch.ones(1)})


def test_choice_setter_rejects_bad_values_and_keeps_decision():
    lc = LayerChoice(OrderedDict(a=nn.ReLU(), b=nn.Tanh()), key="act")
    with pytest.raises(nasnb.ArchitectureError, match=r"'act': got 'c', expected one of \['a', 'b'\]") as info:
        lc.choice = "c"
    assert info.value.key == "act" and info.value.value == "c"
    assert lc.choice == "a"
    ic = InputChoice(n_candidates=3, n_chosen=2, key="in")
    with pytest.raises(nasnb.ArchitectureError, match="exactly 2"):
        ic.choice = [0]


def test_mutable_scope_key_is_required_and_subclassable():
    with pytest.raises(TypeError):
        MutableScope()  # type: ignore[call-arg]

    class Block(MutableScope):
        def __init__(self):
            super().__init__("block")
            self.op = LayerChoice([nn.ReLU(), nn.Tanh()], key="block_op")

        def forward(self, x):
            return self.op(x)

    b = Block()
    assert b.key == "block" and torch.equal(b(torch.zeros(1)), torch.zeros(1))
    assert MutableScope(None).key.startswith("MutableScope")


def test_deepcopy_pickle_and_state_dict_round_trip():
    net = SeedNet().eval()
    space = nasnb.SearchSpace(net)
    space.apply({"conv1": "0", "skipcon": []})
    x = torch.randn(1, 1, 28, 28)
    clone = copy.deepcopy(net)
    assert torch.equal(clone(x), net(x))
    assert clone.skipcon.choice == []
    restored = pickle.loads(pickle.dumps(net))
    assert torch.equal(restored(x), net(x))
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    buf.seek(0)
    fresh = SeedNet().eval()
    fresh.load_state_dict(torch.load(buf))
    nasnb.SearchSpace(fresh).apply({"skipcon": []})
    assert torch.equal(fresh(x), net(x))


def test_copies_keep_shared_decisions_shared_but_detached_from_space():
    from .models import CellNet

    net = CellNet()
    space = nasnb.SearchSpace(net)
    heard = []
    space.observe(heard.append)
    clone = copy.deepcopy(net)
    clone.cell0.edges[0][0].choice = "skip"
    assert clone.cell1.edges[0][0].choice == "skip", "shared key stays shared in the copy"
    assert net.cell0.edges[0][0].choice == "conv3x3" and heard == []


def test_extra_repr_shows_key_and_choice():
    lc = LayerChoice([nn.ReLU()], key="act")
    assert "key='act', choice=0" in repr(lc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = repr(InputChoice(n_candidates=1, key="s"))
    assert _repr_fields(text, "InputChoice") == {"key": "'s'", "choice": "[0]", **_optional(text, 1, None, "sum")}


def _repr_fields(text: str, cls: str) -> dict[str, str]:
    """``Cls(a=1, b=[0, 1])`` -> {"a": "1", "b": "[0, 1]"} (values as printed)."""
    assert text.startswith(f"{cls}(") and text.endswith(")"), text
    return dict(re.findall(r"(\w+)=('[^']*'|\[[^\]]*\]|[^,()\[\]]+)", text[len(cls) + 1:-1]))


def _optional(text: str, n_candidates: int, n_chosen: int | None, reduction: str) -> dict[str, str]:
    """The fields an InputChoice prints beyond key and choice, with the values they must show."""
    return {"n_candidates": repr(n_candidates), "n_chosen": repr(n_chosen), "reduction": repr(reduction)}


def test_input_choice_repr_shows_key_and_the_chosen_inputs():
    # extra_repr prints key, n_candidates, n_chosen, reduction and choice; the choice reflects n_chosen
    # (first n_chosen inputs, all when None)
    # and candidate names when the inputs are named (choose_from); it follows every change
    two_of_three = InputChoice(n_candidates=3, n_chosen=2, key="mix", reduction="mean")
    text = repr(two_of_three)
    assert _repr_fields(text, "InputChoice") == {"key": "'mix'", "choice": "[0, 1]", **_optional(text, 3, 2, "mean")}
    named = InputChoice(choose_from=["a", "b"], n_chosen=None, key="skip", reduction="concat")
    text = repr(named)
    assert _repr_fields(text, "InputChoice") == {"key": "'skip'", "choice": "['a', 'b']",
                                                 **_optional(text, 2, None, "concat")}
    nasnb.SearchSpace(nn.ModuleList([two_of_three])).apply({"mix": [2, 0]})
    assert _repr_fields(repr(two_of_three), "InputChoice")["choice"] == "[0, 2]"  # stored in input order


def test_unknown_candidate_name_is_a_clear_lookup_error():
    lc = LayerChoice(OrderedDict(a=nn.ReLU(), b=nn.Tanh()), key="act")
    for action in (lambda: lc["c"], lambda: lc.__setitem__("c", nn.ELU()), lambda: lc.__delitem__("c")):
        with pytest.raises(LookupError, match=r"LayerChoice 'act' has no candidate 'c'; candidates are \['a', 'b'\]"):
            action()
    assert lc.names == ["a", "b"]
