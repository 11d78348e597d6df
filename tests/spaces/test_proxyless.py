"""ProxylessNAS space: the decisions of NNI v1.9's ``examples/nas/proxylessnas/model.py``.

Expected structures and parameter counts are derived here from NNI's code
(``SearchMobileNet.__init__`` and ``MBInvertedConvLayer``), not from nasnb's modules.
"""

from __future__ import annotations

import pytest
import torch

import nasnb
from nasnb.mutables import Mutable
from nasnb.ops._mobile import MBInvertedConv
from nasnb.spaces import ProxylessNAS
from nasnb.spaces.proxyless import MobileInvertedResidualBlock, _make_divisible

MBCONVS = ("3x3_MBConv3", "3x3_MBConv6", "5x5_MBConv3", "5x5_MBConv6", "7x7_MBConv3", "7x7_MBConv6")


def nni_schedule(width_stages=(24, 40, 80, 96, 192, 320), n_cell_stages=(4, 4, 4, 4, 4, 1),
                 stride_stages=(2, 2, 2, 1, 2, 1), c_in=16):
    """``(key, c_in, c_out, stride, offers_zero)`` per searchable block, as SearchMobileNet builds them."""
    rows = []
    for stage, (width, n_cells, stage_stride) in enumerate(zip(width_stages, n_cell_stages, stride_stages)):
        for i in range(n_cells):
            stride = stage_stride if i == 0 else 1
            rows.append((f"s{stage}_c{i}", c_in, width, stride, stride == 1 and c_in == width))
            c_in = width
    return rows


def mbconv_params(c_in, c_out, kernel, expand):
    """Parameters of NNI's MBInvertedConvLayer (BN with affine weights)."""
    hidden = round(c_in * expand)
    expansion = 0 if expand == 1 else c_in * hidden + 2 * hidden
    return expansion + hidden * kernel * kernel + 2 * hidden + hidden * c_out + 2 * c_out


def fixed_params(arch, schedule, stem=32, first=16, last=1280, n_classes=1000):
    """Parameters of the plain network NNI retrains for ``arch`` (zero layers have none)."""
    total = 3 * stem * 9 + 2 * stem + mbconv_params(stem, first, 3, 1)
    for key, c_in, c_out, _, _ in schedule:
        if arch[key] != "zero":
            total += mbconv_params(c_in, c_out, int(arch[key][0]), int(arch[key][-1]))
    return total + schedule[-1][2] * last + 2 * last + last * n_classes + n_classes


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def default_space():
    torch.manual_seed(0)
    return nasnb.SearchSpace(ProxylessNAS())


@pytest.fixture
def small_space():
    torch.manual_seed(0)
    return nasnb.SearchSpace(ProxylessNAS.small())


def test_keys_and_candidates_follow_nni(default_space):
    schedule = nni_schedule()
    assert list(default_space) == [row[0] for row in schedule]
    assert len(default_space) == 21
    for key, _, _, _, offers_zero in schedule:
        assert default_space[key].names == MBCONVS + (("zero",) if offers_zero else ())
    # NNI's rule (stride 1, same width) leaves zero out of exactly the first block of each stage
    assert [k for k, *_, z in schedule if not z] == ["s0_c0", "s1_c0", "s2_c0", "s3_c0", "s4_c0", "s5_c0"]
    assert default_space.size == 6 ** 6 * 7 ** 15


