"""What the active architecture costs: parameters, FLOPs, latency and GPU memory.

The measures themselves live in :mod:`nasnb._measure` (shared with the one-shot cost
models); :func:`forward_error` in :mod:`nasnb._diagnose`, :func:`model_device` in
:mod:`nasnb._device` and :func:`format_count` in :mod:`nasnb._format`, re-exported here.

:func:`profile` runs the model's current architecture on its device and returns a
:class:`Profile` (output shapes, active / total parameters, FLOPs counted by
``torch.utils.flop_counter.FlopCounterMode``, median latency, CUDA-synchronised on GPU,
and peak GPU memory). :func:`profile_candidates` gives the same numbers for each
candidate of one key, run on the input that key's mutable receives. A failing forward
raises :class:`ForwardError`, which names the module that failed and the keys involved.

Examples
--------
>>> import torch
>>> from torch import nn
>>> import nasnb
>>> from nasnb import mutables
>>> from nasnb.profile import profile
>>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Linear(4, 4, bias=False)], key="fc"))
>>> p = profile(net, torch.zeros(1, 4), repeats=1)
>>> p.output_shape, p.params_active, p.params_total, p.flops
((1, 4), 20, 36, 32)
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ._device import model_device, to_device
from ._diagnose import forward_error
from ._format import format_count
from ._measure import EvalNoGrad, count_flops, time_calls
from .exceptions import ForwardError, NasnbError
from .mutables import InputChoice, LayerChoice
from .space import SearchSpace

__all__ = [
    "CandidateProfile",
    "Profile",
    "as_args",
    "count_params",
    "format_count",
    "forward_error",
    "model_device",
    "profile",
    "profile_candidates",
]


def as_args(example_input: Any) -> tuple[Any, ...]:
    """Positional arguments for ``forward``: a tuple is unpacked, anything else is one argument."""
    return tuple(example_input) if isinstance(example_input, tuple) else (example_input,)


def count_params(model: nn.Module) -> tuple[int, int]:
    """(active, total) parameter counts: active leaves out unchosen candidates and unused LayerChoices.

    >>> from torch import nn
    >>> from nasnb import mutables
    >>> count_params(mutables.LayerChoice([nn.Linear(2, 2), nn.Identity()], key="x"))
    (6, 6)
    """
    total = {id(p): p.numel() for p in model.parameters()}
    inactive: set[int] = set()
    active: set[int] = set()
    for m in model.modules():
        if isinstance(m, LayerChoice):
            chosen = set() if m.decision.unused else set(m.decision.indices)
            for i, cand in enumerate(m):
                (active if i in chosen else inactive).update(id(p) for p in cand.parameters())
    dropped = inactive - active
    return sum(n for i, n in total.items() if i not in dropped), sum(total.values())


@dataclass(frozen=True)
class Profile:
    """Costs of one architecture on one device (see :func:`profile`)."""

    output_shapes: list[tuple[int, ...]]
    params_active: int
    params_total: int
    flops: int
    latency_ms: float | None
    peak_memory: int | None
    device: str
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def output_shape(self) -> tuple[int, ...] | list[tuple[int, ...]] | None:
        """The output's shape (a list of shapes for several outputs)."""
        if not self.output_shapes:
            return None
        return self.output_shapes[0] if len(self.output_shapes) == 1 else list(self.output_shapes)

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers, e.g. for a table or a journal."""
        return {"output_shape": self.output_shape, "params_active": self.params_active,
                "params_total": self.params_total, "flops": self.flops, "latency_ms": self.latency_ms,
                "peak_memory": self.peak_memory, "device": self.device}


@dataclass(frozen=True)
class CandidateProfile:
    """Costs of one candidate of a key (see :func:`profile_candidates`)."""

    key: str
    candidate: str
    type: str
    params: int
    flops: int
    latency_ms: float | None
    output_shape: Any
    chosen: bool
    error: str | None = None


def _shapes(out: Any) -> list[tuple[int, ...]]:
    if isinstance(out, torch.Tensor):
        return [tuple(out.shape)]
    if isinstance(out, (list, tuple)):
        return [s for o in out for s in _shapes(o)]
    if isinstance(out, dict):
        return [s for o in out.values() for s in _shapes(o)]
    return []


def _latency_and_peak(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[list[float], int | None]:
    """Timed runs of ``fn`` (ms) and, on CUDA, the peak memory they allocated."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = time_calls(fn, device, repeats)
    return times, int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def profile(
    model: nn.Module | SearchSpace,
    example_input: Any,
    *,
    repeats: int = 5,
    latency: bool = True,
    keys: Sequence[str] | None = None,
) -> Profile:
    """Measure the model's current architecture on the device its parameters live on.

    The forward runs in ``eval`` mode without gradients (training flags are restored);
    the input is moved to the model's device.

    Parameters
    ----------
    model : nn.Module or SearchSpace
    example_input : Tensor or tuple
        Positional argument(s) of ``forward``.
    repeats : int
        Timed runs (after one warm-up); the latency is their median.
    latency : bool
        Skip the timing (and the memory peak) when False.
    keys : sequence of str, optional
        Keys to name in a :class:`ForwardError` (e.g. the ones changed last).

    Returns
    -------
    Profile

    Raises
    ------
    ForwardError
        If the forward fails (shape mismatch, ...): names the module and the keys.

    Examples
    --------
    >>> import torch
    >>> from nasnb.profile import profile
    >>> p = profile(torch.nn.Linear(3, 2), torch.zeros(1, 3), latency=False)
    >>> p.output_shapes, p.params_total, p.flops, p.latency_ms
    ([(1, 2)], 8, 12, None)
    """
    space = model if isinstance(model, SearchSpace) else None
    module = model.model if isinstance(model, SearchSpace) else model
    device = model_device(module)
    args = to_device(as_args(example_input), device)
    active, total = count_params(module)
    with EvalNoGrad(module):
        try:
            flops, out = count_flops(lambda: module(*args))
        except Exception as err:
            raise forward_error(err, space, module, args, keys=keys) from err
        times, peak = _latency_and_peak(lambda: module(*args), device, repeats) if latency and repeats > 0 else ([], None)
    return Profile(
        output_shapes=_shapes(out), params_active=active, params_total=total, flops=flops,
        latency_ms=statistics.median(times) if times else None, peak_memory=peak, device=str(device),
        latencies_ms=times,
    )


