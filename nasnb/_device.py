"""Where tensors live: move nested batches to a device, find a model's device."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["model_device", "to_device"]


def to_device(obj: Any, device: torch.device | str | None) -> Any:
    """``obj`` with every tensor inside it (tuples, lists, dicts, nested) moved to ``device``.

    ``device=None`` returns ``obj`` unchanged; anything that is not a tensor or a container
    is returned as it is. Copies to a CUDA device are asynchronous (``non_blocking``).

    >>> import torch
    >>> to_device({"x": (torch.zeros(1), 3)}, "cpu")
    {'x': (tensor([0.]), 3)}
    """
    if device is None:
        return obj
    device = torch.device(device)
    return _move(obj, device, device.type == "cuda")


def _move(obj: Any, device: torch.device, non_blocking: bool) -> Any:
    if torch.is_tensor(obj):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device, non_blocking) for o in obj)
    if isinstance(obj, dict):
        return {k: _move(v, device, non_blocking) for k, v in obj.items()}
    return obj


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter or buffer (CPU for a model without any).

    >>> from torch import nn
    >>> model_device(nn.Linear(2, 2))
    device(type='cpu')
    """
    for t in model.parameters():
        return t.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")
