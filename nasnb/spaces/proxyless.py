"""ProxylessNAS's MobileNetV2-style space (Cai et al. 2019), as NNI v1.9's example builds it.

A stem conv and a fixed 3x3 inverted bottleneck without expansion (NNI's
``3x3_MBConv1``), then stages of inverted-bottleneck blocks. Every block is one
``LayerChoice`` keyed ``"s{stage}_c{index}"`` over six MBConvs (kernel 3, 5, 7 x
expansion 3, 6, in that order), plus ``zero`` where the block keeps stride 1 and width,
so that it has an identity shortcut: choosing ``zero`` reduces the block to that
shortcut, i.e. skips it (the way ProxylessNAS searches depth). With the default stages
the first block of every stage changes width or stride, so it always computes. A 1x1
"feature mix" conv, global pooling and a linear classifier follow.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .. import ops
from ..mutables import LayerChoice
from ..ops._mobile import MBInvertedConv

__all__ = ["MobileInvertedResidualBlock", "ProxylessNAS"]


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor`` (at least ``divisor``), losing at most 10% (MobileNet)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn_relu6(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)),
        ("bn", nn.BatchNorm2d(c_out)),
        ("act", nn.ReLU6()),
    ]))


class MobileInvertedResidualBlock(nn.Module):
    """An inverted-bottleneck op (usually a LayerChoice) plus an optional identity shortcut.

    With a shortcut the block returns ``op(x) + x``, so an op that outputs zeros (the
    ``zero`` candidate) leaves ``x``: NNI's "zero layer" block. Without one it returns
    ``op(x)``.

    Parameters
    ----------
    mobile_inverted_conv : nn.Module
        The op; it must keep the shape of ``x`` when ``shortcut`` is True.
    shortcut : bool
        Add the input to the op's output.

    Shape:
        that of ``mobile_inverted_conv``.

    >>> block = MobileInvertedResidualBlock(ops.create_op("zero", 4), shortcut=True)
    >>> x = torch.ones(1, 4, 2, 2)
    >>> torch.equal(block(x), x)
    True
    """

    def __init__(self, mobile_inverted_conv: nn.Module, shortcut: bool):
        super().__init__()
        self.mobile_inverted_conv = mobile_inverted_conv
        self.shortcut = nn.Identity() if shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.mobile_inverted_conv(x)
        return out if self.shortcut is None else out + self.shortcut(x)


class ProxylessNAS(nn.Module):
    """ProxylessNAS search space over MobileNetV2-style inverted bottlenecks (ImageNet layout).

    Same decisions as NNI v1.9's ``SearchMobileNet``: one LayerChoice per searchable
    block, keyed ``"s{stage}_c{i}"``, with candidates :attr:`candidate_names` (and
    ``"zero"`` when the block has stride 1 and keeps its width). The defaults give 21
    keys, six without and fifteen with ``zero``. Widths are multiplied by ``width_mult``
    and rounded to multiples of 8, as in MobileNetV2; the stem has ``32 * width_mult``
    channels, the fixed first block ``16 * width_mult``. Weights start from NNI's
    ``he_fout`` initialisation and BatchNorms take ``bn_param``.

    Parameters
    ----------
    width_stages : sequence of int
        Output channels of each stage, before ``width_mult``.
    n_cell_stages : sequence of int
        Number of blocks (decisions) in each stage.
    stride_stages : sequence of int
        Stride of each stage's first block.
    width_mult : float
        Width multiplier.
    n_classes : int
        Classifier outputs.
    dropout_rate : float
        Dropout before the classifier (none when 0).
    bn_param : (float, float)
        BatchNorm ``(momentum, eps)``.
    in_channels : int
        Input image channels.
    last_channel : int, optional
        Channels of the feature-mix conv; default NNI's rule, 1280 (scaled by
        ``width_mult`` above 1).

    Examples
    --------
    >>> import torch
    >>> import nasnb
    >>> from nasnb.spaces import ProxylessNAS
    >>> space = nasnb.SearchSpace(ProxylessNAS.small())
    >>> len(space), space.size
    (9, 16003008)
    >>> space["s1_c1"].names
    ('3x3_MBConv3', '3x3_MBConv6', '5x5_MBConv3', '5x5_MBConv6', '7x7_MBConv3', '7x7_MBConv6', 'zero')
    >>> space.apply(space.sample(seed=0))
    >>> space.model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    #: candidates of every searchable block, in NNI's order (``"zero"`` is appended where allowed)
    candidate_names = ("3x3_MBConv3", "3x3_MBConv6", "5x5_MBConv3", "5x5_MBConv6", "7x7_MBConv3", "7x7_MBConv6")

    def __init__(
        self,
        width_stages: Sequence[int] = (24, 40, 80, 96, 192, 320),
        n_cell_stages: Sequence[int] = (4, 4, 4, 4, 4, 1),
        stride_stages: Sequence[int] = (2, 2, 2, 1, 2, 1),
        width_mult: float = 1.0,
        n_classes: int = 1000,
        dropout_rate: float = 0.0,
        bn_param: tuple[float, float] = (0.1, 1e-3),
        *,
        in_channels: int = 3,
        last_channel: int | None = None,
    ):
        super().__init__()
        if not len(width_stages) == len(n_cell_stages) == len(stride_stages):
            raise ValueError(
                f"width_stages, n_cell_stages and stride_stages must have one entry per stage, got lengths "
                f"{len(width_stages)}, {len(n_cell_stages)}, {len(stride_stages)}"
            )
        stem = _make_divisible(32 * width_mult)
        first_cell = _make_divisible(16 * width_mult)
        widths = [_make_divisible(w * width_mult) for w in width_stages]
        if last_channel is None:
            last_channel = _make_divisible(1280 * width_mult) if width_mult > 1.0 else 1280

        self.first_conv = _conv_bn_relu6(in_channels, stem, 3, 2)
        blocks: list[nn.Module] = [MBInvertedConv(stem, first_cell, kernel_size=3, stride=1, expand_ratio=1)]
        c_in = first_cell
        for stage, (width, n_cells, stage_stride) in enumerate(zip(widths, n_cell_stages, stride_stages)):
            for i in range(n_cells):
                stride = stage_stride if i == 0 else 1
                residual = stride == 1 and c_in == width
                names = self.candidate_names + (("zero",) if residual else ())
                choice = LayerChoice(ops.candidates(names, c_in, stride, out_channels=width),
                                     key=f"s{stage}_c{i}")
                blocks.append(MobileInvertedResidualBlock(choice, shortcut=residual))
                c_in = width
        self.blocks = nn.ModuleList(blocks)
        self.feature_mix_layer = _conv_bn_relu6(c_in, last_channel, 1, 1)
        self.global_avg_pooling = nn.AdaptiveAvgPool2d(1)
        head: list[tuple[str, nn.Module]] = [("dropout", nn.Dropout(dropout_rate))] if dropout_rate > 0 else []
        self.classifier = nn.Sequential(OrderedDict(head + [("linear", nn.Linear(last_channel, n_classes))]))
        self._init_weights(*bn_param)

    def _init_weights(self, momentum: float, eps: float) -> None:
        """NNI's ``he_fout`` init and ``set_bn_param``."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                m.momentum, m.eps = momentum, eps
                if m.affine:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    @classmethod
    def small(cls, **overrides: Any) -> "ProxylessNAS":
        """A tiny configuration for CPUs, notebooks and tests (32x32 or 8x8 inputs, 10 classes).

        Widths 8 to 32, stages of 1 or 2 blocks (9 keys, three offering ``zero``), a
        64-channel feature mix; keyword arguments override any constructor argument.
        """
        config: dict[str, Any] = dict(width_stages=(32, 64, 64, 96, 96, 128), n_cell_stages=(1, 2, 2, 1, 2, 1),
                                      width_mult=0.25, last_channel=64, n_classes=10)
        config.update(overrides)
        return cls(**config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        x = self.global_avg_pooling(self.feature_mix_layer(x))
        out: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return out
