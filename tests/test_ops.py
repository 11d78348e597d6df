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


@pytest.mark.parametrize("name", ops.list_ops())
def test_every_op_documents_its_shape(name):
    op = ops.create_op(name, channels=4)
    documented = [type(m) for m in op.modules() if "Shape:" in (type(m).__doc__ or "")]
    assert documented or type(op).__module__.startswith("torch."), f"{name}: {type(op).__name__} has no Shape section"


@pytest.mark.parametrize("name", [n for n in ops.list_ops() if not n.startswith(("shufflenet", "xception"))])
def test_ops_that_change_channels_say_so_or_do_it(name):
    try:
        op = ops.create_op(name, channels=4, out_channels=8)
    except ValueError as err:
        assert name in str(err) and "channels" in str(err)
        return
    assert op(torch.randn(2, 4, 8, 8)).shape == (2, 8, 8, 8)


def test_unknown_op_and_bad_stride_are_clear():
    with pytest.raises(LookupError, match=r"no op named 'sep_conv_9x9'; registered ops are \[.*'sep_conv_3x3'"):
        ops.create_op("sep_conv_9x9", 4)
    with pytest.raises(ValueError, match=r"op 'conv_3x3': out_channels must be a positive int, got 0"):
        ops.create_op("conv_3x3", 4, out_channels=0)
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        ops.create_op("conv_3x3", 4, stride=3)


def test_register_warns_on_overwrite_and_candidates_keep_order():
    ops.register_op("test_tmp")(lambda c_in, c_out, s, a: nn.Identity())
    try:
        with pytest.warns(UserWarning, match="'test_tmp' is already registered"):
            ops.register_op("test_tmp")(lambda c_in, c_out, s, a: nn.Identity())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cands = ops.candidates(["test_tmp", "none"], channels=2)
        assert list(cands) == ["test_tmp", "none"]
    finally:
        ops._REGISTRY.pop("test_tmp")
