"""Trials: one evaluated architecture, how it is run, and how its result becomes a score.

:func:`run_evaluate` is what every executor runs (inline, in a worker process, on a Ray
worker): it calls ``evaluate`` and catches everything, so a crashing trial becomes a
record instead of ending the search. :func:`interpret` turns what ``evaluate`` returned
into a score and metrics, or a failure for NaN and non-numbers.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["Outcome", "Trial", "TrialTimeout", "interpret", "run_evaluate"]

STATUSES = ("ok", "failed", "timeout", "rejected")


class TrialTimeout(Exception):
    """Raised inside an inline trial that exceeded its time limit."""


@dataclass
class Trial:
    """One architecture and what became of it.

    Attributes
    ----------
    number : int
        Position in the experiment (0, 1, ...), unique within a journal.
    arch : dict
        The architecture, in readable form (``SearchSpace.export``).
    status : {"ok", "failed", "timeout", "rejected"}
        ``rejected``: the constraint refused it before training.
    score : float or None
        The metric the search optimises (None unless ``status == "ok"``).
    metrics : dict
        Every number ``evaluate`` returned.
    error : str or None
        Why the trial failed (exception type and message).
    duration : float
        Seconds spent in ``evaluate``.
    """

    number: int
    arch: dict[str, Any]
    status: str = "ok"
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    traceback: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True for a trial with a score."""
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the journal's line format, without ``type``)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trial:
        """Inverse of :meth:`to_json` (unknown fields are ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Outcome:
    """What running ``evaluate`` produced, before interpretation (crosses process borders)."""

    result: Any = None
    error: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    timed_out: bool = False


def _alarm(signum: int, frame: Any) -> None:
    raise TrialTimeout()


def run_evaluate(evaluate: Callable[[Any], Any], target: Any, limit: float | None = None) -> Outcome:
    """Call ``evaluate(target)``; return an :class:`Outcome`, never raise (except KeyboardInterrupt).

    With ``limit`` (seconds), a timer signal interrupts ``evaluate`` when this runs in
    the main thread on POSIX; elsewhere the call completes and is then marked as timed
    out if it took too long.
    """
    preempt = (limit is not None and hasattr(signal, "setitimer")
               and threading.current_thread() is threading.main_thread())
    if preempt:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    try:
        result = evaluate(target)
    except TrialTimeout:
        return Outcome(error=f"TrialTimeout: exceeded the time limit of {limit:g} s",
                       duration=time.perf_counter() - start, timed_out=True)
    except Exception as err:  # noqa: BLE001 - a failing trial must not end the search
        return Outcome(error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc(),
                       duration=time.perf_counter() - start)
    finally:
        if preempt:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    duration = time.perf_counter() - start
    if limit is not None and duration > limit:
        return Outcome(error=f"TrialTimeout: took {duration:.3g} s, limit {limit:g} s", duration=duration,
                       timed_out=True)
    return Outcome(result=_plain(result), duration=duration)


def _plain(value: Any) -> Any:
    """Tensors / numpy scalars to Python numbers, so results pickle small and compare simply."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)  # 0-dim tensors, numpy scalars
    if callable(item):
        try:
            inner = item()
        except (TypeError, ValueError, RuntimeError):
            inner = None
        if isinstance(inner, numbers.Real) and not isinstance(inner, bool):
            return float(inner)
    return repr(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def interpret(result: Any, metric: str | None) -> tuple[float | None, dict[str, float], str | None]:
    """``(score, metrics, error)`` for what ``evaluate`` returned.

    A number is the score (metrics ``{"score": x}``). A dict's score is ``metric``, or
    ``"score"``, or its only / first entry. NaN, infinities and anything that is not a
    number give ``score=None`` and an error saying what came back.

    >>> interpret(0.5, None)
    (0.5, {'score': 0.5}, None)
    >>> interpret({"acc": 0.9, "params": 10}, None)
    (0.9, {'acc': 0.9, 'params': 10.0}, None)
    >>> interpret(float("nan"), None)[2]
    'evaluate returned a non-finite score: nan'
    >>> interpret("high", None)[2]
    "evaluate returned 'high'; expected a number or a dict of numbers"
    """
    if isinstance(result, Mapping):
        metrics = {k: _number(v) for k, v in result.items()}
        bad = {k: result[k] for k, v in metrics.items() if v is None}
        if not metrics or bad:
            what = f"non-numbers {bad!r}" if bad else "an empty dict"
            return None, {k: v for k, v in metrics.items() if v is not None}, (
                f"evaluate returned {what}; expected a number or a dict of numbers")
        name = metric if metric is not None else ("score" if "score" in metrics else next(iter(metrics)))
        if name not in metrics:
            return None, metrics, f"evaluate returned no metric {name!r}; it returned {sorted(metrics)}"
        score = metrics[name]
    else:
        score = _number(result)
        if score is None:
            return None, {}, f"evaluate returned {result!r}; expected a number or a dict of numbers"
        metrics = {metric or "score": score}
    if not math.isfinite(score):
        return None, metrics, f"evaluate returned a non-finite score: {score}"
    return score, metrics, None
