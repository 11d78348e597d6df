"""NSGA-II through Optuna's :class:`optuna.samplers.NSGAIISampler`: multi-objective evolution.

Needs the optional extra: ``pip install 'nasnb[optuna]'``.

Examples
--------
Two objectives (each maximised, as every strategy maximises what it is told):

>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb.strategy import NSGA2
>>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key="act"))
>>> strategy = NSGA2(population_size=2, seed=0).bind(SearchSpace(net), n_objectives=2)
>>> arch = strategy.ask()
>>> strategy.tell(arch, (0.9, -3.0))
>>> strategy.n_told, strategy.n_objectives
(1, 2)
"""

from __future__ import annotations

from typing import Any

from ._optuna import OptunaStrategy

__all__ = ["NSGA2"]


class NSGA2(OptunaStrategy):
    """Non-dominated sorting genetic algorithm II (Deb et al., 2002), Optuna's implementation.

    The first ``population_size`` asks are random; each later generation is bred by
    crossover and mutation from the parents chosen by Pareto rank and crowding distance.
    With one objective it is a plain genetic algorithm. Duplicates are never proposed
    (see :class:`~nasnb.strategy._optuna.OptunaStrategy`).

    Parameters
    ----------
    population_size : int
        Architectures per generation. Default: 20 (Optuna's 50 is for far longer runs
        than a notebook's).
    mutation_prob : float, optional
        Per-parameter mutation probability; Optuna's default is 1 / number of parameters.
    crossover_prob, swapping_prob : float
        Optuna's crossover settings. Defaults: 0.9 and 0.5.
    dedup_tries : int
        Duplicates tolerated per ask before a random unseen architecture. Default: 20.
    seed : int, optional
        Seeds the sampler and the fallback.
    **sampler_kwargs
        Passed to :class:`optuna.samplers.NSGAIISampler`.
    """

    name = "nsga2"
    max_objectives = None

    def __init__(self, population_size: int = 20, mutation_prob: float | None = None, crossover_prob: float = 0.9,
                 swapping_prob: float = 0.5, dedup_tries: int = 20, seed: int | None = None, **sampler_kwargs: Any):
        super().__init__(dedup_tries, seed)
        if population_size < 2:
            raise ValueError(f"NSGA2: population_size must be >= 2 (parents are paired), got {population_size!r}")
        self.population_size = population_size
        self.mutation_prob = mutation_prob
        self.crossover_prob = crossover_prob
        self.swapping_prob = swapping_prob
        self.sampler_kwargs = sampler_kwargs

    def __repr__(self) -> str:
        return f"NSGA2(population_size={self.population_size}, seed={self.seed!r})"

    def warm_up(self) -> tuple[str, int] | None:
        """The first generation, ``population_size`` asks, is random."""
        return ("population_size", self.population_size)

    def _sampler(self, optuna: Any) -> Any:
        return optuna.samplers.NSGAIISampler(
            population_size=self.population_size, mutation_prob=self.mutation_prob, crossover_prob=self.crossover_prob,
            swapping_prob=self.swapping_prob, seed=self.seed, **self.sampler_kwargs,
        )
