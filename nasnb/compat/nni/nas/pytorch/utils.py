"""``nni.nas.pytorch.utils``: meters, ``to_list``, ``to_device``, the mutables tree, key counting.

>>> meters = AverageMeterGroup()
>>> meters.update({"acc": 0.5, "loss": 2.0})
>>> meters.update({"acc": 1.0, "loss": 1.0})
>>> meters.acc.avg, meters["loss"].avg
(0.75, 1.5)
>>> to_list((1, 2))
[1, 2]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import torch

from nasnb._device import to_device as _to_device
from nasnb.mutables import Mutable, _reset_global_mutable_counting, global_mutable_counting

__all__ = [
    "AverageMeter",
    "AverageMeterGroup",
    "StructuredMutableTreeNode",
    "_reset_global_mutable_counting",
    "global_mutable_counting",
    "to_device",
    "to_list",
]


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Move a tensor, or the tensors in a (nested) tuple/list/dict, to ``device``; other values stay."""
    return _to_device(obj, torch.device(device))


def to_list(arr: Any) -> Any:
    """A tensor or array as a Python list; a tuple as a list; anything else unchanged."""
    if torch.is_tensor(arr) or hasattr(arr, "tolist"):
        return arr.tolist()
    if isinstance(arr, tuple):
        return list(arr)
    return arr


class AverageMeter:
    """Running average of one value: ``update(val, n)``; ``val``, ``avg``, ``sum``, ``count``.

    >>> m = AverageMeter("loss", ":.2f")
    >>> m.update(1.0); m.update(3.0)
    >>> str(m), m.summary()
    ('loss 3.00 (2.00)', 'loss: 2.00')
    """

    def __init__(self, name: str, fmt: str = ":f"):
        self.name, self.fmt = name, fmt
        self.reset()

    def reset(self) -> None:
        """Forget every value."""
        self.val = 0.0
        self.avg = 0.0
        self.sum = 0.0
        self.count = 0

    def update(self, val: Any, n: int = 1) -> None:
        """Add ``val`` (a number or a one-element tensor), counted ``n`` times."""
        if torch.is_tensor(val):
            val = val.item()
        self.val = float(val)
        self.sum += self.val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self) -> str:
        return ("{name} {val" + self.fmt + "} ({avg" + self.fmt + "})").format(**vars(self))

    def summary(self) -> str:
        """``"name: avg"``."""
        return ("{name}: {avg" + self.fmt + "}").format(**vars(self))


class AverageMeterGroup:
    """One :class:`AverageMeter` per key of the dicts given to ``update``."""

    def __init__(self) -> None:
        self.meters: "OrderedDict[str, AverageMeter]" = OrderedDict()

    def update(self, data: dict[str, Any]) -> None:
        """Add one value per key (a meter is created the first time a key is seen)."""
        for k, v in data.items():
            if k not in self.meters:
                self.meters[k] = AverageMeter(k, ":4f")
            self.meters[k].update(v)

    def __getattr__(self, item: str) -> AverageMeter:
        meters: dict[str, AverageMeter] = self.__dict__.get("meters", {})
        if item in meters:
            return meters[item]
        raise AttributeError(f"no meter {item!r}; meters are {list(meters)}")

    def __getitem__(self, item: str) -> AverageMeter:
        return self.meters[item]

    def __str__(self) -> str:
        return "  ".join(str(v) for v in self.meters.values())

    def summary(self) -> str:
        """``"name: avg"`` of every meter."""
        return "  ".join(v.summary() for v in self.meters.values())


class StructuredMutableTreeNode:
    """A mutable and the mutables inside it (MutableScopes are inner nodes); the root holds None.

    Iterating yields the mutables in pre-order, each key once (``traverse`` for more).
    """

    def __init__(self, mutable: Mutable | None):
        self.mutable = mutable
        self.children: list[StructuredMutableTreeNode] = []

    def add_child(self, mutable: Mutable) -> "StructuredMutableTreeNode":
        """Append a node for ``mutable`` and return it."""
        node = StructuredMutableTreeNode(mutable)
        self.children.append(node)
        return node

    def type(self) -> type:
        """The type of this node's mutable."""
        return type(self.mutable)

    def __iter__(self) -> Iterator[Mutable]:
        return self.traverse()

    def traverse(self, order: str = "pre", deduplicate: bool = True, memo: set[str] | None = None) -> Iterator[Mutable]:
        """Yield the mutables below (and at) this node, in ``"pre"`` or ``"post"`` order.

        With ``deduplicate``, mutables whose key was already yielded are skipped.
        """
        if order not in ("pre", "post"):
            raise ValueError(f"order must be 'pre' or 'post', got {order!r}")
        if memo is None:
            memo = set()
        own = self.mutable is not None and (not deduplicate or self.mutable.key not in memo)
        if own and order == "pre":
            memo.add(self.mutable.key)  # type: ignore[union-attr]
            yield self.mutable  # type: ignore[misc]
        for child in self.children:
            yield from child.traverse(order, deduplicate, memo)
        if own and order == "post":
            memo.add(self.mutable.key)  # type: ignore[union-attr]
            yield self.mutable  # type: ignore[misc]
