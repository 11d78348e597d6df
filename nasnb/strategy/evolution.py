"""Regularized (aging) evolution, Real et al. 2019, over any search space.

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb.strategy import RegularizedEvolution
>>> net = nn.Sequential(*[mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key=f"a{i}") for i in range(3)])
>>> strategy = RegularizedEvolution(population_size=4, sample_size=2, seed=0).bind(SearchSpace(net))
>>> for _ in range(10):
...     arch = strategy.ask()
...     strategy.tell(arch, sum(int(v) for v in arch.values()))
>>> len(strategy.population)
4
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._base import Indices, Strategy

if TYPE_CHECKING:
    from ..architecture import Choice

__all__ = ["RegularizedEvolution", "crossover", "mutate", "resample_keys", "select_top"]


def resample_keys(specs: Sequence[Choice], parent: Indices, rng: random.Random, prob: float) -> Indices:
    """``parent`` with each key redrawn uniformly (``spec.draw``) with probability ``prob``.

    The mutation of SPOS's evolution (Guo et al., 2020): several keys may change at once,
    and a redrawn key may land on its old value.
    """
    return tuple(spec.draw(rng) if rng.random() < prob else old for spec, old in zip(specs, parent))


def crossover(a: Indices, b: Indices, rng: random.Random) -> Indices:
    """Uniform crossover: each key's value from ``a`` or ``b`` with equal probability."""
    return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b))


def select_top(scored: Sequence[tuple[float, Indices]], k: int) -> list[Indices]:
    """The ``k`` best of ``(score, indices)`` pairs, best first (ties keep their order)."""
    return [ind for _, ind in sorted(scored, key=lambda t: -t[0])[:k]]


def mutate(strategy: Strategy, parent: Indices) -> Indices:
    """``parent`` with one key changed to another valid choice, drawn with ``strategy.rng``.

    LayerChoice: another candidate. InputChoice with ``n_chosen=k``: one chosen input
    swapped for an unchosen one (still exactly k). InputChoice with ``n_chosen=None``:
    one input toggled (any subset stays valid). Keys with a single option never mutate.
    """
    rng = strategy.rng
    mutable = [i for i, spec in enumerate(strategy._specs) if spec.size > 1]
    if not mutable:
        return parent
    i = rng.choice(mutable)
    spec, current = strategy._specs[i], parent[i]
    n = spec.n_candidates
    new: tuple[int, ...]
    if spec.kind == "layer":
        new = (rng.choice([c for c in range(n) if c != current[0]]),)
    elif spec.n_chosen is None:
        flip = rng.randrange(n)
        new = tuple(sorted(set(current) ^ {flip}))
    else:
        out = rng.choice(current)
        inn = rng.choice([c for c in range(n) if c not in current])
        new = tuple(sorted((set(current) - {out}) | {inn}))
    child = list(parent)
    child[i] = new
    return tuple(child)


class RegularizedEvolution(Strategy):
    """Aging evolution: tournament selection, one-key mutation, the oldest member dies.

    The first ``population_size`` asks are random; then each ask samples
    ``sample_size`` members of the population, mutates the best one, and each tell adds
    the child and removes the oldest member. Failed trials enter the population with
    score ``-inf`` and age out. Children already proposed are mutated again (up to
    ``dedup_tries`` times) before falling back to a random unseen architecture, so no
    trial is wasted on a duplicate.

    Parameters
    ----------
    population_size : int
        Members kept alive. Default: 20.
    sample_size : int
        Tournament size (at most ``population_size``). Default: 5, or ``population_size``
        when that is smaller.
    dedup_tries : int
        Mutations tried before giving up on finding an unseen child. Default: 50.
    seed : int, optional
        Seeds every draw.

    Raises
    ------
    ValueError
        If ``sample_size`` is not in ``1..population_size``.
    """

    name = "evolution"

    def __init__(self, population_size: int = 20, sample_size: int | None = None, dedup_tries: int = 50,
                 seed: int | None = None):
        super().__init__(seed)
        if population_size < 1:
            raise ValueError(f"population_size must be >= 1, got {population_size!r}")
        if sample_size is None:
            sample_size = min(5, population_size)
        if not 1 <= sample_size <= population_size:
            raise ValueError(
                f"sample_size must be in 1..population_size={population_size}, got {sample_size!r}"
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self.dedup_tries = dedup_tries
        self._population: deque[tuple[Indices, float]] = deque()

    def warm_up(self) -> tuple[str, int] | None:
        """The first ``population_size`` asks are random draws."""
        return ("population_size", self.population_size)

    def __repr__(self) -> str:
        return (f"RegularizedEvolution(population_size={self.population_size}, "
                f"sample_size={self.sample_size}, seed={self.seed!r})")

    @property
    def population(self) -> list[tuple[dict[str, Any], float]]:
        """Living members, oldest first, as ``(arch, score)``."""
        return [(self.encode(ind), score) for ind, score in self._population]

    def _ask(self) -> Indices | None:
        warming_up = len(self._population) + self.n_pending < self.population_size
        if warming_up or not self._population:
            return self._random_unseen()
        for _ in range(self.dedup_tries):
            sample = self.rng.sample(list(self._population), min(self.sample_size, len(self._population)))
            parent = max(sample, key=lambda m: m[1])[0]
            child = mutate(self, parent)
            if child not in self._seen:
                return child
        return self._random_unseen()

    def _tell(self, indices: Indices, score: float | None) -> None:
        self._population.append((indices, -math.inf if score is None or math.isnan(score) else score))
        while len(self._population) > self.population_size:
            self._population.popleft()
