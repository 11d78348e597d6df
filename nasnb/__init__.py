"""nasnb: Jupyter-first neural architecture search for PyTorch.

Declare a search space with :mod:`nasnb.mutables` (NNI 1.x compatible), bind it with
:class:`SearchSpace`, and explore, search and fix architectures. Importing nasnb loads
only torch: the notebook parts (``nasnb.Explorer``, ``nasnb.plot``, ``nasnb.widgets``)
and the search engines load on first use.

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

import importlib
from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from . import mutables
from .architecture import Choice
from .exceptions import ArchitectureError, NasnbError, SearchSpaceError, TrialPruned
from .space import SearchSpace

if TYPE_CHECKING:  # editors jump to the lazy names' sources
    from . import (
        bench,
        executors,
        experiment,
        fixed,
        graph,
        graph_layout,
        insight,
        journal,
        mutator,
        nni_format,
        objectives,
        oneshot,
        ops,
        plot,
        profile,
        spaces,
        strategy,
        widgets,
    )
    from ._report import TrialReporter
    from .experiment import Experiment
    from .widgets import Explorer

try:  # the installed distribution's version (pyproject.toml is the one place it is written)
    __version__ = _metadata.version("nasnb")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# every public submodule is reachable as ``nasnb.<name>`` after ``import nasnb``, loaded on first use
_LAZY_MODULES = {
    "bench", "compat", "executors", "experiment", "fixed", "graph", "graph_layout", "insight", "journal", "mutator",
    "nni_format", "objectives", "oneshot", "ops", "plot", "profile", "spaces", "strategy", "widgets",
}
_LAZY_NAMES = {"Explorer": "nasnb.widgets", "Experiment": "nasnb.experiment", "TrialReporter": "nasnb._report"}

__all__ = [
    "ArchitectureError",
    "Choice",
    "Experiment",
    "Explorer",
    "NasnbError",
    "SearchSpace",
    "SearchSpaceError",
    "TrialPruned",
    "TrialReporter",
    "mutables",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"nasnb.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'nasnb' has no attribute {name!r}")
