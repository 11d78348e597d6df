"""``nni.nas.pytorch.mutator``: ``Mutator``, the base of every sampling mutator.

Override :meth:`Mutator.sample_search` (what ``reset()`` picks during search) and
:meth:`Mutator.sample_final` (what ``export()`` reports); each returns ``key -> mask`` (a
bool or float list / tensor as long as the candidates). The default forward runs the
candidates with a non-zero mask entry, multiplies by float entries, and combines them
with the mutable's ``reduction``; override ``on_forward_layer_choice`` /
``on_forward_input_choice`` for more. A discrete (bool) decision is also applied to the
nasnb space, so ``mutator.space.current()`` and nasnb's views show it.

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> class Second(Mutator):
...     def sample_search(self):
...         return {m.key: torch.tensor([False, True]) for m in self.mutables}
...     def sample_final(self):
...         return self.sample_search()
>>> net = nn.Sequential(LayerChoice([nn.Identity(), nn.Tanh()]))
>>> mutator = Second(net)
>>> mutator.reset()
>>> net(torch.ones(1))
tensor([0.7616])
>>> mutator.export()
{'LayerChoice1': 1}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from nasnb._reduction import reduce_outputs
from nasnb.architecture import InvalidChoice
from nasnb.mutables import InputChoice, LayerChoice, Mutable

from .base_mutator import BaseMutator
from .utils import to_list

__all__ = ["Mutator"]

_logger = logging.getLogger(__name__)


def nni_key(mutable: Mutable) -> str:
    """The key NNI 1.x gives ``mutable``: its explicit key, else its automatic key."""
    explicit = mutable._explicit_key
    return explicit if explicit is not None else (mutable.alias or mutable.key)


def nni_readable(mutable: Mutable, sampled: Any) -> Any:
    """NNI 1.x's readable export of a mask: names (or indices) of the chosen ones, unwrapped when one.

    A mask that is not all 0/1 (DARTS weights) is written as the list of its values.
    """
    values = to_list(sampled)
    if not isinstance(values, list):
        values = [values]
    if not all(v == 0 or v == 1 for v in values):
        return values
    if isinstance(mutable, LayerChoice):
        n, names = len(mutable), list(mutable.names)
        named = len(set(names)) == n and not all(name.isdigit() for name in names)
    else:
        assert isinstance(mutable, InputChoice)
        n, names = mutable.n_candidates, list(mutable.choose_from)
        named = len(set(names)) == n
    if len(values) != n:
        raise ValueError(f"the mask of {type(mutable).__name__} {mutable.key!r} has {len(values)} entries, "
                         f"expected {n}: {values!r}")
    chosen = [names[i] if named else i for i, v in enumerate(values) if v]
    return chosen[0] if len(chosen) == 1 else chosen


class Mutator(BaseMutator):
    """A mutator whose decisions come from :meth:`sample_search` / :meth:`sample_final`."""

    def __init__(self, model: torch.nn.Module):
        super().__init__(model)
        self._cache: dict[str, Any] = {}
        self._connect_all = False

    def sample_search(self) -> dict[str, Any]:
        """Decisions for the next search step: ``key -> mask``. Override it."""
        raise NotImplementedError

    def sample_final(self) -> dict[str, Any]:
        """Final decisions, for :meth:`export`: ``key -> mask``. Override it."""
        raise NotImplementedError

    def reset(self) -> None:
        """Draw new decisions with :meth:`sample_search`; the next forward uses them."""
        self._cache = self.sample_search()
        self._show(self._cache)

    def export(self) -> dict[str, Any]:
        """The final decisions (:meth:`sample_final`) in NNI's readable form, under NNI keys.

        Raises
        ------
        ValueError
            ``sample_final()`` returned keys that are not in the model.
        """
        return self._readable(self.sample_final())

    def _readable(self, decisions: dict[str, Any]) -> dict[str, Any]:
        """``decisions`` (key -> mask) in NNI's readable form, under NNI keys."""
        sampled = dict(decisions)
        result: dict[str, Any] = {}
        for mutable in self.mutables:
            if not isinstance(mutable, (LayerChoice, InputChoice)):
                continue
            key = mutable.key if mutable.key in sampled else nni_key(mutable)
            if key not in sampled:
                raise ValueError(f"sample_final() returned no decision for {type(mutable).__name__} {mutable.key!r}")
            result[nni_key(mutable)] = nni_readable(mutable, sampled.pop(key))
        if sampled:
            raise ValueError(f"Unexpected keys returned from 'sample_final()': {list(sampled)}")
        return result

    def status(self) -> dict[str, Any]:
        """The current decisions as plain lists (tensors and arrays converted, floats as floats)."""
        data: dict[str, Any] = {}
        for key, value in self._cache.items():
            if torch.is_tensor(value):
                value = value.detach().cpu().float()
            data[key] = to_list(value)
        return data

    def graph(self, inputs: Any) -> Any:
        """NNI's TensorBoard graph export is not provided; use ``nasnb.graph.build_graph(model, x)``."""
        raise NotImplementedError("Mutator.graph (NNI's TensorBoard graph) is not provided by nasnb.compat; "
                                  "use nasnb.graph.build_graph(model, example_input) and nasnb.plot.draw_space")

    # ------------------------------------------------------------ forward
    def on_forward_layer_choice(self, mutable: LayerChoice, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Run the candidates whose mask entry is non-zero and combine them with ``mutable.reduction``."""
        mask = self._get_decision(mutable)
        ops = list(mutable)
        if len(mask) != len(ops):
            raise ValueError(f"Invalid mask {to_list(mask)!r} for LayerChoice {mutable.key!r}: expected "
                             f"{len(ops)} entries, one per candidate")
        out, mask = self._select_with_mask(lambda op: op(*args, **kwargs), [(op,) for op in ops], mask)
        return self._tensor_reduction(mutable.reduction, out), mask

    def on_forward_input_choice(self, mutable: InputChoice, tensor_list: list[Any]) -> tuple[Any, Any]:
        """Keep the inputs whose mask entry is non-zero and combine them with ``mutable.reduction``."""
        mask = self._get_decision(mutable)
        if len(mask) != mutable.n_candidates:
            raise ValueError(f"Invalid mask {to_list(mask)!r} for InputChoice {mutable.key!r}: expected "
                             f"{mutable.n_candidates} entries, one per input")
        out, mask = self._select_with_mask(lambda t: t, [(t,) for t in tensor_list], mask)
        return self._tensor_reduction(mutable.reduction, out), mask

    def _select_with_mask(self, map_fn: Callable[..., Any], candidates: Sequence[tuple[Any, ...]], mask: Any
                          ) -> tuple[list[Any], torch.Tensor]:
        """Map the candidates with a non-zero mask entry; float entries also scale the result."""
        if torch.is_tensor(mask):
            weighted = mask.is_floating_point()
            if not weighted and mask.dtype != torch.bool:
                raise ValueError(f"Unrecognized mask {mask!r}: expected a bool or float tensor")
            flags = mask.detach().tolist()
        else:
            flags = to_list(mask)
            if not isinstance(flags, list) or not flags or not all(isinstance(v, (bool, int, float)) for v in flags):
                raise ValueError(f"Unrecognized mask {mask!r}: expected a list of bools or floats")
            weighted = not all(isinstance(v, bool) for v in flags)
            mask = torch.tensor(flags)
        if weighted:
            out = [map_fn(*cand) * mask[i] for i, (cand, f) in enumerate(zip(candidates, flags)) if f]
        else:
            out = [map_fn(*cand) for cand, f in zip(candidates, flags) if f]
        return out, mask

    def _tensor_reduction(self, reduction_type: str, tensor_list: list[Any]) -> Any:
        return reduce_outputs(reduction_type, tensor_list)

    def _get_decision(self, mutable: Mutable) -> Any:
        """The cached decision of ``mutable`` (by key, or its NNI automatic key)."""
        cache = self._cache
        if mutable.key in cache:
            return cache[mutable.key]
        alias = nni_key(mutable)
        if alias in cache:
            return cache[alias]
        raise ValueError(f'"{mutable.key}" not found in decision cache; call mutator.reset() before the forward '
                         f'pass (the cache has {list(cache)[:20]})')

    def _show(self, decisions: dict[str, Any]) -> None:
        """Apply bool decisions to the nasnb space, so its views and ``current()`` follow the mutator."""
        space = self.space
        resolved = {}
        for key, value in decisions.items():
            if torch.is_tensor(value):
                if value.dtype != torch.bool or value.device.type != "cpu":
                    continue  # weights (or a device copy): nothing discrete to show, no sync
                value = value.tolist()
            elif not isinstance(value, list) or not all(isinstance(v, bool) for v in value):
                continue
            if key not in space:
                continue
            try:
                resolved[space[key].key] = space[key].parse(value)
            except InvalidChoice:
                continue
        if resolved:
            space.set_indices(resolved, check=False)  # parsed above
