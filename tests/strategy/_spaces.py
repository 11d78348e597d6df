"""Seeded random search spaces for the strategy contract tests (not a test module)."""

from __future__ import annotations

import random

from torch import nn

from nasnb import SearchSpace, mutables


class RandomNet(nn.Module):
    """Mutables only (strategies never run forward): LayerChoices, InputChoices with
    n_chosen in {None, 0, 1, k}, and keys shared by two mutables."""

    def __init__(self, seed: int):
        super().__init__()
        rng = random.Random(seed)
        self.layers = nn.ModuleList()
        self.inputs = nn.ModuleList()
        shared: list[tuple[str, int]] = []
        for i in range(rng.randint(1, 4)):
            n = rng.randint(1, 4)
            if shared and rng.random() < 0.4:  # reuse a key: same candidates
                key, n = rng.choice(shared)
            else:
                key = f"layer{i}"
                shared.append((key, n))
            self.layers.append(mutables.LayerChoice([nn.Identity() for _ in range(n)], key=key))
        for i in range(rng.randint(1, 3)):
            n = rng.randint(1, 4)
            n_chosen = rng.choice([None, None, 1, n, rng.randint(0, n)])
            self.inputs.append(mutables.InputChoice(n_candidates=n, n_chosen=n_chosen, key=f"input{i}"))
        if rng.random() < 0.5:  # a shared InputChoice key
            self.inputs.append(mutables.InputChoice(n_candidates=2, n_chosen=None, key="shared_in"))
            self.inputs.append(mutables.InputChoice(n_candidates=2, n_chosen=None, key="shared_in"))


def random_space(seed: int) -> SearchSpace:
    return SearchSpace(RandomNet(seed))


def additive_space(keys: int = 4, candidates: int = 4) -> SearchSpace:
    net = nn.ModuleList(
        mutables.LayerChoice([nn.Identity() for _ in range(candidates)], key=f"k{i}") for i in range(keys)
    )
    return SearchSpace(net)


def additive_score(arch: dict) -> float:
    """Higher candidate index is better on every key (optimum: all last)."""
    return float(sum(int(v) for v in arch.values()))
