"""Candidate operations for search spaces, defined once and built by name.

The DARTS / ENAS / NAS-Bench-201 operations every cell-based space uses, in one registry
(NNI 1.x copied them into three example folders, which then drifted). Each op maps
``(N, C, H, W)`` to ``(N, C, H / stride, W / stride)``.

Examples
--------
>>> import torch
>>> from nasnb import ops
>>> ops.list_ops("sep_*")
['sep_conv_3x3', 'sep_conv_5x5']
>>> op = ops.create_op("sep_conv_3x3", channels=4, stride=2)
>>> op(torch.zeros(1, 4, 8, 8)).shape
torch.Size([1, 4, 4, 4])
>>> candidates = ops.candidates(["max_pool_3x3", "skip_connect"], channels=4)
>>> list(candidates)
['max_pool_3x3', 'skip_connect']
"""

from __future__ import annotations

import fnmatch
import warnings
from collections import OrderedDict
from typing import Callable, Iterable

import torch
from torch import nn

__all__ = [
    "DilConv",
    "FactorizedReduce",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "candidates",
    "create_op",
    "list_ops",
    "register_op",
]

OpFactory = Callable[[int, int, bool], nn.Module]
_REGISTRY: dict[str, OpFactory] = {}


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Register ``factory(channels, stride, affine) -> nn.Module`` under ``name`` (warns on overwrite)."""

    def decorator(factory: OpFactory) -> OpFactory:
        if name in _REGISTRY:
            warnings.warn(f"op {name!r} is already registered; {factory.__qualname__} replaces it", stacklevel=2)
        _REGISTRY[name] = factory
        return factory

    return decorator


def list_ops(pattern: str = "*") -> list[str]:
    """Registered op names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def create_op(name: str, channels: int, stride: int = 1, affine: bool = True) -> nn.Module:
    """Build the op registered as ``name``.

    Raises
    ------
    LookupError
        Unknown name; the message lists the registered ones.
    """
    factory = _REGISTRY.get(name)
    if factory is None:
        raise LookupError(f"no op named {name!r}; registered ops are {list_ops()}")
    if stride not in (1, 2):
        raise ValueError(f"op {name!r}: stride must be 1 or 2, got {stride!r}")
    return factory(channels, stride, affine)


def candidates(names: Iterable[str], channels: int, stride: int = 1, affine: bool = True) -> OrderedDict:
    """``OrderedDict(name -> op)`` ready for ``LayerChoice`` (exports then use the names)."""
    return OrderedDict((n, create_op(n, channels, stride, affine)) for n in names)


class Zero(nn.Module):
    """The "none" op: zeros of the (strided) input's shape."""

    def __init__(self, stride: int = 1):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, BatchNorm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, dilated depthwise convolution, pointwise convolution, BatchNorm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked DilConvs with dilation 1 (DARTS' separable convolution)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convolutions (skip for stride 2)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv1(x), self.conv2(shifted)], dim=1))


def _pool(kind: str) -> OpFactory:
    def build(c: int, stride: int, affine: bool) -> nn.Module:
        if kind == "max":
            return nn.MaxPool2d(3, stride, 1)
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)

    return build


register_op("none")(lambda c, stride, affine: Zero(stride))
register_op("max_pool_3x3")(_pool("max"))
register_op("avg_pool_3x3")(_pool("avg"))
register_op("skip_connect")(lambda c, stride, affine: nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine))
register_op("sep_conv_3x3")(lambda c, stride, affine: SepConv(c, c, 3, stride, 1, affine))
register_op("sep_conv_5x5")(lambda c, stride, affine: SepConv(c, c, 5, stride, 2, affine))
register_op("dil_conv_3x3")(lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine))
register_op("dil_conv_5x5")(lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine))
register_op("conv_1x1")(lambda c, stride, affine: ReLUConvBN(c, c, 1, stride, 0, affine))
register_op("conv_3x3")(lambda c, stride, affine: ReLUConvBN(c, c, 3, stride, 1, affine))