def test_blocks_follow_nni_channels_strides_and_shortcuts(default_space):
    model = default_space.model
    stem, first = model.first_conv, model.blocks[0]
    assert (stem.conv.in_channels, stem.conv.out_channels, stem.conv.stride) == (3, 32, (2, 2))
    assert isinstance(first, MBInvertedConv) and first.inverted_bottleneck is None
    assert n_params(first) == mbconv_params(32, 16, 3, 1)
    blocks = list(model.blocks)[1:]
    for block, (key, c_in, c_out, stride, offers_zero) in zip(blocks, nni_schedule(), strict=True):
        assert isinstance(block, MobileInvertedResidualBlock)
        assert (block.shortcut is not None) == offers_zero
        choice = block.mobile_inverted_conv
        assert choice.key == key
        for name in MBCONVS:
            op = choice[name]
            assert op.stride == stride and op.kernel_size == int(name[0]) and op.expand_ratio == int(name[-1])
            assert n_params(op) == mbconv_params(c_in, c_out, int(name[0]), int(name[-1])), (key, name)
    assert model.feature_mix_layer.conv.out_channels == 1280 and model.classifier.linear.out_features == 1000
    assert {(m.momentum, m.eps) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {(0.1, 1e-3)}


def test_fixed_default_model_has_the_independently_counted_parameters(default_space):
    arch = default_space.sample(seed=3)
    assert "zero" in arch.values()
    fixed = default_space.fix(arch)
    assert not any(isinstance(m, Mutable) for m in fixed.modules())
    assert n_params(fixed) == fixed_params(arch, nni_schedule())
    assert fixed.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)


def test_mobilenet_v2_layout_has_torchvisions_parameter_count():
    # MobileNetV2 is this space with MobileNetV2's stages and every block 3x3_MBConv6;
    # torchvision documents 3,504,872 parameters for mobilenet_v2
    space = nasnb.SearchSpace(ProxylessNAS(width_stages=(24, 32, 64, 96, 160, 320), n_cell_stages=(2, 3, 4, 3, 3, 1)))
    assert n_params(space.fix({key: "3x3_MBConv6" for key in space})) == 3_504_872


def test_small_runs_forward_and_backward(small_space):
    assert len(small_space) == 9 and small_space.size == 6 ** 6 * 7 ** 3
    x = torch.randn(2, 3, 32, 32)
    out = small_space.model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert small_space.model.first_conv.conv.weight.grad is not None


def test_sampled_architectures_apply_and_run(small_space):
    x = torch.randn(2, 3, 32, 32)
    for seed in range(4):
        arch = small_space.sample(seed)
        small_space.apply(arch)
        assert small_space.current() == arch
        assert torch.isfinite(small_space.model(x)).all()


def test_fixed_model_matches_the_supernet_in_eval_mode(small_space):
    small_space.apply(small_space.sample(seed=1))
    model = small_space.model.eval()
    fixed = small_space.fix().eval()
    assert not any(isinstance(m, Mutable) for m in fixed.modules())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fixed(x), model(x))


def test_zero_reduces_a_block_to_its_shortcut(small_space):
    small_space.apply({key: "zero" if "zero" in spec.names else 0 for key, spec in small_space.items()})
    seen = []

    def check(block, args, out):
        seen.append(torch.equal(out, args[0]))

    residual = [b for b in small_space.model.blocks if getattr(b, "shortcut", None) is not None]
    assert len(residual) == 3
    handles = [b.register_forward_hook(check) for b in residual]
    small_space.model.eval()(torch.randn(1, 3, 32, 32))
    for h in handles:
        h.remove()
    assert seen == [True, True, True]


def test_one_channel_digits_input():
    model = ProxylessNAS.small(in_channels=1)
    out = model(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 10)
    out.sum().backward()


def test_widths_round_like_mobilenet():
    assert [_make_divisible(v) for v in (32 * 0.25, 16 * 0.25, 24 * 1.4, 18, 1280 * 1.4)] == [8, 8, 32, 24, 1792]
    model = ProxylessNAS.small()
    assert model.first_conv.conv.out_channels == 8
    assert [b.mobile_inverted_conv["3x3_MBConv3"].point_linear.conv.out_channels
            for b in list(model.blocks)[1:]] == [8, 16, 16, 16, 16, 24, 24, 24, 32]


def test_stage_lists_must_agree():
    with pytest.raises(ValueError, match="one entry per stage, got lengths 2, 1, 1"):
        ProxylessNAS(width_stages=(8, 16), n_cell_stages=(1,), stride_stages=(2,))
