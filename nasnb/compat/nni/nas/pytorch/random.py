"""``nni.nas.pytorch.random``: ``RandomMutator``, a uniformly random decision on every ``reset()``.

Uses torch's random generator, so ``torch.manual_seed`` makes it reproducible. Subclasses
may override :meth:`RandomMutator.sample_search` / ``sample_final``; ``reset()`` and
``export()`` call the overrides.

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()], key="act"))
>>> mutator = RandomMutator(net)
>>> _ = torch.manual_seed(0)
>>> mutator.reset()
>>> mutator.status()
{'act': [0.0, 0.0, 1.0]}
"""

from __future__ import annotations

from typing import Any

import torch

from nasnb.mutables import InputChoice, LayerChoice

from .mutator import Mutator

__all__ = ["RandomMutator"]


class RandomMutator(Mutator):
    """Samples one candidate per LayerChoice and a random subset (of ``n_chosen``) per InputChoice."""

    def sample_search(self) -> dict[str, Any]:
        """A uniformly random bool mask for every key."""
        result: dict[str, Any] = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                index = int(torch.randint(high=len(mutable), size=(1,)))
                mask = torch.zeros(len(mutable), dtype=torch.bool)
                mask[index] = True
                result[mutable.key] = mask
            elif isinstance(mutable, InputChoice):
                n = mutable.n_candidates
                if mutable.n_chosen is None:
                    result[mutable.key] = torch.randint(high=2, size=(n,)).bool()
                else:
                    mask = torch.zeros(n, dtype=torch.bool)
                    mask[torch.randperm(n)[: mutable.n_chosen]] = True
                    result[mutable.key] = mask
        return result

    def sample_final(self) -> dict[str, Any]:
        """Same as :meth:`sample_search`."""
        return self.sample_search()
