"""ProxylessNAS inverted bottlenecks and SPOS ShuffleNetV2 blocks.

Registered names, as in NNI v1.9's examples and the papers:

- ProxylessNAS (Cai et al. 2019): ``{k}x{k}_MBConv{e}`` for kernel ``k`` in 3, 5, 7 and
  expansion ratio ``e`` in 3, 6 (the space's candidates; other ratios, such as the stem
  block's 1, are an :class:`MBInvertedConv` argument), and ``zero``, the op that lets a
  residual block reduce to its shortcut.
- SPOS (Guo et al. 2020): ``shufflenet_3x3``, ``shufflenet_5x5``, ``shufflenet_7x7`` and
  ``xception_3x3``, ShuffleNetV2 blocks whose middle width is ``c_out // 2``.

BatchNorm follows the op's ``affine`` flag (SPOS trains its supernet without affine BN).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from . import OpFactory, register_op
from ._cell import Zero


class MBInvertedConv(nn.Module):
    """MobileNetV2 inverted bottleneck: 1x1 expansion, depthwise ``k x k``, linear 1x1.

    The expansion (conv, BN, ReLU6) widens ``c_in`` to ``round(c_in * expand_ratio)``
    channels and is left out when ``expand_ratio == 1``; the depthwise convolution
    (conv, BN, ReLU6) carries the stride; the pointwise projection (conv, BN) has no
    activation. No residual: the block around it adds the shortcut.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    kernel_size : {3, 5, 7}
        Depthwise kernel (odd; "same" padding).
    stride : {1, 2}
        Stride of the depthwise convolution.
    expand_ratio : int
        Expansion factor of the hidden width.
    affine : bool
        Learnable BatchNorm scale and shift.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))``

    >>> MBInvertedConv(4, 8, kernel_size=5, stride=2, expand_ratio=6)(torch.zeros(1, 4, 8, 8)).shape
    torch.Size([1, 8, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1, expand_ratio: int = 6,
                 affine: bool = True):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"MBInvertedConv needs an odd kernel size, got {kernel_size}")
        hidden = round(c_in * expand_ratio)
        self.kernel_size = kernel_size
        self.stride = stride
        self.expand_ratio = expand_ratio
        self.inverted_bottleneck = None if expand_ratio == 1 else nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(c_in, hidden, 1, bias=False)),
            ("bn", nn.BatchNorm2d(hidden, affine=affine)),
            ("act", nn.ReLU6()),
        ]))
        self.depth_conv = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(hidden, hidden, kernel_size, stride, kernel_size // 2, groups=hidden, bias=False)),
            ("bn", nn.BatchNorm2d(hidden, affine=affine)),
            ("act", nn.ReLU6()),
        ]))
        self.point_linear = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(hidden, c_out, 1, bias=False)),
            ("bn", nn.BatchNorm2d(c_out, affine=affine)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        out: torch.Tensor = self.point_linear(self.depth_conv(x))
        return out

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, expand_ratio={self.expand_ratio}"


class ShuffleNetBlock(nn.Module):
    """ShuffleNetV2 unit as SPOS uses it: a main branch concatenated with a shortcut branch.

    With stride 1 the input's channels are split into even and odd ones (the channel
    shuffle of the previous unit's concatenation): the even half passes unchanged, the odd
    half goes through the main branch. With stride 2 the whole input feeds both branches
    and the shortcut is a strided depthwise conv (BN) and a 1x1 conv (BN, ReLU) that keeps
    the ``c_in`` channels, as in SPOS (which always widens at stride 2); should ``c_out``
    not exceed ``c_in``, the shortcut narrows to ``c_out // 2`` channels instead.

    The main branch follows ``sequence``: ``"p"`` is a 1x1 conv (BN, ReLU), ``"d"`` a
    depthwise ``kernel_size`` conv (BN); the first ``"d"`` carries the stride, the last
    ``"p"`` produces the remaining ``c_out - shortcut`` channels, the other convs have
    ``mid_channels``. ``"pdp"`` is the ShuffleNetV2 unit, ``"dpdpdp"`` the Xception-like one.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels (``c_in`` even for stride 1).
    mid_channels : int
        Width inside the main branch (SPOS: ``c_out // 2``).
    kernel_size : {3, 5, 7}
        Depthwise kernel.
    stride : {1, 2}
        Spatial stride.
    sequence : str
        Main-branch layout, ending in ``"p"``.
    affine : bool
        Learnable BatchNorm scale and shift.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))``

    >>> ShuffleNetBlock(16, 64, mid_channels=32, kernel_size=5, stride=2)(torch.zeros(1, 16, 8, 8)).shape
    torch.Size([1, 64, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, mid_channels: int, kernel_size: int = 3, stride: int = 1,
                 sequence: str = "pdp", affine: bool = True):
        super().__init__()
        if stride == 1 and c_in % 2:
            raise ValueError(f"a stride-1 ShuffleNet block splits its input in two; c_in must be even, got {c_in}")
        if not sequence or set(sequence) - {"p", "d"} or sequence[-1] != "p":
            raise ValueError(f"sequence must be made of 'p' and 'd' and end in 'p', got {sequence!r}")
        if stride == 1:
            self.shortcut_channels = c_in // 2
        else:
            self.shortcut_channels = c_in if c_out > c_in else c_out // 2
        main_in = c_in // 2 if stride == 1 else c_in
        main_out = c_out - self.shortcut_channels
        if self.shortcut_channels < 1 or main_out < 1:
            raise ValueError(f"ShuffleNet block cannot map {c_in} to {c_out} channels with stride {stride}")
        self.kernel_size = kernel_size
        self.stride = stride
        self.sequence = sequence
        pad = kernel_size // 2

        layers: list[nn.Module] = []
        channels, strided = main_in, False
        for i, token in enumerate(sequence):
            if token == "d":
                layers += [nn.Conv2d(channels, channels, kernel_size, 1 if strided else stride, pad,
                                     groups=channels, bias=False),
                           nn.BatchNorm2d(channels, affine=affine)]
                strided = True
            else:
                out = main_out if i == len(sequence) - 1 else mid_channels
                layers += [nn.Conv2d(channels, out, 1, bias=False), nn.BatchNorm2d(out, affine=affine), nn.ReLU()]
                channels = out
        if not strided and stride != 1:
            raise ValueError(f"sequence {sequence!r} has no depthwise conv to carry stride {stride}")
        self.branch_main = nn.Sequential(*layers)
        self.branch_proj = None if stride == 1 else nn.Sequential(
            nn.Conv2d(c_in, c_in, kernel_size, stride, pad, groups=c_in, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.Conv2d(c_in, self.shortcut_channels, 1, bias=False),
            nn.BatchNorm2d(self.shortcut_channels, affine=affine),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch_proj is None:
            shortcut, x = x[:, 0::2], x[:, 1::2]
        else:
            shortcut = self.branch_proj(x)
        return torch.cat((shortcut, self.branch_main(x)), dim=1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, sequence={self.sequence!r}"


class ShuffleXceptionBlock(ShuffleNetBlock):
    """SPOS's Xception-like ShuffleNetV2 unit: main branch ``dpdpdp`` with 3x3 depthwise convs.

    Parameters
    ----------
    c_in, c_out, mid_channels, stride, affine
        As :class:`ShuffleNetBlock`.

    Shape:
        ``(N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))``

    >>> ShuffleXceptionBlock(8, 8, mid_channels=4)(torch.zeros(1, 8, 4, 4)).shape
    torch.Size([1, 8, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, mid_channels: int, stride: int = 1, affine: bool = True):
        super().__init__(c_in, c_out, mid_channels, 3, stride, "dpdpdp", affine)


def _mbconv(kernel: int, expand: int) -> OpFactory:
    def build(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
        return MBInvertedConv(c_in, c_out, kernel, stride, expand, affine)

    build.__qualname__ = f"mbconv_{kernel}x{kernel}_e{expand}_factory"
    return build


def _shufflenet(kernel: int) -> OpFactory:
    def build(c_in: int, c_out: int, stride: int, affine: bool) -> nn.Module:
        return ShuffleNetBlock(c_in, c_out, c_out // 2, kernel, stride, "pdp", affine)

    build.__qualname__ = f"shufflenet_{kernel}x{kernel}_factory"
    return build


for _k in (3, 5, 7):
    for _e in (3, 6):
        register_op(f"{_k}x{_k}_MBConv{_e}")(_mbconv(_k, _e))
    register_op(f"shufflenet_{_k}x{_k}")(_shufflenet(_k))
register_op("xception_3x3")(lambda c_in, c_out, stride, affine: ShuffleXceptionBlock(c_in, c_out, c_out // 2, stride,
                                                                                     affine))
# ProxylessNAS's zero layer: a block choosing it reduces to its shortcut
register_op("zero")(lambda c_in, c_out, stride, affine: Zero(stride, c_out))
del _k, _e
