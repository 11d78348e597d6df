"""The experiment journal: an append-only JSON-lines file, one line per finished trial.

The first line is a header with the search space's fingerprint and NNI search-space
JSON; every later line is one :class:`~nasnb._trial.Trial`, written, flushed and
fsynced the moment the trial ends, so killing the process loses at most the trials
still running. :class:`nasnb.Experiment` reads the journal back to resume.

Examples
--------
>>> import tempfile, os
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> from nasnb._trial import Trial
>>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
>>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
>>> with Journal(path, space) as journal:
...     journal.append(Trial(0, {"act": "1"}, score=0.5))
>>> [(t.number, t.arch, t.score) for t in Journal(path, space).read()]
[(0, {'act': '1'}, 0.5)]
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from typing import IO, TYPE_CHECKING, Any

from ._trial import Trial
from .exceptions import NasnbError
from .nni_format import space_fingerprint, to_nni_search_space

if TYPE_CHECKING:
    from .space import SearchSpace

__all__ = ["Journal", "JournalError"]

FORMAT = 1


class JournalError(NasnbError, ValueError):
    """A journal that belongs to another search space, or is not a nasnb journal."""

    def __init__(self, message: str, key: Any = None, value: Any = None):
        super().__init__(message)
        self.key = key
        self.value = value


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")


class Journal:
    """Append-only record of an experiment's finished trials.

    Parameters
    ----------
    path : path
        The JSON-lines file; created (with its header) on the first :meth:`append`.
    space : SearchSpace
        The space the trials belong to; :meth:`read` refuses a journal written for a
        space with another fingerprint.
    meta : dict, optional
        Written into the header (strategy, metric, mode ...).
    """

    def __init__(self, path: str | os.PathLike, space: SearchSpace, meta: dict[str, Any] | None = None):
        self.path = os.fspath(path)
        self.space = space
        self.fingerprint = space_fingerprint(space)
        self.meta = dict(meta or {})
        self._file: IO[str] | None = None

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def exists(self) -> bool:
        """Whether the file exists and holds at least a header."""
        return os.path.exists(self.path) and os.path.getsize(self.path) > 0

    def read(self) -> list[Trial]:
        """Every trial recorded so far (empty if there is no journal yet).

        A torn last line (the process died while writing it) is ignored with a warning.

        Raises
        ------
        JournalError
            If the file is not a nasnb journal, was written for another search space, or
            has a corrupt line before the last.
        """
        if not self.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        records = []
        for n, line in enumerate(lines, start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                if n == len(lines):
                    warnings.warn(f"journal {self.path!r}: ignoring a torn last line {n} ({err})", stacklevel=2)
                    break
                raise JournalError(f"journal {self.path!r}: line {n} is not JSON ({err})", value=line) from err
        if not records or records[0].get("type") != "header":
            raise JournalError(f"{self.path!r} is not a nasnb journal: its first line is not a header")
        header = records[0]
        theirs = header.get("fingerprint")
        if theirs != self.fingerprint:
            raise JournalError(
                f"journal {self.path!r} was written for another search space (fingerprint {theirs!r}, "
                f"this space has {self.fingerprint!r}); its keys are {sorted(header.get('search_space', {}))}, "
                f"this space's are {sorted(self.space)}. Use a new journal path for this space.",
                value=theirs,
            )
        return [Trial.from_json(r) for r in records[1:] if r.get("type") == "trial"]

    def _open(self) -> IO[str]:
        if self._file is None:
            fresh = not self.exists()
            if not fresh:
                self.read()  # refuse to append to another space's journal
                self._drop_torn_tail()
            self._file = open(self.path, "a", encoding="utf-8")
            if fresh:
                header = {"type": "header", "format": FORMAT, "fingerprint": self.fingerprint,
                          "search_space": to_nni_search_space(self.space), "created": time.time(), **self.meta}
                self._write(header)
        return self._file

    def _drop_torn_tail(self) -> None:
        """Cut a last line the previous process did not finish, so appends start on a fresh line."""
        with open(self.path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)

    def _write(self, record: dict[str, Any]) -> None:
        f = self._file
        assert f is not None
        f.write(json.dumps(record, default=_json_default, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())

    def append(self, trial: Trial) -> None:
        """Write ``trial`` as one line and fsync it before returning."""
        self._open()
        record = {"type": "trial", **trial.to_json()}
        record["metrics"] = {k: (v if math.isfinite(v) else None) for k, v in record["metrics"].items()}
        self._write(record)

    def close(self) -> None:
        """Close the file (appending again reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None
