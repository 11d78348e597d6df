"""SearchSpace: binding rules, introspection, decisions, observers."""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.mutables import InputChoice, LayerChoice, MutableScope

from .models import CellNet, SeedNet


def test_keys_are_module_paths_unless_explicit(seed_space):
    assert list(seed_space) == ["conv1", "skipcon"]
    net = CellNet()
    space = nasnb.SearchSpace(net)
    assert "normal_n0_p0" in space and "normal_n1_switch" in space
    assert space["normal_n0_p0"].paths == ("cell0.edges.0.0", "cell1.edges.0.0")
    assert net.cell1.edges[0][0].name == "cell1.edges.0.0"


def test_introspection(seed_space):
    conv = seed_space["conv1"]
    assert (conv.kind, conv.names, conv.n_chosen, conv.candidate_types) == ("layer", ("0", "1"), 1, ("Conv2d", "Conv2d"))
    skip = seed_space["skipcon"]
    assert (skip.kind, skip.n_candidates, skip.n_chosen, skip.paths) == ("input", 1, None, ("skipcon",))
    assert len(seed_space) == 2 and seed_space.size == 4
    assert isinstance(seed_space.mutables("conv1")[0], LayerChoice)
    assert "SeedNet: 2 keys, size=4" in repr(seed_space)


def test_size_is_exact_python_int_for_cells():
    space = nasnb.SearchSpace(CellNet())
    # node0: 2 edges x 4 ops, C(2,2) inputs; node1: 3 edges x 4 ops, C(3,2) inputs; cells share keys
    assert space.size == 4**5 * math.comb(2, 2) * math.comb(3, 2)
    assert isinstance(space.size, int)


def test_shared_keys_share_one_decision():
    net = CellNet()
    space = nasnb.SearchSpace(net)
    space.apply({"normal_n0_p1": "maxpool"})
    assert net.cell0.edges[0][1].choice == net.cell1.edges[0][1].choice == "maxpool"
    net.cell1.edges[0][1].choice = "skip"
    assert space.current()["normal_n0_p1"] == "skip"
    assert len(space.mutables("normal_n0_p1")) == 2


def test_shared_key_with_different_candidates_is_refused_naming_both_paths():
    net = nn.Sequential(
        LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
        LayerChoice([nn.ReLU(), nn.Tanh(), nn.ELU()], key="act"),
    )
    with pytest.raises(nasnb.SearchSpaceError,
                       match=r"key 'act' is shared by LayerChoice at '0' and LayerChoice at '1'.*"
                             r"candidate counts differ: 2 vs 3"):
        nasnb.SearchSpace(net)


def test_shared_key_with_different_kinds_is_refused():
    net = nn.ModuleDict({"a": LayerChoice([nn.ReLU()], key="k"), "b": InputChoice(n_candidates=1, key="k")})
    with pytest.raises(nasnb.SearchSpaceError, match="kinds differ: 'LayerChoice' vs 'InputChoice'"):
        nasnb.SearchSpace(net)


def test_shared_key_with_different_names_or_inputs_is_refused():
    net = nn.ModuleDict({
        "a": LayerChoice(OrderedDict(x=nn.ReLU(), y=nn.Tanh()), key="k"),
        "b": LayerChoice(OrderedDict(x=nn.ReLU(), z=nn.Tanh()), key="k"),
    })
    with pytest.raises(nasnb.SearchSpaceError, match="candidate names differ"):
        nasnb.SearchSpace(net)
    net = nn.ModuleDict({"a": InputChoice(2, n_chosen=1, key="k"), "b": InputChoice(2, n_chosen=2, key="k")})
    with pytest.raises(nasnb.SearchSpaceError, match="n_chosen differ: 1 vs 2"):
        nasnb.SearchSpace(net)


