"""Property tests over randomly generated search spaces (hypothesis)."""

from __future__ import annotations

import json
from collections import OrderedDict

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import nasnb
from nasnb.mutables import InputChoice, LayerChoice

_OPS = [lambda: nn.Linear(3, 3), nn.Tanh, nn.Identity, nn.ReLU, nn.Sigmoid]


class RandomNet(nn.Module):
    """A chain of LayerChoices and InputChoices described by ``specs``."""

    def __init__(self, specs):
        super().__init__()
        self.kinds = []
        self.blocks = nn.ModuleList()
        for spec in specs:
            if spec[0] == "layer":
                _, n, named, shared = spec
                ops = [_OPS[j % len(_OPS)]() for j in range(n)]
                cands = OrderedDict((f"op{j}", m) for j, m in enumerate(ops)) if named else ops
                self.blocks.append(LayerChoice(cands, key=f"shared{n}{named}" if shared else None))
                self.kinds.append("layer")
            else:
                _, n, n_chosen, reduction = spec
                self.blocks.append(InputChoice(n_candidates=n, n_chosen=n_chosen, reduction=reduction))
                self.kinds.append("input")

    def forward(self, x):
        for kind, block in zip(self.kinds, self.blocks):
            if kind == "layer":
                x = block(x)
            else:
                out = block([x * (k + 1) for k in range(block.n_candidates)])
                x = x if out is None else out
        return x


layer_spec = st.tuples(st.just("layer"), st.integers(1, 4), st.booleans(), st.booleans())
input_spec = st.integers(1, 3).flatmap(
    lambda n: st.tuples(st.just("input"), st.just(n), st.one_of(st.none(), st.integers(0, n)), st.sampled_from(["sum", "mean"]))
)
specs = st.lists(st.one_of(layer_spec, input_spec), min_size=1, max_size=6)
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(specs, st.integers(0, 2**32 - 1))
def test_export_json_apply_export_is_identity(spec, seed):
    space = nasnb.SearchSpace(RandomNet(spec))
    arch = space.sample(seed=seed)
    space.apply(json.loads(json.dumps(arch)))
    assert space.export() == arch
    assert json.loads(json.dumps(space.export())) == arch


@fast
@given(specs, st.integers(0, 2**32 - 1))
def test_sampled_architectures_validate(spec, seed):
    space = nasnb.SearchSpace(RandomNet(spec))
    arch = space.sample(seed=seed)
    assert space.validate(arch) == arch


@fast
@given(specs)
def test_grid_yields_size_distinct_architectures(spec):
    space = nasnb.SearchSpace(RandomNet(spec))
    if space.size > 300:
        return
    archs = [json.dumps(a, sort_keys=True) for a in space.grid()]
    assert len(archs) == len(set(archs)) == space.size


@fast
@given(specs, st.integers(0, 2**32 - 1))
def test_fixed_outputs_equal_mutable_outputs(spec, seed):
    torch.manual_seed(0)
    net = RandomNet(spec)
    space = nasnb.SearchSpace(net)
    arch = space.sample(seed=seed)
    space.apply(arch)
    x = torch.randn(2, 3)
    assert torch.equal(space.fix(arch)(x), net(x))
