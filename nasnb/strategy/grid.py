"""Grid search: every architecture, in order (or shuffled), each once.

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb.strategy import GridSearch
>>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
...                     mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="out"))
>>> strategy = GridSearch().bind(SearchSpace(net))
>>> [strategy.ask() for _ in range(2)]
[{'act': 0, 'out': 0}, {'act': 0, 'out': 1}]
"""

from __future__ import annotations

from collections.abc import Iterator

from ._base import Indices, Strategy

__all__ = ["GridSearch"]


class GridSearch(Strategy):
    """Enumerate the whole space, in :meth:`SearchSpace.grid` order or shuffled.

    Pick it for small spaces you want covered exhaustively; architectures already told
    (from a resumed journal) are skipped.

    Parameters
    ----------
    shuffle : bool
        Visit architectures in a random order (needs the whole grid in memory).
    seed : int, optional
        Seeds the shuffle.
    """

    name = "grid"
    max_objectives = None  # scores are not used

    def __init__(self, shuffle: bool = False, seed: int | None = None):
        super().__init__(seed)
        self.shuffle = shuffle

    def __repr__(self) -> str:
        return f"GridSearch(shuffle={self.shuffle!r}, seed={self.seed!r})"

    def _setup(self) -> None:
        self._iter: Iterator[Indices] | None = None

    def _ask(self) -> Indices | None:
        if self._iter is None:
            if self.shuffle:
                order = list(self._iter_all())
                self.rng.shuffle(order)
                self._iter = iter(order)
            else:
                self._iter = self._iter_all()
        for cand in self._iter:
            if cand not in self._seen:
                return cand
        return None

    def _tell(self, indices: Indices, score: object) -> None:
        pass