def test_explicit_key_colliding_with_a_path_key_is_refused():
    net = nn.ModuleDict({"op": LayerChoice([nn.ReLU()]), "other": LayerChoice([nn.ReLU()], key="op")})
    with pytest.raises(nasnb.SearchSpaceError,
                       match="'op' is the module path of LayerChoice at 'op' and the explicit key of LayerChoice at 'other'"):
        nasnb.SearchSpace(net)


def test_nested_mutables_are_refused():
    inner = nn.Sequential(nn.ReLU(), InputChoice(n_candidates=1, key="inner"))
    net = nn.Sequential(LayerChoice([inner, nn.Tanh()], key="outer"))
    with pytest.raises(nasnb.SearchSpaceError, match=r"nested search space: InputChoice at '0.0.1' is inside LayerChoice '0'"):
        nasnb.SearchSpace(net)


def test_scopes_may_nest_and_are_not_decisions():
    class Inner(MutableScope):
        def __init__(self):
            super().__init__("inner")
            self.op = LayerChoice([nn.ReLU(), nn.Tanh()], key="op")

    class Outer(MutableScope):
        def __init__(self):
            super().__init__("outer")
            self.inner = Inner()
            self.pick = InputChoice(choose_from=["inner", "outer"], n_chosen=1, key="pick")

    space = nasnb.SearchSpace(nn.Sequential(Outer()))
    assert list(space) == ["op", "pick"]
    assert space.scopes == {"outer": ("0",), "inner": ("0.inner",)}
    assert space["op"].scope == "inner" and space["pick"].scope == "outer"
    with pytest.raises(nasnb.ArchitectureError, match="'inner' is a MutableScope, which has no choice"):
        space.apply({"inner": 0})


def test_choose_from_must_name_an_earlier_key():
    net = nn.ModuleDict({
        "pick": InputChoice(choose_from=["later"], n_chosen=1, key="pick"),
        "later": LayerChoice([nn.ReLU()], key="later"),
    })
    with pytest.raises(nasnb.SearchSpaceError,
                       match=r"choose_from entry 'later' is not NO_KEY and not the key of a mutable that appears before it"):
        nasnb.SearchSpace(net)


def test_choose_from_may_use_automatic_keys_read_in_init():
    mutables._reset_global_mutable_counting()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = LayerChoice([nn.ReLU(), nn.Tanh()])
            self.b = LayerChoice([nn.ReLU(), nn.Tanh()])
            self.pick = InputChoice(choose_from=[self.a.key, self.b.key], n_chosen=1)

    net = Net()
    assert net.pick.choose_from == ["LayerChoice1", "LayerChoice2"]
    space = nasnb.SearchSpace(net)
    assert space["pick"].names == ("a", "b")
    assert space.current()["pick"] == ["a"]
    space.apply({"pick": ["LayerChoice2"]})
    assert space.current()["pick"] == ["b"]


def test_nni_automatic_key_file_loads_onto_same_model(tmp_path):
    mutables._reset_global_mutable_counting()
    net = SeedNet()
    nni_file = tmp_path / "final.json"
    nni_file.write_text(json.dumps({"LayerChoice1": 1, "InputChoice2": []}))
    space = nasnb.SearchSpace(net)
    assert space.load(nni_file) == {"conv1": 1, "skipcon": []}
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"LayerChoice1": [True, False], "InputChoice2": [True]}))
    assert space.load(legacy) == {"conv1": 0, "skipcon": [0]}
    assert space.aliases == {"LayerChoice1": "conv1", "InputChoice2": "skipcon"}
    assert space["LayerChoice1"].key == "conv1"


def test_code_reading_key_in_init_gets_a_usable_key():
    mutables._reset_global_mutable_counting()

    class Spos(nn.Module):  # NNI's SPOS example builds a FLOPs table keyed by mutable.key
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(LayerChoice([nn.ReLU(), nn.Tanh()]) for _ in range(3))
            self.flops = {b.key: [1, 2] for b in self.blocks}

    net = Spos()
    space = nasnb.SearchSpace(net)
    arch = {k: 1 for k in net.flops}  # an architecture written in the old keys
    space.apply(arch)
    assert space.current() == {"blocks.0": 1, "blocks.1": 1, "blocks.2": 1}


