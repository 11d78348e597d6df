"""The executor interface: run trials somewhere, report them as they finish.

An :class:`Executor` runs ``evaluate(target)`` for the trials an
:class:`~nasnb.Experiment` submits, at most ``slots`` at a time, enforces each trial's
time limit, and hands back :class:`~nasnb._trial.Outcome` records from :meth:`wait`.
Inline, local processes and Ray implement the same five methods, so scaling out is
changing one argument.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from .._trial import Outcome

__all__ = ["Executor"]


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
    def start(self, evaluate: Callable[[Any], Any], slots: int) -> None:
        """Prepare to run up to ``slots`` trials of ``evaluate`` at once."""

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
