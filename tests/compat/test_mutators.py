"""NNI 1.x mutators on nasnb: sampling, export, fixing, hooks, one mutator per model."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
from torch import nn

from nasnb.exceptions import ArchitectureError, SearchSpaceError

from ._models import chain_space, sample_and_forward, scope_space


def _counted(make):
    from nni.nas.pytorch.utils import _reset_global_mutable_counting

    _reset_global_mutable_counting()
    return make()


@pytest.mark.parametrize("make", [chain_space, scope_space], ids=["chain", "scopes"])
@pytest.mark.parametrize("kind", ["random", "darts", "enas"])
def test_mutator_search_export_and_fix_on_a_fresh_model(make, kind):
    from nni.nas.pytorch.darts import DartsMutator
    from nni.nas.pytorch.enas import EnasMutator
    from nni.nas.pytorch.fixed import apply_fixed_architecture
    from nni.nas.pytorch.mutables import InputChoice, LayerChoice
    from nni.nas.pytorch.random import RandomMutator

    cls = {"random": RandomMutator, "darts": DartsMutator, "enas": EnasMutator}[kind]
    torch.manual_seed(0)
    model = _counted(make)
    mutator = cls(model)
    y = sample_and_forward(model, mutator)
    assert torch.isfinite(y)
    with torch.no_grad():
        arch = mutator.export()
    keys = [m.key for m in mutator.mutables if isinstance(m, (LayerChoice, InputChoice))]
    assert sorted(arch) == sorted(keys)
    json.dumps(arch)  # NNI's readable form is plain JSON
    fresh = _counted(make)
    fixed = apply_fixed_architecture(fresh, arch)
    assert not any(isinstance(m, (LayerChoice, InputChoice)) for m in fresh.modules())
    assert fixed.export() == {k: v for k, v in arch.items()}
    sample_and_forward(fresh, n_iters=1)


def test_keys_are_nni_automatic_keys_inside_the_layer():
    from nni.nas.pytorch.random import RandomMutator

    model = _counted(chain_space)
    mutator = RandomMutator(model)
    assert [m.key for m in mutator.mutables] == ["LayerChoice1", "LayerChoice2", "InputChoice3", "InputChoice4"]
    mutator.reset()
    arch = mutator.export()
    assert list(arch) == ["LayerChoice1", "LayerChoice2", "InputChoice3", "InputChoice4"]
    assert all(isinstance(arch[k], int) for k in ("LayerChoice1", "LayerChoice2"))  # NNI unwraps one index


def test_reset_draws_what_the_mutator_says_and_the_space_shows_it():
    from nni.nas.pytorch.random import RandomMutator

    model = _counted(chain_space)
    mutator = RandomMutator(model)
    torch.manual_seed(1)
    seen = set()
    for _ in range(20):
        mutator.reset()
        status = mutator.status()
        index = status["LayerChoice1"].index(1.0)
        seen.add(index)
        assert model.conv1.choice == index  # the nasnb space follows the mutator
        out = model(torch.randn(2, 3, 8, 8))
        assert out.shape == (2, 10)
    assert seen == {0, 1}


def test_a_subclass_overriding_sample_search_is_honoured():
    from nni.nas.pytorch.mutables import LayerChoice
    from nni.nas.pytorch.random import RandomMutator

    class AlwaysLast(RandomMutator):
        calls = 0

        def sample_search(self):
            AlwaysLast.calls += 1
            result = super().sample_search()
            for m in self.mutables:
                if isinstance(m, LayerChoice):
                    mask = torch.zeros(len(m), dtype=torch.bool)
                    mask[-1] = True
                    result[m.key] = mask
            return result

    model = _counted(chain_space)
    mutator = AlwaysLast(model)
    for _ in range(10):
        mutator.reset()
        assert model.conv1.choice == 1 and model.conv2.choice == 1
        model(torch.randn(2, 3, 8, 8))
        assert model.masks[-2].tolist() == [False, True]  # conv2's mask: the override's choice ran
    assert AlwaysLast.calls == 10


def test_overridden_forward_hooks_and_scope_callbacks_run():
    from nni.nas.pytorch.random import RandomMutator

    events = []

    class Tracing(RandomMutator):
        def on_forward_layer_choice(self, mutable, *args, **kwargs):
            events.append(("layer", mutable.key))
            return super().on_forward_layer_choice(mutable, *args, **kwargs)

        def enter_mutable_scope(self, scope):
            events.append(("enter", scope.key))

        def exit_mutable_scope(self, scope):
            events.append(("exit", scope.key))

    model = _counted(lambda: scope_space(layers=1, nodes=2))
    mutator = Tracing(model)
    mutator.reset()
    model(torch.randn(2, 3, 8, 8))
    assert events == [("enter", "l0_n0"), ("layer", "l0_n0_op"), ("exit", "l0_n0"),
                      ("enter", "l0_n1"), ("layer", "l0_n1_op"), ("exit", "l0_n1")]


def test_float_masks_weight_the_candidates_and_gradients_reach_them():
    from nni.nas.pytorch.mutables import LayerChoice
    from nni.nas.pytorch.mutator import Mutator

    class Weighted(Mutator):
        def __init__(self, model):
            super().__init__(model)
            self.w = nn.Parameter(torch.tensor([0.25, 0.75]))

        def sample_search(self):
            return {"op": self.w}

        def sample_final(self):
            return {"op": torch.tensor([False, True])}

    net = nn.Sequential(LayerChoice([nn.Identity(), nn.Tanh()], key="op"))
    mutator = Weighted(net)
    mutator.reset()
    x = torch.tensor([0.5, 2.0])
    out = net(x)
    assert torch.allclose(out, 0.25 * x + 0.75 * torch.tanh(x))
    out.sum().backward()
    assert torch.allclose(mutator.w.grad, torch.stack([x.sum(), torch.tanh(x).sum()]))
    assert mutator.export() == {"op": 1}


def test_forward_before_reset_says_what_to_do():
    from nni.nas.pytorch.random import RandomMutator

    model = _counted(chain_space)
    RandomMutator(model)
    with pytest.raises(ValueError, match=r'"LayerChoice1" not found in decision cache; call mutator.reset\(\)'):
        model(torch.randn(2, 3, 8, 8))


def test_one_mutator_per_model_and_nested_spaces_raise_runtime_errors():
    from nni.nas.pytorch.mutables import InputChoice, LayerChoice
    from nni.nas.pytorch.random import RandomMutator

    model = _counted(chain_space)
    with pytest.raises(RuntimeError, match="already has a mutator"):
        for _ in range(2):
            RandomMutator(model)

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.nested = InputChoice(n_candidates=2)

    nested = nn.Sequential(LayerChoice([Inner(), Inner()]))
    with pytest.raises(RuntimeError, match="nested") as info:
        RandomMutator(nested)
    assert isinstance(info.value, SearchSpaceError)  # nasnb's type too, with its key


def test_fixed_architecture_key_errors_are_runtime_errors_listing_every_problem():
    from nni.nas.pytorch.fixed import apply_fixed_architecture

    model = _counted(chain_space)
    before = [type(m).__name__ for m in model.modules()]
    with pytest.raises(RuntimeError) as info:
        apply_fixed_architecture(model, {"LayerChoice1": 5, "nope": 0})
    err = info.value
    assert isinstance(err, ArchitectureError)
    listed = {p.key for p in err.problems}
    assert {"LayerChoice1", "nope", "LayerChoice2", "InputChoice3", "InputChoice4"} <= listed
    assert [type(m).__name__ for m in model.modules()] == before  # nothing changed


def test_apply_fixed_architecture_reads_a_file_and_every_nni_encoding(tmp_path):
    from nni.nas.pytorch.fixed import apply_fixed_architecture

    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"LayerChoice1": [False, True], "LayerChoice2": "1",
                                "InputChoice3": [], "InputChoice4": [1]}))
    model = _counted(chain_space)
    apply_fixed_architecture(model, str(path))
    assert model.conv1.kernel_size == (5, 5)
    assert model.conv2.module.kernel_size == (1, 1)  # return_mask keeps a wrapper around the candidate
    model(torch.randn(2, 3, 8, 8))
    assert model.masks[-1].tolist() == [False, True]


def test_darts_export_drops_edges_its_nodes_do_not_take():
    from nni.nas.pytorch.darts import DartsMutator
    from nni.nas.pytorch.fixed import apply_fixed_architecture
    from nni.nas.pytorch.mutables import InputChoice, LayerChoice

    class Node(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = LayerChoice([nn.Linear(4, 4), nn.Identity()], key="a")
            self.b = LayerChoice([nn.Linear(4, 4), nn.Identity()], key="b")
            self.c = LayerChoice([nn.Linear(4, 4), nn.Identity()], key="c")
            self.node = InputChoice(choose_from=["a", "b", "c"], n_chosen=2, key="node")

        def forward(self, x):
            outs = [self.a(x), self.b(x), self.c(x)]
            return self.node(outs)

    net = Node()
    mutator = DartsMutator(net)
    with torch.no_grad():
        mutator.choices["a"].copy_(torch.tensor([5.0, 0.0, 0.0]))
        mutator.choices["b"].copy_(torch.tensor([0.0, 0.0, 0.0]))
        mutator.choices["c"].copy_(torch.tensor([0.0, 4.0, 0.0]))
    arch = mutator.export()
    assert arch == {"a": 0, "b": [], "c": 1, "node": ["a", "c"]}
    fresh = Node()
    apply_fixed_architecture(fresh, arch)
    assert sum(p.numel() for p in fresh.parameters()) == 20  # only a's Linear: b dropped, c is Identity
    x = torch.randn(3, 4)
    assert torch.allclose(fresh(x), fresh.a(x) + x)


def test_layer_choice_container_behaviour_nni_relied_on():
    from nni.nas.pytorch.mutables import LayerChoice

    for named in (False, True):
        convs = [nn.Conv2d(3, c, 3) for c in (3, 5, 6)]
        lc = LayerChoice(OrderedDict(zip(["conv1", "conv2", "conv3"], convs)) if named else convs)
        lc[1] = nn.Conv2d(3, 4, 3)
        assert lc[1].out_channels == 4 and len(lc[0:2]) == 2
        del lc[1]
        assert len(lc) == 2 and len(list(lc)) == 2
        assert lc.names == (["conv1", "conv3"] if named else ["0", "2"])


def test_mutables_tree_orders_scopes_and_deduplicates_shared_keys():
    from nni.nas.pytorch.mutables import LayerChoice, MutableScope
    from nni.nas.pytorch.random import RandomMutator

    class Cell(MutableScope):
        def __init__(self):
            super().__init__("cell")
            self.op = LayerChoice([nn.ReLU(), nn.Tanh()], key="shared")
            self.op2 = LayerChoice([nn.ReLU(), nn.Tanh()], key="shared")

        def forward(self, x):
            return self.op2(self.op(x))

    net = nn.Sequential(Cell())
    mutator = RandomMutator(net)
    assert [m.key for m in mutator.mutables] == ["cell", "shared"]
    assert [m.key for m in mutator.undedup_mutables] == ["cell", "shared", "shared"]
    assert [m.key for m in mutator.mutables.traverse(order="post")] == ["shared", "cell"]
    root = mutator.mutables
    assert root.mutable is None and root.children[0].type() is Cell


def test_on_the_darts_space_fixing_in_place_equals_nasnb_fix_and_drops_unused_edges():
    from nni.nas.pytorch.fixed import apply_fixed_architecture
    from nni.nas.pytorch.random import RandomMutator

    import nasnb
    from nasnb.spaces import DARTS

    torch.manual_seed(0)
    net = _counted(DARTS.small)
    mutator = RandomMutator(net)
    mutator.reset()
    arch = mutator.export()
    assert len(arch) == 36
    fresh = _counted(DARTS.small)
    apply_fixed_architecture(fresh, arch)  # DARTS defines example_input(): the dropped edges are known
    reference = _counted(DARTS.small)
    space = nasnb.SearchSpace(reference, keys="nni")
    fixed = space.fix(arch)
    n_params = sum(p.numel() for p in fresh.parameters())
    assert n_params == sum(p.numel() for p in fixed.parameters())
    assert n_params < sum(p.numel() for p in _counted(DARTS.small).parameters())
    unused = space.unused(arch)
    assert len(unused) == 12  # per cell type (keys are shared by the cells of a type): 14 edges, 8 kept
    x = torch.randn(2, 3, 32, 32)
    fresh.eval(), fixed.eval()
    fixed.load_state_dict(fresh.state_dict())
    assert torch.allclose(fresh(x), fixed(x))
