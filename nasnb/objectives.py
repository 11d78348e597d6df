"""Objectives of a search: which metrics to optimise, costs nasnb measures itself, and the Pareto front.

An :class:`~nasnb.Experiment` with ``objectives={"acc": "max", "latency_ms": "min"}``
optimises several metrics at once. The names in :data:`COSTS` are measured by
:func:`nasnb.profile.profile` on each trial's fixed model before it trains, so
``evaluate`` only returns what it alone knows (accuracy); they can also bound a search
(``constraint={"params": 5000}``). Which trials are Pareto-optimal is decided by
Optuna's own non-dominated sorting (``Study.best_trials``), not a copy of it.

Examples
--------
>>> import torch
>>> from nasnb.objectives import check_objectives, measure_costs
>>> check_objectives({"acc": "max", "params": "min"})
{'acc': 'max', 'params': 'min'}
>>> measure_costs(torch.nn.Linear(3, 2), ["params", "flops"], torch.zeros(1, 3))
{'params': 8.0, 'flops': 12.0}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from ._trial import Trial

__all__ = ["COSTS", "check_objectives", "costs_needed", "measure_costs", "pareto_front"]

#: Metrics nasnb measures on the fixed model (:func:`nasnb.profile.profile`) when ``evaluate`` does not return them.
COSTS = ("params", "flops", "latency_ms")
#: Costs that need a forward pass, hence ``example_input``.
_NEED_INPUT = ("flops", "latency_ms")


def check_objectives(objectives: Any) -> dict[str, str]:
    """``objectives`` as a dict ``metric -> "max" | "min"``, or ValueError saying what is wrong.

    >>> check_objectives({"acc": "maximize"})
    Traceback (most recent call last):
    ...
    ValueError: objectives: 'acc' has direction 'maximize'; expected 'max' or 'min'
    """
    if not isinstance(objectives, Mapping) or not objectives:
        raise ValueError(f"objectives must be a non-empty dict of metric -> 'max' or 'min', got {objectives!r}")
    out: dict[str, str] = {}
    for name, direction in objectives.items():
        if not isinstance(name, str):
            raise ValueError(f"objectives: metric names must be strings, got {name!r}")
        if direction not in ("max", "min"):
            raise ValueError(f"objectives: {name!r} has direction {direction!r}; expected 'max' or 'min'")
        out[name] = direction
    return out


def costs_needed(names: Iterable[str], example_input: Any) -> list[str]:
    """The names among ``names`` that are :data:`COSTS`; ValueError if one needs a missing ``example_input``."""
    costs = [n for n in dict.fromkeys(names) if n in COSTS]
    blind = [n for n in costs if n in _NEED_INPUT]
    if blind and example_input is None:
        raise ValueError(f"{blind} are measured by nasnb.profile with a forward pass of each trial's model: "
                         f"pass example_input= (a tensor or tuple of forward's arguments)")
    return costs


def measure_costs(model: nn.Module, names: Sequence[str], example_input: Any = None) -> dict[str, float]:
    """The costs ``names`` (a subset of :data:`COSTS`) of a plain model, measured by :func:`nasnb.profile.profile`."""
    if not names:
        return {}
    if all(n == "params" for n in names):
        return {"params": float(sum(p.numel() for p in model.parameters()))}
    from .profile import profile

    p = profile(model, example_input, latency="latency_ms" in names)
    values: dict[str, float | None] = {"params": float(p.params_active), "flops": float(p.flops),
                                       "latency_ms": p.latency_ms}
    return {n: v for n in names if (v := values[n]) is not None}


def objective_values(trial: Trial, objectives: Mapping[str, str]) -> list[float] | None:
    """The trial's value of each objective, in order; None unless the trial is ok and has all of them."""
    if not trial.ok:
        return None
    values: list[float] = []
    for name in objectives:
        value = trial.metrics.get(name)
        if value is None:
            return None
        values.append(float(value))
    return values


def pareto_front(trials: Iterable[Trial], objectives: Mapping[str, str]) -> list[Trial]:
    """The ok trials no other trial dominates, by Optuna's non-dominated sorting; best first objective first.

    >>> from nasnb._trial import Trial
    >>> trials = [Trial(0, {}, metrics={"acc": 0.9, "params": 10.0}), Trial(1, {}, metrics={"acc": 0.8, "params": 5.0}),
    ...           Trial(2, {}, metrics={"acc": 0.7, "params": 20.0})]  # 2 is dominated by both
    >>> [t.number for t in pareto_front(trials, {"acc": "max", "params": "min"})]
    [0, 1]
    """
    from .strategy._optuna import import_optuna, quiet

    optuna = import_optuna("the Pareto front of several objectives")
    scored = [(t, v) for t in trials if (v := objective_values(t, objectives)) is not None]
    if not scored:
        return []
    directions = ["maximize" if d == "max" else "minimize" for d in objectives.values()]
    with quiet(optuna):
        study = optuna.create_study(directions=directions)
        study.add_trials([optuna.trial.create_trial(values=v, user_attrs={"i": i}) for i, (_, v) in enumerate(scored)])
        front = [scored[t.user_attrs["i"]] for t in study.best_trials]
    sign = -1.0 if directions[0] == "maximize" else 1.0
    return [t for t, v in sorted(front, key=lambda tv: (sign * tv[1][0], tv[0].number))]
