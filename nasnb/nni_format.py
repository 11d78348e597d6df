"""NNI 1.x classic-NAS interop: the search-space JSON and the tuner parameter format.

NNI 1.x's ``nnictl ss_gen`` wrote one entry per key::

    {"conv": {"_type": "layer_choice", "_value": ["conv3x3", "conv5x5"]},
     "skip": {"_type": "input_choice", "_value": {"candidates": ["conv"], "n_chosen": null}}}

and tuners answered with parameters in the ``{"_value", "_idx"}`` form::

    {"conv": {"_value": "conv5x5", "_idx": 1}, "skip": {"_value": ["conv"], "_idx": [0]}}

:func:`to_nni_search_space` writes the first, :func:`to_nni_parameters` and
:func:`from_nni_parameters` convert the second to and from nasnb architectures.

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

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._fingerprint import space_fingerprint as space_fingerprint  # its old home: ``from nasnb.nni_format import ...``
from .architecture import Choice, InvalidChoice
from .exceptions import ArchitectureError, Problem

if TYPE_CHECKING:
    from .space import SearchSpace

__all__ = [
    "INPUT_CHOICE",
    "LAYER_CHOICE",
    "from_nni_parameters",
    "save_nni_search_space",
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
    """Write :func:`to_nni_search_space` to ``path`` as ``nnictl ss_gen`` did; return it.

    >>> import json, os, tempfile
    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> path = os.path.join(tempfile.mkdtemp(), "search_space.json")
    >>> data = save_nni_search_space(SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")), path)
    >>> with open(path) as f:
    ...     json.load(f) == data == {"act": {"_type": "layer_choice", "_value": ["0", "1"]}}
    True
    """
    from ._atomic import write_text

    data = to_nni_search_space(space)
    write_text(path, json.dumps(data, sort_keys=True, indent=2) + "\n")
    return data


def to_nni_parameters(space: SearchSpace, arch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``arch`` (any accepted encoding, full) in NNI's ``{"_value", "_idx"}`` parameter form.

    Raises
    ------
    ArchitectureError
        ``arch`` is invalid, or a LayerChoice selects several candidates, none, or weights:
        NNI's tuner format has one candidate per LayerChoice.

    Examples
    --------
    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> net = nn.ModuleList([mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
    ...                      mutables.InputChoice(choose_from=["act"], n_chosen=None, key="skip")])
    >>> to_nni_parameters(SearchSpace(net), {"act": 1, "skip": []})
    {'act': {'_value': '1', '_idx': 1}, 'skip': {'_value': [], '_idx': []}}
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
        try:
            arch[spec.key] = spec.encode(_parameter_indices(spec, value))
        except InvalidChoice as err:
            problems.append(Problem(spec.key, value, err.expected))
    missing = [k for k in space if k not in arch and not any(p.key == k for p in problems)]
    problems += [Problem(k, "<missing>", space[k].describe()) for k in missing]
    if problems:
        raise ArchitectureError(problems)
    return {k: arch[k] for k in space}


def _is_index(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _parameter_indices(spec: Choice, value: Any) -> tuple[int, ...]:
    """The indices of one tuner parameter ``{"_value", "_idx"}``; raises :class:`InvalidChoice`.

    :meth:`Choice.parse` checks the indices (range, distinct inputs, ``n_chosen``); this adds
    what NNI's parameter form demands on top: both fields, ``_idx`` as an int (a list of
    ints for an InputChoice) and ``_value`` exactly the candidate names at ``_idx``.
    """
    if not isinstance(value, Mapping) or "_idx" not in value or "_value" not in value:
        raise InvalidChoice("a dict with '_value' and '_idx' (NNI parameter form)")
    idx, val = value["_idx"], value["_value"]
    last = spec.n_candidates - 1
    if spec.kind == "layer":
        if not _is_index(idx) or not 0 <= idx <= last:  # positional: candidate names may be digits
            raise InvalidChoice(f"_idx an int in 0..{last}")
        if val != spec.names[idx]:
            raise InvalidChoice(f"_value {spec.names[idx]!r} (the candidate at _idx {idx})")
        return (idx,)
    if not isinstance(idx, (list, tuple)) or not isinstance(val, (list, tuple)) or len(idx) != len(val):
        raise InvalidChoice("_idx and _value as lists of the same length")
    if not all(_is_index(i) for i in idx):  # bools would read as a multi-hot list
        raise InvalidChoice(f"_idx entries in 0..{last}")
    try:
        indices = spec.parse(list(idx))
    except InvalidChoice as err:
        raise InvalidChoice(f"_idx entries: {err.expected}") from None
    names = [spec.names[i] for i in idx]
    if list(val) != names:
        raise InvalidChoice(f"_value {names} (the inputs at _idx)")
    return indices
