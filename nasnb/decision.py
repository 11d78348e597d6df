"""The current decision of one key, shared by every mutable bound to that key.

A :class:`Decision` holds the chosen candidate indices (a sorted tuple, or a
:class:`~nasnb.architecture.Weighted` one for a LayerChoice's weight list), an optional
*mixer* that a one-shot algorithm installs to replace the discrete forward, the
listeners a :class:`~nasnb.SearchSpace` registers to hear about changes, and the
``unused`` flag the space sets on a LayerChoice key whose output no chosen InputChoice
slot takes (its mutables then skip their forward). Listeners, mixers and the flag are
runtime state of a bound space: deep copies and pickles keep only the indices.

Examples
--------
>>> from nasnb.decision import Decision
>>> d = Decision((0,))
>>> seen = []
>>> d.listeners.append(lambda dec, old, new: seen.append((old, new)))
>>> d.set((1,))
>>> d.indices, seen
((1,), [((0,), (1,))])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Decision", "Mixer"]


class Mixer(Protocol):
    """What a one-shot algorithm installs on a decision to take over the forward pass.

    Each method returns ``(output, mask)`` exactly as the discrete forward would
    (``mask`` may be a float tensor of weights).
    """

    def forward_layer_choice(self, mutable: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        ...

    def forward_input_choice(self, mutable: Any, inputs: list[Any]) -> tuple[Any, Any]:
        ...


Listener = Callable[["Decision", tuple[int, ...], tuple[int, ...]], None]


class Decision:
    """Chosen indices of one key; ``set`` notifies listeners when they change."""

    __slots__ = ("indices", "spec", "mixer", "listeners", "unused")

    def __init__(self, indices: tuple[int, ...], spec: Any = None):
        self.indices = indices
        self.spec = spec  # the nasnb.architecture.Choice describing the key
        self.mixer: Mixer | None = None
        self.listeners: list[Listener] = []
        self.unused = False  # set by the SearchSpace: no chosen InputChoice slot takes this key's output

    def set(self, indices: tuple[int, ...]) -> None:
        """Replace the chosen indices (already validated) and tell the listeners."""
        old = self.indices
        if old == indices:
            return
        self.indices = indices
        for listener in tuple(self.listeners):  # a listener may remove itself (its view is gone)
            listener(self, old, indices)

    def __getstate__(self) -> dict[str, Any]:
        return {"indices": self.indices, "spec": self.spec}

    def __setstate__(self, state: dict[str, Any]) -> None:
        indices = state["indices"]
        self.indices = indices if isinstance(indices, tuple) else tuple(indices)  # keeps Weighted
        self.spec = state["spec"]
        self.mixer = None
        self.listeners = []
        self.unused = False

    def __repr__(self) -> str:
        mixed = ", mixed" if self.mixer is not None else ""
        unused = ", unused" if self.unused else ""
        return f"Decision({self.indices}{mixed}{unused})"
