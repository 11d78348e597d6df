"""Small search spaces shared by the tests (the seed examples, NNI-style cells)."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from nasnb import mutables


class SeedNet(nn.Module):
    """The seed document's MNIST net with both examples: conv1 choice and a skip."""

    def __init__(self):
        super().__init__()
        self.conv1 = mutables.LayerChoice([
            nn.Conv2d(1, 32, 3, 1),
            nn.Conv2d(1, 32, 5, 3)
        ])  # try 3x3 kernel and 5x5 kernel
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.conv3 = nn.Conv2d(64, 64, 1, 1)
        # declaring that there is exactly one candidate to choose from
        # search strategy will choose one or None
        self.skipcon = mutables.InputChoice(n_candidates=1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x0 = self.skipcon([x])  # choose one or none from [x]
        x = self.conv3(x)
        if x0 is not None:  # skipconnection is open
            x += x0
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class PlainSeedNet(nn.Module):
    """SeedNet hand-written for one architecture (3x3 conv1, skip on): the speed reference."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.conv3 = nn.Conv2d(64, 64, 1, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.conv2(x)
        x0 = x
        x = self.conv3(x)
        x += x0
        x = F.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def _ops(c: int) -> "OrderedDict[str, nn.Module]":
    return OrderedDict(
        conv3x3=nn.Conv2d(c, c, 3, padding=1),
        conv1x1=nn.Conv2d(c, c, 1),
        maxpool=nn.MaxPool2d(3, 1, 1),
        skip=nn.Identity(),
    )


class Cell(mutables.MutableScope):
    """A DARTS-style cell: node j takes one op per predecessor, then picks 2 edges."""

    def __init__(self, prefix: str, channels: int = 4, n_nodes: int = 2):
        super().__init__(prefix)
        self.edges = nn.ModuleList()
        self.switches = nn.ModuleList()
        for j in range(n_nodes):
            n_prev = 2 + j
            keys = [f"{prefix}_n{j}_p{i}" for i in range(n_prev)]
            self.edges.append(nn.ModuleList(mutables.LayerChoice(_ops(channels), key=k) for k in keys))
            self.switches.append(mutables.InputChoice(choose_from=keys, n_chosen=2, key=f"{prefix}_n{j}_switch"))

    def forward(self, s0, s1):
        states = [s0, s1]
        for edges, switch in zip(self.edges, self.switches):
            outs = [op(states[i]) for i, op in enumerate(edges)]
            states.append(switch(outs))
        return sum(states[2:])


class CellNet(nn.Module):
    """Two cells sharing keys (as DARTS normal cells do) plus a stem and head."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.cell0 = Cell("normal", channels)
        self.cell1 = Cell("normal", channels)
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        s = self.stem(x)
        s = self.cell0(s, s)
        s = self.cell1(s, s)
        return self.head(s.mean((2, 3)))


class MaskNet(nn.Module):
    """NNI's NaiveSearchSpace flavour: return_mask, reduction none, kwargs, dict inputs."""

    def __init__(self):
        super().__init__()
        self.op = mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], return_mask=True, key="op")
        self.listop = mutables.LayerChoice([nn.Linear(4, 4), nn.Tanh()], reduction="none", key="listop")
        self.pick = mutables.InputChoice(choose_from=["op", "listop"], n_chosen=1, return_mask=True, key="pick")

    def forward(self, x):
        a, mask = self.op(x)
        (b,) = self.listop(x)
        out, pick_mask = self.pick({"op": a, "listop": b})
        return out, mask, pick_mask
