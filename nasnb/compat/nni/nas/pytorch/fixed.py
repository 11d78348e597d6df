"""``nni.nas.pytorch.fixed``: ``apply_fixed_architecture`` and the ``FixedArchitecture`` mutator.

``apply_fixed_architecture(model, arc)`` accepts every encoding NNI 1.x wrote (names,
indices, lists, multi-hot bool lists, float weights; NNI's automatic keys or nasnb's
keys), replaces each LayerChoice and InputChoice of ``model`` in place by its fixed
equivalent (only the chosen candidates stay) and returns the mutator, as NNI did.

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()]))
>>> mutator = apply_fixed_architecture(net, {"LayerChoice1": 1})
>>> net
Sequential(
  (0): Tanh()
)
>>> mutator.export()
{'LayerChoice1': 1}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasnb._fixed_modules import _replacement
from nasnb.compat._errors import nni_errors
from nasnb.exceptions import ArchitectureError, Problem
from nasnb.mutables import InputChoice, LayerChoice, choice_mask

from .mutator import Mutator

__all__ = ["FixedArchitecture", "apply_fixed_architecture"]


class FixedArchitecture(Mutator):
    """A mutator that always selects ``fixed_arc``.

    Parameters
    ----------
    model : nn.Module
        The model with mutables.
    fixed_arc : dict
        An exported architecture (any NNI 1.x or nasnb encoding).
    strict : bool
        Kept for NNI's signature; every key must be given, and no other (as NNI checked).

    Raises
    ------
    RuntimeError
        Missing or unexpected keys, or a value that is not a valid choice (an
        :class:`~nasnb.exceptions.ArchitectureError` that is also a RuntimeError, listing all).
    """

    def __init__(self, model: nn.Module, fixed_arc: Mapping[str, Any], strict: bool = True):
        super().__init__(model)
        with nni_errors():
            if not isinstance(fixed_arc, Mapping):
                raise ArchitectureError([Problem("<architecture>", fixed_arc, "a mapping key -> choice")])
            self._indices = self.space._resolve(fixed_arc, full=True)
        self._fixed_arc = {key: self._mask(key, indices) for key, indices in self._indices.items()}

    def _mask(self, key: str, indices: tuple[int, ...]) -> list[Any]:
        """NNI's list mask: bools, or the weights of a weighted choice."""
        return choice_mask(self.space[key].n_candidates, indices, None).tolist()

    def sample_search(self) -> dict[str, Any]:
        """Always the fixed architecture."""
        return self._fixed_arc

    def sample_final(self) -> dict[str, Any]:
        """Always the fixed architecture."""
        return self._fixed_arc

    def replace_layer_choice(self, module: nn.Module | None = None, prefix: str = "") -> None:
        """Replace every LayerChoice / InputChoice under ``module`` (default: the model) in place.

        A LayerChoice becomes its chosen candidate (a small wrapper when it returns a mask
        or a list, or when several candidates are chosen; a weightless stand-in returning
        None when none is), an InputChoice a fixed selector. Unchosen candidates are gone.
        An edge whose output no chosen InputChoice slot takes (a DARTS edge its node drops)
        is left out too when nasnb knows the data flow: the model has run, or it has an
        ``example_input()`` method; otherwise it is kept, as NNI 1.x kept it.
        """
        space = self.space
        if space._exclusive is None:
            example_input = getattr(self.model, "example_input", None)
            if callable(example_input):
                space.probe(example_input())  # learn which edges feed only their InputChoice slots
        unused = space.unused_of(self._indices) if space._exclusive is not None else set()
        root = self.model if module is None else module
        for parent in list(root.modules()):
            for name, child in list(parent._modules.items()):
                if isinstance(child, (LayerChoice, InputChoice)):
                    key = space[child.key].key
                    parent._modules[name] = _replacement(child, self._indices[key], None, unused=key in unused)


def apply_fixed_architecture(model: nn.Module, fixed_arc: str | os.PathLike[str] | Mapping[str, Any]) -> FixedArchitecture:
    """Fix ``model`` in place to ``fixed_arc`` (a dict or a JSON file); return the mutator.

    Raises
    ------
    RuntimeError
        Missing, unexpected or invalid keys (nothing is changed).
    """
    if isinstance(fixed_arc, (str, os.PathLike)):
        with open(fixed_arc, encoding="utf-8") as f:
            fixed_arc = json.load(f)
    architecture = FixedArchitecture(model, fixed_arc)  # type: ignore[arg-type]
    with torch.no_grad():
        architecture.reset()
    architecture.replace_layer_choice()
    return architecture
