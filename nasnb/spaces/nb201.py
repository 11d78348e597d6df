"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020), written the NNI 1.x way.

A cell has 4 nodes and an edge from every node to every later one; node j sums
``op_ij(node i)`` over i < j, the cell outputs node 3. Each edge is a ``LayerChoice``
over the 5 NB-201 ops with key ``"i_j"`` (NNI v1.9's keys), shared by every cell:
5**6 = 15,625 architectures. The network is NB-201's: a 3x3 stem, three stages of ``N``
cells with C, 2C, 4C channels joined by residual reduction blocks, then BN-ReLU, global
pooling and a linear classifier. :func:`nb201_arch` and :func:`to_nb201_str` convert the
benchmark's architecture strings.

Examples
--------
>>> import nasnb
>>> from nasnb import spaces
>>> space = nasnb.SearchSpace(spaces.NB201.small())
>>> list(space), space.size
(['0_1', '0_2', '1_2', '0_3', '1_3', '2_3'], 15625)
>>> arch = spaces.nb201_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
>>> arch["1_2"], spaces.to_nb201_str(arch).split("+")[1]
('avg_pool_3x3', '|nor_conv_3x3~0|avg_pool_3x3~1|')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .. import ops
from ..mutables import LayerChoice

__all__ = ["NB201", "NB201_OPS", "nb201_arch", "to_nb201_str"]

#: The benchmark's op order.
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_EDGES = [(i, j) for j in range(1, 4) for i in range(j)]  # arch-string order: node 1, node 2, node 3


class _Cell(nn.Module):
    def __init__(self, channels: int, affine: bool, op_names: Sequence[str]):
        super().__init__()
        self.edges = nn.ModuleDict({
            f"{i}_{j}": LayerChoice(ops.candidates(op_names, channels, 1, affine), key=f"{i}_{j}") for i, j in _EDGES
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, 4):
            total = self.edges[f"0_{j}"](nodes[0])
            for i in range(1, j):
                total = total + self.edges[f"{i}_{j}"](nodes[i])
            nodes.append(total)
        return nodes[3]


class _ResidualReduction(nn.Module):
    """NB-201's reduction block: ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN, plus AvgPool2-Conv1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        self.conv_a = ops.ReLUConvBN(c_in, c_out, 3, 2, 1, affine)
        self.conv_b = ops.ReLUConvBN(c_out, c_out, 3, 1, 1, affine)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.downsample(x) + self.conv_b(self.conv_a(x))
        return out


class NB201(nn.Module):
    """The NAS-Bench-201 network with a searchable cell (all cells share its 6 decisions).

    Parameters
    ----------
    C : int
        Channels of the first stage (then 2C, 4C). Default: 16, as in the benchmark.
    N : int
        Cells per stage. Default: 5, as in the benchmark.
    num_classes : int
        Classifier outputs (10 for CIFAR-10, 100, 120 for ImageNet16-120).
    in_channels : int
        Input image channels. Default: 3.
    input_size : int
        Input height and width, used by :meth:`example_input`. Default: 32.
    affine : bool
        Learnable BatchNorm parameters in the cells (the benchmark's trained networks: True).

    Shape:
        ``(N, in_channels, H, W) -> (N, num_classes)``
    """

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10, *, in_channels: int = 3,
                 input_size: int = 32, affine: bool = True, op_names: Sequence[str] = NB201_OPS):
        super().__init__()
        self.in_channels = in_channels
        self.input_size = input_size
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList()
        c_prev = C
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                self.cells.append(_ResidualReduction(c_prev, c, affine))
            for _ in range(N):
                self.cells.append(_Cell(c, affine, op_names))
            c_prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    @classmethod
    def small(cls, **overrides: Any) -> "NB201":
        """4 channels, one cell per stage: the full 15,625-architecture space in milliseconds on a CPU."""
        config: dict[str, Any] = dict(C=4, N=1, num_classes=10)
        config.update(overrides)
        return cls(**config)

    def example_input(self) -> torch.Tensor:
        """One zero image of the configured size."""
        return torch.zeros(1, self.in_channels, self.input_size, self.input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h)
        out: torch.Tensor = self.classifier(self.global_pooling(self.lastact(h)).flatten(1))
        return out


_NODE = re.compile(r"^\|(?:[A-Za-z0-9_]+~\d+\|)+$")


def nb201_arch(arch_str: str) -> dict[str, str]:
    """The architecture of :class:`NB201` that a benchmark string describes.

    ``"|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"``: the k-th ``+``-separated group lists the
    inputs of node k.

    Raises
    ------
    ValueError
        A string not of that form, naming the part that is wrong.
    """
    if not isinstance(arch_str, str):
        raise TypeError(f"nb201_arch expects a string like '|op~0|+|op~0|op~1|+|...|', got {type(arch_str).__name__}")
    groups = arch_str.strip().split("+")
    if len(groups) != 3:
        raise ValueError(f"NB-201 string {arch_str!r} has {len(groups)} node groups; expected 3 separated by '+'")
    arch: dict[str, str] = {}
    for j, group in enumerate(groups, start=1):
        if not _NODE.match(group):
            raise ValueError(f"NB-201 string {arch_str!r}: node {j} group {group!r} is not of the form '|op~i|...|'")
        entries = [e for e in group.split("|") if e]
        inputs = [int(e.rsplit("~", 1)[1]) for e in entries]
        if sorted(inputs) != list(range(j)):
            raise ValueError(f"NB-201 string {arch_str!r}: node {j} takes inputs {inputs}; expected each of 0..{j - 1} once")
        for entry in entries:
            op, i = entry.rsplit("~", 1)
            arch[f"{i}_{j}"] = op
    return {f"{i}_{j}": arch[f"{i}_{j}"] for i, j in _EDGES}


def to_nb201_str(arch: Mapping[str, Any]) -> str:
    """The benchmark string of an :class:`NB201` architecture (inverse of :func:`nb201_arch`)."""
    missing = [f"{i}_{j}" for i, j in _EDGES if f"{i}_{j}" not in arch]
    if missing:
        raise KeyError(f"architecture misses the NB-201 edges {missing}")
    groups = ["|" + "|".join(f"{arch[f'{i}_{j}']}~{i}" for i in range(j)) + "|" for j in range(1, 4)]
    return "+".join(groups)
