"""Bad input to the core gets one clear, bounded error; one SearchSpace owns each key (issue: reliability).

Each test failed on the code before the fix (the docstrings say how).
"""

from __future__ import annotations

import errno
import gc
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.nni_format import from_nni_parameters

from .models import CellNet, SeedNet


# ------------------------------------------------------------ architecture files
@pytest.mark.parametrize("content, expected", [
    (b'{"conv1": 0, "skipcon": [', "truncated"),
    (b'{"conv1": "\xff\xfe"}', "UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    (b"", "the file is empty"),
    (b'{"conv1": 0,, }', "valid JSON"),
])
def test_bad_architecture_files_name_the_file_and_the_problem(seed_space, tmp_path, content, expected):
    """Before: raw JSONDecodeError / UnicodeDecodeError / RecursionError without the path."""
    path = tmp_path / "arch.json"
    path.write_bytes(content)
    with pytest.raises(nasnb.ArchitectureError, match=expected) as info:
        seed_space.load(path)
    assert str(path) in str(info.value)


def test_explorer_load_file_shows_a_broken_file_in_the_panel(tmp_path):
    """Before: the JSONDecodeError escaped the button's handler; the panel showed nothing."""
    pytest.importorskip("ipywidgets")
    path = tmp_path / "arch.json"
    path.write_text('{"conv1": 0, "skip')
    ex = nasnb.Explorer(SeedNet(), torch.zeros(1, 1, 28, 28), repeats=1, graph=False)
    ex.path.value = str(path)
    button = next(b for b in ex.buttons.children if "nasnb-load-file" in getattr(b, "_dom_classes", ()))
    button.click()
    assert "truncated" in ex.error_box.value and "arch.json" in ex.error_box.value
    ex.close()


def test_saving_an_architecture_never_leaves_half_a_file(seed_space, tmp_path, monkeypatch):
    """Before: space.save wrote in place; a full disk left truncated JSON where a good file was."""
    import nasnb._atomic as atomic

    path = tmp_path / "arch.json"
    seed_space.save(path)
    good = path.read_text()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    seed_space.apply({"conv1": 1})
    with pytest.raises(OSError, match="No space left"):
        seed_space.save(path)
    assert path.read_text() == good and [p.name for p in tmp_path.iterdir()] == ["arch.json"]


# ------------------------------------------------------------ bounded messages
def test_huge_values_and_many_bad_keys_give_short_messages(seed_space):
    """Before: a 5 MB value made a 5 MB message; 5,000 unknown keys took 70 s and 195 MB."""
    with pytest.raises(nasnb.ArchitectureError) as info:
        seed_space.apply({"conv1": "x" * 5_000_000})
    assert len(str(info.value)) < 1_000 and "characters)" in str(info.value)
    wide = nasnb.SearchSpace(nn.ModuleList(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key=f"k{i}")
                                           for i in range(300)))
    with pytest.raises(nasnb.ArchitectureError) as info:
        wide.validate({f"renamed{i}": 0 for i in range(5000)})
    message = str(info.value)
    assert len(info.value.problems) == 5000 + 300
    assert len(message) < 20_000 and "and 5280 more" in message


# ------------------------------------------------------------ encodings
def test_a_bad_value_is_reported_once_not_also_as_missing(seed_space):
    """Before: 'conv1' appeared twice, once with its bad value and once as <missing>."""
    with pytest.raises(nasnb.ArchitectureError) as info:
        seed_space.validate({"conv1": "conv7x7", "skipcon": [0]})
    assert info.value.keys == ["conv1"]


def test_idx_and_value_must_agree(seed_space):
    """Before: {"_idx": 0, "_value": "1"} silently used _idx."""
    with pytest.raises(nasnb.ArchitectureError, match="'_idx' and '_value' naming the same choice"):
        seed_space.apply({"conv1": {"_idx": 0, "_value": "1"}})
    seed_space.apply({"conv1": {"_idx": 1, "_value": "1"}})
    assert seed_space.current()["conv1"] == 1


def test_digit_names_out_of_order_export_names_and_refuse_ambiguous_ints():
    """Before: candidate "0" (at index 1) exported as 1, and 0 / "0" picked different candidates."""
    lc = mutables.LayerChoice(OrderedDict([("1", nn.ReLU()), ("0", nn.Identity())]), key="act")
    space = nasnb.SearchSpace(nn.Sequential(lc))
    space.apply({"act": "0"})
    assert space.current() == {"act": "0"} and isinstance(lc.active, nn.Identity)
    with pytest.raises(nasnb.ArchitectureError, match="the int 0 is ambiguous"):
        space.apply({"act": 0})


def test_nni_parameters_with_bool_indices_are_refused_not_passed_on():
    """Before: from_nni_parameters returned [True], which validate then rejected."""
    space = nasnb.SearchSpace(nn.Sequential(mutables.InputChoice(n_candidates=2, n_chosen=1, key="pick")))
    with pytest.raises(nasnb.ArchitectureError, match="_idx entries"):
        from_nni_parameters(space, {"pick": {"_value": [""], "_idx": [True]}})
    assert from_nni_parameters(space, {"pick": {"_value": [""], "_idx": [1]}}) == {"pick": [1]}