def _capture_inputs(module: nn.Module, target: nn.Module, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    captured: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def pre(m: nn.Module, a: tuple[Any, ...], kw: dict[str, Any]) -> None:
        if not captured:
            captured.append((a, kw))

    h = target.register_forward_pre_hook(pre, with_kwargs=True)
    try:
        module(*args)
    finally:
        h.remove()
    if not captured:
        raise ForwardError(f"{getattr(target, 'key', '?')!r} is never called in forward",
                           keys=[getattr(target, "key", "?")])
    return captured[0]


def _candidate_row(key: str, name: str, cand: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
                   device: torch.device, repeats: int, chosen: bool) -> CandidateProfile:
    """Costs of one candidate on its captured input; a failure is reported in the row."""
    params = sum(p.numel() for p in cand.parameters())
    try:
        def run() -> Any:
            return cand(*args, **kwargs)

        flops, out = count_flops(run)
        times = time_calls(run, device, repeats) if repeats > 0 else []
        shapes = _shapes(out)
        return CandidateProfile(key, name, type(cand).__name__, params, flops,
                                statistics.median(times) if times else None, shapes[0] if shapes else None, chosen)
    except Exception as err:  # noqa: BLE001 - reported in the row
        return CandidateProfile(key, name, type(cand).__name__, params, 0, None, None, chosen,
                                error=f"{type(err).__name__}: {err}")


def profile_candidates(
    space: SearchSpace | nn.Module,
    key: str,
    example_input: Any,
    *,
    repeats: int = 5,
    latency: bool = True,
) -> list[CandidateProfile]:
    """Parameters, FLOPs and latency of every candidate of LayerChoice ``key``.

    Each candidate runs on the input the (first) mutable of ``key`` receives in the
    current architecture, on the model's device. A candidate that fails on that input
    is reported with ``error`` set instead of raising.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.profile import profile_candidates
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key="op"))
    >>> rows = profile_candidates(net, "op", torch.zeros(1, 4), latency=False)
    >>> [(c.candidate, c.params, c.flops, c.chosen) for c in rows]
    [('0', 20, 32, True), ('1', 0, 0, False)]
    """
    if not isinstance(space, SearchSpace):
        space = SearchSpace(space)
    spec = space[key]
    target = space.mutables(key)[0]
    if not isinstance(target, LayerChoice):
        kind = "InputChoice" if isinstance(target, InputChoice) else type(target).__name__
        raise NasnbError(f"profile_candidates: key {spec.key!r} is an {kind}; expected the key of a LayerChoice "
                         f"(candidates with parameters)")
    module = space.model
    device = model_device(module)
    args = to_device(as_args(example_input), device)
    rows: list[CandidateProfile] = []
    with EvalNoGrad(module):
        try:
            a, kw = _capture_inputs(module, target, args)
        except ForwardError:
            raise
        except Exception as err:
            raise forward_error(err, space, module, args, keys=[spec.key]) from err
        chosen = set(target.decision.indices)
        n_timed = repeats if latency else 0
        for i, (name, cand) in enumerate(zip(target.names, target)):
            rows.append(_candidate_row(spec.key, name, cand, a, kw, device, n_timed, i in chosen))
    return rows
