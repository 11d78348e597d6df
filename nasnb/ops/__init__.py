"""Candidate operations for search spaces, defined once and built by name.

Every op the ready-made spaces (:mod:`nasnb.spaces`) use lives in one registry, under the
names their papers and benchmarks use (NNI 1.x copied them into several example folders,
which then drifted). ``create_op(name, channels, stride)`` maps ``(N, C, H, W)`` to
``(N, C_out, ceil(H / stride), ceil(W / stride))`` where ``C_out`` is ``out_channels``
(default ``channels``).

- :mod:`nasnb.ops._cell`: DARTS and NAS-Bench-201 cell ops (``sep_conv_3x3``,
  ``nor_conv_3x3``, ``skip_connect``, ...).
- :mod:`nasnb.ops._enas`: ENAS micro and macro ops.
- :mod:`nasnb.ops._mobile`: ProxylessNAS inverted bottlenecks and SPOS ShuffleNetV2 blocks.

Examples
--------
>>> import torch
>>> from nasnb import ops
>>> ops.list_ops("sep_conv_*")
['sep_conv_3x3', 'sep_conv_5x5', 'sep_conv_7x7']
>>> op = ops.create_op("sep_conv_3x3", channels=4, stride=2)
>>> op(torch.zeros(1, 4, 8, 8)).shape
torch.Size([1, 4, 4, 4])
>>> candidates = ops.candidates(["max_pool_3x3", "skip_connect"], channels=4)
>>> list(candidates)
['max_pool_3x3', 'skip_connect']
"""

from __future__ import annotations

import fnmatch
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable

from torch import nn

__all__ = [
    "DilConv",
    "DropPath",
    "FactorizedReduce",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "candidates",
    "create_op",
    "list_ops",
    "register_op",
]

#: ``factory(c_in, c_out, stride, affine) -> nn.Module``
OpFactory = Callable[[int, int, int, bool], nn.Module]
_REGISTRY: dict[str, OpFactory] = {}


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Register ``factory(c_in, c_out, stride, affine) -> nn.Module`` under ``name`` (warns on overwrite)."""

    def decorator(factory: OpFactory) -> OpFactory:
        if name in _REGISTRY:
            warnings.warn(f"op {name!r} is already registered; {factory.__qualname__} replaces it", stacklevel=2)
        _REGISTRY[name] = factory
        return factory

    return decorator


def list_ops(pattern: str = "*") -> list[str]:
    """Registered op names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def create_op(name: str, channels: int, stride: int = 1, affine: bool = True, *,
              out_channels: int | None = None) -> nn.Module:
    """Build the op registered as ``name``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_ops`).
    channels : int
        Input channels.
    stride : {1, 2}
        Spatial stride.
    affine : bool
        Learnable BatchNorm scale and shift (DARTS search networks use False).
    out_channels : int, optional
        Output channels (default ``channels``); ops that cannot change the channel
        count raise ValueError.

    Raises
    ------
    LookupError
        Unknown name; the message lists the registered ones.
    ValueError
        A stride other than 1 or 2, or channels the op cannot produce.
    """
    factory = _REGISTRY.get(name)
    if factory is None:
        raise LookupError(f"no op named {name!r}; registered ops are {list_ops()}")
    if stride not in (1, 2):
        raise ValueError(f"op {name!r}: stride must be 1 or 2, got {stride!r}")
    for what, value in (("channels", channels), ("out_channels", out_channels)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"op {name!r}: {what} must be a positive int, got {value!r}")
    return factory(channels, channels if out_channels is None else out_channels, stride, affine)


def candidates(names: Iterable[str], channels: int, stride: int = 1, affine: bool = True, *,
               out_channels: int | None = None) -> OrderedDict[str, nn.Module]:
    """``OrderedDict(name -> op)`` ready for ``LayerChoice`` (exports then use the names)."""
    return OrderedDict((n, create_op(n, channels, stride, affine, out_channels=out_channels)) for n in names)


# importing the op modules registers their ops
from . import _enas, _mobile  # noqa: E402,F401
from ._cell import DilConv, DropPath, FactorizedReduce, ReLUConvBN, SepConv, Zero  # noqa: E402
