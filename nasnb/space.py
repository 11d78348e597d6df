"""SearchSpace: bind a model with mutables and read, change, sample and fix its decisions.

The space owns one :class:`~nasnb.decision.Decision` per key; every mutable with that
key reads it in ``forward``. Whoever changes a decision (``apply``, a widget, a
search strategy, ``mutable.choice = ...``), observers hear about it.

Examples
--------
>>> import torch
>>> from torch import nn
>>> import nasnb
>>> from nasnb import mutables
>>> class Net(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.conv = mutables.LayerChoice([nn.Conv2d(1, 4, 3), nn.Conv2d(1, 4, 5)])
...         self.skip = mutables.InputChoice(n_candidates=1, n_chosen=None)
...     def forward(self, x):
...         x = self.conv(x)
...         y = self.skip([x])
...         return x if y is None else x + y
>>> space = nasnb.SearchSpace(Net())
>>> list(space), space.size
(['conv', 'skip'], 4)
>>> space.current()
{'conv': 0, 'skip': [0]}
>>> space.apply({"conv": 1, "skip": []})
>>> space.model(torch.zeros(1, 1, 8, 8)).shape
torch.Size([1, 4, 4, 4])
>>> arch = space.sample(seed=0)
>>> space.validate(arch) == arch
True
"""

from __future__ import annotations

import difflib
import itertools
import os
import random
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from torch import nn

from .architecture import Choice, InvalidChoice, dump_json, load_json
from .decision import Decision, Mixer
from .exceptions import ArchitectureError, Problem, SearchSpaceError, short_repr
from .mutables import (
    InputChoice,
    LayerChoice,
    Mutable,
    MutableScope,
    _Choosable,
    _owners,
    _reset_global_mutable_counting,
    owner_of,
)

__all__ = ["SearchSpace"]

Arch = dict[str, Any]
Observer = Callable[[dict[str, tuple[Any, Any]]], None]
_MISSING = "<missing>"


class _Listener:
    """What a SearchSpace puts on a decision: holds the space weakly and leaves when it is gone."""

    __slots__ = ("space",)

    def __init__(self, space: "SearchSpace"):
        self.space = weakref.ref(space)

    def __call__(self, decision: Decision, old: tuple[int, ...], new: tuple[int, ...]) -> None:
        space = self.space()
        if space is None:
            if self in decision.listeners:
                decision.listeners.remove(self)
            return
        space._on_decision(decision, old, new)


def _kind(m: Mutable) -> str:
    if isinstance(m, LayerChoice):
        return "LayerChoice"
    if isinstance(m, InputChoice):
        return "InputChoice"
    if isinstance(m, MutableScope):
        return "MutableScope"
    return type(m).__name__


def _key_of(path: str, m: Mutable, outer: set[str], nni: bool) -> str:
    """The key of the mutable at ``path``: an outer space's, else explicit, else the module path.

    The model itself (at path ``""``) keeps its automatic key, and so does every mutable
    built without ``key=`` when the space is keyed as NNI 1.x keyed it (``nni``).
    """
    if path in outer:
        return m._key
    if m._explicit_key is not None:
        return m._explicit_key
    if m._auto_key is None:  # a mutable built without key= always has an automatic key
        raise SearchSpaceError(f"{_kind(m)} at {path!r} has neither an explicit nor an automatic key", key=path)
    return m._auto_key if nni else (path or m._auto_key)


def _aliases_of(groups: Mapping[str, list[tuple[str, Mutable, str | None]]], nni: bool) -> tuple[dict[str, str], set[str]]:
    """Other spellings of each key accepted on input, and the automatic keys that are ambiguous.

    NNI automatic keys alias their canonical key; with ``nni`` keys, module paths alias the
    automatic keys. A spelling that is itself a key, or names several keys, is dropped.
    """
    aliases: dict[str, str] = {}
    ambiguous: set[str] = set()
    for key, members in groups.items():
        for _, m, _ in members:
            if m._auto_key and m._auto_key != key:
                if aliases.get(m._auto_key, key) != key:
                    ambiguous.add(m._auto_key)
                aliases[m._auto_key] = key
    if nni:
        for key, members in groups.items():
            for path, m, _ in members:
                if m._explicit_key is None and path and path != key:
                    aliases[path] = key
    for a in list(aliases):
        if a in groups or a in ambiguous:
            del aliases[a]
    return aliases, ambiguous


def _check_choose_from(entries: list[tuple[str, Mutable, str | None]], path_to_key: Mapping[str, str],
                       canonical: Callable[[str], str | None]) -> None:
    """Every ``choose_from`` entry is NO_KEY or the key of a mutable that appears before it (pre-order)."""
    seen: set[str] = set()
    for path, m, _ in entries:
        key = path_to_key[path]
        if isinstance(m, InputChoice):
            for src in m.choose_from:
                if src == InputChoice.NO_KEY:
                    continue
                c = canonical(src)
                if c is None or c not in seen:
                    earlier = sorted(seen)
                    shown = earlier if len(earlier) <= 20 else earlier[-20:]
                    more = "" if len(earlier) <= 20 else f" (the last 20 of {len(earlier)})"
                    own = " (its own key)" if c == key else ""
                    raise SearchSpaceError(
                        f"InputChoice {key!r} (at {path!r}): choose_from entry {src!r}{own} is not NO_KEY and "
                        f"not the key of a mutable that appears before it; keys seen so far{more}: {shown}",
                        key=key,
                        value=src,
                    )
        seen.add(key)


