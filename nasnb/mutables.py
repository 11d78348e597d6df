"""NNI 1.x compatible mutables: ``LayerChoice``, ``InputChoice`` and ``MutableScope``.

Code written for ``nni.nas.pytorch.mutables`` runs unchanged after
``from nasnb import mutables``. Unlike NNI, a model can be called right after it is
built (each choice starts at its first candidate / first ``n_chosen`` inputs), deep
copied and pickled; :class:`nasnb.SearchSpace` binds it to change decisions.

Keys: an explicit ``key=`` wins. Without one, ``mutable.key`` is NNI's automatic key
(``LayerChoice1``, ``InputChoice2``, ...) until a SearchSpace binds the model; from then
on it is the dotted module path (``"conv1"``, ``"cells.0.op"``) and the automatic key
stays an *alias* that ``apply``/``load`` accept, so NNI 1.x files keep loading. The
automatic numbering restarts at 1 after every bind, as in a fresh NNI process.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> op = mutables.LayerChoice([nn.Conv2d(3, 4, 3, padding=1), nn.Identity()], key="op")
>>> op(torch.zeros(1, 3, 8, 8)).shape
torch.Size([1, 4, 8, 8])
>>> op.choice = "1"
>>> op(torch.zeros(1, 3, 8, 8)).shape
torch.Size([1, 3, 8, 8])
>>> skip = mutables.InputChoice(n_candidates=1, n_chosen=None, key="skip")
>>> skip.choice = []
>>> skip([torch.ones(2)]) is None
True
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import torch
from torch import nn

from ._reduction import REDUCTIONS, mask_for, reduce_outputs
from .architecture import Choice, InvalidChoice, Weighted
from .decision import Decision
from .exceptions import ArchitectureError, Problem

__all__ = [
    "InputChoice",
    "LayerChoice",
    "Mutable",
    "MutableScope",
    "global_mutable_counting",
]

_auto_key_counter = 0  # NNI 1.x's automatic-key counter; reset when a SearchSpace binds

# mutable -> weak reference to the SearchSpace that owns its key (DESIGN rule 10: one owner per decision);
# kept outside the modules so that they still deep-copy and pickle
_owners: "weakref.WeakKeyDictionary[Mutable, weakref.ReferenceType[Any]]" = weakref.WeakKeyDictionary()


def owner_of(mutable: "Mutable") -> Any:
    """The live SearchSpace that owns ``mutable``'s key, or None."""
    ref = _owners.get(mutable)
    return ref() if ref is not None else None


def choice_mask(n: int, indices: tuple[int, ...], like: Any) -> torch.Tensor:
    """NNI 1.x's mask of a LayerChoice: bool, or the float weights for :class:`~nasnb.architecture.Weighted`.

    >>> choice_mask(3, Weighted((0, 2), (0.5, 2.0)), None).tolist()
    [0.5, 0.0, 2.0]
    """
    mask = mask_for(n, indices, like)
    if not isinstance(indices, Weighted):
        return mask
    weights = torch.zeros(n, device=mask.device)
    weights[list(indices)] = torch.tensor(indices.weights, device=mask.device)
    return weights


