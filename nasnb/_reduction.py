"""Combine the outputs of the chosen candidates (NNI 1.x ``_tensor_reduction``)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

__all__ = ["REDUCTIONS", "reduce_outputs"]

REDUCTIONS = ("sum", "mean", "concat", "none")


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
