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

    Parameters
    ----------
    model : nn.Module
        The model with mutables; it is bound to a :class:`~nasnb.SearchSpace` but not
        registered as a child, so the mutator has no parameters (as in NNI).
    """

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