def run_chosen(candidates: Iterable[nn.Module], indices: tuple[int, ...], n: int, reduction: str,
               return_mask: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``candidates`` (the chosen ones, in index order), scale by the weights, reduce.

    The forward of a LayerChoice selecting several candidates (or none: ``None``, ``[]``
    for ``reduction="none"``), shared by :class:`LayerChoice` and the fixed model.
    """
    outs = [m(*args, **kwargs) for m in candidates]
    if isinstance(indices, Weighted):
        outs = [o * w for o, w in zip(outs, indices.weights)]
    out = reduce_outputs(reduction, outs)
    if return_mask:
        return out, choice_mask(n, indices, outs if outs else args)
    return out


def global_mutable_counting() -> int:
    """Advance and return NNI's automatic-key counter (first value 1)."""
    global _auto_key_counter
    _auto_key_counter += 1
    return _auto_key_counter


def _reset_global_mutable_counting() -> None:
    """Restart automatic keys at 1 (NNI 1.x private name, kept for its tests)."""
    global _auto_key_counter
    _auto_key_counter = 0


class Mutable(nn.Module):
    """Base class of every mutable: a module that carries a key.

    Parameters
    ----------
    key : str, optional
        Name of the decision. Mutables sharing a key share one decision.
    """

    def __init__(self, key: str | None = None):
        super().__init__()
        if key is not None and not isinstance(key, str):
            warnings.warn(f'key "{key}" is not a string, converted to string.', stacklevel=3)
            key = str(key)
        self._explicit_key: str | None = key
        self._auto_key: str | None
        self._key: str
        if key is not None:
            self._auto_key = None
            self._key = key
        else:
            self._auto_key = self._key = f"{type(self).__name__}{global_mutable_counting()}"
        self._path: str | None = None

    @property
    def key(self) -> str:
        """The decision's key (explicit, else NNI automatic key, else module path once bound)."""
        return self._key

    @property
    def alias(self) -> str | None:
        """NNI 1.x automatic key of a mutable built without ``key=`` (None otherwise)."""
        return self._auto_key

    @property
    def name(self) -> str:
        """Dotted module path once bound (the key before that)."""
        return self._path if self._path is not None else self._key

    @name.setter
    def name(self, value: str) -> None:
        self._path = value

    def _bind(self, key: str, path: str) -> None:
        self._key = key
        self._path = path


class MutableScope(Mutable):
    """Marks a sub-graph (cell, node, layer) as a unit; its key can be an input source.

    Subclass it like ``nn.Module`` and call ``super().__init__(key)``.

    >>> class Cell(MutableScope):
    ...     def __init__(self):
    ...         super().__init__("cell")
    >>> Cell().key
    'cell'
    """

    def __init__(self, key: str | None):
        super().__init__(key)


class _Choosable(Mutable):
    """Shared behaviour of LayerChoice and InputChoice: a decision and its spec."""

    _decision: Decision

    def _local_spec(self) -> Choice:
        raise NotImplementedError

    @property
    def spec(self) -> Choice:
        """The :class:`~nasnb.architecture.Choice` describing this mutable's key (reading it changes nothing).

        The bound space's description when there is one; otherwise (not bound yet, or
        the decision describes another key) one built from this mutable alone.
        """
        spec: Choice | None = self._decision.spec
        if spec is None or spec.key != self._key:
            return self._local_spec()
        return spec

    @property
    def decision(self) -> Decision:
        """The (possibly shared) decision this mutable reads in forward."""
        return self._decision

    @property
    def choice(self) -> Any:
        """Current choice in readable form; assign a name, index or list to change it."""
        return self.spec.encode(self._decision.indices)

    @choice.setter
    def choice(self, value: Any) -> None:
        spec = self.spec
        try:
            indices = spec.parse(value)
        except InvalidChoice as err:
            raise ArchitectureError([Problem(spec.key, value, err.expected)]) from None
        self._decision.set(indices)

    def extra_repr(self) -> str:
        return f"key={self._key!r}, choice={self.choice!r}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Notebook display, built by the views (:func:`nasnb.widgets.mimebundle`), loaded on first display."""
        from .widgets import mimebundle

        return mimebundle(self, include, exclude)


class LayerChoice(_Choosable):
    """Choose one of several candidate modules; every call runs the chosen one.

    As in NNI 1.x, a decision may also select several candidates (a list of names or
    indices, a multi-hot list) or none: they all run and their outputs combine with
    ``reduction`` (none chosen: ``None``). A list of weights, one per candidate, runs those
    with non-zero weight and scales each output by its weight.

    When an InputChoice names this key in ``choose_from`` and the architecture chooses
    none of its slots, the output is unused: once a :class:`~nasnb.SearchSpace` binds the
    model, the call returns ``None`` (``[]`` for ``reduction="none"``) without running a
    candidate, exactly as NNI 1.x did for an all-False mask and as the fixed model does.
    Code between this choice and that InputChoice must let ``None`` through.

    Parameters
    ----------
    op_candidates : list of nn.Module or OrderedDict[str, nn.Module]
        The candidates. A list names them ``"0"``, ``"1"``, ...
    reduction : {"sum", "mean", "concat", "none"}
        How several selected outputs combine (multi-choice, one-shot algorithms); ``"none"``
        returns a list.
    return_mask : bool
        Also return a bool mask of the selected candidates (the float weights when the
        choice is a weight list).
    key : str, optional
        Decision key; mutables with the same key share one decision.

    Shape: whatever the candidates take and return; all get the same ``*args, **kwargs``.

    >>> import torch
    >>> from collections import OrderedDict
    >>> lc = LayerChoice(OrderedDict(relu=torch.nn.ReLU(), tanh=torch.nn.Tanh()), key="act")
    >>> lc.names, len(lc), lc.choice
    (['relu', 'tanh'], 2, 'relu')
    >>> lc.choice = ["relu", "tanh"]
    >>> lc(torch.tensor([-1.0, 1.0]))  # relu(x) + tanh(x)
    tensor([-0.7616,  1.7616])
    """

    _RESERVED = frozenset({"length", "reduction", "return_mask", "_key", "key", "names"})

    @overload
    def __init__(self, op_candidates: list[nn.Module], reduction: str = ..., return_mask: bool = ...,
                 key: str | None = ...) -> None: ...
    @overload
    def __init__(self, op_candidates: Mapping[str, nn.Module], reduction: str = ..., return_mask: bool = ...,
                 key: str | None = ...) -> None: ...

    def __init__(self, op_candidates: list[nn.Module] | Mapping[str, nn.Module], reduction: str = "sum",
                 return_mask: bool = False, key: str | None = None) -> None:
        super().__init__(key)
        if isinstance(op_candidates, Mapping):
            items = list(op_candidates.items())
        elif isinstance(op_candidates, list):
            items = [(str(i), m) for i, m in enumerate(op_candidates)]
        else:
            raise TypeError(
                f"LayerChoice {self._key!r}: op_candidates must be a list or an OrderedDict of nn.Module, "
                f"got {type(op_candidates).__name__}"
            )
        if not items:
            raise ValueError(f"LayerChoice {self._key!r}: op_candidates is empty; expected at least one candidate")
        self.names: list[str] = []
        for name, module in items:
            if not isinstance(name, str) or not name or "." in name:
                raise ValueError(f"LayerChoice {self._key!r}: candidate name {name!r} must be a non-empty string without '.'")
            if name in self._RESERVED or (hasattr(self, name) and name not in self._modules):
                raise ValueError(f"LayerChoice {self._key!r}: please don't use a reserved name {name!r} for your module "
                                 f"(it is an attribute of LayerChoice / nn.Module); use an OrderedDict with another name")
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"LayerChoice {self._key!r}: candidate {name!r} must be an nn.Module, got {type(module).__name__}"
                )
            if name in self._modules:
                raise ValueError(f"LayerChoice {self._key!r}: duplicate candidate name {name!r}")
            self.add_module(name, module)
            self.names.append(name)
        if reduction not in REDUCTIONS:
            raise ValueError(f"LayerChoice {self._key!r}: reduction {reduction!r} is not one of {list(REDUCTIONS)}")
        self.reduction = reduction
        self.return_mask = return_mask
        self._decision = Decision((0,))

    def _local_spec(self) -> Choice:
        types = tuple(type(m).__name__ for m in self)
        return Choice.layer(self._key, tuple(self.names), reduction=self.reduction, candidate_types=types)

    # ------------------------------------------------------------ container
    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[nn.Module]:
        return (self._candidate(n) for n in self.names)

    def _candidate(self, name: str) -> nn.Module:
        """The candidate module registered as ``name`` (never None)."""
        module = self._modules[name]
        if module is None:
            raise LookupError(f"LayerChoice {self._key!r}: candidate {name!r} was set to None; "
                              f"every candidate must be an nn.Module")
        return module

    def _name_of(self, idx: int | str) -> str:
        if isinstance(idx, str):
            if idx not in self.names:
                raise LookupError(f"LayerChoice {self._key!r} has no candidate {idx!r}; candidates are {self.names}")
            return idx
        return self.names[idx]

    def __getitem__(self, idx: int | slice | str) -> Any:
        if isinstance(idx, str):
            return self._modules[self._name_of(idx)]
        return list(self)[idx]

    def __setitem__(self, idx: int | str, module: nn.Module) -> None:
        self._modules[self._name_of(idx)] = module
        self._rebind()

    def _rebind(self) -> None:
        """Candidates changed: the owning SearchSpace binds again, so its specs stay true."""
        owner = owner_of(self)
        if owner is not None:
            owner._bind()

    def __delitem__(self, idx: int | slice | str) -> None:
        if isinstance(idx, slice):
            doomed = self.names[idx]
        elif isinstance(idx, str):
            doomed = [self._name_of(idx)]
        else:
            doomed = [self.names[idx]]
        indices = self._decision.indices
        chosen = [self.names[i] for i in indices]
        weights = indices.weights if isinstance(indices, Weighted) else (1.0,) * len(indices)
        for name in doomed:
            del self._modules[name]
            self.names.remove(name)
        kept = [(self.names.index(n), w) for n, w in zip(chosen, weights) if n in self.names]
        self._decision.spec = None
        self._decision.indices = self._surviving(indices, kept)
        self._rebind()

    @staticmethod
    def _surviving(indices: tuple[int, ...], kept: list[tuple[int, float]]) -> tuple[int, ...]:
        """The decision after candidates were deleted: the chosen ones left, else the first candidate."""
        if indices and not kept:
            return (0,)
        new = tuple(i for i, _ in kept)
        return Weighted(new, [w for _, w in kept]) if isinstance(indices, Weighted) else new

    @property
    def length(self) -> int:
        """Deprecated NNI alias of ``len(self)``."""
        warnings.warn("LayerChoice.length is deprecated; use len(choice)", DeprecationWarning, stacklevel=2)
        return len(self)

    @property
    def choices(self) -> list[nn.Module]:
        """Deprecated NNI alias of ``list(self)``."""
        warnings.warn("LayerChoice.choices is deprecated; use list(choice)", DeprecationWarning, stacklevel=2)
        return list(self)

    @property
    def active(self) -> nn.Module:
        """The candidate module chosen now.

        Raises
        ------
        ValueError
            The choice selects several candidates or none.
        """
        indices = self._decision.indices
        if len(indices) != 1:
            raise ValueError(f"LayerChoice {self._key!r}: the choice {self.choice!r} selects {len(indices)} "
                             f"candidates, so there is no single active one; use the chosen names "
                             f"{[self.names[i] for i in indices]} (lc[name]) or list(lc)")
        return self._candidate(self.names[indices[0]])

    # -------------------------------------------------------------- forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        decision = self._decision
        if decision.mixer is not None:
            out, mask = decision.mixer.forward_layer_choice(self, args, kwargs)
            return (out, mask) if self.return_mask else out
        if decision.unused:  # no chosen InputChoice slot takes this output: skip it, as fix() does
            out = [] if self.reduction == "none" else None
            return (out, mask_for(len(self.names), (), args)) if self.return_mask else out
        indices = decision.indices
        if len(indices) != 1 or type(indices) is not tuple:  # several, none, or weighted (NNI 1.x)
            chosen = [self._candidate(self.names[i]) for i in indices]
            return run_chosen(chosen, indices, len(self.names), self.reduction, self.return_mask, args, kwargs)
        index = indices[0]
        out = self._candidate(self.names[index])(*args, **kwargs)
        if self.reduction == "none":
            out = [out]
        if self.return_mask:
            return out, mask_for(len(self.names), (index,), out)
        return out


