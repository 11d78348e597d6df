"""Run trials in the calling process, one at a time (the default).

Examples
--------
>>> from nasnb.executors import InlineExecutor
>>> ex = InlineExecutor()
>>> ex.start(lambda x: x * 2, slots=1)
>>> ex.submit(0, 21, timeout=None)
>>> [(i, out.result) for i, out in ex.wait()]
[(0, 42.0)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._report import takes_trial
from .._trial import Outcome, check_timeout, run_evaluate
from ._base import Executor, OnReport, reporter

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    """Evaluate each trial in this process, when :meth:`wait` is called.

    The embedded choice: no pickling, breakpoints and prints work, the model stays on
    this process's device. A time limit interrupts ``evaluate`` with a timer signal when
    running in the main thread on POSIX; elsewhere the trial runs to completion and is
    then recorded as timed out if it took too long. ``trial.report()`` calls the
    experiment's ``on_report`` directly.
    """

    name = "inline"

    def start(self, evaluate: Callable[..., Any], slots: int = 1, on_report: OnReport | None = None) -> None:
        self._evaluate = evaluate
        self._reports = takes_trial(evaluate)
        self._on_report = on_report
        self.slots = 1

    def submit(self, trial_id: int, target: Any, timeout: float | None) -> None:
        self._running[trial_id] = (target, check_timeout(timeout))

    def wait(self, timeout: float | None = None) -> list[tuple[int, Outcome]]:
        done = []
        for trial_id, (target, limit) in list(self._running.items()):
            del self._running[trial_id]
            trial = reporter(trial_id, self._on_report) if self._reports else None
            done.append((trial_id, run_evaluate(self._evaluate, target, limit, trial)))
        return done

    def shutdown(self) -> None:
        self._running.clear()
