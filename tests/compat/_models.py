"""Search spaces written against NNI 1.x's API, like the ones its own tests used (our own code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def chain_space():
    """LayerChoices (one returning a mask), a 1-input and a 2-input InputChoice, BatchNorm."""
    from nni.nas.pytorch.mutables import InputChoice, LayerChoice

    class Chain(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = LayerChoice([nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(3, 6, 5, padding=2)])
            self.conv2 = LayerChoice([nn.Conv2d(6, 8, 3, padding=1), nn.Conv2d(6, 8, 1)], return_mask=True)
            self.conv3 = nn.Conv2d(8, 8, 1)
            self.skip = InputChoice(n_candidates=1)
            self.pick = InputChoice(n_candidates=2, return_mask=True)
            self.bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 10)
            self.masks = []

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x0, mask = self.conv2(x)
            self.masks.append(mask)
            x1 = F.relu(self.conv3(x0))
            _, mask2 = self.pick([x0, x1])
            self.masks.append(mask2)
            s = self.skip([x0])
            if s is not None:
                x1 = x1 + s
            x = F.adaptive_avg_pool2d(self.bn(x1), 1).flatten(1)
            return self.fc(x)

    return Chain()


def scope_space(layers: int = 2, nodes: int = 3, channels: int = 8):
    """Cells as MutableScopes whose InputChoices choose among earlier nodes (NNI keys in choose_from)."""
    from nni.nas.pytorch.mutables import InputChoice, LayerChoice, MutableScope

    class Node(MutableScope):
        def __init__(self, name, sources):
            super().__init__(name)
            self.input = InputChoice(choose_from=sources, n_chosen=1, return_mask=True, key=name + "_in")
            self.op = LayerChoice([nn.Conv2d(channels, channels, 3, padding=1), nn.MaxPool2d(3, 1, 1),
                                   nn.Identity()], key=name + "_op")

        def forward(self, prev):
            x, mask = self.input(prev)
            return self.op(x), mask

    class Layer(nn.Module):
        def __init__(self, index):
            super().__init__()
            labels = [InputChoice.NO_KEY, InputChoice.NO_KEY]
            self.nodes = nn.ModuleList()
            for i in range(nodes):
                labels.append(f"l{index}_n{i}")
                self.nodes.append(Node(labels[-1], labels[:-1]))
            self.bn = nn.BatchNorm2d(channels)

        def forward(self, pprev, prev):
            outs = [pprev, prev]
            for node in self.nodes:
                out, _ = node(outs)
                outs.append(out)
            return prev, self.bn(sum(outs[2:]))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, channels, 3, padding=1)
            self.layers = nn.ModuleList([Layer(i) for i in range(layers)])
            self.fc = nn.Linear(channels, 10)

        def forward(self, x):
            prev = cur = self.stem(x)
            for layer in self.layers:
                prev, cur = layer(prev, cur)
            return self.fc(F.adaptive_avg_pool2d(cur, 1).flatten(1))

    return Net()


def sample_and_forward(model, mutator=None, n_iters=5, backward=True):
    """What NNI's tests did: reset, forward, backward, a few times."""
    for _ in range(n_iters):
        for p in model.parameters():
            p.grad = None
        if mutator is not None:
            mutator.reset()
        y = model(torch.randn(2, 3, 16, 16)).sum()
        if backward:
            y.backward()
    return y
