"""Timing helpers shared by the benchmarks: interleaved medians, ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def median_time(fn: Callable[[], object], repeat: int = 30, number: int = 1, warmup: int = 3) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` samples of ``number`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def rotations(names: Sequence[str], rounds: int) -> list[list[str]]:
    """The order to run ``names`` in each round: rotated by one per round, so that over
    ``len(names)`` rounds each function runs once in every position (first after a pause,
    right after each of the others), and no function always pays for, or profits from,
    what its fixed predecessor left in caches and clocks.

    >>> rotations(["a", "b", "c"], 4)
    [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c']]
    """
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(rounds)]


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = 7, repeat: int = 15, number: int = 1) -> dict[str, float]:
    """Median per-call time of each function, measured in alternating rounds (noise hits all).

    The order within a round rotates from round to round (see :func:`rotations`).
    """
    per: dict[str, list[float]] = {k: [] for k in fns}
    for order in rotations(list(fns), rounds):
        for name in order:
            per[name].append(median_time(fns[name], repeat=repeat, number=number, warmup=2))
    return {k: statistics.median(v) for k, v in per.items()}


def fmt(seconds: float) -> str:
    """Seconds as a short human string."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
