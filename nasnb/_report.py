"""Intermediate results: the ``trial`` object ``evaluate(model, trial)`` reports to.

An ``evaluate`` that takes a second argument gets a :class:`TrialReporter` and reports a
learning curve with ``trial.report(value, step)``; ``trial.should_prune()`` says whether
the experiment's pruner wants the trial stopped, which ``evaluate`` does by raising
:class:`nasnb.TrialPruned` (Optuna's idiom). Where the reporter sends a report (the
experiment directly, a worker's pipe, a Ray actor) is the executor's business: it hands
in ``send(step, value) -> prune?``.

Examples
--------
>>> def evaluate(model, trial):
...     for epoch in range(3):
...         trial.report(0.5 + 0.1 * epoch)
...     return 0.7
>>> takes_trial(evaluate), takes_trial(lambda model: 1.0)
(True, False)
>>> trial = TrialReporter(0)
>>> evaluate(None, trial), trial.intermediate
(0.7, [[0, 0.5], [1, 0.6], [2, 0.7]])
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

from ._trial import _show

__all__ = ["TrialReporter", "takes_trial"]


def takes_trial(evaluate: Any) -> bool:
    """Whether ``evaluate`` is called as ``evaluate(model_or_arch, trial)``.

    The rule: its signature has a second positional parameter that is named ``trial`` or
    has no default. So ``evaluate(model, trial=None)`` and ``evaluate(model, t)`` get the
    reporter; ``evaluate(model)``, ``evaluate(model, epochs=5)`` and ``evaluate(*args)``
    do not. A callable without a readable signature is called with one argument.

    >>> takes_trial(lambda model, trial=None: 1.0), takes_trial(lambda model, epochs=5: 1.0)
    (True, False)
    """
    try:
        params = list(inspect.signature(evaluate).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        return False
    second = positional[1]
    return second.name == "trial" or second.default is inspect.Parameter.empty


class TrialReporter:
    """What ``evaluate(model, trial)`` receives: report values, ask whether to stop.

    Parameters
    ----------
    number : int or None
        The trial's number (None for a reporter no experiment follows).
    send : callable, optional
        ``send(step, value) -> bool``, called with each report; returns whether the
        pruner wants the trial stopped. Without it reports are only kept here.

    Attributes
    ----------
    intermediate : list of [step, value]
        Everything reported so far.

    Examples
    --------
    >>> trial = TrialReporter(3, send=lambda step, value: value < 0.5)
    >>> trial.report(0.9); trial.should_prune()
    False
    >>> trial.report(0.2, step=5); trial.should_prune()
    True
    >>> trial.report(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: trial 3: report(nan) got a non-finite value; expected a finite number (a float, an int or a 0-dim tensor)
    """

    def __init__(self, number: int | None, send: Callable[[int, float], bool] | None = None):
        self.number = number
        self.intermediate: list[list[float]] = []
        self._send = send
        self._prune = False

    def __repr__(self) -> str:
        return f"TrialReporter(number={self.number}, reports={len(self.intermediate)})"

    def report(self, value: Any, step: int | None = None) -> None:
        """Record ``value`` (e.g. validation accuracy) at ``step`` (default: the last step + 1, from 0).

        Values must be better in the experiment's direction (``mode``), like the score.

        Raises
        ------
        ValueError
            For a value that is not a finite number, or a step that is not an int above
            the previous one; the message names the trial, the value and what was expected.
        """
        last = int(self.intermediate[-1][0]) if self.intermediate else -1
        call = f"report({_show(value)}{'' if step is None else f', step={_show(step)}'})"
        if step is None:
            step = last + 1
        elif isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise ValueError(f"{self._who()}: {call} got step {_show(step)} ({type(step).__name__}); "
                             f"expected an int (or None for the next step, {last + 1})")
        elif step <= last:
            raise ValueError(f"{self._who()}: {call} got step {step} after step {last}; "
                             f"expected a step above {last} (steps only go up)")
        elif step < 0:
            raise ValueError(f"{self._who()}: {call} got step {step}; expected a step >= 0")
        number = _finite(value)
        if number is None:
            what = "a non-finite value" if _is_number(value) else f"{_show(value)} ({type(value).__name__})"
            raise ValueError(f"{self._who()}: {call} got {what}; expected a finite number "
                             f"(a float, an int or a 0-dim tensor)")
        self.intermediate.append([int(step), number])
        if self._send is not None:
            self._prune = bool(self._send(int(step), number))

    def should_prune(self) -> bool:
        """Whether the pruner wants this trial stopped, judging by the last report (False before any)."""
        return self._prune

    def _who(self) -> str:
        return "trial" if self.number is None else f"trial {self.number}"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(value: Any) -> float | None:
    """``value`` as a finite float (numbers, 0-dim tensors, numpy scalars), else None."""
    if not _is_number(value):
        item = getattr(value, "item", None)
        if not callable(item):
            return None
        try:
            value = item()
        except Exception:  # noqa: BLE001 - a tensor of several elements
            return None
        if not _is_number(value):
            return None
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
