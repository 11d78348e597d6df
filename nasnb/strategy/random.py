"""Random search without duplicates.

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb.strategy import Random
>>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key="act")))
>>> strategy = Random(seed=0).bind(space)
>>> sorted(strategy.ask()["act"] for _ in range(3)), strategy.ask()
([0, 1, 2], None)
"""

from __future__ import annotations

from ._base import Indices, Strategy

__all__ = ["Random"]


class Random(Strategy):
    """Propose architectures uniformly at random, never the same one twice.

    The baseline every other strategy must beat. Each ask draws uniformly among the
    architectures not proposed or told yet; ``ask`` returns None once the space is
    exhausted.

    Parameters
    ----------
    seed : int, optional
        Seeds the draws.
    """

    name = "random"
    max_objectives = None  # scores are not used

    def _ask(self) -> Indices | None:
        return self._random_unseen()

    def _tell(self, indices: Indices, score: object) -> None:
        pass
