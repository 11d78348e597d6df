"""Every exception and warning nasnb raises, in one hierarchy.

Every exception names the mutable key, the value received and what was expected, and
carries ``.key`` and ``.value``. All derive from :class:`NasnbError`; a bad input is also a
:class:`ValueError` (never a :class:`KeyError`, whose message is printed quoted with escaped
newlines), a failure while running something is also a :class:`RuntimeError`::

    NasnbError
    ├── ArchitectureError (ValueError)  an architecture does not fit the space
    ├── SearchSpaceError (ValueError)   a model cannot be bound as a space
    ├── LoadError (ValueError)          an architecture to load is not JSON nor a file
    ├── BenchmarkError (ValueError)     a table does not fit the space; a bad evaluate result
    ├── JournalError (ValueError)       a journal that cannot be used
    │   ├── JournalMismatchError, JournalLockedError, JournalAccessError
    ├── TrainingError (ValueError)      a one-shot training cannot go on
    │   └── CheckpointError
    ├── ForwardError (RuntimeError)     the model's forward failed for an architecture
    └── StrategyError (RuntimeError)    a strategy misused or told garbage
    JournalWarning (UserWarning)        damaged journal lines skipped
    TrialPruned (Exception)             not an error: ``evaluate`` raises it to end a pruned trial

Examples
--------
>>> from nasnb.exceptions import ArchitectureError, Problem
>>> err = ArchitectureError([Problem("conv1", "conv7x7", "one of ['conv3x3', 'conv5x5']")])
>>> print(err)
invalid architecture (1 problem):
  - 'conv1': got 'conv7x7', expected one of ['conv3x3', 'conv5x5']
>>> err.key, err.value
('conv1', 'conv7x7')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ArchitectureError",
    "BenchmarkError",
    "CheckpointError",
    "ForwardError",
    "JournalAccessError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalWarning",
    "LoadError",
    "NasnbError",
    "Problem",
    "SearchSpaceError",
    "StrategyError",
    "TrainingError",
    "TrialPruned",
    "listed",
    "short_repr",
]

#: Longest quote of a received value in an error message (characters).
MAX_QUOTE = 200
#: Most problems an ArchitectureError lists one by one (the rest are counted).
MAX_LISTED = 20


def short_repr(value: Any, limit: int = MAX_QUOTE) -> str:
    """``repr(value)`` cut to ``limit`` characters (a huge value never makes a huge message).

    >>> short_repr("x" * 1000, 20)
    "'xxxxxxxxxx... (1002 characters)"
    """
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still reported
        text = f"<{type(value).__name__} object whose repr() fails>"
    if len(text) <= limit:
        return text
    return f"{text[:limit - 9]}... ({len(text)} characters)"


class NasnbError(Exception):
    """Base class of every nasnb error; ``.key`` and ``.value`` say what was wrong.

    >>> err = SearchSpaceError("nested mutables", key="conv1")
    >>> isinstance(err, NasnbError) and isinstance(err, ValueError), err.key, err.value
    (True, 'conv1', None)
    """

    key: Any = None
    value: Any = None

    def __init__(self, message: str = "", key: Any = None, value: Any = None):
        super().__init__(message)
        if key is not None:  # a subclass may have set them before calling this
            self.key = key
        if value is not None:
            self.value = value


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one key of an architecture."""

    key: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{short_repr(self.key)}: got {short_repr(self.value)}, expected {self.expected}"


def listed(problems: Sequence[Any]) -> list[str]:
    """Message lines for ``problems``: the first :data:`MAX_LISTED` one by one, the rest counted."""
    lines = [f"  - {p}" for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED} more (all in .problems)")
    return lines


