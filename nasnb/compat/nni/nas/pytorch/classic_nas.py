"""``nni.nas.pytorch.classic_nas``: ``get_and_apply_next_architecture(model)`` for trial scripts.

A classic-NAS trial script builds its model, calls ``get_and_apply_next_architecture(model)``,
trains and calls ``nni.report_final_result(acc)``. Here the architecture comes from:

- ``NNI_GEN_SEARCH_SPACE=path`` in the environment: the search space is written to
  ``path`` (the same JSON as :func:`nasnb.nni_format.to_nni_search_space`) and the script
  exits, as NNI's search-space generation mode did;
- a driving :class:`nasnb.compat.TrialCommand` (``NNI_PLATFORM=nasnb``): the architecture
  the nasnb Experiment chose;
- otherwise (stand-alone): the first candidate(s) of every key, with a warning.

>>> import warnings
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     get_and_apply_next_architecture(net)
>>> "stand-alone" in str(caught[0].message)
True
>>> net[0].choice
0
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

from torch import nn

import nasnb.compat.nni as trial
from nasnb.compat._errors import nni_errors
from nasnb.nni_format import INPUT_CHOICE, LAYER_CHOICE, to_nni_search_space

from .mutator import Mutator

__all__ = ["ClassicMutator", "INPUT_CHOICE", "LAYER_CHOICE", "NNI_GEN_SEARCH_SPACE", "get_and_apply_next_architecture"]

NNI_GEN_SEARCH_SPACE = "NNI_GEN_SEARCH_SPACE"


def get_and_apply_next_architecture(model: nn.Module) -> None:
    """Give ``model`` the trial's architecture (see the module docstring)."""
    ClassicMutator(model)


class ClassicMutator(Mutator):
    """Applies the architecture chosen by the driving experiment (or the defaults stand-alone)."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self._search_space = to_nni_search_space(self.space)
        if NNI_GEN_SEARCH_SPACE in os.environ:
            self._dump_search_space(os.environ[NNI_GEN_SEARCH_SPACE])
            sys.exit(0)
        platform = os.environ.get(trial.PLATFORM)
        if platform is None:
            warnings.warn("get_and_apply_next_architecture: stand-alone mode (no experiment drives this script); "
                          "the first candidate(s) of every key are chosen", stacklevel=3)
            chosen: Any = self._standalone_generate_chosen()
        else:
            chosen = trial.get_next_parameter()
            if not chosen:
                if platform != "unittest":
                    raise RuntimeError(f"Chosen architecture is None (NNI_PLATFORM={platform!r}); the experiment "
                                       f"sent no parameters")
                chosen = self._standalone_generate_chosen()
        with nni_errors():
            self._chosen = self.space._resolve(chosen, full=True)
        self._chosen_arch = chosen
        self.reset()

    def _standalone_generate_chosen(self) -> dict[str, Any]:
        return {key: self.space[key].encode(self.space[key].default) for key in self.space}

    def _dump_search_space(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self._search_space, f, sort_keys=True, indent=2)

    def sample_search(self) -> dict[str, Any]:
        """The chosen architecture as bool masks."""
        return self.sample_final()

    def sample_final(self) -> dict[str, Any]:
        """The chosen architecture as bool masks."""
        return {key: [i in indices for i in range(self.space[key].n_candidates)]
                for key, indices in self._chosen.items()}
