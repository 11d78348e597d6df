"""ENAS search spaces (Pham et al. 2018) with the decisions of NNI v1.9's ENAS examples.

- :class:`ENASMicro`: the cell ("micro") space of ``examples/nas/enas/micro.py``. Every
  layer of a type (normal or reduce) shares the keys of its ``num_nodes`` nodes; each
  node has two halves ``x`` and ``y``, each choosing one earlier node
  (``<type>_node_<i>_<half>_input``) and one op (``<type>_node_<i>_<half>_op``).
- :class:`ENASMacro`: the layer-wise ("macro") space of ``examples/nas/enas/macro.py``
  (also ``search_space_zoo.ENASMacroGeneralModel``). Every layer chooses one of six ops
  and, from the second layer on, any subset of the earlier layers as skip connections.
  NNI gives these choices automatic keys (``LayerChoice1``, ``LayerChoice2``,
  ``InputChoice3``, ...); here they are the module paths ``layers.<i>.mutable`` and
  ``layers.<i>.skipconnect`` (NNI's module names), and the automatic keys are accepted
  as aliases by a :class:`~nasnb.SearchSpace` bound right after the model is built.

Both are plain ``nn.Module``\\ s built from :mod:`nasnb.mutables` and :mod:`nasnb.ops`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import ops
from ..mutables import InputChoice, LayerChoice, MutableScope
from ..ops._enas import Calibration, ENASFactorizedReduce, StdConv

__all__ = ["ENASMacro", "ENASMicro"]

#: ENAS micro cell ops, in NNI's order (sep conv 3x3 and 5x5, avg pool, max pool, identity)
MICRO_OPS = ("enas_sep_conv_3x3", "enas_sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "skip_connect")
#: ENAS macro layer ops, in NNI's order
MACRO_OPS = ("enas_conv_branch_3x3", "enas_sep_conv_branch_3x3", "enas_conv_branch_5x5",
             "enas_sep_conv_branch_5x5", "enas_avg_pool_branch_3x3", "enas_max_pool_branch_3x3")


# ----------------------------------------------------------------------------- micro
class _MicroCell(nn.Module):
    """Half a node: pick one earlier node, then apply one op to it; returns ``(out, mask)``."""

    def __init__(self, name: str, prev_labels: list[str], channels: int):
        super().__init__()
        self.input_choice = InputChoice(choose_from=prev_labels, n_chosen=1, return_mask=True, key=name + "_input")
        self.op_choice = LayerChoice(ops.candidates(MICRO_OPS, channels), key=name + "_op")

    def forward(self, prev_nodes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        chosen, mask = self.input_choice(prev_nodes)
        return self.op_choice(chosen), mask


class _MicroNode(MutableScope):
    """A node (scope ``<type>_node_<i>``): the sum of its two halves, and which inputs they used."""

    def __init__(self, name: str, prev_labels: list[str], channels: int):
        super().__init__(name)
        self.cell_x = _MicroCell(name + "_x", prev_labels, channels)
        self.cell_y = _MicroCell(name + "_y", prev_labels, channels)

    def forward(self, prev_nodes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        out_x, mask_x = self.cell_x(prev_nodes)
        out_y, mask_y = self.cell_y(prev_nodes)
        return out_x + out_y, mask_x.bool() | mask_y.bool()


class _MicroLayer(nn.Module):
    """One cell: two calibrated inputs, ``num_nodes`` searched nodes, and a 1x1 conv over the
    concatenation of every node no other node uses (weights picked from a shared tensor)."""

    def __init__(self, num_nodes: int, c_pp: int, c_p: int, channels: int, reduction: bool):
        super().__init__()
        self.num_nodes = num_nodes
        self.preproc0 = Calibration(c_pp, channels)
        self.preproc1 = Calibration(c_p, channels)
        prefix = "reduce" if reduction else "normal"
        labels = [InputChoice.NO_KEY, InputChoice.NO_KEY]
        self.nodes = nn.ModuleList()
        for i in range(num_nodes):
            name = f"{prefix}_node_{i}"
            self.nodes.append(_MicroNode(name, list(labels), channels))
            labels.append(name)
        self.final_conv_w = nn.Parameter(torch.empty(channels, num_nodes + 2, channels, 1, 1))
        nn.init.kaiming_normal_(self.final_conv_w)
        self.bn = nn.BatchNorm2d(channels, affine=False)

    def forward(self, pprev: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [self.preproc0(pprev), self.preproc1(prev)]
        used = torch.zeros(self.num_nodes + 2, dtype=torch.bool, device=prev.device)
        for node in self.nodes:
            out, mask = node(outs)
            used[: mask.numel()] |= mask.to(used.device)
            outs.append(out)
        loose = torch.cat([o for u, o in zip(used.tolist(), outs) if not u], 1)
        weight = self.final_conv_w[:, ~used].reshape(self.final_conv_w.shape[0], -1, 1, 1)
        return prev, self.bn(F.conv2d(F.relu(loose), weight))


class _MicroReduction(nn.Module):
    """Halve both inputs of the next cell (ENAS factorized reduce, no ReLU)."""

    def __init__(self, c_pp: int, c_p: int, channels: int):
        super().__init__()
        self.reduce0 = ENASFactorizedReduce(c_pp, channels)
        self.reduce1 = ENASFactorizedReduce(c_p, channels)

    def forward(self, pprev: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.reduce0(pprev), self.reduce1(prev)


class _AuxiliaryHead(nn.Module):
    """ENAS' auxiliary classifier: ReLU, 5x5/3 average pool, 1x1 convs to 128 and 768, GAP, linear."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.pooling = nn.Sequential(nn.ReLU(), nn.AvgPool2d(5, 3, 2))
        self.proj = nn.Sequential(StdConv(channels, 128), StdConv(128, 768))
        self.fc = nn.Linear(768, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.pooling(x))
        out: torch.Tensor = self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
        return out


