"""NNI 1.x classic-NAS interop: the search-space JSON and the tuner parameter format.

NNI 1.x's ``nnictl ss_gen`` wrote one entry per key::

    {"conv": {"_type": "layer_choice", "_value": ["conv3x3", "conv5x5"]},
     "skip": {"_type": "input_choice", "_value": {"candidates": ["conv"], "n_chosen": null}}}

and tuners answered with parameters in the ``{"_value", "_idx"}`` form::

    {"conv": {"_value": "conv5x5", "_idx": 1}, "skip": {"_value": ["conv"], "_idx": [0]}}

:func:`to_nni_search_space` writes the first, :func:`to_nni_parameters` and
:func:`from_nni_parameters` convert the second to and from nasnb architectures, and
:func:`space_fingerprint` hashes a space's structure (journals and benchmark tables use it
to refuse data from another space).

Examples
--------
>>> from torch import nn
>>> from nasnb import SearchSpace, mutables
>>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> space = SearchSpace(net)
>>> to_nni_search_space(space)
{'act': {'_type': 'layer_choice', '_value': ['0', '1']}}
>>> params = to_nni_parameters(space, {"act": 1})
>>> params
{'act': {'_value': '1', '_idx': 1}}
>>> from_nni_parameters(space, params)
{'act': 1}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import ArchitectureError, Problem

if TYPE_CHECKING:
    from .space import SearchSpace

__all__ = [
    "INPUT_CHOICE",
    "LAYER_CHOICE",
    "from_nni_parameters",
    "save_nni_search_space",
    "space_fingerprint",
    "to_nni_parameters",
    "to_nni_search_space",
]

LAYER_CHOICE = "layer_choice"
INPUT_CHOICE = "input_choice"


def to_nni_search_space(space: SearchSpace) -> dict[str, dict[str, Any]]:
    """The space as NNI 1.x's search-space JSON (one entry per key; scopes are skipped).

    Parameters
    ----------
    space : SearchSpace
        The bound space.

    Returns
    -------
    dict
        ``{key: {"_type": "layer_choice", "_value": names}}`` or
        ``{key: {"_type": "input_choice", "_value": {"candidates": choose_from, "n_chosen": n}}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, spec in space.items():
        if spec.kind == "layer":
            out[key] = {"_type": LAYER_CHOICE, "_value": list(spec.names)}
        else:
            out[key] = {"_type": INPUT_CHOICE, "_value": {"candidates": list(spec.names), "n_chosen": spec.n_chosen}}
    return out


def save_nni_search_space(space: SearchSpace, path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Write :func:`to_nni_search_space` to ``path`` as ``nnictl ss_gen`` did; return it."""
    from ._atomic import write_text

    data = to_nni_search_space(space)
    write_text(path, json.dumps(data, sort_keys=True, indent=2) + "\n")
    return data


def space_fingerprint(space: SearchSpace) -> str:
    """A short hash of the space's keys and choices (not of its weights or module paths).

    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> a = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
    >>> b = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.GELU()], key="act")))
    >>> space_fingerprint(a) == space_fingerprint(b), len(space_fingerprint(a))
    (True, 16)
    """
    text = json.dumps(to_nni_search_space(space), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def to_nni_parameters(space: SearchSpace, arch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``arch`` (any accepted encoding, full) in NNI's ``{"_value", "_idx"}`` parameter form.

    Raises
    ------
    ArchitectureError
        ``arch`` is invalid, or a LayerChoice selects several candidates, none, or weights:
        NNI's tuner format has one candidate per LayerChoice.
    """
    arch = space.validate(arch)
    out: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for key, spec in space.items():
        indices = spec.parse(arch[key])
        if spec.kind == "layer" and (len(indices) != 1 or type(indices) is not tuple):
            problems.append(Problem(key, arch[key], "a single candidate (NNI's tuner parameters cannot hold "
                                                    "several, none or weighted candidates of a LayerChoice)"))
        elif spec.kind == "layer":
            out[key] = {"_value": spec.names[indices[0]], "_idx": indices[0]}
        else:
            out[key] = {"_value": [spec.names[i] for i in indices], "_idx": list(indices)}
    if problems:
        raise ArchitectureError(problems)
    return out


