"""Policy-gradient (REINFORCE) search with a factorised policy over the keys.

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb.strategy import PolicyGradient
>>> net = nn.Sequential(*[mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key=f"a{i}") for i in range(4)])
>>> strategy = PolicyGradient(learning_rate=0.5, seed=0).bind(SearchSpace(net))
>>> for _ in range(12):
...     arch = strategy.ask()
...     strategy.tell(arch, sum(v == 1 for v in arch.values()))
>>> strategy.probabilities()["a0"][1] > 0.5
True
"""

from __future__ import annotations

import math

from ._base import Indices, Strategy

__all__ = ["PolicyGradient"]


def _softmax(logits: list[float], allowed: list[int]) -> list[float]:
    m = max(logits[j] for j in allowed)
    exps = {j: math.exp(logits[j] - m) for j in allowed}
    total = sum(exps.values())
    return [exps.get(j, 0.0) / total for j in range(len(logits))]


class PolicyGradient(Strategy):
    """REINFORCE over independent per-key distributions, with a moving-average baseline.

    A LayerChoice is a softmax over its candidates; an InputChoice with
    ``n_chosen=None`` one Bernoulli per input; one with ``n_chosen=k`` draws k inputs
    without replacement (Plackett-Luce over per-input logits). Each tell moves the logits
    along ``(score - baseline) / std * grad log p(arch)``. Duplicates are not proposed:
    a duplicate draw is learned from again with its known score and redrawn (up to
    ``dedup_tries`` times) before falling back to a random unseen architecture.

    Parameters
    ----------
    learning_rate : float
        Step size on the logits. Default: 0.2.
    baseline_decay : float
        Decay of the moving average (and variance) of scores. Default: 0.9.
    dedup_tries : int
        Redraws per ask before the random fallback. Default: 20.
    seed : int, optional
        Seeds the draws.
    """

    name = "rl"

    def __init__(self, learning_rate: float = 0.2, baseline_decay: float = 0.9, dedup_tries: int = 20,
                 seed: int | None = None):
        super().__init__(seed)
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay!r}")
        self.learning_rate = learning_rate
        self.baseline_decay = baseline_decay
        self.dedup_tries = dedup_tries
        self._baseline: float | None = None
        self._var = 0.0

    def __repr__(self) -> str:
        return f"PolicyGradient(learning_rate={self.learning_rate}, seed={self.seed!r})"

    def _setup(self) -> None:
        self.logits = [[0.0] * spec.n_candidates for spec in self._specs]
        self._orders: dict[Indices, list[tuple[int, ...]]] = {}  # draw order of k-of-n inputs

    def probabilities(self) -> dict[str, list[float]]:
        """Per key: candidate probabilities (LayerChoice, k-of-n first pick) or inclusion probabilities."""
        out = {}
        for key, spec, logits in zip(self._keys, self._specs, self.logits):
            if spec.kind == "input" and spec.n_chosen is None:
                out[key] = [1 / (1 + math.exp(-lg)) for lg in logits]
            else:
                out[key] = _softmax(logits, list(range(len(logits))))
        return out

    # ---------------------------------------------------------------- sampling
    def _draw(self) -> tuple[Indices, list[tuple[int, ...]]]:
        arch: list[tuple[int, ...]] = []
        orders: list[tuple[int, ...]] = []
        for spec, logits in zip(self._specs, self.logits):
            idx: tuple[int, ...]
            order: tuple[int, ...]
            n = spec.n_candidates
            if spec.kind == "layer":
                p = _softmax(logits, list(range(n)))
                idx = (self.rng.choices(range(n), weights=p)[0],)
                order = idx
            elif spec.n_chosen is None:
                idx = tuple(j for j in range(n) if self.rng.random() < 1 / (1 + math.exp(-logits[j])))
                order = idx
            else:
                remaining, picked = list(range(n)), []
                for _ in range(spec.n_chosen):
                    p = _softmax(logits, remaining)
                    j = self.rng.choices(range(n), weights=p)[0]
                    picked.append(j)
                    remaining.remove(j)
                idx, order = tuple(sorted(picked)), tuple(picked)
            arch.append(idx)
            orders.append(order)
        return tuple(arch), orders

    def _ask(self) -> Indices | None:
        for _ in range(self.dedup_tries):
            cand, orders = self._draw()
            if cand not in self._seen:
                self._orders[cand] = orders
                return cand
            known = self._seen[cand]
            if isinstance(known, float):
                self._update(cand, orders, known)
        return self._random_unseen()

    # ---------------------------------------------------------------- learning
    def _tell(self, indices: Indices, score: float | None) -> None:
        orders = self._orders.pop(indices, None) or list(indices)
        if score is None or math.isnan(score):
            return  # failed trials carry no reward signal
        self._update(indices, orders, score)

    def _update(self, indices: Indices, orders: list[tuple[int, ...]], score: float) -> None:
        if self._baseline is None:
            self._baseline = score
            return
        advantage = score - self._baseline
        std = math.sqrt(self._var) if self._var > 0 else abs(advantage) or 1.0
        step = self.learning_rate * advantage / (std + 1e-12)
        d = self.baseline_decay
        self._baseline = d * self._baseline + (1 - d) * score
        self._var = d * self._var + (1 - d) * advantage**2
        for spec, logits, idx, order in zip(self._specs, self.logits, indices, orders):
            n = spec.n_candidates
            if spec.kind == "layer":
                p = _softmax(logits, list(range(n)))
                for j in range(n):
                    logits[j] += step * ((j == idx[0]) - p[j])
            elif spec.n_chosen is None:
                for j in range(n):
                    logits[j] += step * ((j in idx) - 1 / (1 + math.exp(-logits[j])))
            else:
                remaining = list(range(n))
                grads = [0.0] * n
                for c in order:
                    p = _softmax(logits, remaining)
                    for j in remaining:
                        grads[j] += (j == c) - p[j]
                    remaining.remove(c)
                for j in range(n):
                    logits[j] += step * grads[j]
