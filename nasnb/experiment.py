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
from ._trial import Outcome, Status, Trial, ambiguous_metric, check_timeout, interpret
from .executors import Executor, make_executor
from .journal import Journal
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
        architecture dict instead and no model is built.
    strategy : str or Strategy
        A :mod:`nasnb.strategy` instance, or a name from ``nasnb.strategy.STRATEGIES``
        (``"random"``, ``"grid"``, ``"evolution"``, ``"tpe"``, ``"rl"``) built with ``seed``.
    max_trials : int
        Trials to evaluate (ok + failed + timed out; rejected ones do not count),
        including those already in the journal.
    constraint : callable, optional
        ``constraint(model) -> bool`` on the fixed model, before training (parameters,
        FLOPs ...). Rejected architectures are recorded with status ``"rejected"`` and
        told to the strategy as failed.
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
    metric : str, optional
        Which entry of ``evaluate``'s dict is the score.
    mode : {"max", "min"}
        Whether a larger score is better.
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
        ``max_trials < 1`` or ``concurrency < 1``.

    Warns
    -----
    UserWarning
        When ``max_trials`` is not above the strategy's warm-up (evolution's
        ``population_size``, TPE's ``n_startup_trials``): every trial would be a random draw.

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
    """

    def __init__(
        self,
        model_or_space: nn.Module | SearchSpace,
        evaluate: Callable[[Any], Any],
        strategy: str | Strategy = "random",
        *,
        max_trials: int = 20,
        constraint: Callable[[nn.Module], bool] | None = None,
        executor: str | Executor = "inline",
        concurrency: int = 1,
        journal: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        metric: str | None = None,
        mode: str = "max",
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
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if not isinstance(max_trials, int) or max_trials < 1:
            raise ValueError(f"max_trials must be a positive int, got {max_trials!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        check_timeout(timeout)  # ValueError for NaN, <= 0, bools, non-numbers; inf: no limit
        if progress not in ("auto", True, False):
            raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
        self.evaluate = evaluate
        self.strategy = make_strategy(strategy, seed=seed, options=strategy_options)
        _warn_warm_up(self.strategy, max_trials, named=isinstance(strategy, str))
        if self.strategy.space is None:
            self.strategy.bind(self.space)
        elif self.strategy.space is not self.space:
            raise ValueError("the strategy is bound to another space; pass a fresh strategy")
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
                                       "metric": metric, "mode": mode})
        self.history: list[Trial] = []
        self._next_number = 0
        self._unfinished: dict[int, dict[str, Any]] = {}  # asked, trial not recorded (an interrupted run)
        self.max_rejections = 1000

    # ------------------------------------------------------------------ views
    def __repr__(self) -> str:
        best = self.best(1)
        best_txt = f"best {best[0].score:.6g}" if best else "no result yet"
        rejected = f", {self.n_rejected} rejected" if self.n_rejected else ""
        return (f"Experiment({type(self.strategy).__name__}, {self.n_done}/{self.max_trials} trials, "
                f"{self.n_failed} failed{rejected}, {best_txt})")

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

    def best(self, k: int = 1) -> list[Trial]:
        """The ``k`` best successful trials, best first (ties: earlier first).

        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"))
        >>> exp = Experiment(net, lambda m: m[0].out_features, "grid", progress=False).run()
        >>> [(t.arch, t.score) for t in exp.best(2)]
        [({'op': 0}, 8.0), ({'op': 1}, 2.0)]
        """
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

    # ------------------------------------------------------------------- run
    def _signed(self, score: float | None) -> float | None:
        if score is None:
            return None
        return score if self.mode == "max" else -score

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
            self.strategy.tell(trial.arch, self._signed(trial.score) if trial.ok else None)
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
        if self.journal is not None:
            self.journal.append(trial)
        self.history.append(trial)
        self._unfinished.pop(trial.number, None)
        self.strategy.tell(trial.arch, self._signed(trial.score) if trial.ok else None)
        if live is not None:
            live.update(trial)

    def _finish(self, number: int, arch: dict[str, Any], outcome: Outcome) -> Trial:
        status: Status
        if outcome.error is not None:
            status = "timeout" if outcome.timed_out else "failed"
            return Trial(number, arch, status, None, {}, outcome.error, outcome.duration, outcome.traceback)
        metric = self.metric
        if metric is None and isinstance(outcome.result, Mapping):
            metric = _metric_of(self.evaluate)  # the metric an evaluator names itself (a benchmark's)
        score, metrics, error = interpret(outcome.result, metric)
        if metric is None and error is not None and error == ambiguous_metric(metrics):
            # not a failed trial: every trial would fail the same way, so stop at the first
            where = ("" if self.journal is None else
                     f"; the journal {self.journal.path!r} records metric=None, so resume with a new journal path")
            raise ValueError(f"Experiment: trial {number} {error}{where}")
        status = "ok" if error is None else "failed"
        trial_metrics: dict[str, float | None] = dict(metrics)
        return Trial(number, arch, status, score, trial_metrics, error, outcome.duration)

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
        try:
            self._sync()
            from ._experiment_live import make_progress

            live = make_progress(self, self.progress if progress is None else progress)
            self._loop(live)
        finally:
            if self.journal is not None:
                self.journal.close()
            if live is not None:
                live.close()
        return self

    def _loop(self, live: LiveProgress | None) -> None:
        want_model = not getattr(self.evaluate, "takes_arch", False)
        retry = sorted(self._unfinished.items())  # asked by an earlier run, never finished
        self.executor.start(self.evaluate, self.concurrency)
        pending: dict[int, dict[str, Any]] = {}
        exhausted = False
        rejections = 0
        try:
            while True:
                while (self.executor.free > 0 and (retry or not exhausted)
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
                    model = self.space.fix(arch) if (want_model or self.constraint is not None) else None
                    # the model is fixed whenever there is a constraint
                    if self.constraint is not None and model is not None and not self._allowed(self.constraint, model, arch):
                        self._record(Trial(number, arch, "rejected", error="rejected by the constraint"), live)
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
        finally:
            self.executor.shutdown()

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
        """Score per trial with the best-so-far line (:func:`nasnb.plot.plot_trials`).

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"))
        >>> fig = Experiment(net, lambda m: m[0].out_features, "grid", progress=False).run().plot()
        >>> type(fig).__name__
        'Figure'
        """
        from .plot import plot_trials

        return plot_trials(self, ax=ax)

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
