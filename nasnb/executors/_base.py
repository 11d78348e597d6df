"""The executor interface: run trials somewhere, report them as they finish.

An :class:`Executor` runs ``evaluate(target)`` for the trials an
:class:`~nasnb.Experiment` submits, at most ``slots`` at a time, enforces each trial's
time limit, and hands back :class:`~nasnb._trial.Outcome` records from :meth:`wait`.
Inline, local processes and Ray implement the same five methods, so scaling out is
changing one argument.

An ``evaluate(target, trial)`` that :func:`~nasnb._report.takes_trial` gets a
:class:`~nasnb.TrialReporter` whose reports reach the driver's ``on_report(number, step,
value) -> prune?`` (given to :meth:`Executor.start`) while the trial runs, wherever it runs.
"""

from __future__ import annotations

import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from .._report import TrialReporter, takes_trial
from .._trial import Outcome

__all__ = ["Executor", "OnReport", "start_executor"]

#: ``on_report(number, step, value) -> bool``: record a report, return whether to prune the trial.
OnReport = Callable[[int, int, float], bool]


class Executor(ABC):
    """Runs trials; subclasses: inline, local processes, Ray.

    The experiment calls :meth:`start` once, then :meth:`submit` while :attr:`free`
    is positive, :meth:`wait` for finished trials, and :meth:`shutdown` at the end.
    """

    #: short name accepted by ``Experiment(executor="...")``
    name = "executor"

    def __init__(self) -> None:
        self.slots = 1
        self._running: dict[int, Any] = {}

    @property
    def free(self) -> int:
        """Trials that can be submitted now."""
        return self.slots - len(self._running)

    @property
    def running(self) -> int:
        """Trials submitted and not yet returned by :meth:`wait`."""
        return len(self._running)

    @abstractmethod
    def start(self, evaluate: Callable[..., Any], slots: int, on_report: OnReport | None = None) -> None:
        """Prepare to run up to ``slots`` trials of ``evaluate`` at once.

        If ``evaluate`` takes a ``trial``, each report of trial ``n`` calls
        ``on_report(n, step, value)`` in the driver and its answer is what
        ``trial.should_prune()`` returns (never pruned without ``on_report``).
        """

    @abstractmethod
    def submit(self, trial_id: int, target: Any, timeout: float | None) -> None:
        """Start ``evaluate(target)``; ``timeout`` seconds at most (None: no limit)."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[tuple[int, Outcome]]:
        """Block until at least one trial finished (or ``timeout``); return the finished ones."""

    @abstractmethod
    def shutdown(self) -> None:
        """Release workers; trials still running are abandoned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def reporter(trial_id: int, on_report: OnReport | None) -> TrialReporter:
    """The reporter trial ``trial_id`` gets where its reports can call ``on_report`` directly."""
    if on_report is None:
        return TrialReporter(trial_id)
    return TrialReporter(trial_id, send=lambda step, value: on_report(trial_id, step, value))


class _Unreported:
    """``evaluate(target, trial)`` as ``evaluate(target)``, with a reporter nobody hears."""

    def __init__(self, evaluate: Callable[..., Any]):
        self.evaluate = evaluate

    def __call__(self, target: Any) -> Any:
        return self.evaluate(target, TrialReporter(None))


def start_executor(executor: Executor, evaluate: Callable[..., Any], slots: int, on_report: OnReport) -> None:
    """``executor.start`` with ``on_report``; also for an executor whose ``start`` predates reporting.

    Such an executor runs ``evaluate(target)``: an ``evaluate`` that takes a ``trial``
    then gets one that records nothing and never prunes (with a UserWarning).
    """
    if "on_report" in inspect.signature(executor.start).parameters:
        executor.start(evaluate, slots, on_report=on_report)
        return
    if takes_trial(evaluate):
        warnings.warn(f"{type(executor).__name__}.start() takes no on_report argument: evaluate's trial.report() "
                      f"values are not recorded and no trial is pruned", UserWarning, stacklevel=3)
        evaluate = _Unreported(evaluate)
    executor.start(evaluate, slots)
