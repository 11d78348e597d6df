"""Architecture-weight history: each key's distribution over its candidates, over time.

Every one-shot trainer records into one :class:`ArchHistory`: per record, a step, a
(fractional) epoch and, for each key, one weight per candidate. What the weight means
depends on the algorithm (``history.kind``): DARTS records softmax weights, ENAS the
controller's probabilities, ProxylessNAS the gate probabilities and SPOS sampling
frequencies. For a LayerChoice the weights sum to 1; for an InputChoice each weight is
how strongly that input is used (an inclusion probability or an edge strength), so
they need not sum to 1. Beside the weights, a trainer may log named scalars per record
(:meth:`ArchHistory.add_scalar`; DARTS logs ``skip_share`` and ``skip_weight``).

Examples
--------
>>> from nasnb.oneshot import ArchHistory
>>> h = ArchHistory({"op": ["conv", "pool"]}, kind="softmax")
>>> h.append({"op": [0.5, 0.5]}, step=0, epoch=0.0)
>>> h.append({"op": [0.9, 0.1]}, step=1, epoch=0.5)
>>> h.weights("op")
[[0.5, 0.5], [0.9, 0.1]]
>>> [round(e, 3) for e in h.entropy("op")]
[1.0, 0.469]
>>> h.final()
{'op': [0.9, 0.1]}
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._atomic import atomic_file
from ..exceptions import NasnbError

__all__ = ["ArchHistory", "ArchRecord"]


@dataclass(frozen=True)
class ArchRecord:
    """One snapshot: ``weights[key]`` is a list with one float per candidate."""

    step: int
    epoch: float
    weights: dict[str, list[float]]


class ArchHistory:
    """Per-key candidate weights recorded while a one-shot trainer runs.

    Parameters
    ----------
    names : Mapping[str, Sequence[str]] or SearchSpace
        Candidate labels per key (a :class:`~nasnb.SearchSpace` gives them for every key).
    kind : str
        What the weights are ("softmax", "probability", "gate probability", "frequency").
    """

    def __init__(self, names: Mapping[str, Any], kind: str = "weights"):
        self.names: dict[str, list[str]] = {}
        self.kinds: dict[str, str] = {}
        for key in names:
            value = names[key]
            if hasattr(value, "names") and hasattr(value, "kind"):  # a nasnb Choice
                labels = [n if n else f"input {i}" for i, n in enumerate(value.names)]
                if value.kind == "input" and len(set(labels)) != len(labels):
                    labels = [f"{n} [{i}]" for i, n in enumerate(labels)]
                self.names[key] = labels
                self.kinds[key] = value.kind
            else:
                self.names[key] = [str(n) for n in value]
                self.kinds[key] = "layer"
        self.kind = kind
        self.records: list[ArchRecord] = []
        #: Named scalar series: ``scalars[name]`` is a list of ``(step, epoch, value)``.
        self.scalars: dict[str, list[tuple[int, float, float]]] = {}

    # ---------------------------------------------------------------- record
    def append(self, weights: Mapping[str, Sequence[float]], *, step: int, epoch: float) -> None:
        """Add a snapshot; ``weights`` must give every key one finite float per candidate.

        Raises
        ------
        NasnbError
            A key is missing or unknown, a vector has the wrong length, or a weight is NaN
            (architecture weights that became NaN stop training instead of being kept).
        """
        row: dict[str, list[float]] = {}
        unknown = [k for k in weights if k not in self.names]
        if unknown:
            raise NasnbError(f"history has no key {unknown[0]!r}; keys are {list(self.names)}")
        for key, labels in self.names.items():
            if key not in weights:
                raise NasnbError(f"history record misses key {key!r}; expected weights for {labels}")
            vec = [float(w) for w in weights[key]]
            if len(vec) != len(labels):
                raise NasnbError(
                    f"history record for key {key!r} has {len(vec)} weights, expected {len(labels)} ({labels})"
                )
            if any(math.isnan(w) for w in vec):
                raise NasnbError(f"architecture weights of key {key!r} are NaN: {vec}; training diverged")
            row[key] = vec
        self.records.append(ArchRecord(int(step), float(epoch), row))

    def add_scalar(self, name: str, value: float, *, step: int, epoch: float) -> None:
        """Log ``value`` of the scalar series ``name`` (e.g. DARTS' ``skip_share``) at ``step``/``epoch``.

        >>> h = ArchHistory({"op": ["conv", "skip"]})
        >>> h.add_scalar("skip_share", 0.25, step=3, epoch=1.0)
        >>> h.scalar("skip_share")
        [(3, 1.0, 0.25)]
        """
        self.scalars.setdefault(name, []).append((int(step), float(epoch), float(value)))

    def scalar(self, name: str) -> list[tuple[int, float, float]]:
        """The ``(step, epoch, value)`` entries of the scalar series ``name`` (empty if never logged)."""
        return list(self.scalars.get(name, []))

    # ----------------------------------------------------------------- read
    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        last = f", last step {self.records[-1].step}" if self.records else ""
        return f"ArchHistory({self.kind}: {len(self.names)} keys, {len(self.records)} records{last})"

    @property
    def keys(self) -> list[str]:
        """The keys, in search-space order."""
        return list(self.names)

    @property
    def steps(self) -> list[int]:
        """Training step of each record."""
        return [r.step for r in self.records]

    @property
    def epochs(self) -> list[float]:
        """Fractional epoch of each record (``1.5`` = half-way through the second epoch)."""
        return [r.epoch for r in self.records]

    def _check_key(self, key: str) -> None:
        if key not in self.names:
            raise NasnbError(f"history has no key {key!r}; keys are {list(self.names)}")

    def weights(self, key: str) -> list[list[float]]:
        """All recorded weight vectors of ``key`` (records x candidates)."""
        self._check_key(key)
        return [list(r.weights[key]) for r in self.records]

    def final(self) -> dict[str, list[float]]:
        """The last record's weights per key (empty dict if nothing was recorded)."""
        if not self.records:
            return {}
        return {k: list(v) for k, v in self.records[-1].weights.items()}

    def entropy(self, key: str) -> list[float]:
        """Normalised entropy of ``key`` per record, in [0, 1] (1 = uniform, 0 = decided).

        The weights are normalised to sum to 1 first; a key with one candidate has entropy 0.
        """
        self._check_key(key)
        return [_normalised_entropy(r.weights[key]) for r in self.records]

    # ------------------------------------------------------------ serialise
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (see :meth:`from_dict`)."""
        return {
            "kind": self.kind,
            "names": {k: list(v) for k, v in self.names.items()},
            "kinds": dict(self.kinds),
            "records": [{"step": r.step, "epoch": r.epoch, "weights": r.weights} for r in self.records],
            "scalars": {k: [list(e) for e in v] for k, v in self.scalars.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArchHistory:
        """Rebuild a history written by :meth:`to_dict`."""
        h = cls(data["names"], kind=data.get("kind", "weights"))
        h.kinds.update(data.get("kinds", {}))
        for r in data["records"]:
            h.append(r["weights"], step=r["step"], epoch=r["epoch"])
        for name, entries in data.get("scalars", {}).items():
            for step, epoch, value in entries:
                h.add_scalar(name, value, step=step, epoch=epoch)
        return h

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the history as JSON, atomically: a failed write keeps the previous file."""
        with atomic_file(path, "w") as f:
            json.dump(self.to_dict(), f)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ArchHistory:
        """Read a history written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


def _normalised_entropy(weights: Sequence[float]) -> float:
    n = len(weights)
    total = sum(max(w, 0.0) for w in weights)
    if n <= 1 or total <= 0:
        return 0.0
    h = 0.0
    for w in weights:
        p = max(w, 0.0) / total
        if p > 0:
            h -= p * math.log(p)
    return h / math.log(n)
