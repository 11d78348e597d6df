"""TPE through Optuna's :class:`optuna.samplers.TPESampler` and its ask/tell API.

Needs the optional extra: ``pip install 'nasnb[optuna]'``. Optuna is imported when the
strategy is bound, not when nasnb is.

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb.strategy import TPE
>>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key="act"))
>>> strategy = TPE(seed=0).bind(SearchSpace(net))
>>> archs = [strategy.ask() for _ in range(3)]
>>> sorted(a["act"] for a in archs), strategy.ask()
([0, 1, 2], None)
"""

from __future__ import annotations

from typing import Any

from ._optuna import OptunaStrategy

__all__ = ["TPE"]


class TPE(OptunaStrategy):
    """Tree-structured Parzen Estimator, Optuna's implementation, on any search space.

    Each LayerChoice is one categorical parameter; an InputChoice with ``n_chosen=None``
    is one include/exclude parameter per input; one with ``n_chosen=k`` a categorical
    over the k-subsets. Proposals already seen are told their known score (or skipped)
    and re-asked, so TPE never proposes a duplicate; after ``dedup_tries`` duplicates in
    a row it falls back to a random unseen architecture, enqueued in the study. With
    several objectives it is Optuna's multi-objective TPE.

    Parameters
    ----------
    n_startup_trials : int
        Random trials before TPE models the scores. Default: 10.
    multivariate : bool
        Model parameters jointly (Optuna's multivariate TPE). Default: True.
    constant_liar : bool
        Avoid proposing near-duplicates of pending trials when several run at once.
        Default: True.
    dedup_tries : int
        Duplicates tolerated per ask before the random fallback. Default: 20.
    seed : int, optional
        Seeds the sampler and the fallback.
    **sampler_kwargs
        Passed to :class:`optuna.samplers.TPESampler`.

    Raises
    ------
    ImportError
        When optuna is missing; the message names the ``nasnb[optuna]`` extra.
    """

    name = "tpe"
    max_objectives = None  # Optuna's TPE is multi-objective (MOTPE) when the study has several directions

    def __init__(
        self,
        n_startup_trials: int = 10,
        multivariate: bool = True,
        constant_liar: bool = True,
        dedup_tries: int = 20,
        seed: int | None = None,
        **sampler_kwargs: Any,
    ):
        super().__init__(dedup_tries, seed)
        self.n_startup_trials = n_startup_trials
        self.multivariate = multivariate
        self.constant_liar = constant_liar
        self.sampler_kwargs = sampler_kwargs

    def warm_up(self) -> tuple[str, int] | None:
        """The first ``n_startup_trials`` asks are random draws (Optuna's startup trials)."""
        return ("n_startup_trials", self.n_startup_trials)

    def __repr__(self) -> str:
        return f"TPE(n_startup_trials={self.n_startup_trials}, seed={self.seed!r})"

    def _sampler(self, optuna: Any) -> Any:
        return optuna.samplers.TPESampler(
            n_startup_trials=self.n_startup_trials,
            multivariate=self.multivariate,
            constant_liar=self.constant_liar,
            seed=self.seed,
            **self.sampler_kwargs,
        )