class InputChoice(_Choosable):
    """Choose which of several input tensors to use; returns their reduction or None.

    Parameters
    ----------
    n_candidates : int, optional
        Number of inputs; defaults to ``len(choose_from)``.
    choose_from : list of str, optional
        Key of the mutable producing each input, or ``InputChoice.NO_KEY``.
    n_chosen : int or None
        How many inputs to choose; None means any subset (possibly empty -> ``None``).
    reduction : {"sum", "mean", "concat", "none"}
        How chosen inputs combine; ``"none"`` returns a list (``[]`` if empty).
    return_mask : bool
        Also return a bool mask of the chosen inputs.
    key : str, optional
        Decision key.

    >>> import torch
    >>> ic = InputChoice(n_candidates=3, n_chosen=2, reduction="sum", key="in")
    >>> ic([torch.ones(1), torch.ones(1) * 2, torch.ones(1) * 4])
    tensor([3.])
    """

    NO_KEY = ""

    def __init__(
        self,
        n_candidates: int | None = None,
        choose_from: Sequence[str] | None = None,
        n_chosen: int | None = None,
        reduction: str = "sum",
        return_mask: bool = False,
        key: str | None = None,
    ):
        super().__init__(key)
        where = f"InputChoice {self._key!r}"
        if n_candidates is None and choose_from is None:
            raise ValueError(f"{where}: at least one of `n_candidates` and `choose_from` must be given")
        if isinstance(choose_from, (str, bytes)) or (choose_from is not None and not isinstance(choose_from, Sequence)):
            raise TypeError(f"{where}: choose_from must be a list of keys, got {type(choose_from).__name__} "
                            f"{choose_from!r}" + (f"; did you mean [{choose_from!r}]?" if isinstance(choose_from, str) else ""))
        if choose_from is None:
            if not isinstance(n_candidates, int) or isinstance(n_candidates, bool):
                raise TypeError(f"{where}: n_candidates must be an int, got {n_candidates!r}")
            choose_from = [self.NO_KEY] * max(n_candidates, 0)
        choose_from = [c if isinstance(c, str) else str(c) for c in choose_from]
        if n_candidates is None:
            n_candidates = len(choose_from)
        if n_candidates != len(choose_from):
            raise ValueError(
                f"{where}: n_candidates={n_candidates} must equal the length of choose_from ({len(choose_from)})"
            )
        if n_candidates <= 0:
            raise ValueError(f"{where}: number of candidates must be greater than 0, got {n_candidates}")
        if n_chosen is not None and (
            not isinstance(n_chosen, int) or isinstance(n_chosen, bool) or not 0 <= n_chosen <= n_candidates
        ):
            raise ValueError(f"{where}: n_chosen must be None or an int in 0..{n_candidates}, got {n_chosen!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"{where}: reduction {reduction!r} is not one of {list(REDUCTIONS)}")
        self.n_candidates = n_candidates
        self.choose_from = list(choose_from)
        self.n_chosen = n_chosen
        self.reduction = reduction
        self.return_mask = return_mask
        k = n_candidates if n_chosen is None else n_chosen
        self._decision = Decision(tuple(range(k)))

    def _local_spec(self) -> Choice:
        return Choice.input(self._key, tuple(self.choose_from), self.n_chosen, reduction=self.reduction)

    def extra_repr(self) -> str:
        """``key='skip', n_candidates=2, n_chosen=None, reduction='sum', choice=[0, 1]``."""
        return (f"key={self._key!r}, n_candidates={self.n_candidates}, n_chosen={self.n_chosen!r}, "
                f"reduction={self.reduction!r}, choice={self.choice!r}")

    def forward(self, optional_inputs: Sequence[Any] | Mapping[str, Any]) -> Any:
        if isinstance(optional_inputs, Mapping):
            missing = [k for k in self.choose_from if k not in optional_inputs]
            if missing or len(optional_inputs) != self.n_candidates:
                raise ValueError(
                    f"InputChoice {self._key!r}: input dict has keys {list(optional_inputs)}, "
                    f"expected exactly the keys {self.choose_from}"
                )
            inputs = [optional_inputs[k] for k in self.choose_from]
        elif isinstance(optional_inputs, (list, tuple)):
            inputs = list(optional_inputs)
        else:
            raise TypeError(
                f"InputChoice {self._key!r}: optional inputs must be a list or a dict, "
                f"not {type(optional_inputs).__name__}"
            )
        if len(inputs) != self.n_candidates:
            raise ValueError(
                f"InputChoice {self._key!r}: got {len(inputs)} inputs, expected {self.n_candidates} (n_candidates)"
            )
        decision = self._decision
        if decision.mixer is not None:
            out, mask = decision.mixer.forward_input_choice(self, inputs)
            return (out, mask) if self.return_mask else out
        out = reduce_outputs(self.reduction, [inputs[i] for i in decision.indices])
        if self.return_mask:
            return out, mask_for(self.n_candidates, decision.indices, inputs)
        return out
