"""Exceptions raised by nasnb.

Every exception names the mutable key, the value received and what was expected.
They subclass :class:`ValueError` or :class:`LookupError` (never :class:`KeyError`, whose
message is printed quoted with escaped newlines) and carry ``.key`` and ``.value``.

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
    "NasnbError",
    "Problem",
    "SearchSpaceError",
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
    """Base class of every nasnb error; ``.key`` and ``.value`` say what was wrong."""

    key: Any = None
    value: Any = None


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

    def __init__(self, message: str, key: Any = None, value: Any = None):
        super().__init__(message)
        self.key = key
        self.value = value
