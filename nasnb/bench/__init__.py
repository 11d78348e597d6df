"""Tabular benchmarks: ground truth for comparing search strategies in milliseconds.

``load_digits_benchmark()`` reads the table shipped with nasnb: all 512 architectures of
:func:`digits_model` (an MLP on scikit-learn's 8x8 digits), each trained with two fixed
seeds (mean validation and test accuracy, parameter count). :func:`build_table` makes
such a table for your own small space.

Examples
--------
>>> import nasnb
>>> bench = nasnb.bench.load_digits_benchmark()
>>> bench
TabularBenchmark(512 architectures, metric='val_acc', mode='max')
>>> arch = bench.space.sample(seed=0)
>>> 0.0 < bench.evaluate(arch)["val_acc"] <= 1.0
True
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import BenchmarkError
from ._digits import DigitsNet, digits_model, load_digits_split, train_digits
from ._table import TabularBenchmark, build_table

__all__ = [
    "BenchmarkError",
    "DigitsNet",
    "TabularBenchmark",
    "build_table",
    "digits_model",
    "load_digits_benchmark",
    "load_digits_split",
    "train_digits",
]

DIGITS_TABLE = Path(__file__).with_name("digits_table.json")


def load_digits_benchmark() -> TabularBenchmark:
    """The shipped digits table over a fresh :func:`digits_model` space."""
    from ..space import SearchSpace

    return TabularBenchmark.load(SearchSpace(digits_model()), DIGITS_TABLE)
