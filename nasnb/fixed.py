"""Fixed architectures: plain modules without mutables, and NNI's in-place fixing.

:meth:`nasnb.SearchSpace.fix` copies a model with each LayerChoice replaced by its
chosen candidate (a :class:`FixedMultiChoice` when it selects several, an
:class:`UnusedChoice` when none) and each InputChoice by a :class:`FixedInputChoice`;
:func:`apply_fixed_architecture` does the same in place, as NNI 1.x did.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.fixed import apply_fixed_architecture
>>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> apply_fixed_architecture(net, {"act": 1})
{'act': 1}
>>> net
Sequential(
  (0): Tanh()
)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from torch import nn

from ._fixed_modules import (
    FixedInputChoice,
    FixedLayerChoice,
    FixedMultiChoice,
    UnusedChoice,
    fix_model,
    replace_in_place,
)
from ._fixed_modules import (
    _replacement as _replacement,  # imported from here by nasnb.compat
)
from .space import SearchSpace

__all__ = [
    "FixedInputChoice",
    "FixedLayerChoice",
    "FixedMultiChoice",
    "UnusedChoice",
    "apply_fixed_architecture",
    "fix_model",
]


def apply_fixed_architecture(model: nn.Module, fixed_arc: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Fix ``model`` in place to ``fixed_arc`` (a mapping or a JSON path), as NNI 1.x did.

    Every LayerChoice is replaced by its chosen candidate (weights kept), by a
    :class:`FixedMultiChoice` when it selects several candidates or weights, or by an
    :class:`UnusedChoice` when it selects none or no chosen InputChoice slot takes its
    output, and every InputChoice by a :class:`FixedInputChoice`. Returns the
    architecture in canonical readable form.

    Raises
    ------
    ArchitectureError
        Missing, unknown or invalid keys, all at once; the model is left unchanged.
    """
    space = SearchSpace(model)
    arch = space.validate(fixed_arc)
    space.apply(arch)
    resolved = {k: space.decision(k).indices for k in space}
    space._ensure_probed(None, "apply_fixed_architecture()")
    replace_in_place(model, {k: space.mutables(k) for k in space}, resolved, space.unused_of(resolved))
    return arch