# ------------------------------------------------------------ bind-time holes
def test_a_mutable_nested_in_a_candidate_is_refused_even_if_registered_earlier():
    """Before: the nested occurrence was skipped as already visited."""
    inner = mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="inner")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = inner
            self.outer = mutables.LayerChoice([nn.Sequential(inner), nn.Identity()], key="outer")

    with pytest.raises(nasnb.SearchSpaceError, match="nested search space"):
        nasnb.SearchSpace(Net())


def test_choose_from_must_be_a_list_of_earlier_keys():
    """Before: choose_from="aa" became ['a', 'a'], and an InputChoice could name itself."""
    with pytest.raises(TypeError, match=r"choose_from must be a list of keys.*did you mean \['aa'\]"):
        mutables.InputChoice(choose_from="aa", n_chosen=1)
    own = nn.Sequential(mutables.InputChoice(choose_from=["self"], n_chosen=1, key="self"))
    with pytest.raises(nasnb.SearchSpaceError, match=r"'self' \(its own key\)"):
        nasnb.SearchSpace(own)


def test_a_candidate_named_like_a_module_attribute_is_refused_clearly():
    """Before: torch's KeyError "attribute 'training' already exists"."""
    with pytest.raises(ValueError, match="reserved name 'training'"):
        mutables.LayerChoice(OrderedDict(training=nn.ReLU()), key="x")


def test_fixed_input_choice_checks_the_number_of_inputs_like_the_mutable_one():
    """Before: the fixed model took 3 inputs for an InputChoice of 2."""
    space = nasnb.SearchSpace(nn.Sequential(mutables.InputChoice(n_candidates=2, n_chosen=1, key="pick")))
    fixed = space.fix()
    with pytest.raises(ValueError, match="got 3 inputs, expected 2"):
        fixed[0]([torch.ones(1)] * 3)


# ------------------------------------------------------------ one owner per decision
def test_a_nested_space_does_not_steal_the_outer_keys():
    """Before: SearchSpace(net[0]) re-keyed "0.act" to "act"; the outer space's observers went silent."""
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2), mutables.LayerChoice([nn.ReLU(), nn.Tanh()])))
    outer = nasnb.SearchSpace(net)
    assert list(outer) == ["0.1"]
    heard = []
    outer.observe(heard.append)
    inner = nasnb.SearchSpace(net[0])
    assert list(inner) == ["0.1"], "the part uses the keys of the space that owns them"
    inner.apply({"0.1": 1})
    assert heard == [{"0.1": (0, 1)}]
    assert outer.current() == {"0.1": 1} and net[0][1].key == "0.1"
    net(torch.zeros(1, 2))


def test_rebinding_many_times_keeps_one_listener_and_one_probe():
    """Before: 3,000 re-binds left 3,000 listeners; apply became 50x slower and memory leaked."""
    net = CellNet()
    for _ in range(300):
        space = nasnb.SearchSpace(net)
    gc.collect()
    space.apply({"normal_n0_p0": "skip"})
    decision = space.decision("normal_n0_p0")
    assert len(decision.listeners) == 1
    from nasnb._dataflow import ProbeHook

    net(torch.zeros(1, 1, 8, 8))  # hooks of spaces that are gone leave on the next call
    assert sum(isinstance(h, ProbeHook) for h in net._forward_pre_hooks.values()) <= 1
    assert space.unused() != [] or space._exclusive is not None, "the live space learnt from that call"


def test_changing_a_bound_choice_rebinds_its_space():
    """Before: after del lc[0] the space still offered 3 candidates; index 2 raised IndexError in forward."""
    net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()], key="act"))
    space = nasnb.SearchSpace(net)
    del net[0][0]
    assert space["act"].names == ("1", "2") and space.size == 2
    with pytest.raises(nasnb.ArchitectureError, match="'act'"):
        space.apply({"act": 0})  # "1", "2" are not positions any more: give the name
    space.apply({"act": "2"})
    assert isinstance(net[0].active, nn.Sigmoid)
    net[0]["2"] = nn.GELU()
    assert space["act"].candidate_types == ("Tanh", "GELU")


def test_two_live_spaces_on_one_model_both_keep_listening_and_learning():
    """A trainer binding the notebook's model again must not silence the notebook's own space."""
    net = CellNet().eval()
    mine = nasnb.SearchSpace(net)
    heard = []
    mine.observe(heard.append)
    trainers = nasnb.SearchSpace(net)  # equal as mappings, but another space
    trainers.apply({"normal_n0_p0": "skip"})
    assert heard and heard[-1] == {"normal_n0_p0": ("conv3x3", "skip")}
    net(torch.zeros(1, 1, 8, 8))
    assert mine._exclusive is not None and trainers._exclusive is not None
