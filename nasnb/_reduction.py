"""Combine the outputs of the chosen candidates (NNI 1.x ``_tensor_reduction``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["REDUCTIONS", "mask_for", "reduce_outputs"]

REDUCTIONS = ("sum", "mean", "concat", "none")


def mask_for(n: int, chosen: Sequence[int], like: Any) -> torch.Tensor:
    """Bool mask of length ``n`` with ``chosen`` set, on the device of ``like`` (a tensor or a list of them).

    >>> mask_for(3, [0, 2], None).tolist()
    [True, False, True]
    """
    if isinstance(like, (list, tuple)):
        like = next((t for t in like if isinstance(t, torch.Tensor)), None)
    device = like.device if isinstance(like, torch.Tensor) else None
    mask = torch.zeros(n, dtype=torch.bool, device=device)
    mask[list(chosen)] = True
    return mask


def reduce_outputs(reduction: str, outputs: Sequence[Any]) -> Any:
    """Reduce chosen outputs: ``none`` -> list, empty -> None, one -> itself, else sum/mean/cat.

    >>> import torch
    >>> reduce_outputs("sum", [torch.ones(1), torch.ones(1)])
    tensor([2.])
    >>> reduce_outputs("mean", []) is None
    True
    """
    if reduction == "none":
        return list(outputs)
    if not outputs:
        return None
    if len(outputs) == 1:
        return outputs[0]
    if reduction == "concat":
        return torch.cat(list(outputs), dim=1)
    total = outputs[0]
    for out in outputs[1:]:
        total = total + out
    if reduction == "mean":
        return total / len(outputs)
    return total
