"""Experiment: a classic (multi-trial) search — strategy, evaluation, journal, progress.

Each trial trains one fixed architecture: the strategy proposes it, the optional
``constraint`` may reject it before training, an executor runs ``evaluate`` on
``space.fix(arch)`` (inline, in local processes or on Ray), and the result goes back to
the strategy and, at once, into the journal. A trial that raises, exceeds its time
limit, or returns NaN or a non-number is recorded as failed and the search goes on.

Examples
--------
>>> from torch import nn
>>> import nasnb
>>> from nasnb import mutables
>>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key="op"),
...                     mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> def evaluate(model):
...     return sum(p.numel() for p in model.parameters())  # bigger is "better" here
>>> exp = nasnb.Experiment(net, evaluate, "grid", max_trials=4, progress=False)
>>> exp.run()
Experiment(GridSearch, 4/4 trials, 0 failed, best 20)
>>> exp.best()[0].arch
{'op': 0, 'act': 0}
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from torch import nn

from ._atomic import atomic_file
from ._pruning import PruningStudy, make_pruner
from ._report import takes_trial
from ._trial import Outcome, Status, Trial, ambiguous_metric, check_timeout, interpret
from .executors import Executor, make_executor
from .executors._base import start_executor
from .journal import Journal
from .objectives import COSTS, check_objectives, costs_needed, measure_costs, objective_values, pareto_front
from .space import SearchSpace
from .strategy import Strategy, make_strategy

if TYPE_CHECKING:
    from ._experiment_live import LiveProgress

__all__ = ["Experiment", "Trial"]


class Experiment:
    """Search a space by training one architecture per trial.

    Parameters
    ----------
    model_or_space : nn.Module or SearchSpace
        The model with mutables (bound to a space here) or a bound space.
    evaluate : callable
        ``evaluate(model) -> float | dict``: trains and scores the fixed model
        (``space.fix(arch)``, a plain module). A dict's score is ``metric`` (default: its
        ``"score"`` entry, or its only entry; a dict of several numbers needs ``metric``,
        else :meth:`run` raises ValueError at the first result; an evaluator with a
        ``metric`` attribute, such as a :class:`nasnb.bench.TabularBenchmark`, names its
        own). If ``evaluate`` has an attribute
        ``takes_arch = True`` (a :class:`nasnb.bench.TabularBenchmark`), it receives the
        architecture dict instead and no model is built. ``evaluate(model, trial)`` (a
        second positional parameter named ``trial`` or without a default) also gets a
        :class:`nasnb.TrialReporter`: ``trial.report(value, step)`` records a learning
        curve (``Trial.intermediate``, journaled at once) and, with a ``pruner``,
        ``if trial.should_prune(): raise nasnb.TrialPruned()`` stops a hopeless trial.
    strategy : str or Strategy, optional
        A :mod:`nasnb.strategy` instance, or a name from ``nasnb.strategy.STRATEGIES``
        (``"random"``, ``"grid"``, ``"evolution"``, ``"tpe"``, ``"rl"``, ``"nsga2"``) built
        with ``seed``. Default: ``"random"``, or ``"nsga2"`` with several ``objectives``.
    max_trials : int
        Trials to evaluate (ok + failed + timed out; rejected ones do not count),
        including those already in the journal.
    constraint : callable or dict, optional
        ``constraint(model) -> bool`` on the fixed model, before training, or a dict of
        upper bounds on costs nasnb measures (:data:`nasnb.objectives.COSTS`), e.g.
        ``{"params": 5000, "latency_ms": 1.0}``. Rejected architectures are recorded with
        status ``"rejected"`` (with their measured costs) and told to the strategy as failed.
    executor : {"inline", "process", "ray"} or Executor
        Where trials run. Default ``"inline"``.
    concurrency : int
        Trials at once (process and Ray executors; inline runs one at a time).
    journal : path, optional
        Append-only JSON-lines record (:mod:`nasnb.journal`); if it exists, :meth:`run`
        resumes from it. :meth:`run` creates and locks it before the first trial, and
        refuses one written for another space, other candidates, or another strategy,
        strategy settings (seed included), metric or mode.
    timeout : float, optional
        Seconds per trial; slower trials are stopped and recorded as ``"timeout"``.
        None or ``float("inf")``: no limit.
    pruner : {None, "median", "halving"} or optuna.pruners.BasePruner
        Stops trials whose reported values lag behind (Optuna's ``MedianPruner``,
        ``SuccessiveHalvingPruner`` or any Optuna pruner; needs ``nasnb[optuna]``).
        Reported values must be better in ``mode``'s direction. A pruned trial has status
        ``"pruned"``, no score, counts toward ``max_trials`` and is told to the strategy as
        failed. Default: None (no pruning; reports are still recorded).
    metric : str, optional
        Which entry of ``evaluate``'s dict is the score.
    mode : {"max", "min"}
        Whether a larger score is better. Default: "max".
    objectives : dict, optional
        Several metrics to optimise at once, ``{"acc": "max", "latency_ms": "min"}``
        (instead of ``metric``/``mode``): the search looks for the Pareto front
        (:meth:`pareto_front`, :meth:`plot`, :meth:`pareto_view`) and there is no single
        :meth:`best`. ``evaluate`` returns a dict with the objectives it measures, or a
        number when exactly one objective is not a cost. ``"params"``, ``"flops"`` and
        ``"latency_ms"`` are measured by :func:`nasnb.profile.profile` on the fixed model
        unless ``evaluate`` returns them. Needs optuna (``nasnb[optuna]``).
    example_input : Tensor or tuple, optional
        Forward arguments for measuring ``"flops"`` / ``"latency_ms"`` (objectives or
        constraint bounds); required when one of those is named.
    seed : int, optional
        Seed for a strategy given by name.
    strategy_options : dict, optional
        Constructor options of a strategy given by name, e.g.
        ``{"population_size": 10}`` for ``"evolution"`` or ``{"n_startup_trials": 5}``
        for ``"tpe"`` (see the classes in :mod:`nasnb.strategy`).
    progress : {"auto", True, False}
        Live progress: a bar and a score plot in notebooks, text lines in scripts.

    Raises
    ------
    ValueError
        For an unknown strategy or executor name, an option the strategy does not accept
        (or ``strategy_options`` with a strategy instance), ``mode`` not "max"/"min",
        ``max_trials < 1`` or ``concurrency < 1``; ``objectives`` with ``metric``/``mode``,
        a bound that is not a measured cost, or flops/latency without ``example_input``;
        an unknown ``pruner`` name, or a pruner with several objectives.
    nasnb.exceptions.StrategyError
        For several objectives with a strategy that learns from one score (evolution, rl).

    Warns
    -----
    UserWarning
        When ``max_trials`` is not above the strategy's warm-up (evolution's
        ``population_size``, TPE's ``n_startup_trials``): every trial would be a random draw;
        when a ``pruner`` is given but ``evaluate`` takes no ``trial`` (it cannot report).

    Examples
    --------
    A seeded random search that minimises the parameter count, with a constraint and a
    crashing trial (recorded as failed; the search goes on):

    >>> from torch import nn
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2), nn.Identity()], key="op"))
    >>> def evaluate(model):
    ...     if isinstance(model[0], nn.Identity):
    ...         raise RuntimeError("no weights to train")
    ...     return {"params": sum(p.numel() for p in model.parameters())}
    >>> exp = Experiment(net, evaluate, "grid", max_trials=3, metric="params", mode="min", progress=False).run()
    >>> [(t.arch["op"], t.status, t.score) for t in exp.history]
    [(0, 'ok', 40.0), (1, 'ok', 10.0), (2, 'failed', None)]
    >>> exp.n_done, exp.n_failed, exp.best()[0].arch
    (3, 1, {'op': 1})

    Strategy options for a strategy given by name: evolution with a population of 2, so
    that 3 trials leave room for one evolved child:

    >>> exp = Experiment(net, evaluate, "evolution", max_trials=3, seed=0, metric="params", mode="min",
    ...                  strategy_options={"population_size": 2}, progress=False)
    >>> exp.strategy
    RegularizedEvolution(population_size=2, sample_size=2, seed=0)

    Learning curves and pruning: ``evaluate(model, trial)`` reports after each epoch and
    stops when the pruner (here Optuna's median pruner) says so:

    >>> import optuna
    >>> import nasnb
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (4, 2, 8, 1)], key="op"))
    >>> def evaluate(model, trial):
    ...     for epoch in range(3):
    ...         trial.report(model[0].out_features * (epoch + 1))  # e.g. the validation accuracy
    ...         if trial.should_prune():
    ...             raise nasnb.TrialPruned()
    ...     return model[0].out_features * 3
    >>> exp = Experiment(net, evaluate, "grid", pruner=optuna.pruners.MedianPruner(n_startup_trials=1), progress=False)
    >>> [(t.status, t.intermediate) for t in exp.run().history]  # doctest: +NORMALIZE_WHITESPACE
    [('ok', [[0, 4.0], [1, 8.0], [2, 12.0]]), ('pruned', [[0, 2.0]]),
     ('ok', [[0, 8.0], [1, 16.0], [2, 24.0]]), ('pruned', [[0, 1.0]])]
    """

    def __init__(
        self,
        model_or_space: nn.Module | SearchSpace,
        evaluate: Callable[..., Any],
        strategy: str | Strategy | None = None,
        *,
        max_trials: int = 20,
        constraint: Callable[[nn.Module], bool] | Mapping[str, float] | None = None,
        executor: str | Executor = "inline",
        concurrency: int = 1,
        journal: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        pruner: str | Any | None = None,
        metric: str | None = None,
        mode: str | None = None,
        objectives: Mapping[str, str] | None = None,
        example_input: Any = None,
        seed: int | None = None,
        strategy_options: Mapping[str, Any] | None = None,
        progress: bool | str = "auto",
    ):
        if isinstance(model_or_space, SearchSpace):
            self.space = model_or_space
        elif isinstance(model_or_space, nn.Module):
            self.space = SearchSpace(model_or_space)
        else:
            raise TypeError(f"Experiment expects an nn.Module or a SearchSpace, got {type(model_or_space).__name__}")
        if not callable(evaluate):
            raise TypeError(f"evaluate must be callable (model -> float | dict), got {type(evaluate).__name__}")
        self.objectives = None if objectives is None else check_objectives(objectives)
        if self.objectives is not None:
            if metric is not None or mode is not None:
                raise ValueError(f"pass objectives= or metric=/mode=, not both: objectives={self.objectives} "
                                 f"names every metric and its direction")
            metric, mode = next(iter(self.objectives.items()))
        mode = "max" if mode is None else mode
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self._bounds = _check_bounds(constraint)
        self.example_input = example_input
        self._costs = costs_needed([*(self.objectives or ()), *self._bounds], example_input)
        self._measured: dict[int, dict[str, float]] = {}  # costs of submitted trials, until recorded
        if not isinstance(max_trials, int) or max_trials < 1:
            raise ValueError(f"max_trials must be a positive int, got {max_trials!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        check_timeout(timeout)  # ValueError for NaN, <= 0, bools, non-numbers; inf: no limit
        if progress not in ("auto", True, False):
            raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
        self.evaluate = evaluate
        n_objectives = len(self.objectives or ("score",))
        if strategy is None:
            strategy = "nsga2" if n_objectives > 1 else "random"
        self.strategy = make_strategy(strategy, seed=seed, options=strategy_options)
        _warn_warm_up(self.strategy, max_trials, named=isinstance(strategy, str))
        if self.strategy.space is None:
            self.strategy.bind(self.space, n_objectives=n_objectives)
        elif self.strategy.space is not self.space:
            raise ValueError("the strategy is bound to another space; pass a fresh strategy")
        elif self.strategy.n_objectives != n_objectives:
            raise ValueError(f"the strategy was bound for {self.strategy.n_objectives} objective(s), this experiment "
                             f"has {n_objectives}; pass a fresh strategy")
        self.executor = make_executor(executor)
        self.max_trials = max_trials
        self.constraint = constraint
        self.concurrency = concurrency
        self.timeout = timeout
        self.metric = metric
        self.mode = mode
        self.progress = progress
        self.journal = None if journal is None else Journal(
            journal, self.space, meta={"strategy": self.strategy.name, "strategy_settings": _settings(self.strategy),
                                       "metric": metric, "mode": mode,
                                       **({"objectives": self.objectives} if self.objectives else {})})
        self.history: list[Trial] = []
        self._next_number = 0
        self._unfinished: dict[int, dict[str, Any]] = {}  # asked, trial not recorded (an interrupted run)
        self.max_rejections = 1000
        self._init_pruning(pruner)

    # ------------------------------------------------------------------ views
    def __repr__(self) -> str:
        if self.multi_objective:
            front = self.pareto_front()
            best_txt = f"Pareto front of {len(front)}" if front else "no result yet"
        else:
            best = self.best(1)
            best_txt = f"best {best[0].score:.6g}" if best else "no result yet"
        counts = f", {self.n_rejected} rejected" if self.n_rejected else ""
        counts += f", {self.n_pruned} pruned" if self.n_pruned else ""
        return (f"Experiment({type(self.strategy).__name__}, {self.n_done}/{self.max_trials} trials, "
                f"{self.n_failed} failed{counts}, {best_txt}{', stopped' if self.stopped else ''})")

    def _repr_html_(self) -> str:
        from ._experiment_live import results_html

        return results_html(self)

    @property
    def n_done(self) -> int:
        """Trials evaluated (ok, failed or timed out)."""
        return sum(1 for t in self.history if t.status != "rejected")

    @property
    def n_failed(self) -> int:
        """Trials that failed or timed out."""
        return sum(1 for t in self.history if t.status in ("failed", "timeout"))

    @property
    def n_rejected(self) -> int:
        """Architectures the constraint rejected before training (not counted in ``max_trials``)."""
        return sum(1 for t in self.history if t.status == "rejected")

    @property
    def n_pruned(self) -> int:
        """Trials the pruner stopped (counted in :attr:`n_done` and ``max_trials``)."""
        return sum(1 for t in self.history if t.status == "pruned")

    @property
    def multi_objective(self) -> bool:
        """True with several ``objectives``: there is a Pareto front, not one best trial."""
        return self.objectives is not None and len(self.objectives) > 1

    def pareto_front(self) -> list[Trial]:
        """The successful trials no other trial beats on every objective, best first objective first.

        With one objective (``metric``/``mode``), the best trial(s). Pareto dominance is
        Optuna's (:func:`nasnb.objectives.pareto_front`).

        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3)], key="op"))
        >>> def evaluate(model):  # wider is more accurate here, and costs more parameters
        ...     return {"acc": model[0].out_features / 4}
        >>> exp = Experiment(net, evaluate, "grid", objectives={"acc": "max", "params": "min"}, progress=False).run()
        >>> [(t.metrics["acc"], t.metrics["params"]) for t in exp.pareto_front()]
        [(0.75, 15.0), (0.5, 10.0), (0.25, 5.0)]
        """
        if self.objectives:
            return pareto_front(self.history, self.objectives)
        ranked = self.best(len(self.history))
        return [t for t in ranked if t.score == ranked[0].score]

    def pareto_view(self) -> Any:
        """A widget of the Pareto front: pick a point to see, apply, fix or export its architecture.

        See :class:`nasnb.widgets.ParetoView`.
        """
        from .widgets import ParetoView

        return ParetoView(self)

    def best(self, k: int = 1) -> list[Trial]:
        """The ``k`` best successful trials, best first (ties: earlier first).

        Raises
        ------
        ValueError
            With several ``objectives``: there is no single best; the message points to
            :meth:`pareto_front`.

        Examples
        --------
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"))
        >>> exp = Experiment(net, lambda m: m[0].out_features, "grid", progress=False).run()
        >>> [(t.arch, t.score) for t in exp.best(2)]
        [({'op': 0}, 8.0), ({'op': 1}, 2.0)]
        """
        if self.multi_objective:
            raise ValueError(f"this experiment has {len(self.objectives or ())} objectives {list(self.objectives or ())}: "
                             f"no trial is best on all of them; use exp.pareto_front() (or exp.pareto_view() to pick one)")
        ok = [t for t in self.history if t.ok]
        sign = -1.0 if self.mode == "max" else 1.0
        return sorted(ok, key=lambda t: (sign * _score(t), t.number))[:k]

    def export_top(self, k: int = 1, path: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
        """Architectures of the ``k`` best trials (readable form); with ``path``, write the best as JSON.

        The file is the core architecture format: ``SearchSpace.load(path)`` and
        ``nasnb.fixed.apply_fixed_architecture`` read it.
        """
        archs = [dict(t.arch) for t in self.best(k)]
        if path is not None:
            if not archs:
                raise ValueError("export_top: no successful trial yet, nothing to write")
            with atomic_file(path) as f:  # a failed write keeps the previous file
                json.dump(archs[0], f, indent=2)
                f.write("\n")
        return archs

    def rows(self) -> list[dict[str, Any]]:
        """The history as flat dicts (number, status, score, metrics, error, arch keys).

        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"))
        >>> row = Experiment(net, lambda m: {"width": m[0].out_features}, "grid", progress=False).run().rows()[0]
        >>> {k: row[k] for k in ("number", "status", "score", "metric:width", "op")}
        {'number': 0, 'status': 'ok', 'score': 8.0, 'metric:width': 8.0, 'op': 0}
        """
        out = []
        for t in self.history:
            row: dict[str, Any] = {"number": t.number, "status": t.status, "score": t.score}
            row.update({f"metric:{k}": v for k, v in t.metrics.items()})
            row.update(t.arch)
            row["duration"] = t.duration
            row["error"] = t.error
            out.append(row)
        return out

    def importance(self, *, metric: str | None = None, evaluator: Any = "fanova", seed: int = 0) -> dict[str, float]:
        """How much each key's choice explains the score (:func:`nasnb.insight.importance`)."""
        from .insight import importance

        return importance(self, metric=metric, evaluator=evaluator, seed=seed)

    def trials_dataframe(self) -> Any:
        """The history as a pandas DataFrame (:func:`nasnb.insight.trials_dataframe`)."""
        from .insight import trials_dataframe

        return trials_dataframe(self)

    def leaderboard(self, k: int = 10) -> Any:
        """The ``k`` best trials, each shown where it differs from the best (:func:`nasnb.insight.leaderboard`)."""
        from .insight import leaderboard

        return leaderboard(self, k)

    # ------------------------------------------------------------------- run
    def _told(self, trial: Trial) -> float | tuple[float, ...] | None:
        """What the strategy learns from ``trial``: its score (or one value per objective), larger is better."""
        if self.multi_objective:
            values = objective_values(trial, self.objectives or {})
            if values is None:
                return None
            return tuple(v if d == "max" else -v for v, d in zip(values, (self.objectives or {}).values()))
        if not trial.ok or trial.score is None:
            return None
        return trial.score if self.mode == "max" else -trial.score

    def _sync(self) -> None:
        """Open (create, lock) the journal and take in the trials this experiment does not know yet.

        Runs before the first trial, so a bad journal path fails before any work is done.
        """
        if self.journal is None:
            return
        trials = self.journal.open()
        known = Counter((t.number, self._arch_key(t.arch)) for t in self.history)
        for trial in trials:
            key = (trial.number, self._arch_key(trial.arch))
            if known[key] > 0:
                known[key] -= 1
                continue
            self.history.append(trial)
            self.strategy.tell(trial.arch, self._told(trial))
            if self._pruning is not None:
                self._pruning.finish(trial)  # its curve, for the pruner to compare against
        used = {t.number for t in self.history}
        self._next_number = max(self._next_number, self.journal.max_number + 1, *(n + 1 for n in used))
        if self._unfinished:  # another writer may have finished or numbered them meanwhile
            done = {self._arch_key(t.arch) for t in self.history if t.status != "rejected"}
            unfinished, self._unfinished = self._unfinished, {}
            for number, arch in sorted(unfinished.items()):
                if self._arch_key(arch) in done:
                    continue
                if number in used:
                    number, self._next_number = self._next_number, self._next_number + 1
                self._unfinished[number] = arch

    def _arch_key(self, arch: Mapping[str, Any]) -> str:
        """The same text for the same architecture in any encoding."""
        try:
            arch = self.space.validate(arch)
        except (ValueError, LookupError, TypeError):
            pass
        return json.dumps(arch, sort_keys=True, default=str)

    def _record(self, trial: Trial, live: LiveProgress | None) -> None:
        trial.intermediate = self._curves.pop(trial.number, trial.intermediate)
        if self._pruning is not None:
            self._pruning.finish(trial)
        if self.journal is not None:
            self.journal.append(trial)
        self.history.append(trial)
        self._unfinished.pop(trial.number, None)
        self.strategy.tell(trial.arch, self._told(trial))
        if live is not None:
            live.update(trial)

    def _finish(self, number: int, arch: dict[str, Any], outcome: Outcome) -> Trial:
        status: Status
        measured = self._measured.pop(number, {})
        if outcome.pruned:
            return Trial(number, arch, "pruned", None, dict(measured), self._pruned_why(number), outcome.duration)
        if outcome.error is not None:
            status = "timeout" if outcome.timed_out else "failed"
            return Trial(number, arch, status, None, dict(measured), outcome.error, outcome.duration, outcome.traceback)
        metric = self.metric
        if metric is None and isinstance(outcome.result, Mapping):
            metric = _metric_of(self.evaluate)  # the metric an evaluator names itself (a benchmark's)
        score, metrics, error = interpret(self._with_costs(outcome.result, measured), metric)
        metrics = {**measured, **metrics}
        missing = [name for name in self.objectives or () if name not in metrics]
        if missing:  # says more than interpret's "no metric" for the first one
            score, error = None, (f"evaluate returned no {missing}; objectives {list(self.objectives or ())} need "
                                  f"every one (a number result is the one objective nasnb does not measure)")
        if metric is None and error is not None and error == ambiguous_metric(metrics):
            # not a failed trial: every trial would fail the same way, so stop at the first
            where = ("" if self.journal is None else
                     f"; the journal {self.journal.path!r} records metric=None, so resume with a new journal path")
            raise ValueError(f"Experiment: trial {number} {error}{where}")
        status = "ok" if error is None else "failed"
        trial_metrics: dict[str, float | None] = dict(metrics)
        return Trial(number, arch, status, score, trial_metrics, error, outcome.duration)

    # ---------------------------------------------------------------- reports and pruning
    def _init_pruning(self, pruner: Any) -> None:
        self.pruner = make_pruner(pruner)
        if self.pruner is not None and self.multi_objective:
            raise ValueError(f"pruner={pruner!r} with several objectives {list(self.objectives or ())}: Optuna's "
                             f"pruners judge one objective; pass pruner=None or one objective")
        self._pruning = None if self.pruner is None else PruningStudy(self.pruner, self.mode)
        self._curves: dict[int, list[list[float]]] = {}  # what running trials reported so far
        if self.pruner is not None and not takes_trial(self.evaluate):
            warnings.warn(f"Experiment: pruner={pruner!r} can do nothing because evaluate takes no `trial` argument; "
                          f"define evaluate(model, trial), call trial.report(value) each epoch and "
                          f"`if trial.should_prune(): raise nasnb.TrialPruned()`", UserWarning, stacklevel=3)

    def _start_executor(self) -> None:
        """Start the executor with :meth:`_on_report`; curves of trials an earlier run left unfinished are dropped."""
        self._curves.clear()  # those trials are re-run: their new curves start empty
        if self._pruning is not None:
            self._pruning.abandon()
        start_executor(self.executor, self.evaluate, self.concurrency, self._on_report)

    def _on_report(self, number: int, step: int, value: float) -> bool:
        """Trial ``number`` reported ``value`` at ``step`` (from any executor): keep, journal, ask the pruner."""
        self._curves.setdefault(number, []).append([step, value])
        if self.journal is not None:
            self.journal.report(number, step, value)
        if self._live is not None:
            self._live.report()
        return self._pruning is not None and self._pruning.report(number, step, value)

    def _pruned_why(self, number: int) -> str:
        curve = self._curves.get(number)
        if not curve:
            return "stopped before any report"
        step, value = curve[-1]
        return f"stopped after step {int(step)} (last reported value {value:.6g})"

    def _with_costs(self, result: Any, measured: Mapping[str, float]) -> Any:
        """``evaluate``'s result with the measured costs (its own numbers win); a number names the one other objective."""
        if self.objectives is None:
            return result  # the costs join the metrics after the score is read
        if isinstance(result, Mapping):
            return {**measured, **result}
        own = [name for name in self.objectives if name not in measured]
        if len(own) == 1:
            return {**measured, own[0]: result}
        return result

    def run(self, progress: bool | str | None = None) -> Experiment:
        """Run until ``max_trials`` trials are evaluated or the strategy is exhausted.

        Resumes from the journal when it exists: finished trials are neither lost nor
        repeated and the strategy is told each of them. A trial that never finished (the
        run was interrupted, e.g. by KeyboardInterrupt) is evaluated by the next ``run()``.
        Returns ``self``.

        Raises
        ------
        nasnb.journal.JournalError
            Before any trial, if the journal cannot be created or opened, is being written
            by another experiment, or belongs to another space or other settings.
        ValueError
            At the first result, if ``evaluate`` returned a dict of several numbers and
            neither ``metric`` nor a ``"score"`` entry says which one is the score.
        """
        live = None
        self._stop_requested = False
        try:
            self._sync()
            from ._experiment_live import make_progress

            live = self._live = make_progress(self, self.progress if progress is None else progress)
            self._loop(live)
        finally:
            self._live = None
            if self.journal is not None:
                self.journal.close()
            if live is not None:
                live.close()
        return self

    #: set by :meth:`stop`, cleared when :meth:`run` starts
    _stop_requested = False
    #: the live view while :meth:`run` runs (it redraws the curves of running trials as they report)
    _live: LiveProgress | None = None

    def stop(self) -> None:
        """Ask a running :meth:`run` to submit no new trial; it returns once the running ones are recorded.

        Safe to call from ``evaluate``, a widget callback (the live view's Stop button) or
        another thread. Nothing is lost: trials already running finish and are recorded
        (in the journal too), and calling :meth:`run` again goes on until ``max_trials``.
        A ``stop()`` before :meth:`run` has no effect (``run`` clears the request).

        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3, 4)], key="op"))
        >>> def evaluate(model):
        ...     if model[0].out_features == 2:
        ...         exp.stop()  # during the second trial
        ...     return model[0].out_features
        >>> exp = Experiment(net, evaluate, "grid", max_trials=4, progress=False)
        >>> exp.run()
        Experiment(GridSearch, 2/4 trials, 0 failed, best 2, stopped)
        >>> exp.run()
        Experiment(GridSearch, 4/4 trials, 0 failed, best 4)
        """
        self._stop_requested = True

    @property
    def stopped(self) -> bool:
        """True when :meth:`stop` ended the last :meth:`run` before ``max_trials`` trials were done."""
        return self._stop_requested and self.n_done < self.max_trials

    def _loop(self, live: LiveProgress | None) -> None:
        want_model = not getattr(self.evaluate, "takes_arch", False)
        retry = sorted(self._unfinished.items())  # asked by an earlier run, never finished
        self._start_executor()
        pending: dict[int, dict[str, Any]] = {}
        exhausted = False
        rejections = 0
        try:
            while True:
                while (self.executor.free > 0 and (retry or not exhausted) and not self._stop_requested
                       and self.n_done + len(pending) < self.max_trials):
                    if retry:
                        number, arch = retry.pop(0)
                    else:
                        asked = self.strategy.ask()
                        if asked is None:
                            exhausted = True
                            break
                        arch = asked
                        number, self._next_number = self._next_number, self._next_number + 1
                        self._unfinished[number] = arch  # until its trial is recorded
                    fixed = want_model or self.constraint is not None or bool(self._costs)
                    model = self.space.fix(arch) if fixed else None
                    refused = self._refused(number, arch, model)
                    if refused is not None and refused.status == "failed":  # its costs could not be measured
                        self._record(refused, live)
                        continue
                    if refused is not None:
                        self._record(refused, live)
                        rejections += 1
                        if rejections >= self.max_rejections:
                            warnings.warn(f"Experiment: stopped after {rejections} architectures in a row were "
                                          f"rejected by the constraint", stacklevel=3)
                            exhausted = True
                            retry.clear()
                            break
                        continue
                    rejections = 0
                    pending[number] = arch
                    self.executor.submit(number, model if want_model else arch, self.timeout)
                if not pending:
                    break
                for number, outcome in self.executor.wait(timeout=1.0):
                    self._record(self._finish(number, pending[number], outcome), live)
                    del pending[number]  # only once it is recorded
                if live is not None:
                    live.poll()  # a notebook's Stop button is heard here
        finally:
            self.executor.shutdown()

    def _refused(self, number: int, arch: dict[str, Any], model: nn.Module | None) -> Trial | None:
        """The trial, rejected by the constraint or failed measuring its costs; None to train it (costs kept)."""
        if model is None:
            return None
        costs: dict[str, float] = {}
        if self._costs:
            try:
                costs = measure_costs(model, self._costs, self.example_input)
            except Exception as err:  # noqa: BLE001 - one architecture's forward failing must not end the search
                return Trial(number, arch, "failed", error=f"measuring {self._costs} with nasnb.profile failed: "
                                                           f"{type(err).__name__}: {err}")
        over = [f"{name} {costs[name]:g} > {bound:g}" for name, bound in self._bounds.items() if costs[name] > bound]
        if over:
            return Trial(number, arch, "rejected", metrics=dict(costs), error=f"rejected by the constraint: {', '.join(over)}")
        if callable(self.constraint) and not self._allowed(self.constraint, model, arch):
            return Trial(number, arch, "rejected", metrics=dict(costs), error="rejected by the constraint")
        self._measured[number] = costs
        return None

    @staticmethod
    def _allowed(constraint: Callable[[nn.Module], bool], model: nn.Module, arch: Mapping[str, Any]) -> bool:
        try:
            return bool(constraint(model))
        except Exception as err:
            if sys.version_info >= (3, 11):  # add_note is new in 3.11; on 3.10 the error goes up as it is
                err.add_note(f"(raised by the constraint on architecture {dict(arch)})")
            raise

    # ------------------------------------------------------------------ plots
    def plot(self, *, ax: Any = None) -> Any:
        """Score per trial with the best-so-far line (:func:`nasnb.plot.plot_trials`); with
        several objectives, the Pareto front of the first two (:func:`nasnb.plot.plot_pareto`).

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"))
        >>> fig = Experiment(net, lambda m: m[0].out_features, "grid", progress=False).run().plot()
        >>> type(fig).__name__
        'Figure'
        """
        from .plot import plot_pareto, plot_trials

        return plot_pareto(self, ax=ax) if self.multi_objective else plot_trials(self, ax=ax)

    def draw_best(self, **kwargs: Any) -> Any:
        """Draw the best architecture with :func:`nasnb.plot.draw_space` (keyword arguments go there).

        The model keeps its architecture: the best one is applied only while it is drawn,
        inside one :meth:`SearchSpace.batch`, so observers (widgets) hear no change. Apply
        it yourself with ``exp.space.apply(exp.best(1)[0].arch)``.

        Raises
        ------
        ValueError
            If no trial succeeded yet.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch
        >>> from torch import nn
        >>> import nasnb
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 2), nn.Linear(4, 8)], key="op"))
        >>> exp = nasnb.Experiment(net, lambda m: m(torch.zeros(1, 4)).shape[1], "grid", progress=False).run()
        >>> fig = exp.draw_best(example_input=torch.zeros(1, 4))
        >>> exp.best(1)[0].arch, exp.space.current()  # drawn, not applied
        ({'op': 1}, {'op': 0})
        """
        from .plot import draw_space

        best = self.best(1)
        if not best:
            raise ValueError("draw_best: no successful trial yet")
        before = self.space.indices()
        with self.space.batch():
            self.space.apply(best[0].arch)
            try:
                return draw_space(self.space, **kwargs)
            finally:
                self.space.set_indices(before)


