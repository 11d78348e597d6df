"""The experiment journal: an append-only JSON-lines file, one line per finished trial.

The first line is a header with the search space's fingerprint, its NNI search-space
JSON, a description of every candidate (type and settings) and the experiment's settings
(strategy and its settings, metric, mode); every later line is one
:class:`~nasnb._trial.Trial`, written and fsynced the moment the trial ends, so killing
the process loses at most the trials still running. :class:`nasnb.Experiment` reads the
journal back to resume.

A trial's reports (``trial.report(value, step)`` in ``evaluate(model, trial)``) are
also written as they happen, one ``{"type": "report", "number", "step", "value"}`` line
each (written at once, not fsynced: see :meth:`Journal.report`), for anyone following the
file. Reading skips them: a finished trial's record holds its whole curve
(``intermediate``), and a trial that never finished is re-run with a new curve.

Nothing is lost (DESIGN rule 14):

- **Reading** keeps every valid record. A damaged line anywhere (not JSON, cut short by a
  crash, or hand-edited into wrong types) is skipped with a :class:`JournalWarning` that
  names the file, the line and what is wrong; it is never deleted. A valid last line
  that only lacks its newline is kept.
- **Writing** (:meth:`Journal.open`) locks the file, so a second experiment on the same
  journal fails at once with :class:`JournalLockedError`; it terminates an unfinished
  last line before appending and copies damaged lines to ``<journal>.damaged``.
- **Resuming** refuses a journal written for another space, other candidates (ReLU
  replaced by GELU under the same name) or other settings, with
  :class:`JournalMismatchError` saying what differs.

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

import errno
import hashlib
import json
import math
import numbers
import os
import re
import tempfile
import time
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._atomic import _fsync_dir
from ._fingerprint import space_fingerprint
from ._trial import STATUSES, Trial
from .exceptions import (
    MAX_QUOTE,
    JournalAccessError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalWarning,
)
from .exceptions import short_repr as _quote
from .mutables import LayerChoice
from .nni_format import to_nni_search_space

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer per journal is then up to the user
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .space import SearchSpace

__all__ = [
    "DamagedLine",
    "Journal",
    "JournalAccessError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalWarning",
    "describe_candidates",
]

#: Newest header format this module reads (and the one it writes).
FORMAT = 1
#: Damaged lines listed one by one in a warning (the rest are counted).
_LISTED = 10
#: Settings in ``meta`` checked on resume, with the words used to report them.
_CHECKED = {"mode": "mode", "metric": "metric", "strategy": "strategy", "objectives": "objectives"}


@dataclass(frozen=True)
class DamagedLine:
    """A journal line that holds no usable record: its number (from 1), what is wrong, its text."""

    line: int
    problem: str
    text: str


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _describe(module: Any) -> str:
    """One candidate's type and settings: its ``repr`` on one line, without memory addresses."""
    text = _ADDRESS.sub("", " ".join(repr(module).split()))
    if len(text) > MAX_QUOTE:  # a large block: the start to read, a hash to compare
        text = f"{text[:150]}... sha256:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"
    return text


def describe_candidates(space: SearchSpace) -> dict[str, list[str]]:
    """Each LayerChoice key's candidates as text (type and settings), in order.

    A key shared by several LayerChoices joins their (distinct) descriptions with ``" | "``.

    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> describe_candidates(SearchSpace(nn.Sequential(mutables.LayerChoice([nn.Linear(2, 3), nn.ReLU()], key="op"))))
    {'op': ['Linear(in_features=2, out_features=3, bias=True)', 'ReLU()']}
    """
    out: dict[str, list[str]] = {}
    for key in space:
        if space[key].kind != "layer":
            continue
        choices = [m for m in space.mutables(key) if isinstance(m, LayerChoice)]  # a "layer" key binds LayerChoices
        columns = zip(*([_describe(m) for m in choice] for choice in choices))
        out[key] = [" | ".join(dict.fromkeys(column)) for column in columns]
    return out


