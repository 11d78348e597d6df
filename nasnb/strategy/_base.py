"""The ask/tell interface every search strategy implements, and what they share.

A strategy proposes architectures (:meth:`Strategy.ask`) and learns from their scores
(:meth:`Strategy.tell`). It works on any bound :class:`~nasnb.SearchSpace`, including
InputChoices with ``n_chosen=None`` and keys shared by several mutables (a shared key
is one decision). Scores are always maximised: an :class:`~nasnb.Experiment` with
``mode="min"`` negates them. A failed trial is told with ``score=None``. A strategy
bound with ``n_objectives=n > 1`` is told a tuple of ``n`` values, each maximised;
:attr:`Strategy.max_objectives` says how many a strategy can handle.

``tell`` accepts architectures the strategy never proposed (a resumed journal, a
hand-picked architecture): strategies rebuild their state from such tells.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import StrategyError

if TYPE_CHECKING:
    from ..architecture import Choice
    from ..space import SearchSpace

__all__ = ["Strategy", "StrategyError"]

Indices = tuple[tuple[int, ...], ...]  # one index tuple per key, in space order
_PENDING = object()


class Strategy(ABC):
    """Base class of search strategies: ``bind(space)``, then ``ask()`` / ``tell(arch, score)``.

    Parameters
    ----------
    seed : int, optional
        Seeds every random draw; the same seed and the same tells give the same asks.

    Attributes
    ----------
    space : SearchSpace
        The bound space (after :meth:`bind`).
    n_told : int
        Number of results received.

    Examples
    --------
    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> from nasnb.strategy import Random
    >>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
    >>> strategy = Random(seed=0).bind(space)
    >>> arch = strategy.ask()
    >>> strategy.tell(arch, 0.5)
    >>> strategy.ask() != arch, strategy.ask()
    (True, None)
    """

    #: short name used by ``Experiment(strategy="...")`` and in journals
    name = "strategy"
    #: whether :meth:`ask` never proposes an architecture it proposed or was told before
    deduplicates = True
    #: objectives the strategy can learn from at once (None: any number, e.g. it ignores scores)
    max_objectives: int | None = 1

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self.rng = random.Random(seed)
        self.space: SearchSpace | None = None
        self.n_told = 0
        self._seen: dict[Indices, Any] = {}  # indices -> score (None = failed) or _PENDING
        self.n_pending = 0  # asked, not told yet
        self.n_objectives = 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed!r})"

    def warm_up(self) -> tuple[str, int] | None:
        """``(option, n)``: the first ``n`` asks are random draws, set by constructor argument ``option``.

        None (the default) for a strategy that learns from its first result on.
        :class:`nasnb.Experiment` warns when ``max_trials`` leaves no trial after the warm-up.
        """
        return None

    # ------------------------------------------------------------------ binding
    def bind(self, space: SearchSpace, n_objectives: int = 1) -> Strategy:
        """Attach the strategy to ``space`` (once), learning from ``n_objectives`` values per result; return ``self``.

        Raises
        ------
        StrategyError
            If it is bound to another space already, or ``n_objectives`` is more than
            :attr:`max_objectives` (the message names the strategies that handle several).
        """
        if self.space is not None and self.space is not space:
            raise StrategyError(f"{type(self).__name__} is already bound to another space; create a new strategy")
        if self.max_objectives is not None and n_objectives > self.max_objectives:
            raise StrategyError(f"{type(self).__name__} learns from one score, not {n_objectives} objectives; "
                                f"use 'nsga2' or 'tpe' (or 'random'/'grid', which ignore scores)")
        self.n_objectives = n_objectives
        self.space = space
        self._keys = list(space)
        self._specs: list[Choice] = [space[k] for k in self._keys]
        self._options: list[list[tuple[int, ...]] | None] = [None] * len(self._specs)  # lazily enumerated choices per key
        self._setup()
        return self

    def _setup(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Hook for subclasses: build per-space state after :meth:`bind`."""

    def _require_space(self) -> SearchSpace:
        if self.space is None:
            raise StrategyError(f"{type(self).__name__} is not bound to a space: call strategy.bind(space) first")
        return self.space

    # ----------------------------------------------------------------- protocol
    def ask(self) -> dict[str, Any] | None:
        """Propose the next architecture (readable form), or None when nothing is left."""
        self._require_space()
        indices = self._ask()
        if indices is None:
            return None
        if indices not in self._seen:
            self._seen[indices] = _PENDING
            self.n_pending += 1
        return self.encode(indices)

    def tell(self, arch: Mapping[str, Any], score: float | Sequence[float] | None) -> None:
        """Report the score of ``arch`` (larger is better; None for a failed trial).

        With several objectives, ``score`` is a sequence of ``n_objectives`` values.
        """
        self._require_space()
        indices = self.decode(arch)
        if score is not None:
            score = self._check_score(score)
        if self._seen.get(indices, None) is _PENDING:
            self.n_pending -= 1
        self._seen[indices] = score
        self.n_told += 1
        self._tell(indices, score)

    def _check_score(self, score: float | Sequence[float]) -> float | tuple[float, ...]:
        if self.n_objectives == 1:
            if isinstance(score, Sequence):
                raise StrategyError(f"{type(self).__name__} was bound for one objective; told {score!r}")
            return float(score)
        if not isinstance(score, Sequence) or len(score) != self.n_objectives:
            raise StrategyError(f"{type(self).__name__} was bound for {self.n_objectives} objectives; "
                                f"told {score!r}, expected a sequence of {self.n_objectives} numbers")
        return tuple(float(v) for v in score)

    @abstractmethod
    def _ask(self) -> Indices | None:
        """Next architecture as index tuples, or None when exhausted."""

    @abstractmethod
    def _tell(self, indices: Indices, score: Any) -> None:
        """Learn from one result (a float, a tuple of floats with several objectives, or None)."""

    # ---------------------------------------------------------------- helpers
    def encode(self, indices: Indices) -> dict[str, Any]:
        """Readable architecture for per-key index tuples."""
        return {k: spec.encode(idx) for k, spec, idx in zip(self._keys, self._specs, indices)}

    def decode(self, arch: Mapping[str, Any]) -> Indices:
        """Per-key index tuples for a full architecture in any accepted encoding."""
        space = self._require_space()
        canonical = space.validate(arch)
        return tuple(spec.parse(canonical[k]) for k, spec in zip(self._keys, self._specs))

    def options(self, i: int) -> list[tuple[int, ...]]:
        """Every valid index tuple of the ``i``-th key (cached)."""
        options = self._options[i]
        if options is None:
            options = self._options[i] = list(self._specs[i].all_indices())
        return options

    def _sample(self) -> Indices:
        """One architecture uniformly at random (from ``self.rng``)."""
        return tuple(spec.draw(self.rng) for spec in self._specs)

    def _iter_all(self) -> Iterator[Indices]:
        import itertools

        return itertools.product(*(self.options(i) for i in range(len(self._specs))))

    def _random_unseen(self, tries: int = 64, enumerate_limit: int = 200_000) -> Indices | None:
        """A uniformly random architecture not seen yet; None when all are seen."""
        for _ in range(tries):
            cand = self._sample()
            if cand not in self._seen:
                return cand
        space = self._require_space()
        if len(self._seen) >= space.size:
            return None
        if space.size <= enumerate_limit:
            rest = [c for c in self._iter_all() if c not in self._seen]
            return self.rng.choice(rest) if rest else None
        for _ in range(tries * 100):  # huge space, heavily explored: keep drawing
            cand = self._sample()
            if cand not in self._seen:
                return cand
        return None
