"""nasnb.spaces.NB201: 15,625 architectures, the benchmark's strings, its macro skeleton."""

from __future__ import annotations

import pytest
import torch

import nasnb
from nasnb import spaces

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_space_has_the_benchmark_size_and_keys():
    space = nasnb.SearchSpace(spaces.NB201.small())
    assert space.size == 15_625 and len(space) == 6
    assert space["2_3"].names == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert len(space.mutables("0_1")) == 3, "one cell per stage in small(), all sharing the decisions"


def test_arch_strings_round_trip_and_bad_strings_are_named():
    arch = spaces.nb201_arch(BEST)
    assert arch == {"0_1": "nor_conv_3x3", "0_2": "nor_conv_3x3", "1_2": "nor_conv_3x3",
                    "0_3": "skip_connect", "1_3": "nor_conv_3x3", "2_3": "nor_conv_3x3"}
    assert spaces.to_nb201_str(arch) == BEST
    space = nasnb.SearchSpace(spaces.NB201.small())
    for seed in range(5):
        a = space.sample(seed=seed)
        assert spaces.nb201_arch(spaces.to_nb201_str(a)) == a
    with pytest.raises(ValueError, match="has 2 node groups"):
        spaces.nb201_arch("|none~0|+|none~0|none~1|")
    with pytest.raises(ValueError, match=r"node 2 takes inputs \[0, 0\]"):
        spaces.nb201_arch("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|")
    with pytest.raises(nasnb.ArchitectureError, match="'0_1'"):
        space.validate(spaces.nb201_arch("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"))


def _expected_params(arch: dict, C: int = 16, N: int = 5, classes: int = 10) -> int:
    """Parameter count of the NB-201 network for ``arch``, from the paper's description."""
    def edge(op, c):
        return {"nor_conv_3x3": 9 * c * c + 2 * c, "nor_conv_1x1": c * c + 2 * c}.get(op, 0)

    total = 3 * C * 9 + 2 * C  # stem
    for stage, c in enumerate((C, 2 * C, 4 * C)):
        if stage:
            cin = c // 2
            total += (9 * cin * c + 2 * c) + (9 * c * c + 2 * c) + cin * c  # residual reduction block
        total += N * sum(edge(op, c) for op in arch.values())
    return total + 2 * 4 * C + 4 * C * classes + classes  # last BN, classifier


def test_fixed_network_has_the_benchmark_skeleton_and_matches_the_space():
    net = spaces.NB201()
    space = nasnb.SearchSpace(net)
    arch = spaces.nb201_arch(BEST)
    fixed = space.fix(arch)
    assert sum(p.numel() for p in fixed.parameters()) == _expected_params(arch)
    small = spaces.NB201.small().eval()
    s = nasnb.SearchSpace(small)
    x = torch.randn(2, 3, 32, 32)
    for seed in range(3):
        s.apply(s.sample(seed=seed))
        assert torch.allclose(s.fix()(x), small(x), atol=1e-5)
    digits = spaces.NB201.small(in_channels=1, input_size=8)
    digits(torch.randn(2, 1, 8, 8)).sum().backward()