def _score(trial: Trial) -> float:
    """The score of an ``ok`` trial (which always has one)."""
    if trial.score is None:
        raise ValueError(f"trial {trial.number} has status {trial.status!r} but no score")
    return trial.score


def _warn_warm_up(strategy: Strategy, max_trials: int, named: bool) -> None:
    """Warn when every one of ``max_trials`` trials falls in the strategy's random warm-up."""
    warm_up = strategy.warm_up()
    if warm_up is None or max_trials > warm_up[1]:
        return
    option, n = warm_up
    how = (f"strategy_options={{{option!r}: ...}} below {max_trials}" if named
           else f"{type(strategy).__name__}({option}=...) below {max_trials}")
    warnings.warn(f"Experiment: max_trials={max_trials} <= {option}={n}: every trial is a random draw; "
                  f"{strategy.name} never starts learning from the results. Pass {how}, or raise max_trials.",
                  stacklevel=3)


def _check_bounds(constraint: Any) -> dict[str, float]:
    """The upper bounds of a dict ``constraint`` (checked), {} for a callable or None."""
    if constraint is None or callable(constraint):
        return {}
    if not isinstance(constraint, Mapping):
        raise TypeError(f"constraint must be a callable (model -> bool) or a dict of cost bounds, "
                        f"got {type(constraint).__name__}")
    bounds: dict[str, float] = {}
    for name, bound in constraint.items():
        if name not in COSTS:
            raise ValueError(f"constraint: {name!r} is not a cost nasnb measures before training; a dict bounds "
                             f"{list(COSTS)} (write constraint=lambda model: ... for anything else)")
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
            raise ValueError(f"constraint: the bound of {name!r} is {bound!r}; expected a positive number")
        bounds[name] = float(bound)
    return bounds


def _metric_of(evaluate: Any) -> str | None:
    """The ``metric`` an evaluator names itself (a :class:`nasnb.bench.TabularBenchmark` or its ``evaluate``)."""
    for owner in (evaluate, getattr(evaluate, "__self__", None)):
        metric = getattr(owner, "metric", None)
        if isinstance(metric, str):
            return metric
    return None


def _settings(strategy: Strategy) -> dict[str, Any]:
    """The strategy's constructor settings that are plain values (seed, population_size ...)."""
    try:
        params = inspect.signature(type(strategy).__init__).parameters
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for name, param in params.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not hasattr(strategy, name):
            continue
        value = getattr(strategy, name)
        if value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
    return out
