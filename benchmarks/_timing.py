"""Timing helpers shared by the benchmarks: interleaved medians, ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


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


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = 7, repeat: int = 15, number: int = 1) -> dict[str, float]:
    """Median per-call time of each function, measured in alternating rounds (noise hits all)."""
    per: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            per[name].append(median_time(fn, repeat=repeat, number=number, warmup=2))
    return {k: statistics.median(v) for k, v in per.items()}


def fmt(seconds: float) -> str:
    """Seconds as a short human string."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