class SearchSpace(Mapping[str, Choice]):
    """The decisions of a model with mutables, as a mapping ``key -> Choice``.

    Use it to inspect a space (``len``, iteration, ``space[key]``, ``size``), to change
    the model's architecture (``apply``, ``load``), to draw architectures (``sample``,
    ``grid``) and to turn one into a plain module (``fix``).

    Parameters
    ----------
    model : nn.Module
        A module containing LayerChoice / InputChoice / MutableScope modules.
    keys : {"space", "nni"}
        How mutables built without ``key=`` are keyed: ``"space"`` (default) by their
        module path, with NNI's automatic key as an alias; ``"nni"`` by NNI 1.x's
        automatic key (``LayerChoice1``, ...), with the module path as an alias — what
        :mod:`nasnb.compat` binds, so NNI code sees the keys it expects.

    Raises
    ------
    SearchSpaceError
        Nested mutables, a key shared by incompatible mutables (both module paths are
        named), or a ``choose_from`` entry that names no earlier mutable.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh()), key="act"))
    >>> space = SearchSpace(net)
    >>> space, list(space), space["act"].names
    (SearchSpace(Sequential: 1 keys, size=2), ['act'], ('relu', 'tanh'))
    """

    def __init__(self, model: nn.Module, keys: str = "space"):
        if not isinstance(model, nn.Module):
            raise TypeError(f"SearchSpace expects an nn.Module, got {type(model).__name__}")
        if keys not in ("space", "nni"):
            raise ValueError(f"keys={keys!r}: expected 'space' (module paths) or 'nni' (NNI 1.x automatic keys)")
        self._key_mode = keys
        self.model = model
        self._observers: list[Observer] = []
        self._pending: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] | None = None
        self._bind()

    # ------------------------------------------------------------ binding
    def _walk(self) -> list[tuple[str, Mutable, str | None]]:
        found: list[tuple[str, Mutable, str | None]] = []
        memo: set[int] = set()

        def visit(module: nn.Module, path: str, scope: str | None, inside: tuple[str, Mutable] | None) -> None:
            if isinstance(module, Mutable):
                if inside is not None:
                    raise SearchSpaceError(
                        f"Cannot have nested search space: {_kind(module)} at {path!r} is inside "
                        f"{_kind(inside[1])} {inside[0]!r}; a candidate of a choice must not contain mutables",
                        key=path,
                    )
                found.append((path, module, scope))
                if isinstance(module, MutableScope):
                    scope = path
                else:
                    inside = (path, module)
            for name, child in module._modules.items():
                if child is None:
                    continue
                child_path = f"{path}.{name}" if path else name
                if id(child) in memo:
                    if inside is not None and any(isinstance(m, Mutable) for m in child.modules()):
                        raise SearchSpaceError(
                            f"Cannot have nested search space: the module at {child_path!r} inside "
                            f"{_kind(inside[1])} {inside[0]!r} holds mutables and is also registered "
                            f"elsewhere in the model; a candidate of a choice must not contain mutables",
                            key=child_path,
                        )
                    continue
                memo.add(id(child))
                visit(child, child_path, scope, inside)

        memo.add(id(self.model))
        visit(self.model, "", None, None)
        return found

    def _bind(self) -> None:
        """Key every mutable, check the keys, and own their decisions (again after candidates changed)."""
        entries = self._walk()
        outer = self._borrowed_paths(entries)
        nni = self._key_mode == "nni"
        path_to_key = {path: _key_of(path, m, outer, nni) for path, m, _ in entries}
        if nni:
            self._check_unique_auto_keys(entries, outer)
        groups: dict[str, list[tuple[str, Mutable, str | None]]] = {}
        for path, m, scope in entries:
            groups.setdefault(path_to_key[path], []).append((path, m, scope))
        aliases, ambiguous = _aliases_of(groups, nni)

        def canonical(k: str) -> str | None:
            return k if k in groups else aliases.get(k)

        _check_choose_from(entries, path_to_key, canonical)
        for key, members in groups.items():  # check everything before changing any mutable
            self._check_group(key, members)
        self._choices: dict[str, Choice] = {}
        self._scopes: dict[str, tuple[str, ...]] = {}
        self._members: dict[str, list[Mutable]] = {}
        self._decisions: dict[str, Decision] = {}
        self._aliases = aliases
        self._ambiguous = ambiguous
        for key, members in groups.items():
            self._own(key, members, outer, path_to_key, canonical)
        self._wire_unused()
        _reset_global_mutable_counting()

    def _borrowed_paths(self, entries: list[tuple[str, Mutable, str | None]]) -> set[str]:
        """Paths of mutables that another live space, over a model containing this one, owns.

        A space over a part of such a model uses that space's keys (it does not steal them).
        """
        outer: set[str] = set()
        contains: dict[int, bool] = {}
        for path, m, _ in entries:
            owner = owner_of(m)
            if owner is None or owner is self or owner.model is self.model:
                continue
            if id(owner) not in contains:
                contains[id(owner)] = any(sub is self.model for sub in owner.model.modules())
            if contains[id(owner)]:
                outer.add(path)
        return outer

    def _check_group(self, key: str, members: list[tuple[str, Mutable, str | None]]) -> None:
        """The mutables sharing ``key`` are of a known kind and alike."""
        first_path, first, _ = members[0]
        if not isinstance(first, (LayerChoice, InputChoice, MutableScope)):
            raise SearchSpaceError(
                f"{type(first).__name__} at {first_path!r} subclasses Mutable directly; "
                f"subclass LayerChoice, InputChoice or MutableScope instead",
                key=key,
            )
        for path, m, _ in members[1:]:
            self._check_compatible(key, first_path, first, path, m)

    def _own(self, key: str, members: list[tuple[str, Mutable, str | None]], outer: set[str],
             path_to_key: Mapping[str, str], canonical: Callable[[str], str | None]) -> None:
        """Bind ``key``'s mutables (those no outer space owns), describe the key, and listen to its decision."""
        first_path, first, scope = members[0]
        me = weakref.ref(self)
        for path, m, _ in members:
            if path not in outer:
                m._bind(key, path)
                _owners[m] = me
        paths = tuple(p for p, _, _ in members)
        if isinstance(first, MutableScope):
            self._scopes[key] = paths
            return
        al = tuple(sorted({m._auto_key for _, m, _ in members if m._auto_key and self._aliases.get(m._auto_key) == key}))
        scope_key = path_to_key.get(scope) if scope is not None else None
        if isinstance(first, LayerChoice):
            spec = Choice.layer(key, tuple(first.names), paths=paths, aliases=al, scope=scope_key,
                                reduction=first.reduction, candidate_types=tuple(type(c).__name__ for c in first))
        elif isinstance(first, InputChoice):
            names = tuple(canonical(s) or s for s in first.choose_from)
            spec = Choice.input(key, names, first.n_chosen, source_aliases=self._aliases, paths=paths,
                                aliases=al, scope=scope_key, reduction=first.reduction)
        else:  # unreachable: every kind was checked by _check_group
            raise SearchSpaceError(f"{_kind(first)} at {first_path!r} is not a LayerChoice, InputChoice "
                                   f"or MutableScope", key=key)
        decision = first._decision
        if not spec.fits(decision.indices):  # keep the current choice when it fits (a re-bind)
            decision.indices = spec.default
        if first_path not in outer:
            decision.spec = spec
        # one listener per live space: drop those of spaces that are gone, add ours once
        decision.listeners[:] = [
            lis for lis in decision.listeners
            if not (isinstance(lis, _Listener) and (lis.space() is None or lis.space() is self))
        ]
        decision.listeners.append(_Listener(self))
        for _, m, _ in members:
            if isinstance(m, _Choosable):  # the same kind as first (checked above)
                m._decision = decision
        self._choices[key] = spec
        self._members[key] = [m for _, m, _ in members]
        self._decisions[key] = decision

    @staticmethod
    def _check_unique_auto_keys(entries: list[tuple[str, Mutable, str | None]], outer: set[str]) -> None:
        first: dict[str, str] = {}
        for path, m, _ in entries:
            if path in outer or m._explicit_key is not None or not m._auto_key:
                continue
            if m._auto_key in first:
                raise SearchSpaceError(
                    f"automatic key {m._auto_key!r} was given to the mutables at {first[m._auto_key]!r} and {path!r} "
                    f"(NNI's key counter restarted while the model was built), so the space cannot be keyed as NNI "
                    f"1.x; give them explicit key= values", key=m._auto_key)
            first[m._auto_key] = path

    def _wire_unused(self) -> None:
        """Find the LayerChoice keys that feed InputChoice slots (``choose_from``) and flag the unused ones."""
        consumers: dict[str, list[tuple[str, int]]] = {}
        for key, spec in self._choices.items():
            if spec.kind != "input":
                continue
            for slot, source in enumerate(spec.names):
                feeder = self._choices.get(source)
                if feeder is not None and feeder.kind == "layer":
                    consumers.setdefault(source, []).append((key, slot))
        self._consumers = consumers
        self._exclusive: set[str] | None = None if consumers else set()
        self._probing = False
        from ._dataflow import ProbeHook, remove_probe_hooks

        remove_probe_hooks(self.model, lambda space: space is None or space is self)  # of spaces gone, or ours
        self._probe_handle = None
        if consumers:  # learn from the first real call which of them only feed their slots
            hook = ProbeHook(self)
            self._probe_handle = hook.handle = self.model.register_forward_pre_hook(hook, with_kwargs=True)
        self._feeds: dict[str, list[str]] = {}
        for source, slots in consumers.items():
            for key, _ in slots:
                if source not in self._feeds.setdefault(key, []):
                    self._feeds[key].append(source)
        for source in consumers:
            self._decisions[source].unused = False

    def _auto_probe(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._exclusive is None and not self._probing:
            try:
                self.probe(*args, **kwargs)
            except Exception:  # the real call that follows reports the error; probe again next time
                pass

    def probe(self, *args: Any, **kwargs: Any) -> list[str]:
        """Run the model once on an example input to learn which LayerChoices may be skipped.

        A LayerChoice named in an InputChoice's ``choose_from`` may be skipped when no
        chosen slot takes it, but only if its output reaches the model's output through
        those slots alone (an ENAS-style skip also feeds the next layer). The first call
        of the bound model does this by itself; call it (or pass ``example_input`` to
        :meth:`fix`) to fix a space that has not run yet. Returns the exclusive keys.
        Runs without gradients, in eval mode; the model is left as it was.
        """
        from ._dataflow import exclusive_keys

        if self._probing:
            raise RuntimeError("SearchSpace.probe called while probing")
        self._probing = True
        try:
            layers = {k: self._members[k] for k in self._consumers}
            inputs = {k: (self._members[k], self._choices[k].names) for k in self._feeds}
            self._exclusive = exclusive_keys(self.model, args, kwargs, layers, inputs)
        finally:
            self._probing = False
        handle = getattr(self, "_probe_handle", None)
        if handle is not None:
            handle.remove()
            self._probe_handle = None
        for source in self._consumers:
            self._decisions[source].unused = self._is_unused(source, None)
        return sorted(self._exclusive)

    def _ensure_probed(self, example_input: Any, caller: str) -> None:
        if self._exclusive is not None:
            return
        make_example = getattr(self.model, "example_input", None)
        if example_input is None and callable(make_example):
            example_input = make_example()
        if example_input is not None:
            self.probe(*(example_input if isinstance(example_input, tuple) else (example_input,)))
            return
        warnings.warn(
            f"{caller}: the model has not run since it was bound, so nasnb cannot tell whether "
            f"{sorted(self._consumers)} feed only their InputChoice slots; no edge is treated as unused. "
            f"Call the model once, or pass example_input=..., to leave unused edges out.",
            stacklevel=3)

    def _is_unused(self, key: str, resolved: Mapping[str, tuple[int, ...]] | None) -> bool:
        slots = self._consumers.get(key)
        if not slots or self._exclusive is None or key not in self._exclusive:
            return False
        for input_key, slot in slots:
            indices = resolved[input_key] if resolved is not None else self._decisions[input_key].indices
            if slot in indices:
                return False
        return True

    def unused(self, arch: Mapping[str, Any] | None = None, *, example_input: Any = None) -> list[str]:
        """LayerChoice keys whose output ``arch`` (default: the current one) never uses.

        A LayerChoice is unused when InputChoices name its key in ``choose_from``, its
        output reaches the model's output only through those slots (learnt by
        :meth:`probe`: the first call of the model, ``example_input``, or the model's
        ``example_input()`` method), and none of them is chosen (a DARTS edge its node
        drops). Its mutables then return ``None`` without computing, :meth:`fix`
        leaves it out, and single-path one-shot modes skip it.

        >>> import torch
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> class Node(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.a = mutables.LayerChoice([nn.Linear(2, 2), nn.Identity()], key="a")
        ...         self.b = mutables.LayerChoice([nn.Linear(2, 2), nn.Identity()], key="b")
        ...         self.pick = mutables.InputChoice(choose_from=["a", "b"], n_chosen=1, key="pick")
        ...     def forward(self, x):
        ...         return self.pick([self.a(x), self.b(x)])
        >>> space = SearchSpace(Node())
        >>> _ = space.model(torch.zeros(1, 2))  # the first call shows 'a' and 'b' feed only 'pick'
        >>> space.unused(), space.unused({"a": 0, "b": 0, "pick": ["b"]})
        (['b'], ['a'])
        >>> sum(p.numel() for p in space.fix().parameters())
        6
        """
        self._ensure_probed(example_input, "unused()")
        resolved = self._resolve(arch, full=True) if arch is not None else None
        return [k for k in self._consumers if self._is_unused(k, resolved)]

    def unused_of(self, indices: Mapping[str, tuple[int, ...]]) -> set[str]:
        """:meth:`unused` for an architecture already given as ``key -> indices`` (no validation; fast)."""
        return {k for k in self._consumers if self._is_unused(k, indices)}

    @staticmethod
    def _check_compatible(key: str, path_a: str, a: Mutable, path_b: str, b: Mutable) -> None:
        def refuse(what: str, va: Any, vb: Any) -> None:
            raise SearchSpaceError(
                f"key {key!r} is shared by {_kind(a)} at {path_a!r} and {_kind(b)} at {path_b!r}, "
                f"but their {what} differ: {va!r} vs {vb!r}; mutables sharing a key must be alike "
                f"(give one of them another key)",
                key=key,
            )

        if a._explicit_key is None or b._explicit_key is None:
            raise SearchSpaceError(
                f"key {key!r} is the module path of {_kind(a)} at {path_a!r} and the explicit key of "
                f"{_kind(b)} at {path_b!r}; give the second one another key",
                key=key,
            )
        if _kind(a) != _kind(b):
            refuse("kinds", _kind(a), _kind(b))
        if isinstance(a, LayerChoice) and isinstance(b, LayerChoice):  # same kind: checked above
            if len(a) != len(b):
                refuse("candidate counts", len(a), len(b))
            if a.names != b.names:
                refuse("candidate names", a.names, b.names)
        elif isinstance(a, InputChoice):
            for attr in ("n_candidates", "n_chosen", "choose_from"):
                if getattr(a, attr) != getattr(b, attr):
                    refuse(attr, getattr(a, attr), getattr(b, attr))

    # ------------------------------------------------------ mapping protocol
    def __getitem__(self, key: str) -> Choice:
        canonical = self._canonical(key)
        if canonical is None:
            raise LookupError(self._unknown_key_message(key))
        return self._choices[canonical]

    def __iter__(self) -> Iterator[str]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._canonical(key) is not None

    def __repr__(self) -> str:
        return f"SearchSpace({type(self.model).__name__}: {len(self)} keys, size={self.size})"

    def _canonical(self, key: str) -> str | None:
        if key in self._choices:
            return key
        c = self._aliases.get(key)
        return c if c in self._choices else None

    def _unknown_key_message(self, key: Any) -> str:
        if key in self._scopes:
            return f"{key!r} is a MutableScope, which has no choice of its own"
        if key in self._ambiguous:
            return f"{key!r} is an automatic NNI key shared by several mutables of this model; use module-path keys"
        known = list(self._choices)
        close = difflib.get_close_matches(str(key)[:200], known + list(self._aliases), n=1) if len(known) <= 2000 else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = f"keys are {known}" if len(known) <= 20 else f"{len(known)} keys, e.g. {known[:10]}"
        return f"no key {short_repr(key)} in this search space{hint}; {listed}"

    @property
    def size(self) -> int:
        """Exact number of distinct architectures (a Python int).

        >>> from nasnb import mutables
        >>> SearchSpace(nn.ModuleList([mutables.LayerChoice([nn.ReLU(), nn.Tanh()]),
        ...                            mutables.InputChoice(n_candidates=3, n_chosen=None)])).size  # 2 * 2**3
        16
        """
        total = 1
        for spec in self._choices.values():
            total *= spec.size
        return total

    @property
    def scopes(self) -> dict[str, tuple[str, ...]]:
        """MutableScope keys and their module paths."""
        return dict(self._scopes)

    @property
    def aliases(self) -> dict[str, str]:
        """NNI 1.x automatic keys accepted on input, mapped to their canonical keys."""
        return dict(self._aliases)

    def mutables(self, key: str) -> list[Mutable]:
        """Every mutable module bound to ``key`` (several when the key is shared).

        >>> from nasnb import mutables
        >>> net = nn.ModuleList([mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act") for _ in range(2)])
        >>> [m is n for m, n in zip(SearchSpace(net).mutables("act"), net)]
        [True, True]
        """
        return list(self._members[self[key].key])

    def decision(self, key: str) -> Decision:
        """The decision object of ``key`` (one-shot algorithms install mixers on it)."""
        return self._decisions[self[key].key]

    # --------------------------------------------------------- architectures
    def current(self) -> Arch:
        """The architecture the model runs now, in readable form.

        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
        >>> space = SearchSpace(net)
        >>> net[0].choice = 1  # a change made anywhere is the space's change
        >>> space.current()
        {'act': 1}
        """
        return {k: spec.encode(self._decisions[k].indices) for k, spec in self._choices.items()}

    def export(self, keys: str = "space") -> Arch:
        """The current architecture, keyed for this space or for NNI 1.x code.

        Parameters
        ----------
        keys : {"space", "nni"}
            ``"space"``: the keys of this space (as :meth:`current`). ``"nni"``: NNI 1.x's
            keys, so NNI 1.x code building the same model loads the file: a key of mutables
            built without ``key=`` is written under its automatic key (``LayerChoice1``,
            ...; :attr:`aliases`), explicit keys stay, and InputChoice sources are written
            as the strings given in ``choose_from``.

        Raises
        ------
        ValueError
            ``keys`` is neither ``"space"`` nor ``"nni"``.
        SearchSpaceError
            With ``keys="nni"``: a key has no unambiguous NNI automatic key (two mutables
            got the same one, or it is also an explicit key of the space).

        Examples
        --------
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv = mutables.LayerChoice([nn.Conv2d(1, 4, 3), nn.Conv2d(1, 4, 5)])
        ...         self.skip = mutables.InputChoice(choose_from=[self.conv.key], n_chosen=None)
        ...     def forward(self, x):
        ...         return self.skip([self.conv(x)])
        >>> _ = SearchSpace(Net())  # each bind restarts NNI's numbering, as a fresh NNI process
        >>> space = SearchSpace(Net())
        >>> space.export(), space.export(keys="nni")
        ({'conv': 0, 'skip': ['conv']}, {'LayerChoice1': 0, 'InputChoice2': ['LayerChoice1']})
        >>> SearchSpace(Net()).apply(space.export(keys="nni"))
        """
        return self._written({k: d.indices for k, d in self._decisions.items()}, keys)

    def _written(self, resolved: Mapping[str, tuple[int, ...]], keys: str) -> Arch:
        """``resolved`` (key -> indices, every key) in readable form, keyed as ``keys`` says."""
        if keys == "space":
            return {k: spec.encode(resolved[k]) for k, spec in self._choices.items()}
        if keys != "nni":
            raise ValueError(f"keys={keys!r}: expected 'space' (this space's keys) or 'nni' (NNI 1.x automatic keys)")
        return {self._nni_key(k): self._nni_value(k, resolved[k]) for k in self._choices}

    def _nni_key(self, key: str) -> str:
        """The key NNI 1.x gives ``key``'s mutables: the explicit key, else the automatic one."""
        first = self._members[key][0]
        auto = first._auto_key
        if first._explicit_key is not None or auto is None or auto == key:
            return key
        if self._aliases.get(auto) == key:
            return auto
        why = ("several mutables of this model got it (they were built before different binds)"
               if auto in self._ambiguous else "it is also a key of this space")
        raise SearchSpaceError(f"key {key!r} has no unambiguous NNI 1.x key: its automatic key {auto!r} "
                               f"cannot be used because {why}; give the mutable at {self._choices[key].paths[0]!r} "
                               f"an explicit key=", key=key, value=auto)

    def _nni_value(self, key: str, indices: tuple[int, ...]) -> Any:
        """The readable choice with InputChoice sources as the user wrote them in ``choose_from``."""
        spec = self._choices[key]
        first = self._members[key][0]
        if spec.kind == "input" and spec.named and isinstance(first, InputChoice):
            raw = first.choose_from
            return [raw[i] for i in indices]
        return spec.encode(indices)

    def _resolve(self, arch: Any, full: bool) -> dict[str, tuple[int, ...]]:
        if isinstance(arch, (str, os.PathLike)):
            arch = load_json(arch)
        if not isinstance(arch, Mapping):
            raise ArchitectureError(
                [Problem("<architecture>", arch, "a mapping key -> choice (or a path to a JSON file)")]
            )
        resolved: dict[str, tuple[int, ...]] = {}
        problems: list[Problem] = []
        given: set[str] = set()  # keys present, valid or not (a bad value is not also "missing")
        unknown = 0
        choices = self._choices
        for key, value in arch.items():
            spec = choices.get(key) if type(key) is str else None
            if spec is None:
                canonical = self._canonical(key) if isinstance(key, str) else None
                if canonical is None:
                    unknown += 1
                    why = ("a key of this space: " + self._unknown_key_message(key) if unknown <= 20
                           else "a key of this space")
                    problems.append(Problem(str(key)[:200], value, why))
                    continue
                spec = choices[canonical]
            canonical = spec.key
            given.add(canonical)
            try:
                indices = spec.parse(value)
            except InvalidChoice as err:
                problems.append(Problem(canonical, value, err.expected))
                continue
            if canonical in resolved and resolved[canonical] != indices:
                problems.append(Problem(canonical, value, "one value per key (also given under an alias)"))
                continue
            resolved[canonical] = indices
        if full:
            for key, spec in self._choices.items():
                if key not in given:
                    problems.append(Problem(key, _MISSING, spec.describe()))
        if problems:
            raise ArchitectureError(problems)
        return resolved

    def validate(self, arch: Mapping[str, Any] | str | os.PathLike[str]) -> Arch:
        """Check a full architecture and return it in canonical readable form.

        Raises
        ------
        ArchitectureError
            Every missing, unknown or invalid key at once, each with value and expectation.

        Examples
        --------
        >>> from collections import OrderedDict
        >>> from nasnb import mutables
        >>> space = SearchSpace(mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh()), key="act"))
        >>> space.validate({"act": [False, True]})  # any NNI 1.x encoding, written back readable
        {'act': 'tanh'}
        >>> space.validate({"act": "gelu", "bogus": 0})
        Traceback (most recent call last):
        ...
        nasnb.exceptions.ArchitectureError: invalid architecture (2 problems):
          - 'act': got 'gelu', expected one of ['relu', 'tanh'] (a candidate name) or an index in 0..1
          - 'bogus': got 0, expected a key of this space: no key 'bogus' in this search space; keys are ['act']
        """
        resolved = self._resolve(arch, full=True)
        return {k: self._choices[k].encode(resolved[k]) for k in self._choices}

    def apply(self, arch: Mapping[str, Any] | str | os.PathLike[str]) -> None:
        """Change the decisions named in ``arch`` (a partial mapping is fine).

        Accepts every NNI 1.x encoding: a name, an index, a list of names or indices, a
        multi-hot bool list, ``{"_value", "_idx"}`` dicts, or a path to a JSON file. A
        LayerChoice also takes several candidates (or none) and a list of weights, one per
        candidate. On any problem nothing changes and :class:`ArchitectureError` lists them all.

        >>> import torch
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
        >>> space = SearchSpace(net)
        >>> space.apply({"act": 1})
        >>> net(torch.tensor([-1.0]))  # tanh now
        tensor([-0.7616])
        """
        self._set(self._resolve(arch, full=False))

    def _set(self, resolved: Mapping[str, tuple[int, ...]]) -> None:
        with self.batch():
            for key, indices in resolved.items():
                self._decisions[key].set(indices)

    def indices(self) -> dict[str, tuple[int, ...]]:
        """The chosen candidate indices of every key (the form trainers compute with).

        >>> from nasnb import mutables
        >>> SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")).indices()
        {'act': (0,)}
        """
        return {k: d.indices for k, d in self._decisions.items()}

    def set_indices(self, indices: Mapping[str, Sequence[int]], check: bool = True) -> None:
        """Set several keys by candidate indices at once; observers hear one batch of changes.

        The fast path of :meth:`apply` for code that already holds indices (a trainer
        sampling every step). Each entry is checked with :meth:`Choice.fits`;
        ``check=False`` skips that (about 1 us per key) for index tuples that are valid
        by construction, e.g. drawn with :meth:`Choice.draw` or read back from
        :meth:`indices`.

        >>> from nasnb import mutables
        >>> space = SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
        >>> space.set_indices({"act": (1,)}); space.current()
        {'act': 1}
        >>> space.set_indices({"act": (2,)})
        Traceback (most recent call last):
        ...
        nasnb.exceptions.ArchitectureError: invalid architecture (1 problem):
          - 'act': got (2,), expected candidate indices of one of ['0', '1'] (a candidate name) or an index in 0..1
        """
        if not check:
            self._set(indices)  # type: ignore[arg-type]  # the caller vouches for (key -> index tuple)
            return
        resolved: dict[str, tuple[int, ...]] = {}
        problems: list[Problem] = []
        for key, idx in indices.items():
            spec = self._choices.get(key)
            if spec is None:
                problems.append(Problem(str(key), idx, "a key of this space: " + self._unknown_key_message(key)))
                continue
            value = idx if isinstance(idx, tuple) else tuple(idx)
            if not spec.fits(value):
                problems.append(Problem(key, value, "candidate indices of " + spec.describe()))
                continue
            resolved[key] = value
        if problems:
            raise ArchitectureError(problems)
        self._set(resolved)

    def load(self, path: str | os.PathLike[str]) -> Arch:
        """Apply a full architecture from a JSON file (ours or NNI 1.x's); return it.

        >>> import os, tempfile
        >>> from nasnb import mutables
        >>> space = SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
        >>> path = os.path.join(tempfile.mkdtemp(), "arch.json")
        >>> space.save(path, {"act": 1})
        {'act': 1}
        >>> space.current(), space.load(path)
        ({'act': 0}, {'act': 1})
        """
        self._set(self._resolve(load_json(path), full=True))
        return self.current()

    def save(self, path: str | os.PathLike[str], arch: Mapping[str, Any] | None = None, keys: str = "space") -> Arch:
        """Write ``arch`` (default: the current one) as readable JSON; return what was written.

        ``keys="nni"`` writes NNI 1.x's keys, as :meth:`export` does. See :meth:`load` for an example.
        """
        if arch is None:
            resolved = {k: d.indices for k, d in self._decisions.items()}
        else:
            resolved = self._resolve(arch, full=True)
        written = self._written(resolved, keys)
        dump_json(written, path)
        return written

    def sample(self, seed: int | random.Random | None = None) -> Arch:
        """Draw an architecture uniformly at random (reproducible with ``seed``); does not apply it.

        >>> from nasnb import mutables
        >>> space = SearchSpace(mutables.InputChoice(n_candidates=4, n_chosen=2, key="pick"))
        >>> space.sample(seed=3) == space.sample(seed=3), space.validate(space.sample(seed=3)) == space.sample(seed=3)
        (True, True)
        """
        rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        return {key: spec.encode(spec.draw(rng)) for key, spec in self._choices.items()}

    def grid(self) -> Iterator[Arch]:
        """Every architecture of the space, lazily, the current defaults' order first.

        >>> from nasnb import mutables
        >>> net = nn.ModuleList([mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
        ...                      mutables.InputChoice(n_candidates=2, n_chosen=1, key="in")])
        >>> list(SearchSpace(net).grid())
        [{'act': 0, 'in': [0]}, {'act': 0, 'in': [1]}, {'act': 1, 'in': [0]}, {'act': 1, 'in': [1]}]
        """
        keys = list(self._choices)
        specs = [self._choices[k] for k in keys]
        for combo in itertools.product(*(list(s.all_indices()) for s in specs)):
            yield {k: s.encode(idx) for k, s, idx in zip(keys, specs, combo)}

    def fix(self, arch: Mapping[str, Any] | str | os.PathLike[str] | None = None, *,
            example_input: Any = None) -> nn.Module:
        """Return a plain ``nn.Module`` running ``arch`` (default: the current one).

        Each LayerChoice becomes its chosen candidate (weights copied), each InputChoice a
        minimal fixed selector; the model itself is left unchanged. A LayerChoice whose
        output ``arch`` never uses (see :meth:`unused`) is neither copied nor run: it
        becomes a :class:`~nasnb.fixed.UnusedChoice` that returns ``None``, so a fixed
        DARTS cell holds and computes exactly its chosen edges.

        Which edges may be left out is learnt from one call of the model (see
        :meth:`probe`): the first forward does it, or ``example_input`` (a tensor or a
        tuple of arguments), or the model's own ``example_input()`` method if it has one.
        If none of these is available, nothing is left out and a warning says so.

        Raises
        ------
        ArchitectureError
            If ``arch`` is not a full, valid architecture.

        Examples
        --------
        >>> import torch
        >>> from nasnb import mutables
        >>> net = nn.Sequential(nn.Linear(2, 2), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
        >>> fixed = SearchSpace(net).fix({"act": 1})
        >>> fixed
        Sequential(
          (0): Linear(in_features=2, out_features=2, bias=True)
          (1): Tanh()
        )
        >>> x = torch.randn(1, 2)
        >>> net[1].choice = 1
        >>> torch.equal(fixed(x), net(x))  # same weights, same output
        True
        """
        from ._dataflow import remove_probe_hooks
        from ._fixed_modules import fix_model

        resolved = self._resolve(arch, full=True) if arch is not None else {
            k: d.indices for k, d in self._decisions.items()
        }
        self._ensure_probed(example_input, "fix()")
        fixed = fix_model(self.model, self._members, resolved, self.unused_of(resolved))
        remove_probe_hooks(fixed)
        return fixed

    # ------------------------------------------------------------ observers
    def observe(self, callback: Observer) -> Callable[[], None]:
        """Call ``callback({key: (old, new)})`` after every change; returns an unsubscribe function.

        >>> from nasnb import mutables
        >>> space = SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
        >>> stop = space.observe(print)
        >>> space.apply({"act": 1})
        {'act': (0, 1)}
        >>> stop(); space.apply({"act": 0})  # unsubscribed: silent
        """
        self._observers.append(callback)
        return lambda: self.unobserve(callback)

    def unobserve(self, callback: Observer) -> None:
        """Stop calling ``callback``."""
        if callback in self._observers:
            self._observers.remove(callback)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group changes so observers hear them once, at the end of the block.

        >>> from nasnb import mutables
        >>> space = SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key="act"))
        >>> _ = space.observe(print)
        >>> with space.batch():
        ...     space.apply({"act": 1})
        ...     space.apply({"act": 2})
        {'act': (0, 2)}
        """
        if self._pending is not None or not self._observers:  # nested, or nobody listens
            yield
            return
        self._pending = {}
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            changed = {k: on for k, on in pending.items() if on[0] != on[1]} if self._observers else {}
            if changed:  # changes made before an error are real: observers still hear them
                self._notify({k: (self._choices[k].encode(o), self._choices[k].encode(n))
                              for k, (o, n) in changed.items()})

    def _on_decision(self, decision: Decision, old: tuple[int, ...], new: tuple[int, ...]) -> None:
        key = decision.spec.key
        sources = self._feeds.get(key)
        if sources is not None:  # an InputChoice changed: which edges it drops may have changed
            decisions = self._decisions
            for source in sources:
                decisions[source].unused = self._is_unused(source, None)
        if self._pending is None and not self._observers:
            return
        if key not in self._choices:
            return
        if self._pending is not None:
            first_old = self._pending.get(key, (old, new))[0]
            self._pending[key] = (first_old, new)
            return
        spec = self._choices[key]
        self._notify({key: (spec.encode(old), spec.encode(new))})

    def _notify(self, changes: dict[str, tuple[Any, Any]]) -> None:
        for callback in list(self._observers):
            callback(changes)

    # ---------------------------------------------------------------- mixers
    def set_mixer(self, mixer: Mixer, keys: list[str] | None = None) -> None:
        """Let ``mixer`` compute the forward of ``keys`` (default: all) — used by one-shot NAS."""
        for key in keys if keys is not None else list(self._choices):
            self.decision(key).mixer = mixer

    def clear_mixer(self) -> None:
        """Return every key to its discrete forward."""
        for decision in self._decisions.values():
            decision.mixer = None
