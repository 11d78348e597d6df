"""Single-Path One-Shot's ShuffleNetV2 space (Guo et al. 2020), as NNI v1.9's example builds it.

A stride-2 stem conv, four stages of ShuffleNetV2 units (4, 4, 8 and 4 by default; the
first unit of each stage has stride 2), a 1x1 conv, global pooling, dropout and a linear
classifier. Each unit is one ``LayerChoice`` over four blocks: ShuffleNet units with
3x3, 5x5 and 7x7 depthwise kernels and the Xception-like unit (three 3x3 depthwise
convs). The choices carry no explicit keys, as in NNI, so a model built first in a
process (or right after another space was bound) accepts NNI's automatic keys
``LayerChoice1`` ... ``LayerChoice20`` as aliases: NNI's ``architecture_final.json``
loads as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .. import ops
from ..mutables import LayerChoice

__all__ = ["SPOS"]


class SPOS(nn.Module):
    """SPOS search space: ShuffleNetV2 (ImageNet layout) with one block choice per unit.

    Same decisions as NNI v1.9's ``ShuffleNetV2OneShot``: ``sum(stage_blocks)``
    LayerChoices (20 by default), in network order, each over :attr:`candidate_names`.
    The first unit of a stage has stride 2 and maps the previous stage's channels (the
    stem's, for the first stage) to the stage's; the others keep them. Blocks use half
    the stage's channels inside. BatchNorm is non-affine by default, as for
    supernet training (NNI retrains the chosen network with ``affine=True``). Weights start
    from NNI's initialisation. Arguments are keyword-only, since NNI's ``input_size`` and
    ``op_flops_path`` are not needed (the global pool adapts to the input size and
    :mod:`nasnb.profile` counts FLOPs).

    Parameters
    ----------
    first_conv_channels : int
        Stem channels.
    last_conv_channels : int
        Channels of the final 1x1 conv.
    n_classes : int
        Classifier outputs.
    affine : bool
        Learnable BatchNorm scale and shift.
    stage_blocks : sequence of int
        Units (decisions) per stage.
    stage_channels : sequence of int
        Output channels per stage (even; each above the previous one).
    dropout_rate : float
        Dropout before the classifier.
    in_channels : int
        Input image channels.

    Examples
    --------
    >>> import torch
    >>> import nasnb
    >>> from nasnb.spaces import SPOS
    >>> space = nasnb.SearchSpace(SPOS.small())
    >>> len(space), space.size == 4 ** 20
    (20, True)
    >>> space["features.0"].names
    ('shufflenet_3x3', 'shufflenet_5x5', 'shufflenet_7x7', 'xception_3x3')
    >>> space.apply(space.sample(seed=0))
    >>> space.model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    #: the four blocks of every unit, in NNI's order
    candidate_names = ("shufflenet_3x3", "shufflenet_5x5", "shufflenet_7x7", "xception_3x3")

    def __init__(
        self,
        *,
        first_conv_channels: int = 16,
        last_conv_channels: int = 1024,
        n_classes: int = 1000,
        affine: bool = False,
        stage_blocks: Sequence[int] = (4, 4, 8, 4),
        stage_channels: Sequence[int] = (64, 160, 320, 640),
        dropout_rate: float = 0.1,
        in_channels: int = 3,
    ):
        super().__init__()
        if len(stage_blocks) != len(stage_channels):
            raise ValueError(f"stage_blocks and stage_channels must have one entry per stage, got lengths "
                             f"{len(stage_blocks)} and {len(stage_channels)}")
        self.first_conv = nn.Sequential(
            nn.Conv2d(in_channels, first_conv_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(first_conv_channels, affine=affine),
            nn.ReLU(),
        )
        units: list[nn.Module] = []
        c_in = first_conv_channels
        for n_units, channels in zip(stage_blocks, stage_channels):
            for i in range(n_units):
                stride = 2 if i == 0 else 1
                units.append(LayerChoice(ops.candidates(self.candidate_names, c_in, stride, affine,
                                                        out_channels=channels)))
                c_in = channels
        self.features = nn.Sequential(*units)
        self.conv_last = nn.Sequential(
            nn.Conv2d(c_in, last_conv_channels, 1, bias=False),
            nn.BatchNorm2d(last_conv_channels, affine=affine),
            nn.ReLU(),
        )
        self.globalpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout_rate)
        self.classifier = nn.Sequential(nn.Linear(last_conv_channels, n_classes, bias=False))
        self._init_weights()

    def _init_weights(self) -> None:
        """NNI's initialisation (from the SPOS reference code)."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01 if name.startswith("first_conv") else 1.0 / m.weight.shape[1])
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                if m.affine:
                    nn.init.ones_(m.weight)
                    nn.init.constant_(m.bias, 1e-4)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @classmethod
    def small(cls, **overrides: Any) -> "SPOS":
        """A tiny configuration for CPUs, notebooks and tests (32x32 or 8x8 inputs, 10 classes).

        The same 20 decisions over stages of 16, 32, 48 and 64 channels, an 8-channel stem
        and a 64-channel last conv; keyword arguments override any constructor argument.
        """
        config: dict[str, Any] = dict(first_conv_channels=8, last_conv_channels=64, n_classes=10,
                                      stage_channels=(16, 32, 48, 64))
        config.update(overrides)
        return cls(**config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_last(self.features(self.first_conv(x)))
        x = self.dropout(torch.flatten(self.globalpool(x), 1))
        out: torch.Tensor = self.classifier(x)
        return out
