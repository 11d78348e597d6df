"""The modules a fixed architecture is made of, and the copy that builds it.

:meth:`nasnb.SearchSpace.fix` calls :func:`fix_model`; :func:`nasnb.fixed.apply_fixed_architecture`
calls :func:`replace_in_place`. Both need only the mutables of each key and the chosen
indices, not the space, so this module sits below :mod:`nasnb.space` (the public names
are re-exported by :mod:`nasnb.fixed`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from torch import nn

from ._clone import clone_module
from ._reduction import mask_for, reduce_outputs
from .architecture import Weighted
from .mutables import InputChoice, LayerChoice, Mutable, run_chosen

__all__ = [
    "FixedInputChoice",
    "FixedLayerChoice",
    "FixedMultiChoice",
    "UnusedChoice",
    "fix_model",
    "replace_in_place",
]


class FixedInputChoice(nn.Module):
    """An InputChoice frozen to ``chosen`` inputs; returns None when none is chosen.

    Keeps the attributes NNI 1.x model code reads (``n_candidates``, ``choose_from``,
    ``n_chosen``, ``reduction``, ``return_mask``, ``key``).

    >>> import torch
    >>> fic = FixedInputChoice((1,), n_candidates=2, reduction="sum", key="in")
    >>> fic([torch.zeros(1), torch.ones(1)])
    tensor([1.])
    """

    def __init__(
        self,
        chosen: Sequence[int],
        n_candidates: int,
        choose_from: Sequence[str] | None = None,
        n_chosen: int | None = None,
        reduction: str = "sum",
        return_mask: bool = False,
        key: str = "",
    ):
        super().__init__()
        self.chosen = tuple(chosen)
        self.n_candidates = n_candidates
        self.choose_from = list(choose_from) if choose_from is not None else [""] * n_candidates
        self.n_chosen = n_chosen
        self.reduction = reduction
        self.return_mask = return_mask
        self.key = key
        self._single = self.chosen[0] if len(self.chosen) == 1 and reduction != "none" else None

    def forward(self, optional_inputs: Any) -> Any:
        if isinstance(optional_inputs, Mapping):
            missing = [k for k in self.choose_from if k not in optional_inputs]
            if missing or len(optional_inputs) != self.n_candidates:
                raise ValueError(f"InputChoice {self.key!r}: input dict has keys {list(optional_inputs)[:20]}, "
                                 f"expected exactly the keys {self.choose_from}")
            optional_inputs = [optional_inputs[k] for k in self.choose_from]
        elif len(optional_inputs) != self.n_candidates:
            raise ValueError(f"InputChoice {self.key!r}: got {len(optional_inputs)} inputs, expected "
                             f"{self.n_candidates} (n_candidates), as the mutable model does")
        if self._single is not None and not self.return_mask:
            return optional_inputs[self._single]
        out = reduce_outputs(self.reduction, [optional_inputs[i] for i in self.chosen])
        if self.return_mask:
            return out, mask_for(self.n_candidates, self.chosen, optional_inputs)
        return out

    def extra_repr(self) -> str:
        return f"key={self.key!r}, chosen={list(self.chosen)}, reduction={self.reduction!r}"


class FixedLayerChoice(nn.Module):
    """The chosen candidate of a LayerChoice whose callers expect a mask or a list.

    Used only for ``return_mask=True`` or ``reduction="none"``; otherwise the candidate
    replaces the LayerChoice directly.

    >>> import torch
    >>> flc = FixedLayerChoice(nn.Tanh(), index=1, n_candidates=2, as_list=False, return_mask=True, key="op")
    >>> flc
    FixedLayerChoice(
      key='op', chosen=1
      (module): Tanh()
    )
    >>> flc(torch.zeros(1))
    (tensor([0.]), tensor([False,  True]))
    """

    def __init__(self, module: nn.Module, index: int, n_candidates: int, as_list: bool, return_mask: bool, key: str = ""):
        super().__init__()
        self.module = module
        self.index = index
        self.n_candidates = n_candidates
        self.as_list = as_list
        self.return_mask = return_mask
        self.key = key

    def extra_repr(self) -> str:
        """``key='op', chosen=1`` (the candidate's own repr follows, as its child)."""
        return f"key={self.key!r}, chosen={self.index}"

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.module(*args, **kwargs)
        if self.as_list:
            out = [out]
        if self.return_mask:
            return out, mask_for(self.n_candidates, (self.index,), out)
        return out


class FixedMultiChoice(nn.Module):
    """A LayerChoice fixed to several candidates (or weights): runs them and reduces, as NNI 1.x did.

    Holds only the chosen candidates (``candidates[j]`` is candidate ``indices[j]``); each
    output is scaled by its weight when ``weights`` is given, and the outputs combine
    with ``reduction``. Keeps the attributes NNI 1.x model code reads (``reduction``,
    ``return_mask``, ``key``, ``n_candidates``).

    Parameters
    ----------
    candidates : list of nn.Module
        The chosen candidate modules, in index order.
    indices : sequence of int
        Their positions among the LayerChoice's candidates.
    n_candidates : int
        How many candidates the LayerChoice had (the length of the mask).
    weights : sequence of float, optional
        One weight per chosen candidate (a weight list), or None.
    reduction : {"sum", "mean", "concat", "none"}
        How the outputs combine.
    return_mask : bool
        Also return the mask (bool, or the float weights).
    key : str
        The decision's key.

    >>> import torch
    >>> fmc = FixedMultiChoice([nn.ReLU(), nn.Identity()], (0, 2), 3, weights=(1.0, 0.5), key="op")
    >>> fmc(torch.tensor([-2.0, 2.0]))  # relu(x) + 0.5 * x
    tensor([-1.,  3.])
    >>> len(fmc.candidates), fmc.indices
    (2, (0, 2))
    """

    def __init__(self, candidates: Sequence[nn.Module], indices: Sequence[int], n_candidates: int,
                 weights: Sequence[float] | None = None, reduction: str = "sum", return_mask: bool = False,
                 key: str = ""):
        super().__init__()
        if len(candidates) != len(indices) or (weights is not None and len(weights) != len(indices)):
            n_weights = None if weights is None else len(weights)
            raise ValueError(f"FixedMultiChoice {key!r}: {len(candidates)} candidates, {len(indices)} indices "
                             f"and {n_weights} weights; expected one index (and weight) per candidate")
        self.candidates = nn.ModuleList(candidates)
        self.indices = tuple(indices)
        self.weights = None if weights is None else tuple(float(w) for w in weights)
        self.n_candidates = n_candidates
        self.reduction = reduction
        self.return_mask = return_mask
        self.key = key

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        indices = self.indices if self.weights is None else Weighted(self.indices, self.weights)
        return run_chosen(self.candidates, indices, self.n_candidates, self.reduction, self.return_mask, args, kwargs)

    def extra_repr(self) -> str:
        weights = "" if self.weights is None else f", weights={list(self.weights)}"
        return f"key={self.key!r}, indices={list(self.indices)}{weights}, reduction={self.reduction!r}"


class UnusedChoice(nn.Module):
    """A LayerChoice whose output the architecture never uses: no weights, returns ``None``.

    Stands where a dropped edge was (its InputChoice slot is not chosen); ``[]`` for
    ``reduction="none"``, and an all-False mask with ``return_mask=True``, as NNI 1.x
    returned for an all-False LayerChoice.

    >>> UnusedChoice(n_candidates=3, key="n2_p0")(1) is None
    True
    """

    def __init__(self, n_candidates: int, reduction: str = "sum", return_mask: bool = False, key: str = ""):
        super().__init__()
        self.n_candidates = n_candidates
        self.reduction = reduction
        self.return_mask = return_mask
        self.key = key

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out: list[Any] | None = [] if self.reduction == "none" else None
        return (out, mask_for(self.n_candidates, (), args)) if self.return_mask else out

    def extra_repr(self) -> str:
        return f"key={self.key!r}"


def _replacement(m: Mutable, indices: tuple[int, ...], memo: dict[int, Any] | None, unused: bool = False) -> nn.Module:
    if isinstance(m, LayerChoice) and (unused or not indices):
        return UnusedChoice(len(m), m.reduction, m.return_mask, m.key)
    if isinstance(m, LayerChoice) and (len(indices) != 1 or isinstance(indices, Weighted)):
        chosen = [m[i] if memo is None else clone_module(m[i], memo) for i in indices]
        weights = indices.weights if isinstance(indices, Weighted) else None
        return FixedMultiChoice(chosen, indices, len(m), weights, m.reduction, m.return_mask, m.key)
    if isinstance(m, LayerChoice):
        module: nn.Module = m[indices[0]]
        if memo is not None:
            module = clone_module(module, memo)
        if m.return_mask or m.reduction == "none":
            return FixedLayerChoice(module, indices[0], len(m), m.reduction == "none", m.return_mask, m.key)
        return module
    assert isinstance(m, InputChoice)
    return FixedInputChoice(indices, m.n_candidates, m.choose_from, m.n_chosen, m.reduction, m.return_mask, m.key)


def fix_model(model: nn.Module, members: Mapping[str, list[Mutable]], arch: Mapping[str, tuple[int, ...]],
              unused: Collection[str] = ()) -> nn.Module:
    """Copy ``model`` with every choice of ``members`` replaced per ``arch`` (key -> indices).

    Only chosen candidates are copied, and none of the LayerChoices in ``unused``, so
    fixing a large supernet costs about as much as building the chosen network. Prefer
    :meth:`nasnb.SearchSpace.fix`.
    """
    memo: dict[int, Any] = {}
    for key, mods in members.items():
        for m in mods:
            if id(m) not in memo:
                memo[id(m)] = _replacement(m, arch[key], memo, key in unused)
    return clone_module(model, memo)


def replace_in_place(model: nn.Module, members: Mapping[str, list[Mutable]], arch: Mapping[str, tuple[int, ...]],
                     unused: Collection[str] = ()) -> None:
    """Replace, inside ``model``, every choice of ``members`` per ``arch`` (key -> indices); keeps the weights.

    The in-place twin of :func:`fix_model` (NNI 1.x's ``apply_fixed_architecture``).

    Raises
    ------
    TypeError
        ``model`` is itself a mutable (it cannot replace itself).
    """
    replacements = {id(m): _replacement(m, arch[key], None, key in unused) for key, mods in members.items() for m in mods}
    if id(model) in replacements:
        raise TypeError("apply_fixed_architecture cannot replace the model itself; use SearchSpace(model).fix()")
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if child is not None and id(child) in replacements:
                parent._modules[name] = replacements[id(child)]
