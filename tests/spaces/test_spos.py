"""SPOS space: the decisions of NNI v1.9's ``examples/nas/spos/network.py`` and its shipped architecture.

Expected structures and parameter counts are derived here from NNI's code
(``ShuffleNetV2OneShot._make_blocks`` and ``blocks.py``), not from nasnb's modules.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import nasnb
from nasnb import mutables
from nasnb.mutables import Mutable
from nasnb.ops._mobile import ShuffleNetBlock
from nasnb.spaces import SPOS

BLOCKS = ("shufflenet_3x3", "shufflenet_5x5", "shufflenet_7x7", "xception_3x3")

# NNI v1.9 examples/nas/spos/architecture_final.json, verbatim
ARCHITECTURE_FINAL = {
    "LayerChoice1": [False, False, True, False],
    "LayerChoice2": [False, True, False, False],
    "LayerChoice3": [True, False, False, False],
    "LayerChoice4": [False, True, False, False],
    "LayerChoice5": [False, False, True, False],
    "LayerChoice6": [True, False, False, False],
    "LayerChoice7": [False, False, True, False],
    "LayerChoice8": [True, False, False, False],
    "LayerChoice9": [False, False, True, False],
    "LayerChoice10": [True, False, False, False],
    "LayerChoice11": [False, False, True, False],
    "LayerChoice12": [False, False, False, True],
    "LayerChoice13": [True, False, False, False],
    "LayerChoice14": [True, False, False, False],
    "LayerChoice15": [True, False, False, False],
    "LayerChoice16": [True, False, False, False],
    "LayerChoice17": [False, False, False, True],
    "LayerChoice18": [False, False, True, False],
    "LayerChoice19": [False, False, False, True],
    "LayerChoice20": [False, False, False, True],
}
# the same architecture as Megvii's SPOS repository lists it (323M FLOPs, 3.5M parameters)
MEGVII_INDICES = (2, 1, 0, 1, 2, 0, 2, 0, 2, 0, 2, 3, 0, 0, 0, 0, 3, 2, 3, 3)


def nni_schedule(stage_blocks=(4, 4, 8, 4), stage_channels=(64, 160, 320, 640), c_in=16):
    """``(c_in, c_out, stride)`` per unit, as ShuffleNetV2OneShot._make_blocks builds them."""
    rows = []
    for n_units, channels in zip(stage_blocks, stage_channels):
        for i in range(n_units):
            rows.append((c_in if i == 0 else channels, channels, 2 if i == 0 else 1))
        c_in = channels
    return rows


def block_params(choice, inp, oup, stride, affine):
    """Parameters of NNI's ShuffleNetBlock / ShuffleXceptionBlock (mid_channels = oup // 2)."""
    bn = (lambda c: 2 * c) if affine else (lambda c: 0)
    kernel, mid = (3, 5, 7, 3)[choice], oup // 2
    ch = inp // 2 if stride == 1 else inp
    main_out = oup - ch
    if choice < 3:  # "pdp"
        main = ch * mid + bn(mid) + mid * kernel ** 2 + bn(mid) + mid * main_out + bn(main_out)
    else:  # "dpdpdp", 3x3
        main = (ch * 9 + bn(ch) + ch * mid + bn(mid) + mid * 9 + bn(mid) + mid * mid + bn(mid)
                + mid * 9 + bn(mid) + mid * main_out + bn(main_out))
    proj = 0 if stride == 1 else inp * kernel ** 2 + bn(inp) + inp * inp + bn(inp)
    return main + proj


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def final_space():
    """Default-size SPOS with affine BN (NNI's retraining network), built as NNI's first model."""
    mutables._reset_global_mutable_counting()
    torch.manual_seed(0)
    return nasnb.SearchSpace(SPOS(affine=True))


@pytest.fixture
def small_space():
    torch.manual_seed(0)
    return nasnb.SearchSpace(SPOS.small())


def test_keys_and_candidates_follow_nni(final_space):
    assert list(final_space) == [f"features.{i}" for i in range(20)]
    assert final_space.aliases == {f"LayerChoice{i + 1}": f"features.{i}" for i in range(20)}
    assert all(spec.names == BLOCKS for spec in final_space.values())
    assert final_space.size == 4 ** 20


@pytest.mark.parametrize("affine", [False, True])
def test_units_follow_nni_channels_and_strides(final_space, affine):
    model = SPOS() if not affine else final_space.model
    assert (model.first_conv[0].in_channels, model.first_conv[0].out_channels, model.first_conv[0].stride) == (
        3, 16, (2, 2))
    assert all(bn.affine is affine for bn in model.modules() if isinstance(bn, torch.nn.BatchNorm2d))
    for unit, (c_in, c_out, stride) in zip(model.features, nni_schedule(), strict=True):
        for choice, name in enumerate(BLOCKS):
            block = unit[name]
            assert block.stride == stride and block.kernel_size == (3, 5, 7, 3)[choice]
            assert n_params(block) == block_params(choice, c_in, c_out, stride, affine), (unit, name)
    assert model.conv_last[0].out_channels == 1024 and model.classifier[0].out_features == 1000
    assert model.dropout.p == 0.1


def test_nni_architecture_final_loads_and_selects_the_same_blocks(final_space, tmp_path):
    expected = {f"features.{i}": BLOCKS[k] for i, k in enumerate(MEGVII_INDICES)}
    final_space.apply(ARCHITECTURE_FINAL)
    assert final_space.current() == expected
    final_space.apply(final_space.sample(seed=0))
    path = tmp_path / "architecture_final.json"
    path.write_text(json.dumps(ARCHITECTURE_FINAL, indent=2))
    final_space.load(path)
    assert final_space.current() == expected


def test_fixed_final_architecture_matches_nni_and_megvii(final_space):
    fixed = final_space.fix(ARCHITECTURE_FINAL)
    assert not any(isinstance(m, Mutable) for m in fixed.modules())
    units = sum(block_params(k, *row, True) for k, row in zip(MEGVII_INDICES, nni_schedule()))
    expected = 3 * 16 * 9 + 2 * 16 + units + 640 * 1024 + 2 * 1024 + 1024 * 1000
    assert n_params(fixed) == expected == 3_558_464  # Megvii: 3.5M
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        assert fixed.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert round(counter.get_total_flops() / 2 / 1e6) == 323  # multiply-adds; Megvii: 323M FLOPs


def test_small_keeps_the_decisions_and_runs_forward_and_backward(small_space):
    assert len(small_space) == 20 and small_space.size == 4 ** 20
    out = small_space.model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert small_space.model.first_conv[0].weight.grad is not None


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


def test_one_channel_digits_input():
    model = SPOS.small(in_channels=1)
    out = model(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 10)
    out.sum().backward()


def test_stride_one_unit_passes_the_even_channels_through():
    # NNI's channel shuffle: even channels form the shortcut, odd ones feed the main branch
    block = ShuffleNetBlock(8, 8, mid_channels=4, kernel_size=3, stride=1).eval()
    x = torch.randn(1, 8, 4, 4)
    out = block(x)
    torch.testing.assert_close(out[:, :4], x[:, 0::2])
    torch.testing.assert_close(out[:, 4:], block.branch_main(x[:, 1::2]))


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="one entry per stage, got lengths 2 and 1"):
        SPOS(stage_blocks=(1, 1), stage_channels=(16,))
    with pytest.raises(ValueError, match="c_in must be even, got 5"):
        ShuffleNetBlock(5, 8, mid_channels=4, stride=1)
