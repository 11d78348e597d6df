"""NNI 1.x debugging flow: RandomMutator(model); reset(); export()."""

from __future__ import annotations

import pytest
import torch

from nasnb.fixed import apply_fixed_architecture
from nasnb.mutator import RandomMutator

from .models import CellNet


def test_random_mutator_reset_export_and_fixed_rebuild():
    torch.manual_seed(0)
    net = CellNet()
    mutator = RandomMutator(net)
    seen = set()
    for _ in range(20):
        mutator.reset()
        out = net(torch.randn(2, 1, 8, 8))
        out.sum().backward()
        seen.add(str(mutator.export()))
    assert len(seen) > 10
    arch = mutator.export()
    fresh = CellNet()
    apply_fixed_architecture(fresh, arch)
    assert fresh(torch.randn(1, 1, 8, 8)).shape == (1, 10)
    assert list(mutator.parameters()) == []


def test_random_mutator_follows_torch_seed_and_refuses_forward():
    net = CellNet()
    mutator = RandomMutator(net)
    torch.manual_seed(1)
    mutator.reset()
    first = mutator.export()
    torch.manual_seed(1)
    mutator.reset()
    assert mutator.export() == first
    with pytest.raises(RuntimeError, match="Forward is undefined for mutators"):
        mutator()


def test_a_subclass_overriding_nni_hooks_is_refused_not_ignored():
    import pytest

    from nasnb.mutator import RandomMutator

    with pytest.raises(TypeError, match=r"overrides \['sample_search'\].*nasnb.compat"):
        class Custom(RandomMutator):
            def sample_search(self):
                return {}
