"""Pruning: an Optuna pruner judging an experiment's learning curves.

:class:`PruningStudy` mirrors the experiment's reporting trials in an in-memory Optuna
study, so Optuna's pruners (median, successive halving, or any
``optuna.pruners.BasePruner``) decide, with their own logic, whether a trial should
stop: each reporting trial is one Optuna trial (``study.ask()``), each report goes to
``trial.report`` and the answer is ``trial.should_prune()``; a finished trial is told
complete, pruned or failed, and one read from a journal is added with its curve
(``optuna.trial.create_trial``).

Examples
--------
>>> from nasnb._trial import Trial
>>> study = PruningStudy(make_pruner("median"), mode="max")
>>> for n in range(5):  # five finished trials, read back from a journal: score n, curve [[0, n]]
...     study.finish(Trial(n, {}, "ok", float(n), intermediate=[[0, float(n)]]))
>>> study.report(5, step=0, value=0.5), study.report(6, step=0, value=3.5)  # below / above the median 2
(True, False)
"""

from __future__ import annotations

from typing import Any

from ._trial import Trial

__all__ = ["PRUNERS", "PruningStudy", "make_pruner"]

#: Pruner names accepted by ``Experiment(pruner=...)`` and the Optuna pruner each one builds (default settings).
PRUNERS = {"median": "MedianPruner", "halving": "SuccessiveHalvingPruner"}


def _optuna() -> Any:
    from .strategy._optuna import import_optuna

    return import_optuna("Experiment(pruner=...)")


def make_pruner(pruner: Any) -> Any:
    """An Optuna pruner for ``pruner``: None, a name in :data:`PRUNERS`, or an ``optuna.pruners.BasePruner``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the names).
    TypeError
        For anything else that is not an Optuna pruner.
    ImportError
        When optuna (the ``nasnb[optuna]`` extra) is missing.

    >>> make_pruner(None) is None, type(make_pruner("halving")).__name__
    (True, 'SuccessiveHalvingPruner')
    """
    if pruner is None:
        return None
    if isinstance(pruner, str) and pruner not in PRUNERS:
        raise ValueError(f"unknown pruner {pruner!r}; expected None, one of {sorted(PRUNERS)} "
                         f"or an optuna.pruners.BasePruner instance")
    optuna = _optuna()
    if isinstance(pruner, str):
        return getattr(optuna.pruners, PRUNERS[pruner])()
    if not isinstance(pruner, optuna.pruners.BasePruner):
        raise TypeError(f"pruner must be None, one of {sorted(PRUNERS)} or an optuna.pruners.BasePruner "
                        f"instance, got {type(pruner).__name__}")
    return pruner


class PruningStudy:
    """An in-memory Optuna study with ``pruner`` that follows an experiment's reporting trials.

    Parameters
    ----------
    pruner : optuna.pruners.BasePruner
        Decides; see :func:`make_pruner`.
    mode : {"max", "min"}
        The study's direction: reported values are better in the same direction as scores.
    """

    def __init__(self, pruner: Any, mode: str):
        from .strategy._optuna import quiet

        self._optuna = optuna = _optuna()
        self._quiet = quiet
        with quiet(optuna):
            self.study = optuna.create_study(direction="maximize" if mode == "max" else "minimize", pruner=pruner,
                                             sampler=optuna.samplers.RandomSampler(seed=0))  # no parameters to sample
        self._running: dict[int, Any] = {}  # trial number -> its Optuna trial

    def report(self, number: int, step: int, value: float) -> bool:
        """Report ``value`` at ``step`` for trial ``number``; whether the pruner wants it stopped."""
        with self._quiet(self._optuna):
            trial = self._running.get(number)
            if trial is None:
                trial = self._running[number] = self.study.ask()
            trial.report(value, step)
            return bool(trial.should_prune())

    def finish(self, trial: Trial) -> None:
        """Tell the pruner how ``trial`` ended; one it did not follow (read from a journal) is added with its curve."""
        states = self._optuna.trial.TrialState
        state = {"ok": states.COMPLETE, "pruned": states.PRUNED}.get(trial.status, states.FAIL)
        value = trial.score if trial.status == "ok" else None
        with self._quiet(self._optuna):
            followed = self._running.pop(trial.number, None)
            if followed is not None:
                self.study.tell(followed, value, state=state)
            elif trial.intermediate and trial.status != "rejected":
                self.study.add_trial(self._optuna.trial.create_trial(
                    state=state, value=value, intermediate_values={int(step): v for step, v in trial.intermediate}))

    def abandon(self) -> None:
        """Trials that never finished (an interrupted run) are failed; a re-run starts a new curve."""
        with self._quiet(self._optuna):
            for trial in self._running.values():
                self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        self._running.clear()
