"""Trials: one evaluated architecture, how it is run, and how its result becomes a score.

:func:`run_evaluate` is what every executor runs (inline, in a worker process, on a Ray
worker): it calls ``evaluate`` and catches everything, so a crashing trial becomes a
record instead of ending the search. :func:`interpret` turns what ``evaluate`` returned
into a score and metrics, or a failure for NaN and non-numbers.
"""

from __future__ import annotations

import math
import numbers
import reprlib
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from .exceptions import TrialPruned

if TYPE_CHECKING:
    from ._report import TrialReporter

__all__ = [
    "Outcome", "Trial", "TrialTimeout", "ambiguous_metric", "check_timeout", "interpret", "run_evaluate",
]

#: What became of a trial; one definition, read by type checkers and by the journal's reader.
Status = Literal["ok", "failed", "timeout", "rejected", "pruned"]
STATUSES: tuple[Status, ...] = get_args(Status)


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
    status : {"ok", "failed", "timeout", "rejected", "pruned"}
        ``rejected``: the constraint refused it before training; ``pruned``: the pruner
        stopped it (``evaluate`` raised :class:`nasnb.TrialPruned`).
    score : float or None
        The metric the search optimises (None unless ``status == "ok"``).
    metrics : dict
        Every number ``evaluate`` returned (None for a non-finite one read back from a journal,
        which stores those as null).
    error : str or None
        Why the trial failed (exception type and message).
    duration : float
        Seconds spent in ``evaluate``.
    intermediate : list
        The learning curve ``evaluate(model, trial)`` reported (``trial.report``) as
        ``[step, value]`` pairs; empty
        if it reported nothing.
    """

    number: int
    arch: dict[str, Any]
    status: Status = "ok"
    score: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    traceback: str | None = field(default=None, repr=False)
    intermediate: list[list[float]] = field(default_factory=list, repr=False)

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
    pruned: bool = False  # evaluate raised nasnb.TrialPruned


def _alarm(signum: int, frame: Any) -> None:
    raise TrialTimeout()


#: Longest time limit enforced with a timer signal (``setitimer`` overflows near 1e12 s).
_MAX_TIMER = 1e8


def check_timeout(timeout: Any) -> float | None:
    """A trial time limit in seconds as a float, or None for no limit.

    ``None`` and ``float("inf")`` (or a number too large for a float) mean no limit.

    Raises
    ------
    ValueError
        For anything but a positive number or None: NaN, zero, negative numbers,
        booleans, strings ...

    >>> check_timeout(2), check_timeout(float("inf")), check_timeout(None)
    (2.0, None, None)
    >>> check_timeout("10")
    Traceback (most recent call last):
    ...
    ValueError: timeout must be a positive number of seconds or None, got '10' (a str)
    """
    if timeout is None:
        return None
    problem = None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        problem = f" ({_type_name(timeout)})"
    else:
        try:
            value = float(timeout)
        except OverflowError:  # an int beyond float range: no limit in practice
            value = math.inf if _positive(timeout) else -math.inf
        except Exception:  # noqa: BLE001 - a numbers.Real whose float() fails
            value = math.nan
        if value > 0:
            return None if math.isinf(value) else value
    raise ValueError(f"timeout must be a positive number of seconds or None, got {_show(timeout)}{problem or ''}")


def run_evaluate(evaluate: Callable[..., Any], target: Any, limit: float | None = None,
                 reporter: TrialReporter | None = None) -> Outcome:
    """Call ``evaluate(target)``; return an :class:`Outcome`, never raise (except KeyboardInterrupt).

    With a ``reporter`` (for an ``evaluate`` that :func:`~nasnb._report.takes_trial`) the
    call is ``evaluate(target, reporter)``; if it raises :class:`nasnb.TrialPruned` the
    outcome is marked ``pruned``.

    With ``limit`` (seconds; None or ``inf``: no limit), a timer signal interrupts
    ``evaluate`` when this runs in the main thread on POSIX; elsewhere the call completes
    and is then marked as timed out if it took too long. The timer is off, and the
    previous SIGALRM handler back, before anything else happens once ``evaluate`` has
    returned or raised: a late alarm is ignored, never raised into the caller. What
    ``evaluate`` returned or raised is then turned into plain values or readable text
    (a failed outcome when that is impossible).
    """
    limit = check_timeout(limit)
    # the timer's setting: the limit where a timer signal can enforce it, else None
    timer = limit if (limit is not None and limit <= _MAX_TIMER and hasattr(signal, "setitimer")
                      and threading.current_thread() is threading.main_thread()) else None
    preempt = timer is not None
    live = [False]  # our handler raises only while this is True, and only once

    def on_alarm(signum: int, frame: Any) -> None:
        if live[0]:
            live[0] = False
            _alarm(signum, frame)

    previous: Any = None
    if preempt:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    result: Any = None
    failure: BaseException | None = None
    timed_out = False
    start = time.perf_counter()
    try:
        try:
            if timer is not None:
                live[0] = True
                signal.setitimer(signal.ITIMER_REAL, timer)
            result = evaluate(target) if reporter is None else evaluate(target, reporter)
        finally:  # nested, so the timer goes off even if the alarm lands on the first line here
            try:
                live[0] = False
            finally:
                if preempt:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, previous)
    except TrialTimeout:
        timed_out = True
    except Exception as err:  # noqa: BLE001 - a failing trial must not end the search
        if _is_pruned(err):
            return Outcome(duration=time.perf_counter() - start, pruned=True)
        failure = err
    duration = time.perf_counter() - start
    # the timer is off from here on: formatting and converting cannot be interrupted
    if timed_out:
        return Outcome(error=f"TrialTimeout: exceeded the time limit of {limit:g} s", duration=duration,
                       timed_out=True)
    if failure is not None:
        return Outcome(error=_error_text(failure), traceback=_traceback_text(failure), duration=duration)
    if limit is not None and duration > limit:
        return Outcome(error=f"TrialTimeout: took {duration:.3g} s, limit {limit:g} s", duration=duration,
                       timed_out=True)
    try:
        return Outcome(result=_plain(result), duration=duration)
    except _BadResult as err:
        return Outcome(error=str(err), duration=duration)
    except Exception as err:  # noqa: BLE001 - e.g. a mapping whose items() fails
        return Outcome(error=f"converting evaluate's result {_show(result)} failed: {_error_text(err)}",
                       traceback=_traceback_text(err), duration=duration)


def _is_pruned(err: BaseException) -> bool:
    """``nasnb.TrialPruned``, or Optuna's ``optuna.TrialPruned`` (the same idiom)."""
    return isinstance(err, TrialPruned) or (type(err).__name__ == "TrialPruned"
                                            and type(err).__module__.startswith("optuna"))


