"""nasnb.spaces.DARTS: the DARTS evaluation network's exact size, genotypes, fix = hand-written cell."""

from __future__ import annotations

import pytest
import torch

import nasnb
from nasnb import spaces
from nasnb.fixed import UnusedChoice


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("genotype, expected", [(spaces.DARTS_V2, 3_349_342), (spaces.PDARTS, 3_433_798)])
def test_published_genotypes_have_the_published_parameter_counts(genotype, expected):
    space = nasnb.SearchSpace(spaces.DARTS(36, 20, 10))
    fixed = space.fix(spaces.darts_arch(genotype))
    assert n_params(fixed) == expected
    # the edges each node drops are gone: 6 of 14 per cell, in all 20 cells
    assert sum(isinstance(m, UnusedChoice) for m in fixed.modules()) == 6 * 20


def test_keys_are_nni_keys_shared_by_cells_of_a_kind():
    net = spaces.DARTS.small()  # 5 cells: 3 normal, 2 reduction
    space = nasnb.SearchSpace(net)
    assert len(space) == 2 * (14 + 4)
    assert len(space.mutables("normal_n3_p1")) == 3 and len(space.mutables("reduce_n3_p1")) == 2
    assert space["normal_n5_switch"].names == tuple(f"normal_n5_p{i}" for i in range(5))
    assert space["normal_n5_switch"].n_chosen == 2
    assert space["reduce_n2_p0"].names == spaces.darts.DARTS_OPS
    assert space.size == (8 ** 14 * 1 * 3 * 6 * 10) ** 2


def test_fixed_model_matches_the_mutable_model_and_drops_unused_edges():
    torch.manual_seed(0)
    net = spaces.DARTS.small().eval()
    space = nasnb.SearchSpace(net)
    x = torch.randn(2, 3, 32, 32)
    for seed in range(3):
        arch = space.sample(seed=seed)
        space.apply(arch)
        fixed = space.fix()
        assert torch.allclose(fixed(x), net(x), atol=1e-5)
        assert sum(isinstance(m, UnusedChoice) for m in fixed.modules()) == 6 * 5
        assert not any(isinstance(m, nasnb.mutables.Mutable) for m in fixed.modules())


def test_genotype_round_trip_and_errors():
    for genotype in (spaces.DARTS_V2, spaces.PDARTS):
        back = spaces.to_genotype(spaces.darts_arch(genotype))
        for cell in ("normal", "reduce"):
            want, got = getattr(genotype, cell), getattr(back, cell)
            assert [sorted(want[k:k + 2], key=lambda e: e[1]) for k in range(0, 8, 2)] == \
                [got[k:k + 2] for k in range(0, 8, 2)]
        assert back.normal_concat == [2, 3, 4, 5]
    bad = spaces.Genotype(spaces.DARTS_V2.normal[:6] + [("skip_connect", 1), ("sep_conv_3x3", 1)], [2, 3, 4, 5],
                          spaces.DARTS_V2.reduce, [2, 3, 4, 5])
    with pytest.raises(ValueError, match="normal: node 5 takes input 1 twice"):
        spaces.darts_arch(bad)
    bad = spaces.Genotype(spaces.DARTS_V2.normal, [2, 3, 4, 5], [("max_pool_3x3", 3)] + spaces.DARTS_V2.reduce[1:],
                          [2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"reduce: node 2 takes input 3; expected an int in 0..1"):
        spaces.darts_arch(bad)
    with pytest.raises(nasnb.ArchitectureError, match="normal_n2_p0"):
        nasnb.SearchSpace(spaces.DARTS.small()).validate({**spaces.darts_arch(spaces.DARTS_V2),
                                                          "normal_n2_p0": "sep_conv_9x9"})


def test_auxiliary_head_drop_path_and_digits_configuration():
    net = spaces.DARTS.small(C=8, auxiliary=True, drop_path_prob=0.3)
    assert {m.p for m in net.modules() if isinstance(m, nasnb.ops.DropPath)} == {0.3}
    logits, aux = net(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    (logits.sum() + aux.sum()).backward()
    assert net.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10), "eval returns the logits only"
    with pytest.raises(ValueError, match=r"drop_path_prob must be in \[0, 1\), got 1.5"):
        net.drop_path_prob = 1.5
    digits = spaces.DARTS.small(in_channels=1, input_size=8)
    out = digits(torch.randn(4, 1, 8, 8))
    assert out.shape == (4, 10)


def test_drop_path_spares_identity_edges():
    torch.manual_seed(0)
    genotype = spaces.Genotype([("skip_connect", 0), ("skip_connect", 1)] * 4, [2, 3, 4, 5],
                               spaces.DARTS_V2.reduce, [2, 3, 4, 5])
    net = spaces.DARTS.small(drop_path_prob=0.9)
    space = nasnb.SearchSpace(net)
    space.apply(spaces.darts_arch(genotype))
    cell = net.cells[0].train()
    x = torch.randn(8, 12, 8, 8)
    # identities are never dropped: every node of the all-skip normal cell is s0 + s1 exactly
    out = cell(x, x)
    s = cell.preproc0(x) + cell.preproc1(x)
    assert torch.allclose(out[:, :4], s, atol=1e-5)
