"""The DARTS CNN search space (Liu et al., ICLR 2019), written the NNI 1.x way.

Every edge of a cell is a ``LayerChoice`` over the DARTS ops (key ``normal_n3_p1``: node
3 of the normal cell, input 1) and every intermediate node an
``InputChoice(choose_from=<its edge keys>, n_chosen=2)`` (key ``normal_n3_switch``), as
in NNI v1.9's DARTS example. All normal cells share one set of keys and all reduction
cells another, so an architecture is a DARTS genotype; each cell keeps its own weights.
The ops are the original DARTS definitions (:mod:`nasnb.ops`). Fixed, the network is
DARTS' evaluation network: the edges a node drops are neither kept nor run.

Examples
--------
>>> import torch, nasnb
>>> from nasnb import spaces
>>> net = spaces.DARTS.small()
>>> space = nasnb.SearchSpace(net)
>>> len(space), net(torch.zeros(2, 3, 32, 32)).shape
(36, torch.Size([2, 10]))
>>> fixed = space.fix(spaces.darts_arch(spaces.DARTS_V2))
>>> sum(isinstance(m, nasnb.fixed.UnusedChoice) for m in fixed.modules())  # 6 dropped edges x 5 cells
30
>>> spaces.to_genotype(space.current()).normal[:2]
[('max_pool_3x3', 0), ('max_pool_3x3', 1)]
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .. import ops
from ..mutables import InputChoice, LayerChoice

__all__ = ["DARTS", "DARTS_OPS", "DARTS_V2", "Genotype", "PDARTS", "darts_arch", "to_genotype"]

#: The DARTS repository's genotype: ``normal``/``reduce`` are ``(op_name, input_index)``
#: pairs, two per node; input 0 is c_{k-2}, 1 is c_{k-1}, 2.. the earlier nodes.
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

#: Candidates on every edge: the 7 DARTS ops, then ``none`` (last, so the default
#: architecture computes something).
DARTS_OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
             "dil_conv_3x3", "dil_conv_5x5", "none")

#: The published DARTS (second order) genotype, from the DARTS repository.
DARTS_V2 = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)

#: The published P-DARTS (CIFAR-10) genotype, from the P-DARTS repository.
PDARTS = Genotype(
    normal=[("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("dil_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2),
            ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("dil_conv_3x3", 1), ("dil_conv_5x5", 3)],
    reduce_concat=[2, 3, 4, 5],
)


def _is_identity(op: nn.Module) -> bool:
    return isinstance(getattr(op, "active", op), nn.Identity)


class _Node(nn.Module):
    """One intermediate node: an op per earlier state, drop-path, then keep 2 of the edges."""

    def __init__(self, node_id: str, n_prev: int, channels: int, reduction: bool, affine: bool,
                 op_names: Sequence[str]):
        super().__init__()
        keys = [f"{node_id}_p{i}" for i in range(n_prev)]
        self.ops = nn.ModuleList(
            LayerChoice(ops.candidates(op_names, channels, 2 if reduction and i < 2 else 1, affine), key=k)
            for i, k in enumerate(keys)
        )
        self.drop_path = ops.DropPath(0.0)
        self.input_switch = InputChoice(choose_from=keys, n_chosen=2, key=f"{node_id}_switch")

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        outs = [op(s) for op, s in zip(self.ops, states)]
        if self.training and self.drop_path.p > 0:  # DARTS drops the path of every op but the identity
            outs = [o if o is None or _is_identity(op) else self.drop_path(o) for o, op in zip(outs, self.ops)]
        out: torch.Tensor = self.input_switch(outs)
        return out


class _Cell(nn.Module):
    def __init__(self, n_nodes: int, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool,
                 affine: bool, op_names: Sequence[str]):
        super().__init__()
        self.reduction = reduction
        # after a reduction cell, c_{k-2} has twice the resolution of c_{k-1}
        self.preproc0 = (ops.FactorizedReduce(c_pp, c, affine) if reduction_prev
                         else ops.ReLUConvBN(c_pp, c, 1, 1, 0, affine))
        self.preproc1 = ops.ReLUConvBN(c_p, c, 1, 1, 0, affine)
        prefix = "reduce" if reduction else "normal"
        self.nodes = nn.ModuleList(
            _Node(f"{prefix}_n{d}", d, c, reduction, affine, op_names) for d in range(2, 2 + n_nodes)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preproc0(s0), self.preproc1(s1)]
        for node in self.nodes:
            states.append(node(states))
        return torch.cat(states[2:], dim=1)


class _AuxiliaryHead(nn.Module):
    """DARTS' auxiliary classifier on the 8x8 features after the second reduction cell."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.features(x).flatten(1))
        return out


