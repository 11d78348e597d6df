"""NNI 1.x debugging mutator: ``RandomMutator(model)`` with ``reset()`` and ``export()``.

>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.mutator import RandomMutator
>>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> mutator = RandomMutator(net)
>>> _ = torch.manual_seed(0)
>>> mutator.reset()
>>> sorted(mutator.export())
['act']
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .space import SearchSpace

__all__ = ["RandomMutator"]


class RandomMutator(nn.Module):
    """Apply a uniformly random architecture on every ``reset()`` (torch's RNG seeds it).

    For NNI 1.x's mutator API (``sample_search``, hooks, custom mutators) use
    :mod:`nasnb.compat`; a subclass here that overrides those hooks is refused.

    Parameters
    ----------
    model : nn.Module
        The model with mutables; it is bound to a :class:`~nasnb.SearchSpace` but not
        registered as a child, so the mutator has no parameters (as in NNI).
    """

    model: nn.Module  # set in __dict__ (not registered as a child)
    space: SearchSpace

    _NNI_HOOKS = ("sample_search", "sample_final", "on_forward_layer_choice", "on_forward_input_choice",
                  "enter_mutable_scope", "exit_mutable_scope")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hooks = [h for h in cls._NNI_HOOKS if h in vars(cls)]
        if hooks:  # they would never be called here: refuse instead of ignoring them
            raise TypeError(
                f"{cls.__name__} overrides {hooks}, which nasnb.mutator.RandomMutator never calls; subclass "
                f"nni.nas.pytorch.random.RandomMutator after nasnb.compat.install_nni() (NNI 1.x's mutator API)")

    def __init__(self, model: nn.Module):
        super().__init__()
        self.__dict__["model"] = model
        self.__dict__["space"] = SearchSpace(model)

    def reset(self) -> None:
        """Sample a new architecture and apply it to the model."""
        seed = int(torch.randint(0, 2**62, ()).item())
        self.space.apply(self.space.sample(seed))

    def export(self) -> dict[str, Any]:
        """The architecture the model runs now."""
        return self.space.current()

    def forward(self, *args: Any) -> Any:
        raise RuntimeError("Forward is undefined for mutators.")