# ------------------------------------------------------------------ reading
class _Bad(Exception):
    """A line that holds no usable record; the message says why."""


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _trial_from_record(record: Any, space: SearchSpace) -> Trial | None:
    """The trial a parsed line holds, None for a record of another type; raises _Bad."""
    if not isinstance(record, dict) or not isinstance(record.get("type", "trial"), str):
        raise _Bad(f"{_quote(record)} is not a journal record (expected a JSON object with a 'type')")
    if record.get("type", "trial") != "trial":
        if record["type"] == "header":
            raise _Bad("a second header (expected a trial record)")
        return None  # a report (its trial's record holds the curve), or a type from a newer nasnb
    for name in ("number", "arch", "status"):
        if name not in record:
            raise _Bad(f"no {name!r} field (a trial record needs number, arch and status)")
    number = record["number"]
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise _Bad(f"'number' is {_quote(number)}, expected a non-negative integer")
    arch = record["arch"]
    if not isinstance(arch, dict):
        raise _Bad(f"'arch' is {_quote(arch)}, expected an object key -> choice")
    try:
        space.validate(arch)
    except (ValueError, LookupError, TypeError) as err:
        detail = " ".join(str(err).split())
        raise _Bad(f"'arch' does not fit this search space ({detail[:MAX_QUOTE]})") from None
    status = record["status"]
    if status not in STATUSES:
        raise _Bad(f"'status' is {_quote(status)}, expected one of {list(STATUSES)}")
    score = record.get("score")
    if score is not None and not (_number(score) and math.isfinite(score)):
        raise _Bad(f"'score' is {_quote(score)}, expected a finite number or null")
    if status == "ok" and score is None:
        raise _Bad("an 'ok' trial needs a finite 'score', it has null")
    metrics = record.get("metrics", {})
    if not isinstance(metrics, dict) or not all(v is None or _number(v) for v in metrics.values()):
        raise _Bad(f"'metrics' is {_quote(metrics)}, expected an object name -> number (or null)")
    for name in ("error", "traceback"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise _Bad(f"{name!r} is {_quote(record[name])}, expected a string or null")
    duration = record.get("duration", 0.0)
    if not _number(duration):
        raise _Bad(f"'duration' is {_quote(duration)}, expected a number of seconds")
    curve = record.get("intermediate", [])  # absent in journals written before reporting
    if not isinstance(curve, list) or not all(_point(p) for p in curve):
        raise _Bad(f"'intermediate' is {_quote(curve)}, expected a list of [step, value] pairs "
                   f"(an integer and a finite number)")
    return Trial(number, arch, status, None if score is None else float(score),
                 {k: (None if v is None else float(v)) for k, v in metrics.items()},
                 record.get("error"), float(duration), record.get("traceback"),
                 [[int(step), float(value)] for step, value in curve])


def _point(pair: Any) -> bool:
    """A ``[step, value]`` pair of a curve."""
    return (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int) and not isinstance(pair[0], bool)
            and _number(pair[1]) and math.isfinite(pair[1]))


@dataclass
class _Contents:
    header: dict[str, Any]
    trials: list[Trial]
    damaged: list[DamagedLine]
    ends_with_newline: bool


