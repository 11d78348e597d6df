"""Which LayerChoice outputs reach the model's output only through their InputChoice slots.

``choose_from`` says that a LayerChoice's output is an input of an InputChoice; it does
not say the output goes nowhere else (an ENAS-style skip names layers whose outputs also
feed the next layer). :func:`exclusive_keys` runs the model once and follows data: every
tensor a LayerChoice returns is tagged with its key, tags spread through every torch
operation, and an InputChoice strips, from what it returns, the tag of the key named at
each slot. A key is *exclusive* when its tag never reaches the model's output that way:
its output matters only through those slots, so when the architecture chooses none of
them the LayerChoice can be skipped (in the mutable model) and left out (by ``fix``).

The probe runs without gradients, in eval mode and without mixers; training flags and
mixers are restored, and nothing of the tagging stays on the model's tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.hooks import RemovableHandle

from .decision import Decision

__all__ = ["ProbeHook", "exclusive_keys", "remove_probe_hooks"]

_TAG = "_nasnb_dataflow_keys"
_EMPTY: frozenset[str] = frozenset()


def _tensors(obj: Any) -> list[torch.Tensor]:
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


def _tags(obj: Any) -> frozenset[str]:
    found = _EMPTY
    for t in _tensors(obj):
        tag = getattr(t, _TAG, None)
        if tag:
            found = found | tag
    return found


def _set(obj: Any, tag: frozenset[str], *, merge: bool) -> None:
    for t in _tensors(obj):
        old = getattr(t, _TAG, _EMPTY) if merge else _EMPTY
        new = old | tag
        if new:
            setattr(t, _TAG, new)
        elif hasattr(t, _TAG):
            delattr(t, _TAG)


class _Spread(TorchFunctionMode):
    """Every torch operation's outputs carry the tags of its tensor inputs."""

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        tag = _tags((args, kwargs))
        if tag:
            _set(out, tag, merge=True)
        return out


def _decision_of(m: nn.Module) -> Decision:
    """The decision of a LayerChoice or InputChoice ``m``."""
    decision = getattr(m, "decision", None)
    if not isinstance(decision, Decision):
        raise TypeError(f"{type(m).__name__} has no decision; expected a LayerChoice or an InputChoice")
    return decision


def exclusive_keys(
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    layer_members: Mapping[str, Iterable[nn.Module]],
    input_members: Mapping[str, tuple[Iterable[nn.Module], tuple[str, ...]]],
) -> set[str]:
    """Run ``model(*args, **kwargs)`` once and return the exclusive LayerChoice keys.

    Parameters
    ----------
    layer_members : mapping
        LayerChoice key -> its mutables (the keys to test).
    input_members : mapping
        InputChoice key -> (its mutables, the key named at each slot).

    A key whose LayerChoice or consuming InputChoice did not run is not exclusive.
    """
    ran: set[str] = set()
    hooks: list[RemovableHandle] = []

    def tag_output(key: str) -> Callable[[nn.Module, tuple[Any, ...], Any], Any]:
        def hook(module: nn.Module, inputs: tuple[Any, ...], out: Any) -> Any:
            ran.add(key)
            out = tree_map(lambda t: t.view_as(t) if isinstance(t, torch.Tensor) else t, out)
            _set(out, frozenset((key,)), merge=True)
            return out
        return hook

    def strip_slots(key: str, slot_keys: tuple[str, ...]) -> Callable[[Any, tuple[Any, ...], dict[str, Any], Any], Any]:
        def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Any:  # module: an InputChoice
            ran.add(key)
            optional = args[0] if args else kwargs["optional_inputs"]
            values = [optional[k] for k in module.choose_from] if isinstance(optional, Mapping) else list(optional)
            tag = _EMPTY
            for slot, value in zip(slot_keys, values):
                tag = tag | (_tags(value) - {slot})
            out = tree_map(lambda t: t.view_as(t) if isinstance(t, torch.Tensor) else t, out)
            _set(out, tag, merge=False)
            return out
        return hook

    for key, mods in layer_members.items():
        for m in mods:
            hooks.append(m.register_forward_hook(tag_output(key)))
    for key, (mods, slot_keys) in input_members.items():
        for m in mods:
            hooks.append(m.register_forward_hook(strip_slots(key, slot_keys), with_kwargs=True))
    modes = {m: m.training for m in model.modules()}
    decisions = {id(d): d for mods in layer_members.values() for d in map(_decision_of, mods)}
    decisions.update({id(d): d for mods, _ in input_members.values() for d in map(_decision_of, mods)})
    mixers = {k: d.mixer for k, d in decisions.items()}
    try:
        for d in decisions.values():
            d.mixer = None
        model.eval()
        with torch.no_grad(), _Spread():
            out = model(*args, **kwargs)
        reached = _tags(out)
    finally:
        for h in hooks:
            h.remove()
        for m, was in modes.items():
            m.training = was
        for k, d in decisions.items():
            d.mixer = mixers[k]
        for t in list(model.parameters()) + list(model.buffers()):
            if hasattr(t, _TAG):
                delattr(t, _TAG)
    consumers_ran = {k for k in input_members if k in ran}
    fed = {slot for k in consumers_ran for slot in input_members[k][1]}
    return {k for k in layer_members if k in ran and k in fed and k not in reached}


class ProbeHook:
    """Forward pre-hook that lets a SearchSpace learn its exclusive keys from the first real call.

    Holds the space weakly; copies and pickles of the model carry an inert hook.
    """

    def __init__(self, space: Any = None):
        import weakref

        self._space = weakref.ref(space) if space is not None else None
        self.handle: Any = None  # set by the space; a hook whose space is gone removes itself

    @property
    def space(self) -> Any:
        """The space, or None once it is gone (or in a copy)."""
        return self._space() if self._space is not None else None

    def __call__(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> None:
        space = self.space
        if space is not None:
            space._auto_probe(args, kwargs or {})
        elif self.handle is not None:
            self.handle.remove()
            self.handle = None

    def __deepcopy__(self, memo: dict[int, Any]) -> "ProbeHook":
        return ProbeHook()

    def __reduce__(self) -> tuple[type[ProbeHook], tuple[()]]:
        return (ProbeHook, ())


def remove_probe_hooks(module: nn.Module, which: Callable[[Any], bool] = lambda space: True) -> None:
    """Remove the ProbeHooks on ``module`` whose space (None once it is gone) ``which`` selects."""
    for hook_id, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, ProbeHook) and which(hook.space):
            del module._forward_pre_hooks[hook_id]
            module._forward_pre_hooks_with_kwargs.pop(hook_id, None)
