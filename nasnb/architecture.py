"""Architectures: what each key's choice is, how it is written, read and saved as JSON.

An *architecture* is a plain mapping ``key -> choice``: the candidate name for a
LayerChoice (its index when the candidates came as a list, named ``"0", "1", ...``), the
list of chosen input names (or indices, when the inputs have no distinct names) for an
InputChoice — NNI 1.x's readable export. :class:`Choice` describes one key of a search
space and converts between that readable form, every NNI 1.x encoding, and the sorted
tuple of candidate indices a :class:`~nasnb.decision.Decision` holds.

As in NNI 1.x, a LayerChoice may also select several candidates (or none): their outputs
combine with its ``reduction``. A list of weights selects the candidates with non-zero
weight and scales their outputs; the indices are then a :class:`Weighted` tuple.

Examples
--------
>>> from nasnb.architecture import Choice
>>> op = Choice.layer("op", ("conv3x3", "conv5x5", "skip"))
>>> op.parse("skip"), op.parse(1), op.parse([False, True, False])
((2,), (1,), (1,))
>>> op.encode((2,))
'skip'
>>> Choice.layer("conv", ("0", "1")).encode((1,))
1
>>> op.parse(["skip", "conv3x3"]), op.encode((0, 2)), op.parse([])
((0, 2), ['conv3x3', 'skip'], ())
>>> w = op.parse([0.25, 0.0, 0.75])
>>> w, w.weights, op.encode(w)
(Weighted((0, 2), weights=(0.25, 0.75)), (0.25, 0.75), [0.25, 0.0, 0.75])
>>> skip = Choice.input("skip", ("",), n_chosen=None)
>>> skip.parse([]), skip.parse(""), skip.encode((0,))
((), (0,), [0])
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Choice",
    "InvalidChoice",
    "Weighted",
    "dump_json",
    "load_arch",
    "load_json",
]

Arch = dict[str, Any]
_READABLE = (str, int, list)  # what exports write; parsed without normalising


class InvalidChoice(Exception):
    """Raised by :meth:`Choice.parse`; carries what was expected (the caller adds key/value)."""

    def __init__(self, expected: str):
        super().__init__(expected)
        self.expected = expected


class Weighted(tuple[int, ...]):
    """Chosen candidate indices of a LayerChoice, each with the weight that scales its output.

    A tuple of sorted indices with ``.weights`` (one non-negative float per index, in the
    same order). Equality and hashing include the weights, so a weight change is a
    change and a plain tuple never equals a ``Weighted`` one. Weights that are all 1.0
    are written as a multi-hot list, which reads back unweighted.

    >>> w = Weighted((0, 2), (0.5, 2.0))
    >>> list(w), w.weights, w == (0, 2), w == Weighted((0, 2), (0.5, 2.0))
    ([0, 2], (0.5, 2.0), False, True)
    """

    weights: tuple[float, ...]

    def __new__(cls, indices: Iterable[int], weights: Iterable[float]) -> "Weighted":
        self = super().__new__(cls, indices)
        self.weights = tuple(float(w) for w in weights)
        if len(self.weights) != len(self):
            raise ValueError(f"Weighted: {len(self)} indices but {len(self.weights)} weights")
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, tuple):
            return NotImplemented
        return isinstance(other, Weighted) and tuple.__eq__(self, other) and self.weights == other.weights

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((tuple(self), self.weights))

    def __reduce__(self) -> tuple[type[Weighted], tuple[tuple[int, ...], tuple[float, ...]]]:
        return (Weighted, (tuple(self), self.weights))

    def __repr__(self) -> str:
        return f"Weighted({tuple(self)!r}, weights={self.weights!r})"


@dataclass(frozen=True)
class Choice:
    """One key of a search space: what can be chosen and how choices are written.

    Parameters
    ----------
    key : str
        The decision's key.
    kind : {"layer", "input"}
        LayerChoice (one candidate, or several combined by ``reduction``) or InputChoice
        (a subset of inputs).
    names : tuple of str
        Candidate names (LayerChoice) or the ``choose_from`` source keys (InputChoice).
    n_chosen : int or None
        Inputs to choose (always 1 for a LayerChoice; None means any subset).
    paths : tuple of str
        Module paths of every mutable sharing this key.
    aliases : tuple of str
        Other spellings of the key accepted on input (NNI 1.x automatic keys).
    scope : str or None
        Key of the innermost enclosing MutableScope.
    """

    key: str
    kind: str
    names: tuple[str, ...]
    n_chosen: int | None = 1
    paths: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    scope: str | None = None
    reduction: str = "sum"
    candidate_types: tuple[str, ...] = ()
    lookup: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def layer(cls, key: str, names: tuple[str, ...], **kw: Any) -> "Choice":
        """Describe a LayerChoice with candidates ``names``.

        >>> Choice.layer("op", ("conv", "pool")).describe()
        "one of ['conv', 'pool'] (a candidate name) or an index in 0..1"
        """
        lookup = {n: i for i, n in enumerate(names)}
        return cls(key, "layer", tuple(names), 1, lookup=lookup, **kw)

    @classmethod
    def input(
        cls,
        key: str,
        names: tuple[str, ...],
        n_chosen: int | None = None,
        source_aliases: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> "Choice":
        """Describe an InputChoice over inputs named ``names`` (``""`` = unnamed).

        >>> skip = Choice.input("skip", ("a", "b", "c"), n_chosen=2)
        >>> skip.size, skip.default, skip.parse(["c", "a"]), skip.encode((0, 2))
        (3, (0, 1), (0, 2), ['a', 'c'])
        """
        lookup: dict[str, int] = {}
        for i, n in enumerate(names):
            if n in lookup:
                lookup[n] = -1  # ambiguous spelling
            else:
                lookup[n] = i
        for alias, canonical in (source_aliases or {}).items():
            if canonical in lookup and alias not in lookup:
                lookup[alias] = lookup[canonical]
        return cls(key, "input", tuple(names), n_chosen, lookup=lookup, **kw)

    # ------------------------------------------------------------------ facts
    @property
    def n_candidates(self) -> int:
        """Number of candidates (LayerChoice) or inputs (InputChoice)."""
        return len(self.names)

    @property
    def size(self) -> int:
        """Number of distinct choices for this key."""
        n = self.n_candidates
        if self.kind == "layer":
            return n
        if self.n_chosen is None:
            return 1 << n  # 2**n, as an int
        return math.comb(n, self.n_chosen)

    @property
    def default(self) -> tuple[int, ...]:
        """Indices chosen on construction: the first candidate / first ``n_chosen`` inputs."""
        if self.kind == "layer":
            return (0,)
        k = self.n_candidates if self.n_chosen is None else self.n_chosen
        return tuple(range(k))

    @property
    def named(self) -> bool:
        """True when exports use names: candidates named by the user (an OrderedDict, not
        ``"0", "1", ...``), or inputs with distinct non-empty source keys. Otherwise indices."""
        if self.kind == "layer":
            return self.names != tuple(str(i) for i in range(len(self.names)))
        return all(self.names) and len(set(self.names)) == len(self.names)

    @property
    def _digit_names(self) -> bool:
        """Candidate names that are digits but not their own indices: an int would be ambiguous."""
        return self.kind == "layer" and self.named and any(n.isdigit() for n in self.names)

    def describe(self) -> str:
        """What a valid choice looks like, for error messages (:meth:`describe_several` for lists)."""
        if self.kind == "layer":
            return f"one of {list(self.names)} (a candidate name) or an index in 0..{self.n_candidates - 1}"
        how = "any number of" if self.n_chosen is None else f"exactly {self.n_chosen}"
        spell = f"names from {list(self.names)} or " if self.named else ""
        return f"a list of {how} distinct inputs ({spell}indices in 0..{self.n_candidates - 1})"

    def describe_several(self) -> str:
        """What a valid list value of a LayerChoice looks like (several candidates, or weights)."""
        n = self.n_candidates
        spell = f"names from {list(self.names)} or " if self.named else ""
        return (f"a list of distinct candidates ({spell}indices in 0..{n - 1}), a multi-hot list of {n} bools, "
                f"or {n} non-negative weights; or {self.describe()}")

    # -------------------------------------------------------------- encoding
    def encode(self, indices: tuple[int, ...]) -> Any:
        """Readable form of ``indices``: a name or an index, a list of names or indices.

        A LayerChoice with one candidate gives its name (or index); with several or none, the
        list of them; with :class:`Weighted` indices, the weight of every candidate (0.0 where
        not chosen).
        """
        if isinstance(indices, Weighted):
            return self._weight_values(indices)
        if self.kind == "layer" and len(indices) == 1:
            return self.names[indices[0]] if self.named else indices[0]
        if self.named:
            return [self.names[i] for i in indices]
        return list(indices)

    def parse(self, value: Any) -> tuple[int, ...]:
        """Indices for ``value`` in any accepted encoding; raises :class:`InvalidChoice`.

        Accepted: a name, an index, a list of names or indices, a multi-hot bool list
        (or 0.0/1.0 floats) as long as the candidates, NNI's ``{"_value", "_idx"}`` form,
        and tensors or arrays of those. A LayerChoice also takes several candidates (or
        none) and a list of non-negative weights, one per candidate (:class:`Weighted`).
        """
        if type(value) not in _READABLE:  # NNI's parameter dicts, tensors and arrays
            if isinstance(value, Mapping) and ("_idx" in value or "_value" in value):
                if "_idx" in value and "_value" in value:
                    by_idx = self.parse(value["_idx"])
                    try:
                        by_value = self.parse(value["_value"])
                    except InvalidChoice:  # e.g. unnamed inputs (''): the value cannot say which
                        by_value = by_idx
                    if by_idx != by_value:
                        raise InvalidChoice(f"'_idx' and '_value' naming the same choice ({self.encode(by_idx)!r} "
                                            f"vs {self.encode(by_value)!r}); {self.describe()}")
                    return by_idx
                value = value["_idx"] if "_idx" in value else value["_value"]
            if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
                value = value.tolist()
            if isinstance(value, Weighted) and self.kind == "layer":
                value = self._weight_list(value)
        if self.kind == "layer":
            return self._parse_layer(value)
        return self._parse_input(value)

    def _index(self, item: Any, expected: str | None = None) -> int:
        if type(item) is str:
            i = self.lookup.get(item, -1)
        elif isinstance(item, int) and not isinstance(item, bool):
            if self._digit_names:
                raise InvalidChoice(f"a candidate name as a string: the names {list(self.names)} are digits "
                                    f"that are not their positions, so the int {item} is ambiguous")
            i = item if 0 <= item < len(self.names) else -1
        else:
            i = -1
        if i < 0:  # unknown, ambiguous or out-of-range
            raise InvalidChoice(expected or self.describe())
        return i

    def _multi_hot(self, items: list[Any]) -> tuple[int, ...] | None:
        if len(items) != len(self.names) or type(items[0]) not in (bool, float):
            return None
        if all(isinstance(x, bool) for x in items):
            return tuple(i for i, x in enumerate(items) if x)
        if all(type(x) is float and x in (0.0, 1.0) for x in items):
            return tuple(i for i, x in enumerate(items) if x == 1.0)
        return None

    def _parse_layer(self, value: Any) -> tuple[int, ...]:
        if not isinstance(value, (list, tuple)):  # a name or an index
            return (self._index(value),)
        items = list(value)
        hot = self._multi_hot(items)
        if hot is not None:
            return hot
        if any(type(x) is float for x in items):
            return self._weights(items)
        several = self.describe_several()
        chosen = tuple(self._index(x, several) for x in items)
        if len(set(chosen)) != len(chosen):
            raise InvalidChoice(several)
        return tuple(sorted(chosen))

    def _weight_list(self, value: Weighted) -> list[float]:
        if not all(type(i) is int and 0 <= i < self.n_candidates for i in value):
            raise InvalidChoice(self.describe_several())
        return self._weight_values(value)

    def _weight_values(self, indices: Weighted) -> list[float]:
        """The weight of every candidate under ``indices`` (0.0 where not chosen)."""
        weights = [0.0] * self.n_candidates
        for i, w in zip(indices, indices.weights):
            weights[i] = w
        return weights

    def _weights(self, items: list[Any]) -> tuple[int, ...]:
        """A LayerChoice's weight list: the candidates with non-zero weight, as :class:`Weighted`."""
        n = self.n_candidates
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items)
        if len(items) != n or not numbers:
            raise InvalidChoice(f"a list of {n} weights (one number per candidate {list(self.names)}); "
                                f"{self.describe_several()}")
        try:
            values = [float(x) for x in items]
        except OverflowError:  # an int too large for a float
            values = [math.inf]
        if not all(math.isfinite(x) and x >= 0 for x in values):
            raise InvalidChoice(f"finite, non-negative weights (one per candidate {list(self.names)})")
        chosen = tuple(i for i, x in enumerate(values) if x != 0)
        weights = tuple(values[i] for i in chosen)
        if all(w == 1.0 for w in weights):  # 0/1 numbers: a multi-hot list
            return chosen
        return Weighted(chosen, weights)

    def _parse_input(self, value: Any) -> tuple[int, ...]:
        if type(value) is list:
            items = value
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            items = [value]
        elif isinstance(value, tuple):
            items = list(value)
        else:
            raise InvalidChoice(self.describe())
        hot = self._multi_hot(items)
        chosen = hot if hot is not None else tuple(self._index(x) for x in items)
        if len(set(chosen)) != len(chosen):
            raise InvalidChoice(f"distinct inputs, {self.describe()}")
        if self.n_chosen is not None and len(chosen) != self.n_chosen:
            raise InvalidChoice(self.describe())
        return tuple(sorted(chosen))

    def fits(self, indices: tuple[int, ...]) -> bool:
        """True when ``indices`` (as a decision holds them) is a valid choice for this key.

        >>> op = Choice.layer("op", ("conv", "pool"))
        >>> op.fits((1,)), op.fits((2,)), op.fits((0, 1)), op.fits(Weighted((0,), (0.5,)))
        (True, False, True, True)
        """
        if type(indices) is tuple and self._plain_fits(indices):  # the common case, without a round trip
            return True
        try:
            return self.parse(self.encode(indices)) == indices
        except (InvalidChoice, IndexError, TypeError):
            return False

    def _plain_fits(self, indices: tuple[int, ...]) -> bool:
        """One in-range index for a LayerChoice, or increasing in-range indices of the right count for an input."""
        n = len(self.names)
        if not all(type(i) is int and 0 <= i < n for i in indices):
            return False
        if self.kind == "layer":
            return len(indices) == 1
        return all(a < b for a, b in zip(indices, indices[1:])) and self.n_chosen in (None, len(indices))

    def draw(self, rng: random.Random) -> tuple[int, ...]:
        """Indices of a uniformly random choice: every valid choice is equally likely.

        >>> from collections import Counter
        >>> pick = Choice.input("pick", ("a", "b", "c"), n_chosen=2)
        >>> rng = random.Random(0)
        >>> counts = Counter(pick.draw(rng) for _ in range(3000))
        >>> sorted(counts) == list(pick.all_indices()), all(900 < n < 1100 for n in counts.values())
        (True, True)
        """
        n = len(self.names)
        if self.kind == "layer":
            return (int(rng.random() * n),)
        if self.n_chosen is None:  # each input kept with probability 1/2: uniform over subsets
            bits = rng.getrandbits(n)
            return tuple(i for i in range(n) if bits >> i & 1)
        chosen: set[int] = set()  # Floyd's algorithm: a uniform k-subset in k draws
        for j in range(n - self.n_chosen, n):
            t = int(rng.random() * (j + 1))
            chosen.add(j if t in chosen else t)
        return tuple(sorted(chosen))

    def all_indices(self) -> Iterator[tuple[int, ...]]:
        """Every valid choice, in a fixed order (the default first).

        >>> list(Choice.input("skip", ("a", "b"), n_chosen=None).all_indices())
        [(0, 1), (0,), (1,), ()]
        """
        from itertools import combinations

        n = self.n_candidates
        if self.kind == "layer":
            for i in range(n):
                yield (i,)
        elif self.n_chosen is None:
            for k in range(n, -1, -1):
                yield from combinations(range(n), k)
        else:
            yield from combinations(range(n), self.n_chosen)


