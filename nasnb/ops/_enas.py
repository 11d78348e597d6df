"""ENAS micro and macro operations (Pham et al. 2018, as NNI v1.9's ENAS examples build them).

Registered names:

- micro cell ops: ``enas_sep_conv_3x3`` and ``enas_sep_conv_5x5`` (ReLU, *one*
  depthwise-separable convolution, BatchNorm; DARTS' ``sep_conv_*`` stacks two). The
  micro space's other candidates are ``avg_pool_3x3``, ``max_pool_3x3`` and
  ``skip_connect`` from :mod:`nasnb.ops._cell`, which ENAS defines the same way.
- macro layer ops ("branches" in the ENAS code): ``enas_conv_branch_3x3``,
  ``enas_sep_conv_branch_3x3``, ``enas_conv_branch_5x5``, ``enas_sep_conv_branch_5x5``,
  ``enas_avg_pool_branch_3x3``, ``enas_max_pool_branch_3x3``. Each first maps its input
  to the output channels with :class:`StdConv` (1x1 conv, BatchNorm, ReLU).

Every ENAS-specific op carries the ``enas_`` prefix, so the DARTS names keep their meaning.

Helpers the spaces use around the ops: :class:`StdConv`, :class:`Calibration` and
:class:`ENASFactorizedReduce` (DARTS' factorized reduce without the leading ReLU).
The ``affine`` argument of the factories sets the last BatchNorm; BatchNorms inside
:class:`StdConv` never learn a scale, as in ENAS.
"""

from __future__ import annotations

import torch
from torch import nn

from . import OpFactory, register_op
from ._cell import FactorizedReduce

__all__ = ["Calibration", "ConvBranch", "ENASFactorizedReduce", "PoolBranch", "SepConvBN", "StdConv"]


class StdConv(nn.Sequential):
    """ENAS' 1x1 projection: 1x1 convolution (no bias), BatchNorm without affine, ReLU.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, H, W)``

    >>> StdConv(4, 6)(torch.zeros(1, 4, 8, 8)).shape
    torch.Size([1, 6, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=False),
            nn.ReLU(),
        )


class Calibration(nn.Module):
    """:class:`StdConv` when the channel counts differ, else the identity.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, H, W)``

    >>> Calibration(4, 4)(torch.zeros(1, 4, 8, 8)).shape, Calibration(4, 4).process is None
    (torch.Size([1, 4, 8, 8]), True)
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.process = StdConv(c_in, c_out) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.process is None else self.process(x)


class ENASFactorizedReduce(FactorizedReduce):
    """Halve the resolution like DARTS' :class:`~nasnb.ops.FactorizedReduce`, without its ReLU.

    Two 1x1 stride-2 convolutions, on the input and on the input shifted by one pixel,
    concatenated, then BatchNorm (not affine by default, as in ENAS).

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / 2), ceil(W / 2))``; ``c_out`` must be even.

    >>> ENASFactorizedReduce(3, 4)(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 4, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = False):
        super().__init__(c_in, c_out, affine)
        self.relu = nn.Identity()


class SepConvBN(nn.Module):
    """ENAS micro's separable convolution: ReLU, depthwise conv, pointwise conv, BatchNorm.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels (the pointwise convolution maps between them).
    kernel : int
        Odd kernel size; padding keeps the resolution ("same").
    stride : int
        Stride of the depthwise convolution (ENAS itself only uses 1).
    affine : bool
        Learnable BatchNorm scale and shift (ENAS: True).

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))``

    >>> SepConvBN(4, 4, 5)(torch.zeros(1, 4, 8, 8)).shape
    torch.Size([1, 4, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, affine: bool = True):
        super().__init__()
        self.relu = nn.ReLU()
        self.depthwise = nn.Conv2d(c_in, c_in, kernel, stride, kernel // 2, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn(self.pointwise(self.depthwise(self.relu(x))))
        return out


class ConvBranch(nn.Module):
    """ENAS macro's convolution branch: StdConv to ``c_out``, a k x k conv, BatchNorm, ReLU.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    kernel : int
        Odd kernel size; padding keeps the resolution ("same").
    stride : int
        Stride of the k x k convolution (ENAS itself only uses 1).
    separable : bool
        Depthwise then pointwise convolution (no bias) instead of a plain one (with bias,
        as in NNI's example).
    affine : bool
        Learnable scale and shift in the final BatchNorm (ENAS: False).

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))``

    >>> ConvBranch(3, 4, 5, separable=True)(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 4, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, separable: bool = False,
                 affine: bool = False):
        super().__init__()
        self.preproc = StdConv(c_in, c_out)
        if separable:
            self.conv: nn.Module = nn.Sequential(
                nn.Conv2d(c_out, c_out, kernel, stride, kernel // 2, groups=c_out, bias=False),
                nn.Conv2d(c_out, c_out, 1, bias=False),
            )
        else:
            self.conv = nn.Conv2d(c_out, c_out, kernel, stride, kernel // 2)
        self.postproc = nn.Sequential(nn.BatchNorm2d(c_out, affine=affine), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.postproc(self.conv(self.preproc(x)))
        return out


class PoolBranch(nn.Module):
    """ENAS macro's pooling branch: StdConv to ``c_out``, 3x3 max or average pool, BatchNorm.

    Average pooling does not count the padding.

    Parameters
    ----------
    kind : {"max", "avg"}
        Pooling type.
    c_in, c_out : int
        Input and output channels.
    stride : int
        Stride of the pool (ENAS itself only uses 1).
    affine : bool
        Learnable scale and shift in the final BatchNorm (ENAS: False).

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))``

    >>> PoolBranch("max", 3, 4, stride=2)(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 4, 4, 4])
    """

    def __init__(self, kind: str, c_in: int, c_out: int, stride: int = 1, affine: bool = False):
        super().__init__()
        if kind not in ("max", "avg"):
            raise ValueError(f"PoolBranch kind must be 'max' or 'avg', got {kind!r}")
        self.kind = kind
        self.preproc = StdConv(c_in, c_out)
        self.pool = nn.MaxPool2d(3, stride, 1) if kind == "max" else nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn(self.pool(self.preproc(x)))
        return out

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


def _sep_conv(kernel: int) -> OpFactory:
    def build(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
        return SepConvBN(c_in, c_out, kernel, stride, affine)

    build.__qualname__ = f"enas_sep_conv_{kernel}x{kernel}_factory"
    return build


def _conv_branch(kernel: int, separable: bool) -> OpFactory:
    def build(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
        return ConvBranch(c_in, c_out, kernel, stride, separable, affine)

    build.__qualname__ = f"enas_{'sep_' if separable else ''}conv_branch_{kernel}x{kernel}_factory"
    return build


def _pool_branch(kind: str) -> OpFactory:
    def build(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
        return PoolBranch(kind, c_in, c_out, stride, affine)

    build.__qualname__ = f"enas_{kind}_pool_branch_3x3_factory"
    return build


for _k in (3, 5):
    register_op(f"enas_sep_conv_{_k}x{_k}")(_sep_conv(_k))
    register_op(f"enas_conv_branch_{_k}x{_k}")(_conv_branch(_k, False))
    register_op(f"enas_sep_conv_branch_{_k}x{_k}")(_conv_branch(_k, True))
for _kind in ("avg", "max"):
    register_op(f"enas_{_kind}_pool_branch_3x3")(_pool_branch(_kind))
del _k, _kind
