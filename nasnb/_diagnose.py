"""Why a forward failed: the module that raised and the keys involved (a :class:`ForwardError`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn
from torch.utils.hooks import RemovableHandle

from ._measure import EvalNoGrad
from .exceptions import ForwardError
from .space import SearchSpace

__all__ = ["forward_error"]


def forward_error(err: BaseException, space: SearchSpace | None, model: nn.Module,
                  args: tuple[Any, ...], keys: Sequence[str] | None = None) -> ForwardError:
    """Wrap ``err`` in a :class:`ForwardError`; re-runs the forward with hooks to find the module that raised."""
    if isinstance(err, ForwardError):
        return err
    where = _failing_module(model, args)
    arch = space.current() if space is not None else None
    msg = f"forward failed: {type(err).__name__}: {err}"
    if where is not None:
        msg += f"\n  in module {where[0]!r} ({where[1]})"
    if keys:
        msg += "\n  keys changed last: " + ", ".join(f"{k}={arch[k]!r}" if arch and k in arch else k
                                                     for k in keys)
    elif arch:
        msg += f"\n  architecture: {arch}"
    return ForwardError(msg, keys=keys or (), arch=arch, module=where[0] if where else None, error=err)


def _failing_module(model: nn.Module, args: tuple[Any, ...]) -> tuple[str, str] | None:
    """(path, type) of the innermost module whose forward raised, from a diagnostic re-run."""
    stack: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    handles: list[RemovableHandle] = []
    for path, m in model.named_modules():
        def pre(mod: nn.Module, a: tuple[Any, ...], _p: str = path) -> None:
            stack.append((_p or "<model>", type(mod).__name__))

        def post(mod: nn.Module, a: tuple[Any, ...], out: Any) -> None:
            stack.pop()

        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    try:
        with EvalNoGrad(model):
            model(*args)
    except Exception:  # noqa: BLE001 - we only want to know where
        if stack:
            failed.append(stack[-1])
    finally:
        for h in handles:
            h.remove()
    return failed[0] if failed else None
