"""DARTS and NAS-Bench-201 cell operations (the original definitions of both papers).

Registered names: DARTS ``none``, ``max_pool_3x3``, ``avg_pool_3x3``, ``skip_connect``,
``sep_conv_3x3/5x5/7x7``, ``dil_conv_3x3/5x5``, ``conv_7x1_1x7``, ``conv_1x1``,
``conv_3x3``; NAS-Bench-201 ``nor_conv_1x1``, ``nor_conv_3x3`` (its ``none``,
``skip_connect`` and ``avg_pool_3x3`` are the DARTS ones, which NB-201 defines the same
way). Pools carry no BatchNorm, convolutions no bias, as in both papers' evaluation
networks.
"""

from __future__ import annotations

import torch
from torch import nn

from . import OpFactory, register_op


class Zero(nn.Module):
    """The ``none`` op: zeros shaped like the op's output (no parameters).

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))``

    >>> Zero(stride=2)(torch.ones(1, 2, 5, 5)).shape
    torch.Size([1, 2, 3, 3])
    """

    def __init__(self, stride: int = 1, out_channels: int | None = None):
        super().__init__()
        self.stride = stride
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_channels is not None and self.out_channels != x.shape[1]:
            n, _, h, w = x.shape
            s = self.stride
            return x.new_zeros(n, self.out_channels, (h + s - 1) // s, (w + s - 1) // s)
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution (no bias), BatchNorm.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, H', W')`` with the convolution's usual ``H'``.

    >>> ReLUConvBN(2, 4, 3, 2, 1)(torch.zeros(1, 2, 8, 8)).shape
    torch.Size([1, 4, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True,
                 dilation: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, dilated depthwise convolution, pointwise convolution, BatchNorm.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, H / stride, W / stride)`` with "same" padding.

    >>> DilConv(2, 4, 3, 1, 2, 2)(torch.zeros(1, 2, 8, 8)).shape
    torch.Size([1, 4, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """DARTS' separable convolution: two stacked DilConvs with dilation 1, the first strided.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, H / stride, W / stride)`` with "same" padding.

    >>> SepConv(2, 2, 5, 2, 2)(torch.zeros(1, 2, 8, 8)).shape
    torch.Size([1, 2, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convolutions (DARTS' strided skip).

    ReLU, then one 1x1 conv on the input and one on the input shifted by a pixel, each
    producing half the output channels, concatenated, then BatchNorm.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / 2), ceil(W / 2))``; ``c_out`` must be even.

    >>> FactorizedReduce(3, 4)(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 4, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu: nn.Module = nn.ReLU(inplace=False)  # ENASFactorizedReduce swaps in an Identity
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        out: torch.Tensor = self.bn(torch.cat([self.conv1(x), self.conv2(shifted)], dim=1))
        return out


class DropPath(nn.Module):
    """Drop the whole output of an op for a random subset of samples (DARTS' drop-path).

    In training with ``p > 0`` each sample's output is zeroed with probability ``p`` and the
    rest scaled by ``1 / (1 - p)``; otherwise the identity. ``p`` may change between epochs.

    Shape:
        any ``(N, ...)`` to the same shape.

    >>> DropPath(0.5).eval()(torch.ones(2, 3)).sum().item()
    6.0
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x / keep * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _Conv7x1x7(nn.Sequential):
    """DARTS' ``conv_7x1_1x7``: ReLU, 1x7 conv, 7x1 conv, BatchNorm."""

    def __init__(self, c_in: int, c_out: int, stride: int, affine: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c_in, c_out, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


def _pool(kind: str, name: str) -> OpFactory:
    def build(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
        pool = nn.MaxPool2d(3, stride, 1) if kind == "max" else nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        if c_in == c_out:
            return pool
        # NAS-Bench-201: a pool asked to change channels first projects with ReLU-Conv1x1-BN
        return nn.Sequential(ReLUConvBN(c_in, c_out, 1, 1, 0, affine), pool)

    build.__qualname__ = f"{name}_factory"
    return build


def _skip(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    if stride == 1:
        return ReLUConvBN(c_in, c_out, 1, 1, 0, affine)
    return FactorizedReduce(c_in, c_out, affine)


register_op("none")(lambda c_in, c_out, stride, affine: Zero(stride, c_out))
register_op("max_pool_3x3")(_pool("max", "max_pool_3x3"))
register_op("avg_pool_3x3")(_pool("avg", "avg_pool_3x3"))
register_op("skip_connect")(_skip)
register_op("sep_conv_3x3")(lambda c_in, c_out, stride, affine: SepConv(c_in, c_out, 3, stride, 1, affine))
register_op("sep_conv_5x5")(lambda c_in, c_out, stride, affine: SepConv(c_in, c_out, 5, stride, 2, affine))
register_op("sep_conv_7x7")(lambda c_in, c_out, stride, affine: SepConv(c_in, c_out, 7, stride, 3, affine))
register_op("dil_conv_3x3")(lambda c_in, c_out, stride, affine: DilConv(c_in, c_out, 3, stride, 2, 2, affine))
register_op("dil_conv_5x5")(lambda c_in, c_out, stride, affine: DilConv(c_in, c_out, 5, stride, 4, 2, affine))
register_op("conv_7x1_1x7")(lambda c_in, c_out, stride, affine: _Conv7x1x7(c_in, c_out, stride, affine))
register_op("conv_1x1")(lambda c_in, c_out, stride, affine: ReLUConvBN(c_in, c_out, 1, stride, 0, affine))
register_op("conv_3x3")(lambda c_in, c_out, stride, affine: ReLUConvBN(c_in, c_out, 3, stride, 1, affine))
# NAS-Bench-201's names for ReLU-Conv-BN
register_op("nor_conv_1x1")(lambda c_in, c_out, stride, affine: ReLUConvBN(c_in, c_out, 1, stride, 0, affine))
register_op("nor_conv_3x3")(lambda c_in, c_out, stride, affine: ReLUConvBN(c_in, c_out, 3, stride, 1, affine))
