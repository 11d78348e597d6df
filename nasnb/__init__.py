"""nasnb: Jupyter-first neural architecture search for PyTorch.

Declare a search space with :mod:`nasnb.mutables` (NNI 1.x compatible), bind it with
:class:`SearchSpace`, and explore, search and fix architectures.

>>> import torch
>>> import nasnb
>>> from nasnb import mutables
>>> net = torch.nn.Sequential(mutables.LayerChoice([torch.nn.ReLU(), torch.nn.Tanh()], key="act"))
>>> space = nasnb.SearchSpace(net)
>>> space.apply({"act": "1"})
>>> space.fix()
Sequential(
  (0): Tanh()
)
"""

from __future__ import annotations

from . import mutables
from .architecture import Choice
from .exceptions import ArchitectureError, NasnbError, SearchSpaceError
from .space import SearchSpace

__version__ = "0.1.0"

__all__ = [
    "ArchitectureError",
    "Choice",
    "NasnbError",
    "SearchSpace",
    "SearchSpaceError",
    "mutables",
]