def test_current_apply_partial_and_observers(seed_space):
    heard = []
    unsubscribe = seed_space.observe(heard.append)
    seed_space.apply({"skipcon": []})
    assert seed_space.current() == {"conv1": 0, "skipcon": []}
    assert heard == [{"skipcon": ([0], [])}]
    seed_space.apply({"conv1": 1, "skipcon": [0]})
    assert heard[-1] == {"conv1": (0, 1), "skipcon": ([], [0])}, "one batched event per apply"
    seed_space.apply({"conv1": "1"})
    assert len(heard) == 2, "no event when nothing changes"
    seed_space.mutables("conv1")[0].choice = "0"
    assert heard[-1] == {"conv1": (1, 0)}, "changes made on the mutable are heard too"
    unsubscribe()
    seed_space.apply({"conv1": "1"})
    assert len(heard) == 3


def test_apply_reports_every_problem_and_changes_nothing(seed_space):
    before = seed_space.current()
    with pytest.raises(nasnb.ArchitectureError) as info:
        seed_space.apply({"conv1": "conv7x7", "skipcon": [0, 0], "conv9": 1, "LayerChoice1": 5})
    err = info.value
    assert err.keys == ["conv1", "skipcon", "conv9", "conv1"]
    text = str(err)
    assert "4 problems" in text
    assert "'conv1': got 'conv7x7', expected one of ['0', '1']" in text
    assert "'skipcon': got [0, 0], expected distinct inputs" in text
    assert "no key 'conv9' in this search space (did you mean 'conv1'?)" in text
    assert "got 5, expected one of" in text
    assert seed_space.current() == before


@pytest.mark.parametrize(
    "value, match",
    [
        (True, "expected one of"),
        (2.5, "expected one of"),
        ([True, True, False], "expected a list of distinct candidates"),
        (["0", "0"], "expected a list of distinct candidates"),
        ([0.5, -0.5], "expected finite, non-negative weights"),
        ({"a": 1}, "expected one of"),
    ],
)
def test_apply_rejects_wrong_types_for_layer_choice(seed_space, value, match):
    with pytest.raises(nasnb.ArchitectureError, match=match):
        seed_space.apply({"conv1": value})


def test_apply_rejects_non_mapping(seed_space):
    with pytest.raises(nasnb.ArchitectureError, match="a mapping key -> choice"):
        seed_space.apply([("conv1", 0)])


def test_input_count_must_match_n_chosen():
    space = nasnb.SearchSpace(CellNet())
    with pytest.raises(nasnb.ArchitectureError,
                       match=r"'normal_n1_switch': got \['normal_n1_p0'\], expected a list of exactly 2"):
        space.apply({"normal_n1_switch": ["normal_n1_p0"]})


def test_validate_requires_full_architecture(seed_space):
    with pytest.raises(nasnb.ArchitectureError, match="'skipcon': got '<missing>', expected a list of any number"):
        seed_space.validate({"conv1": "1"})
    assert seed_space.validate({"conv1": "1", "skipcon": ""}) == {"conv1": 1, "skipcon": [0]}


def test_accepted_encodings_for_input_choice():
    space = nasnb.SearchSpace(CellNet())
    key = "normal_n1_switch"
    expected = ["normal_n1_p0", "normal_n1_p2"]
    for value in (expected, [0, 2], [True, False, True], [1.0, 0.0, 1.0], {"_value": expected, "_idx": [0, 2]},
                  torch.tensor([True, False, True]), ("normal_n1_p2", 0)):
        space.apply({key: value})
        assert space.current()[key] == expected, value


