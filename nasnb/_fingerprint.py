"""A short hash of a search space's structure, so journals and benchmark tables refuse another space's data.

The hash covers each key's kind and candidates (names, or the ``choose_from`` sources and
``n_chosen`` of an InputChoice), not weights, module paths or candidate types. Its input
is the structure NNI 1.x's search-space JSON has, so fingerprints written by earlier
versions of nasnb stay valid.

>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
>>> space_fingerprint(space)
'0908885c048cb186'
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .space import SearchSpace

__all__ = ["space_fingerprint"]


def _structure(space: SearchSpace) -> dict[str, dict[str, Any]]:
    """Key -> kind and candidates (MutableScopes, which choose nothing, are left out)."""
    out: dict[str, dict[str, Any]] = {}
    for key, spec in space.items():
        if spec.kind == "layer":
            out[key] = {"_type": "layer_choice", "_value": list(spec.names)}
        else:
            out[key] = {"_type": "input_choice", "_value": {"candidates": list(spec.names), "n_chosen": spec.n_chosen}}
    return out


def space_fingerprint(space: SearchSpace) -> str:
    """A short hash of the space's keys and choices (not of its weights or module paths).

    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> a = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
    >>> b = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.GELU()], key="act")))
    >>> space_fingerprint(a) == space_fingerprint(b), len(space_fingerprint(a))
    (True, 16)
    """
    text = json.dumps(_structure(space), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