# ------------------------------------------------------------------ readable text for any value
#: Characters of a value shown in a message; exception messages get ``_SHOW_ERROR``.
_SHOW = 200
_SHOW_ERROR = 2000
_SHOW_TRACEBACK = 20000
#: Ints from this size on are described (digits, magnitude), not written out.
_BIG_INT = 10**40


def _type_name(value: Any) -> str:
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _cap(text: str, limit: int = _SHOW) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _describe_int(value: int) -> str:
    """``int of 401 digits (about 1e+400)`` without converting the int to text or float."""
    size = abs(value)
    exponent = int(math.log10(size))  # may be off by one for huge ints: fixed exactly below
    while 10**exponent > size:
        exponent -= 1
    while 10 ** (exponent + 1) <= size:
        exponent += 1
    leading = size // 10 ** max(0, exponent - 3)  # up to 4 leading digits
    digits = str(leading)
    mantissa = (digits[0] + "." + digits[1:]).rstrip("0").rstrip(".")
    sign = "-" if value < 0 else ""
    return f"int of {exponent + 1} digits (about {sign}{mantissa}e+{exponent})"


class _Repr(reprlib.Repr):
    """``repr`` for messages: short containers and strings, huge ints described, never raises."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple, self.maxset = 3, 6, 6, 6, 6
        self.maxstring, self.maxother, self.maxlong = 80, 120, 60

    def repr_int(self, x: int, level: int) -> str:
        return f"<{_describe_int(x)}>" if abs(x) >= _BIG_INT else repr(x)

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception as err:  # noqa: BLE001
            return f"<{type(x).__name__} object; repr() raised {type(err).__name__}>"
        return _cap(text, self.maxother)


_REPR = _Repr()


def _show(value: Any) -> str:
    """``repr(value)`` for a message: at most about ``_SHOW`` characters, never raises."""
    try:
        return _cap(_REPR.repr(value))
    except Exception:  # noqa: BLE001 - pathological containers
        return f"<{type(value).__name__} object>"


def _error_text(err: BaseException) -> str:
    """``Type: message`` for an exception, even one whose ``__str__`` fails (capped)."""
    name = type(err).__name__
    try:
        message = str(err)
    except Exception:  # noqa: BLE001
        return f"<exception of type {name}; its message could not be shown>"
    return _cap(f"{name}: {message}" if message else name, _SHOW_ERROR)


def _traceback_text(err: BaseException) -> str | None:
    """The formatted traceback; a huge one keeps its start and end."""
    try:
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    except Exception:  # noqa: BLE001 - the error text is what matters
        return None
    if len(text) <= _SHOW_TRACEBACK:
        return text
    head, tail = _SHOW_TRACEBACK * 3 // 4, _SHOW_TRACEBACK // 4
    return f"{text[:head]}\n... ({len(text) - head - tail} characters left out) ...\n{text[-tail:]}"


# ------------------------------------------------------------------ results to plain values
class _BadResult(Exception):
    """What ``evaluate`` returned cannot become a number; the message says why."""


def _as_float(value: numbers.Real, where: str) -> float:
    try:
        return float(value)
    except OverflowError:
        if isinstance(value, numbers.Integral):
            raise _BadResult(f"{where} an {_describe_int(int(value))}, which is not a finite number "
                             f"(too large for a float)") from None
        raise _BadResult(f"{where} {_show(value)}, which is not a finite number (too large for a float)") from None
    except Exception as err:  # noqa: BLE001 - a Real whose __float__ fails
        raise _BadResult(f"{where} {_show(value)}; float() of it raised {_error_text(err)}") from None


def _plain(value: Any, where: str = "evaluate returned") -> Any:
    """Tensors / numpy scalars to Python numbers, so results pickle small and compare simply.

    Raises :class:`_BadResult` (a readable reason) for a number that is not a finite
    float (an int too large for one) or an object whose ``.item()`` fails. Anything
    else that is not a number becomes its (capped) ``repr`` for :func:`interpret`.
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            try:
                key = str(k)
            except Exception:  # noqa: BLE001
                key = _show(k)
            out[key] = _plain(v, f"evaluate returned metric {_show(key)} =")
        return out
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Real):
        return _as_float(value, where)
    item = getattr(value, "item", None)  # 0-dim tensors, numpy scalars
    if callable(item):
        try:
            inner = item()
        except Exception as err:  # noqa: BLE001 - a tensor of several elements, a broken .item()
            raise _BadResult(f"{where} {_show(value)}; its .item() raised {_error_text(err)}; "
                             f"expected a number or a dict of numbers") from None
        if isinstance(inner, numbers.Real) and not isinstance(inner, bool):
            return _as_float(inner, where)
    return _show(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if _positive(value) else -math.inf
    except Exception:  # noqa: BLE001
        return None


def _positive(value: Any) -> bool:
    try:
        return bool(value > 0)
    except Exception:  # noqa: BLE001
        return True


def ambiguous_metric(metrics: Mapping[str, Any]) -> str:
    """The error for a dict of several numbers without ``metric=`` (nor a ``"score"`` entry)."""
    return (f"evaluate returned several metrics {_show(list(metrics))} and no metric= says which is the "
            f"score; pass metric=... (and mode='min' if smaller is better)")


def interpret(result: Any, metric: str | None) -> tuple[float | None, dict[str, float], str | None]:
    """``(score, metrics, error)`` for what ``evaluate`` returned.

    A number is the score (metrics ``{"score": x}``). A dict's score is ``metric``, or
    ``"score"``, or its only entry; a dict of several numbers without ``metric`` or
    ``"score"`` is an error (which one to optimise is not guessed). NaN, infinities and
    anything that is not a number give ``score=None`` and an error saying what came back.

    >>> interpret(0.5, None)
    (0.5, {'score': 0.5}, None)
    >>> interpret({"acc": 0.9, "params": 10}, "acc")
    (0.9, {'acc': 0.9, 'params': 10.0}, None)
    >>> print(interpret({"acc": 0.9, "params": 10}, None)[2])  # doctest: +NORMALIZE_WHITESPACE
    evaluate returned several metrics ['acc', 'params'] and no metric= says which is the score;
    pass metric=... (and mode='min' if smaller is better)
    >>> interpret(float("nan"), None)[2]
    'evaluate returned a non-finite score: nan'
    >>> interpret("high", None)[2]
    "evaluate returned 'high'; expected a number or a dict of numbers"
    """
    if isinstance(result, Mapping):
        numbers_or_none = {k: _number(v) for k, v in result.items()}
        bad = {k: result[k] for k, v in numbers_or_none.items() if v is None}
        metrics: dict[str, float] = {k: v for k, v in numbers_or_none.items() if v is not None}
        if not numbers_or_none or bad:
            what = f"non-numbers {_show(bad)}" if bad else "an empty dict"
            return None, metrics, f"evaluate returned {what}; expected a number or a dict of numbers"
        if metric is None and "score" not in metrics and len(metrics) > 1:
            return None, metrics, ambiguous_metric(metrics)
        name = metric if metric is not None else ("score" if "score" in metrics else next(iter(metrics)))
        if name not in metrics:
            return None, metrics, f"evaluate returned no metric {_show(name)}; it returned {_show(sorted(metrics))}"
        score = metrics[name]
    else:
        if isinstance(result, numbers.Integral) and not isinstance(result, bool):
            try:
                _as_float(result, "evaluate returned")
            except _BadResult as err:
                return None, {}, str(err)
        number = _number(result)
        if number is None:
            return None, {}, f"evaluate returned {_show(result)}; expected a number or a dict of numbers"
        score = number
        metrics = {metric or "score": score}
    if not math.isfinite(score):
        return None, metrics, f"evaluate returned a non-finite score: {score}"
    return score, metrics, None