def test_sample_is_uniform_and_reproducible():
    space = nasnb.SearchSpace(CellNet())
    assert space.sample(seed=3) == space.sample(seed=3)
    assert space.sample(seed=3) != space.sample(seed=4)
    counts = {}
    for s in range(3000):
        v = space.sample(seed=s)["normal_n0_p0"]
        counts[v] = counts.get(v, 0) + 1
    assert set(counts) == {"conv3x3", "conv1x1", "maxpool", "skip"}
    assert max(counts.values()) / min(counts.values()) < 1.25
    for s in range(50):
        space.validate(space.sample(seed=s))


def test_sample_any_subset_is_uniform_over_subsets():
    space = nasnb.SearchSpace(nn.Sequential(InputChoice(n_candidates=2, n_chosen=None, key="in")))
    counts = {}
    for s in range(4000):
        v = tuple(space.sample(seed=s)["in"])
        counts[v] = counts.get(v, 0) + 1
    assert set(counts) == {(), (0,), (1,), (0, 1)}
    assert max(counts.values()) / min(counts.values()) < 1.2


def test_grid_yields_every_architecture_once(seed_space):
    archs = list(seed_space.grid())
    assert len(archs) == seed_space.size == 4
    assert archs[0] == seed_space.current()
    assert len({json.dumps(a, sort_keys=True) for a in archs}) == 4


def test_save_and_load_round_trip(tmp_path, seed_space):
    path = tmp_path / "arch.json"
    seed_space.apply({"conv1": "1", "skipcon": []})
    written = seed_space.save(path)
    assert json.loads(path.read_text()) == written == {"conv1": 1, "skipcon": []}
    seed_space.apply({"conv1": "0"})
    assert seed_space.load(path) == written and seed_space.current() == written
    path.write_text("[1, 2]")
    with pytest.raises(nasnb.ArchitectureError, match="a JSON object"):
        seed_space.load(path)


def test_rebinding_keeps_current_decisions(seed_space):
    seed_space.apply({"conv1": "1"})
    again = nasnb.SearchSpace(seed_space.model)
    assert again.current()["conv1"] == 1
    heard = []
    seed_space.observe(heard.append)
    again.apply({"conv1": "0"})
    assert heard == [{"conv1": (1, 0)}], "every space bound to the model hears the change"


def test_lookup_of_unknown_key_is_clear(seed_space):
    with pytest.raises(LookupError, match=r"no key 'conv' in this search space \(did you mean 'conv1'\?\)"):
        seed_space["conv"]


