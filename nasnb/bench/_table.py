"""Tabular benchmarks: every architecture of a small space, evaluated once, looked up instantly.

:func:`build_table` evaluates a whole (small) space and returns a
:class:`TabularBenchmark`; the benchmark answers ``evaluate(arch)`` from its table, so
search strategies can be compared against ground truth in milliseconds.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..exceptions import BenchmarkError, short_repr

if TYPE_CHECKING:
    from torch import nn

    from ..space import SearchSpace

__all__ = ["BenchmarkError", "TabularBenchmark", "build_table"]

_FORMAT = 1


def _arch_key(space: SearchSpace, arch: Mapping[str, Any]) -> str:
    canonical = space.validate(arch)
    return json.dumps([canonical[k] for k in space], separators=(",", ":"))


class TabularBenchmark:
    """A search space with the metrics of every architecture, answering look-ups instantly.

    Use it as the ``evaluate`` of a :class:`nasnb.Experiment`: it has ``takes_arch = True``,
    so the experiment hands it the architecture instead of training a model.

    Parameters
    ----------
    space : SearchSpace
        The space the table covers.
    rows : list of dict
        One row per architecture: ``{"arch": {...}, metric: value, ...}``.
    metric : str
        The score column. Default: ``"val_acc"``.
    mode : {"max", "min"}
        Whether larger scores are better.

    Examples
    --------
    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
    >>> bench = build_table(space, lambda model: float(isinstance(model[0], nn.Tanh)), metric="score")
    >>> len(bench), bench.evaluate({"act": 1})
    (2, {'score': 1.0})
    >>> bench.top(0.5)
    [{'act': 1}]
    """

    takes_arch = True

    def __init__(self, space: SearchSpace, rows: list[dict[str, Any]], metric: str = "val_acc", mode: str = "max"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.space = space
        self.metric = metric
        self.mode = mode
        self.meta: dict[str, Any] = {}  # what save() stored with the table (filled by load())
        self._rows: dict[str, dict[str, Any]] = {}
        for row in rows:
            if metric not in row:
                raise BenchmarkError(f"table row {row.get('arch')!r} has no metric {metric!r}", key=metric)
            self._rows[_arch_key(space, row["arch"])] = row
        if len(self._rows) != space.size:
            raise BenchmarkError(
                f"the table has {len(self._rows)} distinct architectures but the space has {space.size}; "
                f"a tabular benchmark must cover the whole space"
            )

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows.values())

    def __repr__(self) -> str:
        return f"TabularBenchmark({len(self)} architectures, metric={self.metric!r}, mode={self.mode!r})"

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row, ``{"arch": ..., metric: value, ...}``, in the space's grid order."""
        return list(self._rows.values())

    def lookup(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """The row of ``arch`` (any accepted encoding)."""
        return self._rows[_arch_key(self.space, arch)]

    def evaluate(self, arch: Mapping[str, Any]) -> dict[str, float]:
        """The metrics of ``arch`` (all numeric columns of its row)."""
        row = self.lookup(arch)
        return {k: v for k, v in row.items() if k != "arch"}

    evaluate.takes_arch = True  # type: ignore[attr-defined]

    def __call__(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return self.evaluate(arch)

    def score(self, arch: Mapping[str, Any]) -> float:
        """The score column of ``arch``."""
        return float(self.lookup(arch)[self.metric])

    def _sorted(self) -> list[dict[str, Any]]:
        sign = -1.0 if self.mode == "max" else 1.0
        return sorted(self._rows.values(), key=lambda r: sign * r[self.metric])

    def threshold(self, fraction: float = 0.01) -> float:
        """Score of the ``ceil(fraction * len)``-th best architecture."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
        n = max(1, math.ceil(fraction * len(self)))
        return float(self._sorted()[n - 1][self.metric])

    def top(self, fraction: float = 0.01) -> list[dict[str, Any]]:
        """Architectures scoring at least :meth:`threshold` (ties included), best first."""
        t = self.threshold(fraction)
        return [r["arch"] for r in self._sorted() if self._at_least(r[self.metric], t)]

    def is_top(self, arch: Mapping[str, Any], fraction: float = 0.01) -> bool:
        """Whether ``arch`` is among :meth:`top` ``(fraction)``."""
        return self._at_least(self.score(arch), self.threshold(fraction))

    def _at_least(self, value: float, threshold: float) -> bool:
        return value >= threshold if self.mode == "max" else value <= threshold

    def save(self, path: str | os.PathLike[str], **meta: Any) -> None:
        """Write the table as JSON (with the space's fingerprint and NNI search space)."""
        from .._fingerprint import space_fingerprint
        from ..nni_format import to_nni_search_space

        data = {
            "format": _FORMAT,
            "fingerprint": space_fingerprint(self.space),
            "search_space": to_nni_search_space(self.space),
            "metric": self.metric,
            "mode": self.mode,
            "meta": meta,
            "rows": self.rows,
        }
        from .._atomic import write_text

        write_text(path, json.dumps(data, indent=None, separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, space: SearchSpace, path: str | os.PathLike[str]) -> TabularBenchmark:
        """Read a table written by :meth:`save`; refuse one made for another space."""
        from .._fingerprint import space_fingerprint

        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        mine = space_fingerprint(space)
        if data.get("fingerprint") != mine:
            raise BenchmarkError(
                f"table {os.fspath(path)!r} was built for another search space "
                f"(fingerprint {data.get('fingerprint')!r}, this space has {mine!r})",
                value=data.get("fingerprint"),
            )
        bench = cls(space, data["rows"], metric=data["metric"], mode=data["mode"])
        bench.meta = data.get("meta", {})
        return bench


def build_table(
    space: SearchSpace,
    evaluate: Callable[[nn.Module], float | Mapping[str, float]],
    *,
    metric: str = "val_acc",
    mode: str = "max",
    path: str | os.PathLike[str] | None = None,
    max_size: int = 5000,
    progress: bool = False,
) -> TabularBenchmark:
    """Evaluate every architecture of a small ``space`` and return its tabular benchmark.

    Parameters
    ----------
    space : SearchSpace
        At most ``max_size`` architectures.
    evaluate : callable
        ``evaluate(model) -> float | dict``: receives ``space.fix(arch)``. A float is
        stored under ``metric``.
    metric, mode : str
        Score column and direction.
    path : path, optional
        Also write the table there (JSON, see :meth:`TabularBenchmark.save`).
    max_size : int
        Refuse larger spaces (a table is exhaustive). Default: 5000.
    progress : bool
        Print one line per 10 % done.

    Raises
    ------
    BenchmarkError
        If the space is larger than ``max_size``.
    """
    if space.size > max_size:
        raise BenchmarkError(
            f"space has {space.size} architectures but build_table evaluates at most max_size={max_size}",
            value=space.size,
        )
    rows = []
    start = time.perf_counter()
    for i, arch in enumerate(space.grid()):
        result = evaluate(space.fix(arch))
        metrics = dict(result) if isinstance(result, Mapping) else {metric: result}
        bad = [k for k, v in metrics.items() if not isinstance(v, (int, float))]
        if bad or metric not in metrics:
            raise BenchmarkError(f"evaluate returned {short_repr(result)} for {arch}; expected a number or a dict of "
                                 f"numbers including {metric!r}", key=metric, value=result)
        rows.append({"arch": arch, **{k: float(v) for k, v in metrics.items()}})
        if progress and (i + 1) % max(1, space.size // 10) == 0:
            print(f"build_table: {i + 1}/{space.size} ({time.perf_counter() - start:.0f} s)", flush=True)
    bench = TabularBenchmark(space, rows, metric=metric, mode=mode)
    if path is not None:
        bench.save(path)
    return bench