# ------------------------------------------------------------------ locking
def _lock_holder(path: str) -> int | None:
    """The pid holding a flock on ``path`` (Linux ``/proc/locks``), or None if unknown."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii") as f:
            rows = [line.split() for line in f]
    except OSError:
        return None
    candidates = []
    for parts in rows:
        if len(parts) < 6 or "->" in parts or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            pid = int(parts[4])
            ino = int(inode)
        except ValueError:
            continue
        if ino != st.st_ino:
            continue
        if (int(major, 16), int(minor, 16)) == (os.major(st.st_dev), os.minor(st.st_dev)):
            return pid
        candidates.append(pid)  # overlay file systems report another device
    return candidates[0] if len(set(candidates)) == 1 else None


_OPEN: weakref.WeakSet[Journal] = weakref.WeakSet()


def _forget_in_child() -> None:
    """After fork, the child closes its copies of open journals, so the lock ends with the parent."""
    for journal in list(_OPEN):
        if journal._fd is not None:
            try:
                os.close(journal._fd)
            except OSError:
                pass
            journal._fd = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class Journal:
    """Append-only record of an experiment's finished trials.

    Parameters
    ----------
    path : path
        The JSON-lines file; created (with its header) by :meth:`open` or the first
        :meth:`append`.
    space : SearchSpace
        The space the trials belong to; a journal written for a space with other keys,
        choices or candidates is refused.
    meta : dict, optional
        Written into the header (``strategy``, ``strategy_settings``, ``metric``, ``mode``
        ...); on resume, those entries must match the header's.
    fsync : bool
        fsync every record before :meth:`append` returns (default). Without it a power cut
        may lose the last trials (a killed process loses nothing either way).

    Attributes
    ----------
    damaged : list of DamagedLine
        The lines the last :meth:`read` or :meth:`open` skipped.
    max_number : int
        The largest trial number on any line the last :meth:`read` or :meth:`open` saw,
        damaged ones included (-1 if none): new trials are numbered above it.

    Examples
    --------
    >>> import os, tempfile
    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> from nasnb._trial import Trial
    >>> space = SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    >>> path = os.path.join(tempfile.mkdtemp(), "j.jsonl")
    >>> with Journal(path, space) as journal:
    ...     journal.append(Trial(0, {"act": 1}, score=0.5))
    >>> wider = SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key="act"))
    >>> Journal(path, wider).read()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nasnb.exceptions.JournalMismatchError: journal '...j.jsonl' was written for another search space ...
    """

    def __init__(self, path: str | os.PathLike[str], space: SearchSpace, meta: dict[str, Any] | None = None, *,
                 fsync: bool = True):
        self.path = os.fspath(path)
        self.space = space
        self.fingerprint = space_fingerprint(space)
        self.candidates = describe_candidates(space)
        self.meta = dict(meta or {})
        self.fsync = fsync
        self.damaged: list[DamagedLine] = []
        self.max_number = -1
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            self.close()

    def exists(self) -> bool:
        """Whether the file exists and holds at least a header."""
        return os.path.exists(self.path) and os.path.getsize(self.path) > 0

    @property
    def damaged_path(self) -> str:
        """Where :meth:`open` copies damaged lines: ``<journal>.damaged``."""
        return self.path + ".damaged"

    # ------------------------------------------------------------------ reading
    def read(self) -> list[Trial]:
        """Every valid trial recorded so far, in file order (empty if there is no journal yet).

        Damaged lines are skipped with a :class:`JournalWarning` naming each line and
        what is wrong (see :attr:`damaged`); nothing is changed on disk.

        Raises
        ------
        JournalError
            If the file is not a nasnb journal (its first line is not a header).
        JournalMismatchError
            If it was written for another search space, other candidates or other settings.
        """
        if not self.exists():
            self.damaged, self.max_number = [], -1
            return []
        with open(self.path, "rb") as f:
            contents = self._parse(f.read())
        self._warn_damaged(contents.damaged, copied=False)
        return contents.trials

    def _parse(self, data: bytes) -> _Contents:
        lines = data.split(b"\n")
        ends_with_newline = lines[-1] == b""
        if ends_with_newline:
            lines.pop()
        header: dict[str, Any] | None = None
        trials: list[Trial] = []
        damaged: list[DamagedLine] = []
        max_number = -1
        for n, raw in enumerate(lines, start=1):
            text = raw.decode("utf-8", errors="backslashreplace")
            if n > 1 and not text.strip():
                continue  # a blank line holds nothing
            try:
                try:
                    record = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as err:
                    raise _Bad(f"not UTF-8 text ({err.reason} at byte {err.start})") from None
                except json.JSONDecodeError as err:
                    cut = " (cut short: the process was probably killed while writing it)" if (
                        n == len(lines) and not ends_with_newline) else ""
                    raise _Bad(f"not JSON ({err.msg} at column {err.colno}){cut}") from None
                if n == 1:
                    if not isinstance(record, dict) or record.get("type") != "header":
                        raise _Bad(f"{_quote(record, 80)} is not a header")
                    header = record
                    continue
                number = record.get("number") if isinstance(record, dict) else None
                if isinstance(number, int) and not isinstance(number, bool):
                    max_number = max(max_number, number)  # also from a line that turns out damaged
                trial = _trial_from_record(record, self.space)
            except _Bad as bad:
                if n == 1:
                    raise JournalError(f"{self.path!r} is not a nasnb journal: its first line is not a header "
                                       f"(line 1: {bad}: {_quote(text)})", value=text) from None
                damaged.append(DamagedLine(n, str(bad), text))
                continue
            if trial is not None:
                trials.append(trial)
        assert header is not None
        self._check_header(header)
        self.damaged, self.max_number = damaged, max_number
        return _Contents(header, trials, damaged, ends_with_newline)

    def _check_header(self, header: Mapping[str, Any]) -> None:
        fmt = header.get("format")
        if not isinstance(fmt, int) or isinstance(fmt, bool):
            raise JournalError(f"journal {self.path!r}: line 1: 'format' is {_quote(fmt)}, expected an integer",
                               key="format", value=fmt)
        if fmt > FORMAT:
            raise JournalError(f"journal {self.path!r} was written by a newer nasnb (format {fmt}; this nasnb reads "
                               f"formats up to {FORMAT}); upgrade nasnb to resume it, or use a new journal path",
                               key="format", value=fmt)
        theirs = header.get("fingerprint")
        if theirs != self.fingerprint:
            keys = header.get("search_space")
            raise JournalMismatchError(
                f"journal {self.path!r} was written for another search space (fingerprint {_quote(theirs)}, "
                f"this space has {self.fingerprint!r}); its keys are "
                f"{_quote(sorted(keys) if isinstance(keys, dict) else keys)}, this space's are {sorted(self.space)}. "
                f"Use a new journal path for this space.",
                key="fingerprint", value=theirs,
            )
        diffs: list[tuple[str, str, str, Any, Any]] = []  # (key, what, whose, journal's, ours)
        for key, word in _CHECKED.items():
            if key in self.meta and key in header and header[key] != self.meta[key]:
                diffs.append((key, word, "experiment", header[key], self.meta[key]))
        theirs_settings, ours_settings = header.get("strategy_settings"), self.meta.get("strategy_settings")
        if isinstance(theirs_settings, dict) and isinstance(ours_settings, dict) and (
                header.get("strategy") == self.meta.get("strategy")):
            for name in [n for n in ours_settings if n in theirs_settings]:  # one added by a newer nasnb: no check
                a, b = theirs_settings[name], ours_settings[name]
                if a != b:
                    diffs.append((f"strategy_settings.{name}", f"strategy setting {name!r}", "experiment", a, b))
        old = header.get("candidates")
        if isinstance(old, dict):
            for key, new_list in self.candidates.items():
                old_list = old.get(key)
                if not isinstance(old_list, list) or len(old_list) != len(new_list):
                    diffs.append((key, f"candidates of {key!r}", "space", old_list, new_list))
                    continue
                names = self.space[key].names
                for name, a, b in zip(names, old_list, new_list):
                    if a != b:
                        diffs.append((key, f"candidate {name!r} of {key!r}", "space", a, b))
        if diffs:
            listed = "\n".join(f"  - {what}: journal {_quote(a)}, this {whose} {_quote(b)}"
                               for key, what, whose, a, b in diffs[:20])
            more = f"\n  ... and {len(diffs) - 20} more" if len(diffs) > 20 else ""
            raise JournalMismatchError(
                f"journal {self.path!r} was written with other settings:\n{listed}{more}\n"
                f"Its scores belong to those settings: resume with the same ones, or use a new journal path.",
                key=diffs[0][0], value=diffs[0][4])
        if self.candidates and "candidates" not in header:
            warnings.warn(f"journal {self.path!r} was written by an older nasnb that did not record the candidates' "
                          f"types and settings, so they are not checked: make sure the space's candidates are the "
                          f"ones the journal's scores were measured with", JournalWarning, stacklevel=4)

    def _warn_damaged(self, damaged: list[DamagedLine], copied: bool) -> None:
        if not damaged:
            return
        listed = "; ".join(f"line {d.line}: {d.problem}: {_quote(d.text, 120)}" for d in damaged[:_LISTED])
        more = f"; and {len(damaged) - _LISTED} more" if len(damaged) > _LISTED else ""
        where = f", copied to {self.damaged_path!r}" if copied else ""
        s = "" if len(damaged) == 1 else "s"
        warnings.warn(f"journal {self.path!r}: skipped {len(damaged)} damaged line{s} (kept in the file{where}): "
                      f"{listed}{more}", JournalWarning, stacklevel=3)

    # ------------------------------------------------------------------ writing
    def _header(self) -> dict[str, Any]:
        return {"type": "header", "format": FORMAT, "fingerprint": self.fingerprint,
                "search_space": to_nni_search_space(self.space), "candidates": self.candidates,
                "created": time.time(), **self.meta}

    def _access_error(self, doing: str, err: OSError) -> JournalAccessError:
        folder = os.path.dirname(os.path.abspath(self.path))
        if isinstance(err, FileNotFoundError) and not os.path.isdir(folder):
            why = f"its folder {folder!r} does not exist; create it first (os.makedirs) or choose another path"
        elif isinstance(err, NotADirectoryError) or (os.path.exists(folder) and not os.path.isdir(folder)):
            parent = folder
            while parent and not os.path.exists(parent):
                parent = os.path.dirname(parent)
            why = f"{parent!r} is not a folder"
        elif isinstance(err, PermissionError) or err.errno == errno.EROFS:
            why = (f"no permission to write in {folder if doing == 'create' else self.path!r} "
                   f"({type(err).__name__}: {err.strerror})")
        else:
            why = f"{type(err).__name__}: {err}"
        return JournalAccessError(f"cannot {doing} journal {self.path!r}: {why}", value=self.path)

    def _create(self) -> None:
        """Create the file with its header in one step (a temporary file, linked into place)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        data = (json.dumps(self._header(), default=_json_default, allow_nan=False) + "\n").encode("utf-8")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", dir=folder)
        except OSError as err:
            raise self._access_error("create", err) from err
        try:
            _write_synced(fd, data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            try:
                os.link(tmp, self.path)  # never replaces a journal another process created meanwhile
            except FileExistsError:
                pass
            except OSError:  # no hard links here: create it in place
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                except FileExistsError:
                    pass
                else:
                    _write_synced(fd, data)
        except OSError as err:
            raise self._access_error("create", err) from err
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        _fsync_dir(folder)

    def _lock(self, fd: int) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _lock_holder(self.path)
            if pid == os.getpid():
                who = (f"another experiment (pid {pid}, this process: an Experiment whose run() has not returned, "
                       f"or a Journal not closed)")
            elif pid is not None:
                who = f"another experiment (pid {pid})"
            else:
                who = "another experiment"
            raise JournalLockedError(
                f"journal {self.path!r} is being written by {who}; two experiments on one journal would repeat "
                f"trial numbers and exceed max_trials. Wait for it to finish, stop it, or use another journal path.",
                value=pid) from None
        except OSError as err:  # e.g. a network file system without locks
            warnings.warn(f"journal {self.path!r}: could not lock it ({err}); make sure no other experiment "
                          f"writes it at the same time", JournalWarning, stacklevel=4)

    def open(self) -> list[Trial]:
        """Create or open the journal for appending, lock it, and return the trials recorded so far.

        Call it before the first trial (:meth:`nasnb.Experiment.run` does), so a bad path
        or a journal in use fails before any work is done. Damaged lines are skipped and
        reported (:class:`JournalWarning`), and copied to :attr:`damaged_path`; a last line
        without its newline gets one, so new records start on a line of their own.

        Raises
        ------
        JournalAccessError
            If the file cannot be created or opened for writing (the message names the
            path and why: missing folder, no permission ...).
        JournalLockedError
            If another experiment (or another open Journal) is writing it.
        JournalError, JournalMismatchError
            As :meth:`read`; the journal is then left closed.
        """
        if self._fd is not None:
            self.close()
        if not self.exists():
            self._create()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        except OSError as err:
            raise self._access_error("open", err) from err
        try:
            self._lock(fd)
            with open(fd, "rb", closefd=False) as f:
                f.seek(0)
                data = f.read()
            if not data:  # an empty file (created by hand, or before this nasnb wrote headers at once)
                data = (json.dumps(self._header(), default=_json_default, allow_nan=False) + "\n").encode("utf-8")
                _write_all(fd, data)
                os.fsync(fd)
            contents = self._parse(data)
            if not contents.ends_with_newline:
                _write_all(fd, b"\n")  # the last line (a valid record or a torn one) stays, on its own line
                if self.fsync:
                    os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _OPEN.add(self)
        copied = self._quarantine(contents.damaged)
        self._warn_damaged(contents.damaged, copied=copied)
        return contents.trials

    def _quarantine(self, damaged: list[DamagedLine]) -> bool:
        """Append damaged lines not copied yet to ``<journal>.damaged``; False if that failed."""
        if not damaged:
            return False
        seen = set()
        try:
            with open(self.damaged_path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        seen.add((rec["line"], rec["text"]))
                    except (ValueError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            pass
        except OSError:
            return False
        new = [d for d in damaged if (d.line, d.text) not in seen]
        if not new:
            return True
        data = "".join(json.dumps({"line": d.line, "problem": d.problem, "text": d.text, "found": time.time()}) + "\n"
                       for d in new).encode("utf-8")
        try:
            fd = os.open(self.damaged_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            warnings.warn(f"journal {self.path!r}: could not copy damaged lines to {self.damaged_path!r} ({err}); "
                          f"they are still in the journal", JournalWarning, stacklevel=3)
            return False
        return True

    def _write(self, record: dict[str, Any]) -> None:
        assert self._fd is not None
        _write_all(self._fd, (json.dumps(record, default=_json_default, allow_nan=False) + "\n").encode("utf-8"))
        if self.fsync:
            os.fsync(self._fd)

    def append(self, trial: Trial) -> None:
        """Write ``trial`` as one line (and fsync it) before returning; opens the journal if needed."""
        if self._fd is None:
            self.open()
        record = {"type": "trial", **trial.to_json()}
        record["metrics"] = {k: (v if v is not None and math.isfinite(v) else None)
                             for k, v in record["metrics"].items()}
        self._write(record)

    def report(self, number: int, step: int, value: float) -> None:
        """Write trial ``number``'s report as one line, at once; opens the journal if needed.

        Not fsynced: a report only matters until its trial's record (fsynced, holding the
        whole curve) is written, and a trial cut short is re-run anyway; ``os.write``
        alone survives the process being killed. (benchmarks/bench_pruning.py: about
        10 µs per report; an fsync each would add ~0.4 ms on a local disk.)
        """
        if self._fd is None:
            self.open()
        assert self._fd is not None
        _write_all(self._fd, (json.dumps({"type": "report", "number": number, "step": step, "value": value},
                                         allow_nan=False) + "\n").encode("utf-8"))

    def close(self) -> None:
        """Close the file and release the lock (appending again reopens it)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            _OPEN.discard(self)
            try:
                os.close(fd)
            except OSError:
                pass


def _write_synced(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, fsync it and close it."""
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
