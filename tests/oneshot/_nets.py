"""Tiny search spaces and the digits data shared by the one-shot tests."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.utils.data import TensorDataset

from nasnb import mutables


class Cell(mutables.MutableScope):
    """A scope with two edges (2 and 4 candidates) and a node choosing one of them."""

    def __init__(self, dim: int):
        super().__init__("cell")
        self.op_a = mutables.LayerChoice(OrderedDict(
            lin=nn.Linear(dim, dim),
            mlp=nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim)),
        ), key="op_a")
        self.op_b = mutables.LayerChoice(OrderedDict(
            lin=nn.Linear(dim, dim), relu=nn.ReLU(), tanh=nn.Tanh(), zero=Zero(),
        ), key="op_b")
        self.node = mutables.InputChoice(choose_from=["op_a", "op_b"], n_chosen=1, key="node")

    def forward(self, x):
        return self.node([self.op_a(x), self.op_b(x)])


class Zero(nn.Module):
    def forward(self, x):
        return x * 0.0


class TinyNet(nn.Module):
    """Every feature at once: 2/3/4 candidates, a shared key, a scope named by choose_from,
    InputChoice with n_chosen=None, =1 (edges) and =2 of 3 (unnamed inputs)."""

    def __init__(self, dim: int = 32):
        super().__init__()
        self.stem = nn.Linear(64, dim)
        self.act1 = mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh(), sigmoid=nn.Sigmoid()), key="act")
        self.cell = Cell(dim)
        self.mid = nn.Linear(dim, dim)
        self.act2 = mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh(), sigmoid=nn.Sigmoid()), key="act")
        self.skip = mutables.InputChoice(choose_from=["cell", ""], n_chosen=None, key="skip")
        self.mix = mutables.InputChoice(n_candidates=3, n_chosen=2, key="mix")
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        s = self.act1(self.stem(x))
        c = self.cell(s)
        h = self.act2(self.mid(c))
        extra = self.skip([c, s])
        if extra is not None:
            h = h + extra
        return self.head(self.mix([s, c, h]))


class OpNet(nn.Module):
    """A plain MLP whose hidden activation and width op are searched (learnable ground truth:
    'zero' kills the signal, so a good search must move away from it)."""

    def __init__(self, dim: int = 32):
        super().__init__()
        self.stem = nn.Linear(64, dim)
        self.op = mutables.LayerChoice(OrderedDict(
            zero=Zero(), lin=nn.Sequential(nn.Linear(dim, dim), nn.ReLU()), relu=nn.ReLU(),
        ), key="op")
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        return self.head(self.op(torch.relu(self.stem(x))))


_DIGITS: tuple | None = None


def digits(n_train: int = 1200):
    """(train, valid) TensorDatasets of scikit-learn's 8x8 digits, flattened, scaled to [0, 1]."""
    global _DIGITS
    if _DIGITS is None:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32) / 16.0
        y = torch.tensor(d.target, dtype=torch.long)
        g = torch.Generator().manual_seed(0)
        perm = torch.randperm(len(x), generator=g)
        _DIGITS = (x[perm], y[perm])
    x, y = _DIGITS
    return TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:])


class Const(nn.Module):
    """Ignores its input and returns fixed class scores (an 'oracle' candidate)."""

    def __init__(self, cls: int, n_classes: int = 2):
        super().__init__()
        self.register_buffer("logits", torch.full((n_classes,), -3.0).index_fill(0, torch.tensor([cls]), 3.0))

    def forward(self, x):
        return self.logits.expand(x.shape[0], -1) + 0.0 * x[:, :1]


class OracleNet(nn.Module):
    """Candidate 'right' always predicts the label (class 0), 'wrong' never does;
    a tiny trainable layer keeps the optimizer non-empty."""

    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(4, 4)
        self.choice = mutables.LayerChoice(OrderedDict(wrong=Const(1), right=Const(0), wrong2=Const(1)), key="choice")

    def forward(self, x):
        return self.choice(self.pre(x))


def oracle_data(n: int = 64):
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 4, generator=g), torch.zeros(n, dtype=torch.long))