class ENASMicro(nn.Module):
    """ENAS micro (cell) search space, as NNI v1.9's ``examples/nas/enas/micro.py``.

    A stem, then ``num_layers + 2`` cells; the cells at ``num_layers // 3`` and
    ``2 * (num_layers // 3) + 1`` are reduction cells, preceded by factorized reductions
    that double the channels. Each cell has ``num_nodes`` nodes; node ``i`` has two
    halves ``x`` and ``y``, and each half chooses one input among the two cell inputs and
    nodes ``0..i-1`` (``<type>_node_<i>_<half>_input``, ``n_chosen=1``) and one op
    (``<type>_node_<i>_<half>_op``) among :data:`OPS`. Nodes no other node uses are
    concatenated and mixed by a 1x1 convolution into the cell output. All normal cells
    share one set of keys, all reduction cells another: ``8 * num_nodes`` keys (when
    ``num_layers >= 1``; otherwise every cell is a reduction cell).

    Parameters
    ----------
    num_layers : int
        Number of cells minus 2 (NNI default 2; its ``search.py`` uses 6).
    num_nodes : int
        Searched nodes per cell.
    out_channels : int
        Channels of the first cells (the stem has 3x as many; each reduction doubles).
    in_channels : int
        Image channels.
    num_classes : int
        Classifier outputs.
    dropout_rate : float
        Dropout before the classifier.
    use_aux_heads : bool
        Add ENAS' auxiliary head after the cell following the second reduction; in
        training ``forward`` then returns ``(logits, aux_logits)``. (NNI's head always
        had 10 outputs; this one has ``num_classes``.)

    Shape:
        ``(N, in_channels, H, W) -> (N, num_classes)``; ``H`` and ``W`` divisible by 4.

    Examples
    --------
    >>> import torch, nasnb
    >>> from nasnb.spaces import ENASMicro
    >>> space = nasnb.SearchSpace(ENASMicro.small())
    >>> len(space), space["normal_node_1_x_input"].names, space.size == (720 ** 4) * 5 ** 20
    (40, ('', '', 'normal_node_0'), True)
    >>> space.apply(space.sample(seed=0))
    >>> space.model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    OPS = MICRO_OPS

    def __init__(self, num_layers: int = 2, num_nodes: int = 5, out_channels: int = 24, in_channels: int = 3,
                 num_classes: int = 10, dropout_rate: float = 0.0, use_aux_heads: bool = False):
        super().__init__()
        self.num_layers = num_layers
        self.use_aux_heads = use_aux_heads
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, out_channels * 3, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels * 3),
        )
        pool_distance = num_layers // 3
        pool_layers = (pool_distance, 2 * pool_distance + 1)
        self.layers = nn.ModuleList()
        c_pp = c_p = out_channels * 3
        c_cur = out_channels
        for layer_id in range(num_layers + 2):
            reduction = layer_id in pool_layers
            if reduction:
                c_cur = c_p * 2
                self.layers.append(_MicroReduction(c_pp, c_p, c_cur))
                c_pp = c_p = c_cur
            self.layers.append(_MicroLayer(num_nodes, c_pp, c_p, c_cur, reduction))
            if use_aux_heads and layer_id == pool_layers[-1] + 1:
                self.layers.append(_AuxiliaryHead(c_cur, num_classes))
            c_pp, c_p = c_p, c_cur
        self.dropout = nn.Dropout(dropout_rate)
        self.dense = nn.Linear(c_cur, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    @classmethod
    def small(cls, **overrides: Any) -> "ENASMicro":
        """A tiny configuration (3 cells of 5 nodes, 4 base channels): the full key set, fast on CPU."""
        return cls(**{"num_layers": 1, "num_nodes": 5, "out_channels": 4, **overrides})

    def forward(self, x: torch.Tensor) -> Any:
        prev = cur = self.stem(x)
        aux_logits = None
        for layer in self.layers:
            if isinstance(layer, _AuxiliaryHead):
                if self.training:
                    aux_logits = layer(cur)
            else:
                prev, cur = layer(prev, cur)
        cur = F.adaptive_avg_pool2d(F.relu(cur), 1).flatten(1)
        logits = self.dense(self.dropout(cur))
        return logits if aux_logits is None else (logits, aux_logits)


# ----------------------------------------------------------------------------- macro
class _MacroLayer(MutableScope):
    """One layer (scope ``layer_<i>``): an op on the previous layer plus chosen skip connections."""

    def __init__(self, key: str, prev_labels: list[str], in_filters: int, out_filters: int):
        super().__init__(key)
        self.mutable = LayerChoice(ops.candidates(MACRO_OPS, in_filters, affine=False, out_channels=out_filters))
        # NNI: layer i lists the scopes layer_0..layer_{i-1}, and is fed [stem, out_0, ..., out_{i-2}]
        self.skipconnect = InputChoice(choose_from=prev_labels, n_chosen=None) if prev_labels else None
        self.batch_norm = nn.BatchNorm2d(out_filters, affine=False)

    def forward(self, prev_layers: list[torch.Tensor]) -> torch.Tensor:
        out = self.mutable(prev_layers[-1])
        if self.skipconnect is not None:
            skip = self.skipconnect(prev_layers[:-1])
            if skip is not None:
                out = out + skip
        normed: torch.Tensor = self.batch_norm(out)
        return normed


class ENASMacro(nn.Module):
    """ENAS macro (layer-wise) search space, as NNI v1.9's ``examples/nas/enas/macro.py``.

    A stem, then ``num_layers`` layers of ``out_filters`` channels; after layers
    ``num_layers // 3 - 1`` and ``2 * (num_layers // 3) - 1`` every output so far is
    halved by a factorized reduction. Layer ``i`` (scope ``layer_<i>``) applies one of
    :data:`OPS` to the previous output (key ``layers.<i>.mutable``, NNI's automatic
    ``LayerChoice<n>``) and, for ``i >= 1``, adds any subset of the earlier outputs
    (key ``layers.<i>.skipconnect``, ``n_chosen=None``, ``choose_from`` the scopes
    ``layer_0..layer_<i-1>``): ``2 * num_layers - 1`` keys. As in NNI, the ``k``-th skip
    candidate is the ``k``-th earlier output counting the stem, so ``layer_0`` names the
    stem output.

    Parameters
    ----------
    num_layers : int
        Searched layers.
    out_filters : int
        Channels of every layer (even).
    in_channels : int
        Image channels.
    num_classes : int
        Classifier outputs.
    dropout_rate : float
        Dropout before the classifier.

    Shape:
        ``(N, in_channels, H, W) -> (N, num_classes)``; ``H`` and ``W`` even at each reduction.

    Examples
    --------
    >>> import torch, nasnb
    >>> from nasnb.spaces import ENASMacro
    >>> space = nasnb.SearchSpace(ENASMacro.small())
    >>> len(space), space.size == 6 ** 6 * 2 ** 15
    (11, True)
    >>> space.apply({"layers.2.mutable": "enas_max_pool_branch_3x3", "layers.2.skipconnect": ["layer_0"]})
    >>> space.model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    OPS = MACRO_OPS

    def __init__(self, num_layers: int = 12, out_filters: int = 24, in_channels: int = 3, num_classes: int = 10,
                 dropout_rate: float = 0.0):
        super().__init__()
        self.num_layers = num_layers
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, out_filters, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_filters),
        )
        pool_distance = num_layers // 3
        self.pool_layers_idx = [pool_distance - 1, 2 * pool_distance - 1]
        self.layers = nn.ModuleList()
        self.pool_layers = nn.ModuleList()
        labels: list[str] = []
        for layer_id in range(num_layers):
            labels.append(f"layer_{layer_id}")
            if layer_id in self.pool_layers_idx:
                self.pool_layers.append(ENASFactorizedReduce(out_filters, out_filters))
            self.layers.append(_MacroLayer(labels[-1], labels[:-1], out_filters, out_filters))
        self.dropout = nn.Dropout(dropout_rate)
        self.dense = nn.Linear(out_filters, num_classes)

    @classmethod
    def small(cls, **overrides: Any) -> "ENASMacro":
        """A tiny configuration (6 layers of 8 channels), fast on CPU."""
        return cls(**{"num_layers": 6, "out_filters": 8, **overrides})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.stem(x)]
        for layer_id, layer in enumerate(self.layers):
            outs.append(layer(outs))
            if layer_id in self.pool_layers_idx:
                reduce = self.pool_layers[self.pool_layers_idx.index(layer_id)]
                outs = [reduce(o) for o in outs]
        cur = F.adaptive_avg_pool2d(outs[-1], 1).flatten(1)
        logits: torch.Tensor = self.dense(self.dropout(cur))
        return logits