class DARTS(nn.Module):
    """The DARTS CNN space: a stem, ``layers`` cells (two of them reduction cells), a classifier.

    Search size is ``DARTS(16, 8, 10, affine=False)``; evaluation size on CIFAR-10 is
    ``DARTS(36, 20, 10, auxiliary=True, drop_path_prob=0.2)``. Fixed to a genotype
    (:func:`darts_arch`), the network is the DARTS repository's ``NetworkCIFAR``: same
    modules, same parameter count (3,349,342 for :data:`DARTS_V2` at C=36, 20 layers).

    Parameters
    ----------
    C : int
        Channels of the first cells (doubled at each reduction cell).
    layers : int
        Number of cells; those at ``layers // 3`` and ``2 * layers // 3`` are reduction cells.
    num_classes : int
        Classifier outputs.
    auxiliary : bool
        Add DARTS' auxiliary head after the second reduction cell; in training the forward
        then returns ``(logits, aux_logits)``. Needs 8x8 features there (32x32 inputs).
    in_channels : int
        Input image channels. Default: 3.
    input_size : int
        Input height and width, used by :meth:`example_input`. Default: 32.
    n_nodes : int
        Intermediate nodes per cell. Default: 4.
    stem_multiplier : int
        The stem outputs ``stem_multiplier * C`` channels. Default: 3.
    affine : bool
        Learnable BatchNorm affine parameters (DARTS' search network uses False). Default: True.
    drop_path_prob : float
        Drop-path probability on every op that is not an identity, in training.
    op_names : sequence of str
        Candidates of every edge (names in :mod:`nasnb.ops`). Default: :data:`DARTS_OPS`.

    Shape:
        ``(N, in_channels, H, W) -> (N, num_classes)``
    """

    def __init__(self, C: int = 16, layers: int = 8, num_classes: int = 10, auxiliary: bool = False, *,
                 in_channels: int = 3, input_size: int = 32, n_nodes: int = 4, stem_multiplier: int = 3,
                 affine: bool = True, drop_path_prob: float = 0.0, op_names: Sequence[str] = DARTS_OPS):
        super().__init__()
        if layers < 3:
            raise ValueError(f"DARTS needs layers >= 3 (two reduction cells and a normal one), got {layers}")
        self.in_channels = in_channels
        self.input_size = input_size
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        self.aux_position = 2 * layers // 3
        c_aux = c_p
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(_Cell(n_nodes, c_pp, c_p, c_curr, reduction, reduction_prev, affine, op_names))
            reduction_prev = reduction
            c_pp, c_p = c_p, n_nodes * c_curr
            if i == self.aux_position:
                c_aux = c_p
        self.auxiliary_head = _AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        self.drop_path_prob = drop_path_prob

    @classmethod
    def small(cls, **overrides: Any) -> "DARTS":
        """4 channels, 5 cells: the full set of 36 decisions, forward+backward in milliseconds on a CPU."""
        config: dict[str, Any] = dict(C=4, layers=5, num_classes=10)
        config.update(overrides)
        return cls(**config)

    @property
    def drop_path_prob(self) -> float:
        """Drop-path probability of every cell (DARTS raises it linearly over the epochs)."""
        return self._drop_path_prob

    @drop_path_prob.setter
    def drop_path_prob(self, p: float) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {p!r}")
        self._drop_path_prob = p
        for m in self.modules():
            if isinstance(m, ops.DropPath):
                m.p = p

    def example_input(self) -> torch.Tensor:
        """One zero image of the configured size (``SearchSpace.fix`` probes the data flow with it)."""
        return torch.zeros(1, self.in_channels, self.input_size, self.input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_position and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits if aux is None else (logits, aux)


def _cell_keys(arch_or_space: Any, prefix: str) -> list[int]:
    nodes = sorted({int(k.split("_n")[1].split("_")[0]) for k in arch_or_space if k.startswith(f"{prefix}_n")})
    return nodes


def darts_arch(genotype: Genotype, n_nodes: int = 4, unused_op: str = "none") -> dict[str, Any]:
    """The architecture of :class:`DARTS` that a DARTS-repository genotype describes.

    Edges a node does not keep get ``unused_op`` (they are neither kept nor run when
    fixed, whatever they hold).

    Raises
    ------
    ValueError
        A node without exactly two edges, an input index that is not an earlier state,
        or a node taking the same input twice (one edge per input pair in this space).

    >>> arch = darts_arch(DARTS_V2)
    >>> arch["normal_n2_p0"], arch["normal_n2_switch"], arch["reduce_n5_p1"]
    ('sep_conv_3x3', ['normal_n2_p0', 'normal_n2_p1'], 'max_pool_3x3')
    """
    arch: dict[str, Any] = {}
    for prefix, edges, concat in (("normal", genotype.normal, genotype.normal_concat),
                                  ("reduce", genotype.reduce, genotype.reduce_concat)):
        edges = list(edges)
        if len(edges) != 2 * n_nodes:
            raise ValueError(f"genotype.{prefix} has {len(edges)} edges, expected 2 per node ({2 * n_nodes})")
        if list(concat) != list(range(2, 2 + n_nodes)):
            raise ValueError(f"genotype.{prefix}_concat is {list(concat)}; this space concatenates every "
                             f"intermediate node, {list(range(2, 2 + n_nodes))}")
        for d in range(2, 2 + n_nodes):
            pair = edges[2 * (d - 2): 2 * (d - 1)]
            node = f"{prefix}_n{d}"
            for i in range(d):
                arch[f"{node}_p{i}"] = unused_op
            chosen = []
            for op, index in pair:
                if not (isinstance(index, int) and 0 <= index < d):
                    raise ValueError(f"genotype.{prefix}: node {d} takes input {index!r}; expected an int in 0..{d - 1}")
                if index in chosen:
                    raise ValueError(f"genotype.{prefix}: node {d} takes input {index} twice; this space has one "
                                     f"edge per pair of states")
                chosen.append(index)
                arch[f"{node}_p{index}"] = op
            arch[f"{node}_switch"] = [f"{node}_p{i}" for i in sorted(chosen)]
    return arch


def to_genotype(arch: Mapping[str, Any]) -> Genotype:
    """The DARTS-repository genotype of an architecture of :class:`DARTS` (inverse of :func:`darts_arch`).

    The two edges of a node come in input order (an architecture does not keep the
    genotype's order within a node).

    >>> to_genotype(darts_arch(PDARTS)).reduce[:2]
    [('avg_pool_3x3', 0), ('sep_conv_5x5', 1)]
    """
    parts: dict[str, list[tuple[str, int]]] = {}
    concat: dict[str, list[int]] = {}
    for prefix in ("normal", "reduce"):
        nodes = _cell_keys(arch, prefix)
        if not nodes:
            raise KeyError(f"architecture has no '{prefix}_n<d>_switch' keys; is it an architecture of spaces.DARTS?")
        parts[prefix] = []
        for d in nodes:
            switch = arch.get(f"{prefix}_n{d}_switch")
            if switch is None:
                raise KeyError(f"architecture misses {prefix}_n{d}_switch")
            for source in switch:
                index = int(str(source).rsplit("_p", 1)[1]) if isinstance(source, str) else int(source)
                parts[prefix].append((arch[f"{prefix}_n{d}_p{index}"], index))
        concat[prefix] = list(nodes)
    return Genotype(parts["normal"], concat["normal"], parts["reduce"], concat["reduce"])
