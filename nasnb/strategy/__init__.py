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
['evolution', 'grid', 'nsga2', 'random', 'rl', 'tpe']
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ..exceptions import StrategyError
from ._base import Strategy
from .evolution import RegularizedEvolution
from .grid import GridSearch
from .nsga2 import NSGA2
from .random import Random
from .rl import PolicyGradient
from .tpe import TPE

__all__ = [
    "GridSearch",
    "NSGA2",
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
    cls.name: cls for cls in (Random, GridSearch, RegularizedEvolution, TPE, PolicyGradient, NSGA2)
}


def make_strategy(strategy: str | Strategy, seed: int | None = None, options: Mapping[str, Any] | None = None,
                  **kwargs: Any) -> Strategy:
    """A strategy instance from a name in :data:`STRATEGIES` (or the instance itself).

    ``options`` and ``kwargs`` are the strategy class's constructor options
    (``population_size`` ...).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones), an option the strategy
        does not accept (the message lists those it accepts), or options given with a
        strategy instance (which already has its settings).

    Examples
    --------
    >>> make_strategy("evolution", seed=0, population_size=5)
    RegularizedEvolution(population_size=5, sample_size=5, seed=0)
    >>> make_strategy("grid", population_size=5)
    Traceback (most recent call last):
    ...
    ValueError: strategy 'grid' (GridSearch) has no option 'population_size'; it accepts ['shuffle']
    """
    kwargs = {**(options or {}), **kwargs}
    if isinstance(strategy, Strategy):
        if kwargs:
            raise ValueError(f"strategy options {sorted(kwargs)} were given with a {type(strategy).__name__} "
                             f"instance; pass them to its constructor, or name the strategy "
                             f"({strategy.name!r}) to build it with them")
        return strategy
    if isinstance(strategy, str) and strategy in STRATEGIES:
        cls = STRATEGIES[strategy]
        accepted, open_ended = _options(cls)
        unknown = sorted(k for k in kwargs if k not in accepted)
        if "seed" in kwargs:
            raise ValueError(f"strategy option 'seed' for {strategy!r}: pass seed= itself, not among the options")
        if unknown and not open_ended:
            noun = "option" if len(unknown) == 1 else "options"
            shown = repr(unknown[0]) if len(unknown) == 1 else repr(unknown)
            raise ValueError(f"strategy {strategy!r} ({cls.__name__}) has no {noun} {shown}; "
                             f"it accepts {sorted(accepted)}")
        return cls(seed=seed, **kwargs)
    raise ValueError(f"unknown strategy {strategy!r}; expected a Strategy or one of {sorted(STRATEGIES)}")


def _options(cls: type[Strategy]) -> tuple[set[str], bool]:
    """The constructor options of ``cls`` (seed aside), and whether it takes ``**kwargs`` too."""
    params = inspect.signature(cls.__init__).parameters
    named = {n for n, p in params.items()
             if n not in ("self", "seed") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return named, any(p.kind == p.VAR_KEYWORD for p in params.values())
