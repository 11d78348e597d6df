"""Short human forms of numbers for tables, widgets and plots."""

from __future__ import annotations

__all__ = ["format_count"]


def format_count(n: float | int | None, unit: str = "") -> str:
    """Short human form: 1234567 -> '1.23 M'.

    >>> format_count(1234567), format_count(2048, "B"), format_count(None)
    ('1.23 M', '2.05 kB', '-')
    """
    if n is None:
        return "-"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g} {suffix}{unit}"
    return f"{n:g} {unit}".rstrip()
