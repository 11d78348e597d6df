"""The measures behind :mod:`nasnb.profile` and the one-shot cost models, each defined once.

- :class:`ParamTable`: parameters of the fixed model of any architecture, and of each
  candidate of a key, without building a model (SPOS bounds, ProxylessNAS "params" cost).
- :func:`candidate_costs`: a cost (FLOPs, latency) of every LayerChoice candidate on the
  input its LayerChoice receives (ProxylessNAS "flops"/"latency", SPOS FLOPs bins).
- :func:`count_flops`: FLOPs of one call, counted by ``torch.utils.flop_counter``.
- :func:`time_calls` / :func:`latency_ms`: wall time of a call, CUDA-synchronised on GPU.
- :class:`EvalNoGrad`: eval mode without gradients for a measurement, flags restored.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
from torch import nn

from .mutables import LayerChoice
from .space import SearchSpace

__all__ = ["EvalNoGrad", "ParamTable", "candidate_costs", "candidate_inputs", "count_flops", "latency_ms", "time_calls"]


class ParamTable:
    """Parameter counts of every LayerChoice candidate of ``space``, read once.

    ``of(indices)`` is the parameter count of ``space.fix(arch)`` for the architecture
    given as ``key -> index tuple``: the parameters outside every LayerChoice, plus those
    of each chosen candidate (all of them for a multi-choice key) of each LayerChoice the
    architecture does not drop.

    >>> from torch import nn
    >>> from nasnb import SearchSpace, mutables
    >>> space = SearchSpace(nn.Sequential(nn.Linear(2, 2), mutables.LayerChoice([nn.Linear(2, 2), nn.Identity()],
    ...                                                                          key="op")))
    >>> table = ParamTable(space)
    >>> table.candidates("op"), table.of({"op": (0,)}), table.of({"op": (1,)})
    ([6, 0], 12, 6)
    """

    def __init__(self, space: SearchSpace):
        self.space = space
        inside: set[int] = set()
        #: key -> one row per mutable with that key -> parameters of each candidate.
        self.rows: dict[str, list[list[int]]] = {}
        for key in space:
            for m in space.mutables(key):
                if isinstance(m, LayerChoice):
                    row = []
                    for cand in m:
                        ids = {id(p): p.numel() for p in cand.parameters()}
                        inside.update(ids)
                        row.append(sum(ids.values()))
                    self.rows.setdefault(key, []).append(row)
        #: Parameters outside every LayerChoice candidate.
        self.base = sum(p.numel() for p in space.model.parameters() if id(p) not in inside)

    def candidates(self, key: str) -> list[int]:
        """Parameters of each candidate of ``key``, summed over the mutables sharing it."""
        rows = self.rows.get(key)
        if not rows:
            return [0] * self.space[key].n_candidates
        return [sum(col) for col in zip(*rows)]

    def of(self, indices: Mapping[str, tuple[int, ...]]) -> int:
        """Parameters of the fixed model of the architecture ``key -> index tuple``."""
        unused = self.space.unused_of(indices)  # edges the architecture drops are not in the fixed model
        return self.base + sum(row[i] for k, rows in self.rows.items() if k not in unused
                               for row in rows for i in indices[k])


Captured = dict[str, tuple[LayerChoice, tuple[Any, ...], dict[str, Any]]]


def candidate_inputs(space: SearchSpace, forward: Callable[[], Any]) -> Captured:
    """key -> (first LayerChoice of the key that runs, its args, its kwargs) during one call of ``forward()``.

    Forward pre-hooks on every LayerChoice of ``space`` record what it receives (whatever
    path, mixer or decision runs it); keys whose LayerChoices are not called are absent.
    """
    captured: Captured = {}
    handles = []
    for key in space:
        for m in space.mutables(key):
            if isinstance(m, LayerChoice):
                def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], key: str = key) -> None:
                    captured.setdefault(key, (module, args, kwargs))  # type: ignore[arg-type]  # a LayerChoice

                handles.append(m.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        forward()
    finally:
        for h in handles:
            h.remove()
    return captured


def candidate_costs(space: SearchSpace, forward: Callable[[], Any],
                    measure: Callable[[Callable[[], Any]], float]) -> dict[str, list[float]]:
    """Cost of every candidate of each LayerChoice key, run on the input its LayerChoice gets in ``forward()``.

    ``measure(run) -> float`` measures one call ``run()`` of a candidate (e.g. its FLOPs);
    a key shared by n LayerChoices counts n times the first one's cost. Keys that
    ``forward()`` does not reach are absent (see :func:`candidate_inputs`).

    >>> import torch
    >>> from nasnb import mutables
    >>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.Linear(8, 8), nn.Identity()], key="op"))
    >>> space = SearchSpace(net)
    >>> candidate_costs(space, lambda: net(torch.zeros(1, 4)), lambda run: float(count_flops(run)[0]))
    {'op': [128.0, 0.0]}
    """
    costs: dict[str, list[float]] = {}
    for key, (mutable, args, kwargs) in candidate_inputs(space, forward).items():
        n_shared = len(space.mutables(key))
        costs[key] = [n_shared * measure(_call(op, args, kwargs)) for op in mutable]
    return costs


def _call(op: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
    return lambda: op(*args, **kwargs)


def count_flops(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(FLOPs, result) of ``fn()``, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    >>> import torch
    >>> count_flops(lambda: torch.nn.Linear(3, 2)(torch.zeros(1, 3)))[0]
    12
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        out = fn()
    return int(counter.get_total_flops()), out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 1) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones (synchronised on CUDA)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def latency_ms(fn: Callable[[], Any], device: torch.device, repeats: int = 7) -> float:
    """Median latency of ``fn`` in milliseconds (one warm-up call, then ``repeats`` timed)."""
    return statistics.median(time_calls(fn, device, repeats))


class EvalNoGrad:
    """eval() + no_grad() for the duration, restoring every module's training flag."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> EvalNoGrad:
        self.training = {m: m.training for m in self.model.modules()}
        self.model.eval()
        self.grad = torch.no_grad()
        self.grad.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.grad.__exit__(*exc)
        for m, flag in self.training.items():
            m.training = flag
        return False