def dump_json(arch: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``arch`` as indented JSON (keys in space order), atomically: a failed write keeps the old file."""
    from ._atomic import write_text

    write_text(path, json.dumps(dict(arch), indent=2) + "\n")


def load_json(path: str | os.PathLike[str]) -> Arch:
    """Read an architecture JSON file (ours or NNI 1.x's); the object must be a mapping.

    Raises
    ------
    ArchitectureError
        The file is not UTF-8, not (complete) JSON, nested too deeply, or not an object;
        the message names the file and where it went wrong.
    OSError
        The file cannot be read (missing, a folder, no permission).
    """
    from .exceptions import ArchitectureError, Problem

    where = os.fspath(path)

    def bad(value: Any, expected: str) -> ArchitectureError:
        return ArchitectureError([Problem("<file>", value, f"{expected} in {where!r}")])

    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise bad(raw[max(0, err.start - 10): err.start + 10], f"UTF-8 text (byte {err.start} is not)") from None
    if not text.strip():
        raise bad("", "a JSON object (the file is empty)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        truncated = err.pos >= len(text.rstrip()) or err.msg.startswith("Unterminated")
        what = "complete JSON (the file ends early: truncated?)" if truncated else f"valid JSON ({err.msg})"
        raise bad(text[max(0, err.pos - 20): err.pos + 20], f"{what} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise bad("<deeply nested>", "a flat JSON object key -> choice (the file nests too deeply)") from None
    if not isinstance(data, dict):
        raise bad(type(data).__name__, "a JSON object")
    return data


def load_arch(source: Mapping[str, Any] | str | os.PathLike[str]) -> Arch:
    """An architecture from a mapping, JSON text (it starts with ``{``) or the path of a JSON file.

    What a text box that takes either a file name or pasted JSON needs (the Explorer's
    "load" buttons). The result is not checked against a space: pass it to
    :meth:`nasnb.SearchSpace.apply`.

    Raises
    ------
    ~nasnb.exceptions.LoadError
        The text is not valid JSON, is empty, or names no file.
    ArchitectureError
        The file is not a JSON object (see :func:`load_json`).

    Examples
    --------
    >>> load_arch('{"op": "skip"}')
    {'op': 'skip'}
    >>> load_arch("{op: skip}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nasnb.exceptions.LoadError: load: the text is not valid JSON (Expecting property name ...); expected an object key -> choice
    """
    from .exceptions import LoadError

    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as err:
            raise LoadError(f"load: the text is not valid JSON ({err.msg} at line {err.lineno}, "
                            f"column {err.colno}); expected an object key -> choice", value=source) from None
        return dict(data)  # text that starts with '{' is an object
    if not str(source).strip():
        raise LoadError("load: got an empty text / file name; expected JSON text or the path of a JSON file",
                        value=source)
    if not os.path.exists(source):
        raise LoadError(f"load: no file {os.fspath(source)!r}; expected JSON text or the path of a JSON "
                        f"file (relative to {os.getcwd()!r})", value=source)
    return load_json(source)
