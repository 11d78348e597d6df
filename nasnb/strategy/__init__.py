"""Search strategies with an ask/tell interface: propose architectures, learn from scores.

Every strategy is built with its settings and a ``seed``, bound to a space with
``bind(space)``, then driven by ``ask()`` / ``tell(arch, score)`` — by hand or by
:class:`nasnb.Experiment`. ``STRATEGIES`` maps the short names that
``Experiment(strategy="...")`` accepts to the classes.

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb import strategy
>>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
>>> s = strategy.RegularizedEvolution(population_size=2, sample_size=1, seed=0).bind(space)
>>> arch = s.ask()
>>> s.tell(arch, 1.0)
>>> sorted(strategy.STRATEGIES)
['evolution', 'grid', 'random', 'rl', 'tpe']
"""

from __future__ import annotations

from typing import Any

from ..exceptions import StrategyError
from ._base import Strategy
from .evolution import RegularizedEvolution
from .grid import GridSearch
from .random import Random
from .rl import PolicyGradient
from .tpe import TPE

__all__ = [
    "GridSearch",
    "PolicyGradient",
    "Random",
    "RegularizedEvolution",
    "STRATEGIES",
    "Strategy",
    "StrategyError",
    "TPE",
    "make_strategy",
]

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Random, GridSearch, RegularizedEvolution, TPE, PolicyGradient)
}


def make_strategy(strategy: str | Strategy, seed: int | None = None, **kwargs: Any) -> Strategy:
    """A strategy instance from a name in :data:`STRATEGIES` (or the instance itself).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return STRATEGIES[strategy](seed=seed, **kwargs)
    raise ValueError(f"unknown strategy {strategy!r}; expected a Strategy or one of {sorted(STRATEGIES)}")
