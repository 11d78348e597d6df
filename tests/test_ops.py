"""Contract tests over every registered op."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from nasnb import ops


@pytest.mark.parametrize("name", ops.list_ops())
@pytest.mark.parametrize("stride", [1, 2])
def test_every_op_keeps_channels_and_strides(name, stride):
    op = ops.create_op(name, channels=4, stride=stride)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    out = op(x)
    assert out.shape == (2, 4, 8 // stride, 8 // stride)
    out.sum().backward()
    assert x.grad is not None


def test_unknown_op_and_bad_stride_are_clear():
    with pytest.raises(LookupError, match=r"no op named 'sep_conv_7x7'; registered ops are \['avg_pool_3x3'"):
        ops.create_op("sep_conv_7x7", 4)
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        ops.create_op("conv_3x3", 4, stride=3)


def test_register_warns_on_overwrite_and_candidates_keep_order():
    ops.register_op("test_tmp")(lambda c, s, a: nn.Identity())
    try:
        with pytest.warns(UserWarning, match="'test_tmp' is already registered"):
            ops.register_op("test_tmp")(lambda c, s, a: nn.Identity())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cands = ops.candidates(["test_tmp", "none"], channels=2)
        assert list(cands) == ["test_tmp", "none"]
    finally:
        ops._REGISTRY.pop("test_tmp")
