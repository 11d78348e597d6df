"""TPE through Optuna's :class:`optuna.samplers.TPESampler` and its ask/tell API.

Needs the optional extra: ``pip install 'nasnb[tpe]'``. Optuna is imported when the
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

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

from ._base import Indices, Strategy

__all__ = ["TPE"]

_MAX_COMBOS = 10_000


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as err:
        raise ImportError(
            "nasnb.strategy.TPE needs optuna, an optional extra: pip install 'nasnb[tpe]'"
        ) from err
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Silence Optuna's per-trial INFO logs and experimental warnings, then restore."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


class TPE(Strategy):
    """Tree-structured Parzen Estimator, Optuna's implementation, on any search space.

    Each LayerChoice is one categorical parameter; an InputChoice with ``n_chosen=None``
    is one include/exclude parameter per input; one with ``n_chosen=k`` a categorical
    over the k-subsets. Proposals already seen are told their known score (or skipped)
    and re-asked, so TPE never proposes a duplicate; after ``dedup_tries`` duplicates in
    a row it falls back to a random unseen architecture, enqueued in the study.

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
        When optuna is missing; the message names the ``nasnb[tpe]`` extra.
    """

    name = "tpe"

    def __init__(
        self,
        n_startup_trials: int = 10,
        multivariate: bool = True,
        constant_liar: bool = True,
        dedup_tries: int = 20,
        seed: int | None = None,
        **sampler_kwargs: Any,
    ):
        super().__init__(seed)
        self.n_startup_trials = n_startup_trials
        self.multivariate = multivariate
        self.constant_liar = constant_liar
        self.dedup_tries = dedup_tries
        self.sampler_kwargs = sampler_kwargs

    def warm_up(self) -> tuple[str, int] | None:
        """The first ``n_startup_trials`` asks are random draws (Optuna's startup trials)."""
        return ("n_startup_trials", self.n_startup_trials)

    def __repr__(self) -> str:
        return f"TPE(n_startup_trials={self.n_startup_trials}, seed={self.seed!r})"

    def _setup(self) -> None:
        optuna = self._optuna = _import_optuna()
        with _quiet(optuna):
            sampler = optuna.samplers.TPESampler(
                n_startup_trials=self.n_startup_trials,
                multivariate=self.multivariate,
                constant_liar=self.constant_liar,
                seed=self.seed,
                **self.sampler_kwargs,
            )
            self.study = optuna.create_study(direction="maximize", sampler=sampler)
        cat = optuna.distributions.CategoricalDistribution
        self._dists: dict[str, Any] = {}
        self._combos: list[list[tuple[int, ...]] | None] = []
        for key, spec in zip(self._keys, self._specs):
            if spec.kind == "layer":
                self._dists[key] = cat(list(range(spec.n_candidates)))
                self._combos.append(None)
            elif spec.n_chosen is None:
                for j in range(spec.n_candidates):
                    self._dists[f"{key}/{j}"] = cat([0, 1])
                self._combos.append(None)
            else:
                if math.comb(spec.n_candidates, spec.n_chosen) > _MAX_COMBOS:
                    from ..exceptions import SearchSpaceError

                    raise SearchSpaceError(
                        f"TPE: InputChoice {key!r} has {math.comb(spec.n_candidates, spec.n_chosen)} subsets "
                        f"of {spec.n_chosen} inputs; at most {_MAX_COMBOS} are supported",
                        key=key,
                    )
                combos = list(spec.all_indices())
                self._dists[key] = cat(list(range(len(combos))))
                self._combos.append(combos)
        self._trials: dict[Indices, list[Any]] = {}  # pending optuna trials per architecture

    def _to_params(self, indices: Indices) -> dict[str, int]:
        params: dict[str, int] = {}
        for key, spec, combos, idx in zip(self._keys, self._specs, self._combos, indices):
            if spec.kind == "layer":
                params[key] = idx[0]
            elif combos is None:
                for j in range(spec.n_candidates):
                    params[f"{key}/{j}"] = int(j in idx)
            else:
                params[key] = combos.index(idx)
        return params

    def _from_params(self, params: dict[str, int]) -> Indices:
        out: list[tuple[int, ...]] = []
        for key, spec, combos in zip(self._keys, self._specs, self._combos):
            if spec.kind == "layer":
                out.append((params[key],))
            elif combos is None:
                out.append(tuple(j for j in range(spec.n_candidates) if params[f"{key}/{j}"]))
            else:
                out.append(combos[params[key]])
        return tuple(out)

    def _ask(self) -> Indices | None:
        optuna = self._optuna
        with _quiet(optuna):
            for _ in range(self.dedup_tries):
                trial = self.study.ask(self._dists)
                cand = self._from_params(trial.params)
                if cand not in self._seen:
                    self._trials.setdefault(cand, []).append(trial)
                    return cand
                known = self._seen[cand]
                if isinstance(known, float):
                    self.study.tell(trial, known)
                else:  # pending or failed: no information to add
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            unseen = self._random_unseen()
            if unseen is None:
                return None
            self.study.enqueue_trial(self._to_params(unseen))
            trial = self.study.ask(self._dists)
            self._trials.setdefault(unseen, []).append(trial)
            return unseen

    def _tell(self, indices: Indices, score: float | None) -> None:
        optuna = self._optuna
        pending = self._trials.get(indices)
        failed = score is None or math.isnan(score)
        with _quiet(optuna):
            if pending:
                trial = pending.pop(0)
                if failed:
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    self.study.tell(trial, score)
            elif not failed:  # a result the study never asked for (resume, hand-picked)
                self.study.add_trial(
                    optuna.trial.create_trial(params=self._to_params(indices), distributions=self._dists, value=score)
                )
