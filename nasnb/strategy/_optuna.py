"""What the Optuna-backed strategies share: the import, quiet logs, and the space as Optuna parameters.

:class:`OptunaStrategy` drives one Optuna study through its ask/tell API. Each
LayerChoice is one categorical parameter; an InputChoice with ``n_chosen=None`` is one
include/exclude parameter per input; one with ``n_chosen=k`` a categorical over the
k-subsets. Proposals already seen are told their known values (or failed) and re-asked,
so no duplicate is proposed; after ``dedup_tries`` duplicates in a row a random unseen
architecture is enqueued instead. Subclasses only build the sampler.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from ._base import Indices, Strategy

__all__ = ["OptunaStrategy", "import_optuna", "quiet"]

_MAX_COMBOS = 10_000


def import_optuna(what: str) -> Any:
    """``optuna``, or an ImportError that names the extra to install (``what`` needs it)."""
    try:
        import optuna
    except ImportError as err:
        raise ImportError(f"{what} needs optuna, an optional extra: pip install 'nasnb[optuna]'") from err
    return optuna


@contextlib.contextmanager
def quiet(optuna: Any) -> Iterator[None]:
    """Silence Optuna's per-trial INFO logs and experimental warnings, then restore."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


class OptunaStrategy(Strategy):
    """A strategy that is an Optuna sampler on the space's parameters (see the module docstring).

    Subclasses implement :meth:`_sampler`. Told scores are maximised; with several
    objectives (``bind(space, n_objectives=n)``) a told score is a sequence of ``n``
    values, each maximised.
    """

    def __init__(self, dedup_tries: int = 20, seed: int | None = None):
        super().__init__(seed)
        self.dedup_tries = dedup_tries

    def _sampler(self, optuna: Any) -> Any:
        raise NotImplementedError

    def _setup(self) -> None:
        optuna = self._optuna = import_optuna(f"nasnb.strategy.{type(self).__name__}")
        with quiet(optuna):
            self.study = optuna.create_study(directions=["maximize"] * self.n_objectives, sampler=self._sampler(optuna))
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
                n_subsets = math.comb(spec.n_candidates, spec.n_chosen)
                if n_subsets > _MAX_COMBOS:
                    from ..exceptions import SearchSpaceError

                    raise SearchSpaceError(
                        f"{type(self).__name__}: InputChoice {key!r} has {n_subsets} subsets of {spec.n_chosen} "
                        f"inputs; at most {_MAX_COMBOS} are supported",
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

    def _values(self, score: Any) -> list[float] | None:
        """The study's values for a told score (None: failed)."""
        if score is None:
            return None
        values = [float(v) for v in score] if isinstance(score, Sequence) else [float(score)]
        return None if any(math.isnan(v) for v in values) else values

    def _ask(self) -> Indices | None:
        optuna = self._optuna
        with quiet(optuna):
            for _ in range(self.dedup_tries):
                trial = self.study.ask(self._dists)
                cand = self._from_params(trial.params)
                if cand not in self._seen:
                    self._trials.setdefault(cand, []).append(trial)
                    return cand
                known = self._seen[cand]
                values = self._values(known) if isinstance(known, (float, tuple)) else None
                if values is not None:
                    self.study.tell(trial, values)
                else:  # pending or failed: no information to add
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            unseen = self._random_unseen()
            if unseen is None:
                return None
            self.study.enqueue_trial(self._to_params(unseen))
            trial = self.study.ask(self._dists)
            self._trials.setdefault(unseen, []).append(trial)
            return unseen

    def _tell(self, indices: Indices, score: Any) -> None:
        optuna = self._optuna
        pending = self._trials.get(indices)
        values = self._values(score)
        with quiet(optuna):
            if pending:
                trial = pending.pop(0)
                if values is None:
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    self.study.tell(trial, values)
            elif values is not None:  # a result the study never asked for (resume, hand-picked)
                self.study.add_trial(
                    optuna.trial.create_trial(params=self._to_params(indices), distributions=self._dists, values=values)
                )