class ArchitectureError(NasnbError, ValueError):
    """An architecture (mapping key -> choice) does not fit the search space.

    All problems are reported together in ``.problems``; ``.key``/``.value`` are the
    first one's, ``.keys`` all keys involved.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        self.keys = [p.key for p in self.problems]
        first = self.problems[0] if self.problems else None
        self.key = first.key if first else None
        self.value = first.value if first else None
        n = len(self.problems)
        lines = [f"invalid architecture ({n} problem{'s' if n != 1 else ''}):"]
        super().__init__("\n".join(lines + listed(self.problems)))


class SearchSpaceError(NasnbError, ValueError):
    """A model cannot be bound as a search space (nesting, key conflicts, bad references)."""


class LoadError(NasnbError, ValueError):
    """An architecture to load is neither valid JSON text nor an existing file."""


class BenchmarkError(NasnbError, ValueError):
    """A table does not fit the space, a space is too large to tabulate, or ``evaluate`` gave no usable number."""


class JournalError(NasnbError, ValueError):
    """A journal that cannot be used: not a nasnb journal, another space or settings, locked, unwritable."""


class JournalMismatchError(JournalError):
    """The journal was written for another search space, other candidates or other settings."""


class JournalLockedError(JournalError):
    """Another experiment (or another open :class:`~nasnb.journal.Journal`) is writing the journal."""


class JournalAccessError(JournalError):
    """The journal cannot be created or opened for writing (missing or read-only folder ...)."""


class JournalWarning(UserWarning):
    """Damaged journal lines were skipped, or a check could not be made."""


class TrainingError(NasnbError, ValueError):
    """Training cannot go on: empty data, a non-scalar or NaN loss, a diverged architecture."""


class CheckpointError(TrainingError):
    """A checkpoint cannot be loaded into this trainer; the trainer was left as it was.

    Raised by :meth:`~nasnb.oneshot.OneShotTrainer.load_checkpoint` (and ``load_state_dict``)
    for a file that is empty, truncated or not a nasnb checkpoint, and for one written by
    another trainer or for another model. ``.path`` is the file (None for a state dict),
    ``.problems`` every mismatch found (``"where: what"``), ``.key`` the first one's place.
    """

    def __init__(self, source: str, trainer: str, problems: Sequence[tuple[str, str]],
                 path: str | None = None, changed: bool = False):
        self.path = path
        self.problems = [f"{where}: {what}" for where, what in problems]
        self.key = problems[0][0] if problems else None
        self.value = path
        n = len(self.problems)
        state = ("the trainer may be partly restored: build a new one" if changed
                 else "the trainer was not changed")
        lines = [f"cannot load {source} into {trainer} ({n} problem{'s' if n != 1 else ''}; {state}):"]
        super().__init__("\n".join(lines + listed(self.problems)))


class ForwardError(NasnbError, RuntimeError):
    """The model's forward failed for an architecture.

    ``.keys`` are the keys involved (changed last, when known), ``.value`` the failing
    architecture, ``.module`` the path of the innermost module that raised (or None) and
    ``.error`` the original exception. :func:`nasnb.profile.forward_error` builds one
    from the original exception.
    """

    def __init__(self, message: str, *, keys: Sequence[str] = (), arch: dict[str, Any] | None = None,
                 module: str | None = None, error: BaseException | None = None):
        super().__init__(message)
        self.keys = list(keys or ())
        self.key = self.keys[0] if self.keys else None
        self.value = arch
        self.module = module
        self.error = error


class StrategyError(NasnbError, RuntimeError):
    """A strategy used before :meth:`~nasnb.strategy.Strategy.bind`, or told garbage."""


class TrialPruned(Exception):
    """Raised by ``evaluate`` to end a trial the pruner stopped (``trial.should_prune()`` said so).

    Not an error: the trial is recorded with status ``"pruned"`` and its curve, as
    Optuna's ``raise optuna.TrialPruned()`` idiom.

    >>> from nasnb._trial import run_evaluate
    >>> def evaluate(model):
    ...     raise TrialPruned()
    >>> run_evaluate(evaluate, None).pruned
    True
    """
