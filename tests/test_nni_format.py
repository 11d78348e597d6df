from __future__ import annotations

import json
from collections import OrderedDict

import pytest
from torch import nn

from nasnb import ArchitectureError, SearchSpace, mutables
from nasnb.nni_format import (
    from_nni_parameters,
    save_nni_search_space,
    space_fingerprint,
    to_nni_parameters,
    to_nni_search_space,
)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first_conv = mutables.LayerChoice(OrderedDict(conv5x5=nn.Identity(), conv3x3=nn.Identity()),
                                               key="first_conv")
        self.mid_conv = mutables.LayerChoice([nn.Identity(), nn.Identity()], key="mid_conv")
        self.skip = mutables.InputChoice(n_candidates=2, n_chosen=None, key="skip")
        self.pick = mutables.InputChoice(choose_from=["first_conv", "mid_conv"], n_chosen=1, key="pick")


def test_search_space_json_matches_nni_ss_gen(tmp_path):
    space = SearchSpace(Net())
    expected = {
        "first_conv": {"_type": "layer_choice", "_value": ["conv5x5", "conv3x3"]},
        "mid_conv": {"_type": "layer_choice", "_value": ["0", "1"]},
        "skip": {"_type": "input_choice", "_value": {"candidates": ["", ""], "n_chosen": None}},
        "pick": {"_type": "input_choice", "_value": {"candidates": ["first_conv", "mid_conv"], "n_chosen": 1}},
    }
    assert to_nni_search_space(space) == expected
    save_nni_search_space(space, tmp_path / "ss.json")
    text = (tmp_path / "ss.json").read_text()
    assert json.loads(text) == expected and text == json.dumps(expected, sort_keys=True, indent=2) + "\n"


def test_parameters_round_trip_and_are_accepted_by_apply():
    space = SearchSpace(Net())
    params = {"first_conv": {"_value": "conv3x3", "_idx": 1}, "mid_conv": {"_value": "0", "_idx": 0},
              "skip": {"_value": [""], "_idx": [1]}, "pick": {"_value": ["mid_conv"], "_idx": [1]}}
    arch = from_nni_parameters(space, params)
    assert arch == {"first_conv": "conv3x3", "mid_conv": 0, "skip": [1], "pick": ["mid_conv"]}
    assert to_nni_parameters(space, arch) == params
    space.apply(params)
    assert space.current() == arch


def test_bad_parameters_are_all_reported():
    space = SearchSpace(Net())
    params = {"first_conv": {"_value": "conv5x5", "_idx": 1}, "mid_conv": "0",
              "skip": {"_value": ["", ""], "_idx": [1, 1]}, "nope": {"_value": 1, "_idx": 1}}
    with pytest.raises(ArchitectureError) as info:
        from_nni_parameters(space, params)
    assert info.value.keys == ["first_conv", "mid_conv", "skip", "nope", "pick"]
    assert "_value 'conv3x3' (the candidate at _idx 1)" in str(info.value)
    assert "_idx entries: distinct inputs" in str(info.value)


@pytest.mark.parametrize("entry, expected", [
    ({"_value": ["first_conv"], "_idx": [5]}, "_idx entries: a list of exactly 1 distinct inputs"),
    ({"_value": ["first_conv", "mid_conv"], "_idx": [0, 1]}, "_idx entries: a list of exactly 1 distinct inputs"),
    ({"_value": ["mid_conv"], "_idx": [0]}, "_value ['first_conv'] (the inputs at _idx)"),
    ({"_value": ["first_conv"], "_idx": [False]}, "_idx entries in 0..1"),
    ({"_value": "first_conv", "_idx": 0}, "_idx and _value as lists of the same length"),
    ({"_idx": [0]}, "a dict with '_value' and '_idx'"),
])
def test_input_parameters_are_checked_by_choice_parse(entry, expected):
    space = SearchSpace(Net())
    params = to_nni_parameters(space, space.current())
    params["pick"] = entry
    with pytest.raises(ArchitectureError) as info:
        from_nni_parameters(space, params)
    assert info.value.keys == ["pick"]
    assert expected in str(info.value)


def test_layer_index_is_positional_even_with_digit_names():
    """_idx is a position, so names that are digits but not positions are no ambiguity here."""
    net = nn.Sequential(mutables.LayerChoice(OrderedDict([("1", nn.ReLU()), ("0", nn.Tanh())]), key="op"))
    space = SearchSpace(net)
    assert from_nni_parameters(space, {"op": {"_value": "0", "_idx": 1}}) == {"op": "0"}
    with pytest.raises(ArchitectureError, match=r"_idx an int in 0\.\.1"):
        from_nni_parameters(space, {"op": {"_value": "0", "_idx": 2}})


def test_fingerprint_is_stable_across_versions():
    """Journals on disk carry the fingerprint: the same space must keep the same hash."""
    assert space_fingerprint(SearchSpace(Net())) == _FINGERPRINT_OF_NET


_FINGERPRINT_OF_NET = "8c03115062b9fd5b"  # written by nasnb 0.2.0


def test_fingerprint_depends_on_choices_only():
    a, b = SearchSpace(Net()), SearchSpace(Net())
    assert space_fingerprint(a) == space_fingerprint(b)
    other = Net()
    other.skip = mutables.InputChoice(n_candidates=2, n_chosen=1, key="skip")
    assert space_fingerprint(SearchSpace(other)) != space_fingerprint(a)