def from_nni_parameters(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Read tuner parameters (``{"_value", "_idx"}`` per key) into a readable architecture.

    Unlike :meth:`SearchSpace.validate`, which also accepts this form, every entry must
    carry ``_idx`` and ``_value`` and the two must agree, as NNI's ClassicMutator checked.

    Raises
    ------
    ArchitectureError
        Every missing or unknown key, entry without ``_idx``/``_value``, out-of-range
        index, or ``_value`` that does not match the candidate at ``_idx`` — all at once.

    Examples
    --------
    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> space = SearchSpace(nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")))
    >>> from_nni_parameters(space, {"act": {"_value": "0", "_idx": 1}})
    Traceback (most recent call last):
    ...
    nasnb.exceptions.ArchitectureError: invalid architecture (1 problem):
      - 'act': got {'_value': '0', '_idx': 1}, expected _value '1' (the candidate at _idx 1)
    """
    if not isinstance(params, Mapping):
        raise ArchitectureError([Problem("<parameters>", params, "a mapping key -> {'_value', '_idx'}")])
    problems: list[Problem] = []
    arch: dict[str, Any] = {}
    for key, value in params.items():
        if key not in space:
            problems.append(Problem(str(key), value, f"a key of this space; keys are {list(space)}"))
            continue
        spec = space[key]
        if not isinstance(value, Mapping) or "_idx" not in value or "_value" not in value:
            problems.append(Problem(spec.key, value, "a dict with '_value' and '_idx' (NNI parameter form)"))
            continue
        idx, val = value["_idx"], value["_value"]
        if spec.kind == "layer":
            ok = isinstance(idx, int) and not isinstance(idx, bool) and 0 <= idx < spec.n_candidates
            if not ok:
                problems.append(Problem(spec.key, value, f"_idx an int in 0..{spec.n_candidates - 1}"))
                continue
            if val != spec.names[idx]:
                problems.append(Problem(spec.key, value, f"_value {spec.names[idx]!r} (the candidate at _idx {idx})"))
                continue
            arch[spec.key] = spec.encode((idx,))
        else:
            idx_list = list(idx) if isinstance(idx, (list, tuple)) else None
            val_list = list(val) if isinstance(val, (list, tuple)) else None
            if idx_list is None or val_list is None or len(idx_list) != len(val_list):
                problems.append(Problem(spec.key, value, "_idx and _value as lists of the same length"))
                continue
            bad = [i for i in idx_list if not (isinstance(i, int) and not isinstance(i, bool) and 0 <= i < spec.n_candidates)]
            if bad:
                problems.append(Problem(spec.key, value, f"_idx entries in 0..{spec.n_candidates - 1}"))
                continue
            if [spec.names[i] for i in idx_list] != val_list:
                problems.append(Problem(spec.key, value, f"_value {[spec.names[i] for i in idx_list]} (the inputs at _idx)"))
                continue
            if len(set(idx_list)) != len(idx_list):
                problems.append(Problem(spec.key, value, "each input selected at most once"))
                continue
            if spec.n_chosen is not None and len(idx_list) != spec.n_chosen:
                problems.append(Problem(spec.key, value, f"exactly {spec.n_chosen} inputs"))
                continue
            arch[spec.key] = spec.encode(tuple(sorted(idx_list)))
    missing = [k for k in space if k not in arch and not any(p.key == k for p in problems)]
    problems += [Problem(k, "<missing>", space[k].describe()) for k in missing]
    if problems:
        raise ArchitectureError(problems)
    return {k: arch[k] for k in space}