def test_model_that_is_itself_a_choice():
    space = nasnb.SearchSpace(LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    assert list(space) == ["act"]
    space.apply({"act": 1})
    assert isinstance(space.fix(), nn.Tanh)


def test_non_module_is_refused():
    with pytest.raises(TypeError, match="SearchSpace expects an nn.Module, got dict"):
        nasnb.SearchSpace({})


def test_mixer_takes_over_forward_and_can_be_cleared():
    net = nn.Sequential(LayerChoice([nn.Identity(), nn.Identity()], key="op"))
    space = nasnb.SearchSpace(net)

    class Double:
        def forward_layer_choice(self, mutable, args, kwargs):
            return sum(m(*args) for m in mutable), torch.ones(len(mutable))

        def forward_input_choice(self, mutable, inputs):
            raise AssertionError

    space.set_mixer(Double())
    assert torch.equal(net(torch.ones(1)), torch.full((1,), 2.0))
    space.clear_mixer()
    assert torch.equal(net(torch.ones(1)), torch.ones(1))


def test_batch_groups_changes_and_lets_errors_through(seed_space):
    heard = []
    seed_space.observe(heard.append)
    with pytest.raises(RuntimeError, match="boom"):
        with seed_space.batch():
            seed_space.apply({"conv1": 1})
            seed_space.apply({"skipcon": []})
            assert heard == []
            raise RuntimeError("boom")
    assert heard == [{"conv1": (0, 1), "skipcon": ([0], [])}]


def test_refused_bind_leaves_every_mutable_untouched():
    mutables._reset_global_mutable_counting()
    net = nn.Sequential(
        LayerChoice([nn.ReLU(), nn.Tanh()]),
        LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
        LayerChoice([nn.ReLU()], key="act"),
    )
    with pytest.raises(nasnb.SearchSpaceError, match="candidate counts differ"):
        nasnb.SearchSpace(net)
    assert net[0].key == "LayerChoice1", "no key was rewritten by the failed bind"


def test_direct_mutable_subclasses_are_refused():
    class Odd(mutables.Mutable):
        def forward(self, x):
            return x

    with pytest.raises(nasnb.SearchSpaceError, match="Odd at '0' subclasses Mutable directly"):
        nasnb.SearchSpace(nn.Sequential(Odd(key="odd")))


def test_a_space_keyed_as_nni_uses_automatic_keys_with_module_paths_as_aliases():
    from nasnb.mutables import _reset_global_mutable_counting

    def build():
        _reset_global_mutable_counting()
        net = nn.Module()
        net.conv = mutables.LayerChoice([nn.Conv2d(1, 2, 3), nn.Conv2d(1, 2, 5)])
        net.skip = mutables.InputChoice(choose_from=[net.conv.key], n_chosen=None)
        net.act = mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")
        return net

    space = nasnb.SearchSpace(build(), keys="nni")
    assert list(space) == ["LayerChoice1", "InputChoice2", "act"]
    assert space.model.conv.key == "LayerChoice1"
    space.apply({"conv": 1, "skip": []})  # module paths are aliases
    assert space.current() == {"LayerChoice1": 1, "InputChoice2": [], "act": 0}
    assert space.export(keys="nni") == space.current()
    native = nasnb.SearchSpace(build())
    native.apply(space.current())  # and the other way round
    assert native.current() == {"conv": 1, "skip": [], "act": 0}
    with pytest.raises(ValueError, match="keys='paths'"):
        nasnb.SearchSpace(build(), keys="paths")


def test_a_space_keyed_as_nni_refuses_automatic_keys_given_twice():
    from nasnb.mutables import _reset_global_mutable_counting

    _reset_global_mutable_counting()
    a = mutables.LayerChoice([nn.ReLU(), nn.Tanh()])
    _reset_global_mutable_counting()
    b = mutables.LayerChoice([nn.ReLU(), nn.Tanh()])
    with pytest.raises(nasnb.SearchSpaceError, match="'LayerChoice1' was given to the mutables at '0' and '1'"):
        nasnb.SearchSpace(nn.Sequential(a, b), keys="nni")


def test_set_indices_sets_several_keys_in_one_change_and_checks_each():
    space = nasnb.SearchSpace(CellNet())
    heard = []
    space.observe(heard.append)
    keys = list(space)[:2]
    target = {k: space[k].all_indices().__next__() for k in keys}
    other = {k: list(space[k].all_indices())[-1] for k in keys}
    space.set_indices(other)
    assert space.indices() == {**space.indices(), **other} and len(heard) == 1 and set(heard[0]) == set(keys)
    space.set_indices(target)
    assert all(space.indices()[k] == target[k] for k in keys)
    with pytest.raises(nasnb.ArchitectureError, match="nope") as err:
        space.set_indices({keys[0]: other[keys[0]], "nope": (0,)})
    assert space.indices()[keys[0]] == target[keys[0]], "nothing changes when one entry is bad"
    with pytest.raises(nasnb.ArchitectureError, match=rf"{keys[0]}.*\(99,\)"):
        space.set_indices({keys[0]: (99,)})
    assert "expected" in str(err.value)
    space.set_indices(other, check=False)  # indices valid by construction: no check, still one batch
    assert all(space.indices()[k] == other[k] for k in keys) and len(heard) == 3 and set(heard[-1]) == set(keys)
