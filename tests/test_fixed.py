"""space.fix and apply_fixed_architecture: plain modules with the same outputs."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import torch
from torch import nn

import nasnb
from nasnb.fixed import FixedInputChoice, FixedLayerChoice, UnusedChoice, apply_fixed_architecture
from nasnb.mutables import InputChoice, Mutable

from .models import CellNet, MaskNet, SeedNet


def _has_mutables(module: nn.Module) -> bool:
    from nasnb.mutables import InputChoice, LayerChoice

    return any(isinstance(m, (LayerChoice, InputChoice)) for m in module.modules())


@pytest.mark.parametrize("arch", [{"conv1": "0", "skipcon": [0]}, {"conv1": "0", "skipcon": []}])
def test_fix_returns_plain_module_with_same_outputs(arch):
    torch.manual_seed(0)
    net = SeedNet().eval()
    space = nasnb.SearchSpace(net)
    fixed = space.fix(arch).eval()
    assert not _has_mutables(fixed)
    assert isinstance(fixed.conv1, nn.Conv2d)
    space.apply(arch)
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(fixed(x), net(x))


def test_fix_copies_only_chosen_weights_and_leaves_model_mutable():
    net = SeedNet()
    space = nasnb.SearchSpace(net)
    fixed = space.fix({"conv1": "1", "skipcon": [0]})
    assert torch.equal(fixed.conv1.weight, net.conv1[1].weight)
    assert fixed.conv1.weight.data_ptr() != net.conv1[1].weight.data_ptr()
    total = sum(p.numel() for p in fixed.parameters())
    assert total == sum(p.numel() for p in net.parameters()) - net.conv1[0].weight.numel() - net.conv1[0].bias.numel()
    assert isinstance(net.conv1, Mutable), "the model itself stays a search space"
    assert space.current()["conv1"] == 0, "fixing does not apply"


def test_fix_default_is_current_architecture_and_validates():
    net = CellNet().eval()
    space = nasnb.SearchSpace(net)
    arch = space.sample(seed=1)
    space.apply(arch)
    x = torch.randn(2, 1, 8, 8)
    want = net(x)
    assert torch.allclose(space.fix()(x), want)
    with pytest.raises(nasnb.ArchitectureError, match="'normal_n0_switch': got '<missing>'"):
        space.fix({"normal_n0_p0": "skip"})


def test_fixed_input_choice_keeps_nni_attributes_and_returns_none():
    net = SeedNet()
    fixed = nasnb.SearchSpace(net).fix({"conv1": 0, "skipcon": []})
    sel = fixed.skipcon
    assert isinstance(sel, FixedInputChoice)
    assert (sel.n_candidates, sel.choose_from, sel.n_chosen, sel.key) == (1, [""], None, "skipcon")
    assert sel([torch.ones(1)]) is None


def test_fix_keeps_masks_lists_and_dict_inputs():
    net = MaskNet()
    space = nasnb.SearchSpace(net)
    arch = {"op": "1", "listop": "0", "pick": ["listop"]}
    space.apply(arch)
    x = torch.randn(2, 4)
    want = net(x)
    assert space.unused() == [], "'op' returns its mask as a model output, so it is never dropped"
    fixed = space.fix()
    assert isinstance(fixed.op, FixedLayerChoice) and isinstance(fixed.listop, FixedLayerChoice)
    for got, expected in zip(fixed(x), want):
        assert torch.equal(got, expected)
    assert repr(fixed.op).startswith("FixedLayerChoice(\n  key='op', chosen=1\n  (module): ")


def test_fixed_model_deepcopies_pickles_traces_and_compiles():
    torch.manual_seed(0)
    fixed = nasnb.SearchSpace(SeedNet()).fix({"conv1": "0", "skipcon": [0]}).eval()
    x = torch.randn(2, 1, 28, 28)
    want = fixed(x)
    assert torch.equal(copy.deepcopy(fixed)(x), want)
    assert torch.equal(pickle.loads(pickle.dumps(fixed))(x), want)
    traced = torch.jit.trace(fixed, x)
    assert torch.allclose(traced(x), want)


@pytest.mark.slow
def test_fixed_model_runs_under_torch_compile():
    torch.manual_seed(0)
    fixed = nasnb.SearchSpace(SeedNet()).fix({"conv1": "0", "skipcon": []}).eval()
    x = torch.randn(2, 1, 28, 28)
    compiled = torch.compile(fixed, backend="eager")
    assert torch.allclose(compiled(x), fixed(x))


def test_apply_fixed_architecture_in_place(tmp_path):
    torch.manual_seed(0)
    net = SeedNet().eval()
    reference = copy.deepcopy(net)
    nasnb.SearchSpace(reference).apply({"conv1": "0", "skipcon": []})
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"conv1": 0, "skipcon": []}))
    assert apply_fixed_architecture(net, str(path)) == {"conv1": 0, "skipcon": []}
    assert isinstance(net.conv1, nn.Conv2d) and isinstance(net.skipcon, FixedInputChoice)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(net(x), reference(x))


def test_apply_fixed_architecture_reports_problems_and_leaves_model():
    net = CellNet()
    with pytest.raises(nasnb.ArchitectureError, match="missing"):
        apply_fixed_architecture(net, {"normal_n0_p0": "skip", "bogus": 1})
    assert isinstance(net.cell0.switches[0], InputChoice)


def test_shared_keys_fix_consistently():
    net = CellNet().eval()
    space = nasnb.SearchSpace(net)
    arch = space.sample(seed=7)
    fixed = space.fix(arch, example_input=torch.zeros(1, 1, 8, 8))
    used = arch["normal_n1_switch"]
    for i, key in enumerate(f"normal_n1_p{i}" for i in range(3)):
        want = type(net.cell0.edges[1][i][arch[key]]) if key in used else UnusedChoice
        assert type(fixed.cell0.edges[1][i]) is type(fixed.cell1.edges[1][i]) is want


def test_fix_keeps_tied_weights_buffers_and_plain_attributes():
    shared = nn.Linear(3, 3)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = shared
            self.choice = nasnb.mutables.LayerChoice([nn.Sequential(shared, nn.BatchNorm1d(3)), nn.Identity()], key="c")
            self.names = ["x", "y"]  # a mutable plain attribute must be copied, not shared

        def forward(self, x):
            return self.choice(self.a(x))

    net = Tied().eval()
    fixed = nasnb.SearchSpace(net).fix({"c": "0"})
    assert fixed.a is fixed.choice[0], "a module used twice stays one module"
    assert fixed.a.weight is not net.a.weight
    assert torch.equal(fixed.choice[1].running_var, net.choice[0][1].running_var)
    assert fixed.names == net.names and fixed.names is not net.names
    fixed.a.weight.data.zero_()
    assert net.a.weight.abs().sum() > 0, "weights are copies"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mutable_and_fixed_models_on_gpu():
    torch.manual_seed(0)
    net = MaskNet().cuda()
    space = nasnb.SearchSpace(net)
    space.apply({"op": 0, "listop": 1, "pick": ["listop"]})
    x = torch.randn(2, 4, device="cuda")
    out, mask, pick_mask = net(x)
    assert out.is_cuda and mask.is_cuda and pick_mask.is_cuda
    fixed = space.fix()
    for got, want in zip(fixed(x), net(x)):
        assert torch.equal(got, want)
    seed = SeedNet().cuda().eval()
    xs = torch.randn(2, 1, 28, 28, device="cuda")
    assert torch.allclose(nasnb.SearchSpace(seed).fix()(xs), seed(xs))
