"""Search spaces written like NNI 1.x's examples run unchanged (only the import differs).

Each model follows one example of NNI v1.9's ``examples/nas`` (ENAS macro and micro,
TextNAS, NAS-Bench-201) and goes through NNI's own unit-test pipeline: reset the
counter, build, ``RandomMutator`` for a few rounds of reset/forward/backward, export,
rebuild, ``apply_fixed_architecture`` and one forward.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from nasnb import mutables
from nasnb.fixed import apply_fixed_architecture
from nasnb.mutator import RandomMutator


class ENASLayer(mutables.MutableScope):
    """ENAS macro: a 4-branch op on an automatic key, then skips from earlier layers."""

    def __init__(self, key, prev_labels, channels):
        super().__init__(key)
        self.mutable = mutables.LayerChoice([
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.Conv2d(channels, channels, 5, padding=2),
            nn.AvgPool2d(3, 1, 1),
            nn.MaxPool2d(3, 1, 1),
        ])
        self.skipconnect = mutables.InputChoice(choose_from=prev_labels, n_chosen=None) if prev_labels else None

    def forward(self, prev_layers):
        out = self.mutable(prev_layers[-1])
        if self.skipconnect is not None:
            connection = self.skipconnect(prev_layers[:-1])
            if connection is not None:
                out = out + connection
        return out


class MacroNet(nn.Module):
    def __init__(self, num_layers=4, channels=4):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.layers = nn.ModuleList()
        labels = []
        for i in range(num_layers):
            labels.append(f"layer_{i}")
            self.layers.append(ENASLayer(labels[-1], labels[:-1], channels))
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        prev = [self.stem(x)]
        for layer in self.layers:
            prev.append(layer(prev))
        return self.head(prev[-1].mean((2, 3)))


class MicroCell(nn.Module):
    """ENAS micro: NO_KEY duplicates, return_mask, keys derived from a scope's name."""

    def __init__(self, cell_name, prev_labels, channels):
        super().__init__()
        self.input_choice = mutables.InputChoice(choose_from=prev_labels, n_chosen=1, return_mask=True,
                                                 key=cell_name + "_input")
        self.op_choice = mutables.LayerChoice([
            nn.Conv2d(channels, channels, 3, padding=1), nn.AvgPool2d(3, 1, 1), nn.MaxPool2d(3, 1, 1), nn.Identity(),
        ], key=cell_name + "_op")

    def forward(self, prev_layers):
        chosen, mask = self.input_choice(prev_layers)
        return self.op_choice(chosen), mask


class Node(mutables.MutableScope):
    def __init__(self, node_name, prev_node_names, channels):
        super().__init__(node_name)
        self.cell_x = MicroCell(node_name + "_x", prev_node_names, channels)
        self.cell_y = MicroCell(node_name + "_y", prev_node_names, channels)

    def forward(self, prev_layers):
        out_x, mask_x = self.cell_x(prev_layers)
        out_y, mask_y = self.cell_y(prev_layers)
        return out_x + out_y, mask_x | mask_y


class MicroNet(nn.Module):
    def __init__(self, num_nodes=3, channels=4):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        node_labels = [mutables.InputChoice.NO_KEY, mutables.InputChoice.NO_KEY]
        self.nodes = nn.ModuleList()
        for i in range(num_nodes):
            node_labels.append(f"normal_node_{i}")
            self.nodes.append(Node(node_labels[-1], node_labels[:-1], channels))
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        s = self.stem(x)
        prev = [s, s]
        used = torch.zeros(len(self.nodes) + 2, dtype=torch.bool)
        for node in self.nodes:
            out, mask = node(prev)
            used[: mask.numel()] |= mask
            prev.append(out)
        unused = [t for t, u in zip(prev, used) if not u] or [prev[-1]]
        return self.head(sum(unused).mean((2, 3)))


class TextLayer(mutables.MutableScope):
    """TextNAS: a LayerChoice called with two arguments (x, mask), skips with n_chosen=None."""

    class Masked(nn.Module):
        def __init__(self, op):
            super().__init__()
            self.op = op

        def forward(self, x, mask):
            return self.op(x) * mask

    def __init__(self, key, prev_keys, dim):
        super().__init__(key)
        self.prec = mutables.InputChoice(choose_from=prev_keys[-2:], n_chosen=1)
        self.op = mutables.LayerChoice([self.Masked(nn.Linear(dim, dim)), self.Masked(nn.Tanh())])
        self.skip = mutables.InputChoice(choose_from=prev_keys, n_chosen=None) if len(prev_keys) > 1 else None

    def forward(self, prev, mask):
        out = self.op(self.prec(prev[-2:]), mask)
        if self.skip is not None:
            s = self.skip(prev)
            if s is not None:
                out = out + s
        return out


class TextNet(nn.Module):
    def __init__(self, n_layers=4, dim=6):
        super().__init__()
        self.embed = nn.Linear(3, dim)
        keys = ["layer___stem", "layer__stem2"]
        self.stem = mutables.MutableScope(keys[0])
        self.stem2 = mutables.MutableScope(keys[1])
        self.layers = nn.ModuleList()
        for i in range(n_layers):
            self.layers.append(TextLayer(f"layer_{i}", list(keys), dim))
            keys.append(f"layer_{i}")
        self.head = nn.Linear(dim, 2)

    def forward(self, x):
        mask = torch.ones(x.shape[0], 1)
        h = self.embed(x)
        prev = [h, h]
        for layer in self.layers:
            prev.append(layer(prev, mask))
        return self.head(prev[-1])


class NB201Cell(nn.Module):
    """NAS-Bench-201: OrderedDict candidates, reduction mean, keys "{j}_{i}" shared by every cell."""

    def __init__(self, channels):
        super().__init__()
        self.layers = nn.ModuleList()
        for j in range(1, 4):
            self.layers.append(nn.ModuleList(
                mutables.LayerChoice(OrderedDict([
                    ("none", nn.Identity()),  # a stand-in: shape-keeping
                    ("avg_pool_3x3", nn.AvgPool2d(3, 1, 1)),
                    ("conv_1x1", nn.Conv2d(channels, channels, 1)),
                    ("skip_connect", nn.Identity()),
                ]), key=f"{j}_{i}", reduction="mean") for i in range(j)))

    def forward(self, x):
        nodes = [x]
        for layer in self.layers:
            nodes.append(sum(op(nodes[i]) for i, op in enumerate(layer)))
        return nodes[-1]


class NB201Net(nn.Module):
    def __init__(self, channels=4):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.cells = nn.Sequential(NB201Cell(channels), NB201Cell(channels))
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        return self.head(self.cells(self.stem(x)).mean((2, 3)))


CASES = {
    "enas_macro": (MacroNet, lambda: torch.randn(2, 1, 8, 8)),
    "enas_micro": (MicroNet, lambda: torch.randn(2, 1, 8, 8)),
    "textnas": (TextNet, lambda: torch.randn(5, 3)),
    "nasbench201": (NB201Net, lambda: torch.randn(2, 1, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_nni_unit_test_pipeline(name):
    build, data = CASES[name]
    torch.manual_seed(0)
    mutables._reset_global_mutable_counting()
    model = build()
    mutator = RandomMutator(model)
    for _ in range(8):
        mutator.reset()
        model(data()).sum().backward()
    with torch.no_grad():
        arc = mutator.export()
    mutables._reset_global_mutable_counting()
    new_model = build()
    new_model.load_state_dict(model.state_dict())  # the supernet's weights, as NNI's retrain-from-search does
    apply_fixed_architecture(new_model, arc)
    assert not any(isinstance(m, (mutables.LayerChoice, mutables.InputChoice)) for m in new_model.modules())
    # the fixed model computes what the supernet computes with the same architecture
    mutator.space.apply(arc)
    model.eval(), new_model.eval()
    x = data()
    with torch.no_grad():
        expected, got = model(x), new_model(x)
    assert got.shape == expected.shape and got.shape[0] == x.shape[0]
    torch.testing.assert_close(got, expected)
    assert not torch.equal(expected, build()(x).detach())  # a model with other weights differs: the check has teeth


def test_enas_macro_keys_and_any_subset_skips():
    mutables._reset_global_mutable_counting()
    space = RandomMutator(MacroNet()).space
    assert list(space)[:3] == ["layers.0.mutable", "layers.1.mutable", "layers.1.skipconnect"]
    assert space.scopes["layer_2"] == ("layers.2",)
    assert space["layers.2.skipconnect"].names == ("layer_0", "layer_1")
    assert space["layers.2.skipconnect"].n_chosen is None
    assert space.aliases["LayerChoice1"] == "layers.0.mutable"


def test_enas_micro_exports_indices_for_unnamed_duplicate_inputs():
    space = RandomMutator(MicroNet()).space
    choice = space["normal_node_1_x_input"]
    assert choice.names == ("", "", "normal_node_0")
    assert space.current()["normal_node_1_x_input"] == [0]
    space.apply({"normal_node_1_x_input": "normal_node_0"})
    assert space.current()["normal_node_1_x_input"] == [2]


def test_nasbench201_keys_are_shared_across_cells_and_export_names():
    net = NB201Net()
    space = RandomMutator(net).space
    assert len(space) == 6 and space.size == 4**6
    space.apply({"2_1": "conv_1x1"})
    assert net.cells[0].layers[1][1].choice == net.cells[1].layers[1][1].choice == "conv_1x1"
