"""Which choices matter: analysis of an experiment's finished trials.

:func:`importance` asks Optuna's importance evaluators how much each key's choice explains
the score; :func:`trials_dataframe` is the history as a pandas DataFrame; :func:`leaderboard`
shows the best trials side by side, each only where it differs from the best. The same
functions are :class:`~nasnb.Experiment` methods.

Choices are compared as labels (:func:`choice_label`): a LayerChoice's candidate name (its
index for unnamed candidates, as text), an InputChoice's chosen inputs as ``[a, c]``.

Examples
--------
>>> from torch import nn
>>> import nasnb
>>> from nasnb import mutables
>>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"),
...                     mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> exp = nasnb.Experiment(net, lambda m: m[0].out_features + 0.1 * isinstance(m[1], nn.Tanh), "grid",
...                        progress=False).run()
>>> print(leaderboard(exp, k=3))
top 3 of 4 ok trials (mode max; · = as the best)
rank  trial  score  Δ best  op  act
   1      1    8.1          0   1
   2      0      8    -0.1  ·   0
   3      3    2.1      -6  1   ·
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from ._trial import Trial
    from .architecture import Choice
    from .experiment import Experiment

__all__ = ["Leaderboard", "choice_label", "importance", "leaderboard", "trials_dataframe"]

#: A key with at most this many choices is encoded over all of them; a bigger one (an
#: InputChoice with ``n_chosen=None`` over many inputs) over the choices the trials made.
MAX_CATEGORIES = 64

#: Marks a leaderboard cell where a trial chose what the best trial chose.
SAME = "·"


def choice_label(spec: Choice, value: Any) -> str:
    """The text of one choice: a candidate name, or ``[a, c]`` for several (an InputChoice).

    >>> from nasnb.architecture import Choice
    >>> choice_label(Choice.layer("op", ("conv", "pool")), 1), choice_label(Choice.layer("op", ("0", "1")), 0)
    ('pool', '0')
    >>> choice_label(Choice.input("skip", ("a", "b", "c"), n_chosen=None), ["c", "a"])
    '[a, c]'
    """
    return _label(spec, spec.parse(value))


def _label(spec: Choice, indices: tuple[int, ...]) -> str:
    if spec.kind == "layer" and len(indices) == 1:
        return spec.names[indices[0]]
    return "[" + ", ".join(spec.names[i] or str(i) for i in indices) + "]"


def categories(spec: Choice, seen: list[str]) -> list[str]:
    """Every choice's label, in the space's order, or, for a key of more than
    :data:`MAX_CATEGORIES` choices, the labels in ``seen`` (first appearance order)."""
    if spec.size <= MAX_CATEGORIES:
        return [_label(spec, idx) for idx in spec.all_indices()]
    return list(dict.fromkeys(seen))


def target(exp: Experiment, metric: str | None) -> tuple[str, Callable[[Trial], float | None]]:
    """``(name, value of a trial)``: the score, or the metric ``metric``.

    Raises ValueError for an experiment with several ``objectives`` and no ``metric``,
    or a ``metric`` no successful trial returned.
    """
    if metric is None:
        objectives = getattr(exp, "objectives", None)
        if isinstance(objectives, Mapping) and len(objectives) > 1:
            raise ValueError(f"this experiment has {len(objectives)} objectives {list(objectives)}; "
                             f"pass metric= one of them")
        return "score", lambda t: t.score
    known = sorted({m for t in exp.history if t.ok for m in t.metrics})
    if known and metric not in known:
        raise ValueError(f"metric={metric!r}: no successful trial returned it; the trials' metrics are {known}")
    return metric, lambda t: t.metrics.get(metric)


def table(exp: Experiment, metric: str | None = None) -> tuple[str, list[str], list[dict[str, str]], list[float], list[Trial]]:
    """``(target name, keys, labels per trial, values, trials)`` of the ok trials with a value.

    ``keys``: the keys with more than one choice, in the space's order.
    """
    name, value_of = target(exp, metric)
    keys = [k for k in exp.space if exp.space[k].size > 1]
    labels, values, trials = [], [], []
    for t in exp.history:
        value = value_of(t) if t.ok else None
        if value is None:
            continue
        labels.append({k: choice_label(exp.space[k], t.arch[k]) for k in keys})
        values.append(float(value))
        trials.append(t)
    return name, keys, labels, values, trials


def _evaluator(optuna: Any, evaluator: Any, seed: int) -> Any:
    if not isinstance(evaluator, str):
        if not callable(getattr(evaluator, "evaluate", None)):
            raise TypeError(f"evaluator must be 'fanova', 'ped-anova', 'mdi' or an Optuna importance evaluator, "
                            f"got {evaluator!r}")
        return evaluator
    imp = optuna.importance
    makers = {"fanova": lambda: imp.FanovaImportanceEvaluator(seed=seed),
              "ped-anova": lambda: imp.PedAnovaImportanceEvaluator(),
              "mdi": lambda: imp.MeanDecreaseImpurityImportanceEvaluator(seed=seed)}
    if evaluator not in makers:
        raise ValueError(f"evaluator={evaluator!r}: expected one of {list(makers)} or an Optuna importance evaluator")
    return makers[evaluator]()


def importance(exp: Experiment, *, metric: str | None = None, evaluator: Any = "fanova", seed: int = 0) -> dict[str, float]:
    """How much each key's choice explains the score, by an Optuna importance evaluator.

    The ok trials become an in-memory Optuna study (one categorical parameter per key over
    its choices' labels, :func:`choice_label`) whose values are the trials' scores, or the
    metric ``metric``; :func:`optuna.importance.get_param_importances` scores the keys.
    Importances are non-negative and sum to 1, largest first.

    Parameters
    ----------
    exp : Experiment
        Its finished trials (``ok`` ones with a value; failed and rejected ones are left out).
    metric : str, optional
        A metric of ``trial.metrics`` instead of the score (required for an experiment with
        several ``objectives``).
    evaluator : {"fanova", "ped-anova", "mdi"} or an Optuna importance evaluator
        fANOVA (default) and MDI (mean decrease in impurity) fit random forests to the
        values and measure the variance each key explains: the experiment's ``mode``
        (min or max) does not change them. PED-ANOVA compares the best trials with all of
        them, so it follows ``mode``. fANOVA and MDI need scikit-learn.
    seed : int
        Seeds the random forests of fANOVA and MDI.

    Returns
    -------
    dict
        key -> importance. Keys with a single choice, and keys every ok trial chose the same
        for, are left out: there is nothing to compare.

    Raises
    ------
    ValueError
        Fewer than 2 ok trials with a value, no key varied between them, several
        ``objectives`` and no ``metric``, an unknown ``metric`` or evaluator name.
    ImportError
        Without optuna (``pip install 'nasnb[optuna]'``).

    Examples
    --------
    Only ``op`` changes the score:

    >>> from torch import nn
    >>> import nasnb
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 4)], key="op"),
    ...                     mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    >>> exp = nasnb.Experiment(net, lambda m: m[0].out_features, "grid", max_trials=6, progress=False).run()
    >>> imp = importance(exp)
    >>> list(imp), imp["op"] > 0.9
    (['op', 'act'], True)
    """
    name, keys, labels, values, _ = table(exp, metric)
    if len(values) < 2:
        n_ok = sum(1 for t in exp.history if t.ok)
        raise ValueError(f"importance needs at least 2 ok trials with a {name}; the experiment has {len(values)} "
                         f"({n_ok} ok of {len(exp.history)} trials)")
    varied = [k for k in keys if len({row[k] for row in labels}) > 1]
    if not varied:
        raise ValueError(f"importance: the {len(values)} ok trials all chose the same for every key "
                         f"({labels[0]}); it needs trials that differ in at least one key")
    from .strategy._optuna import import_optuna, quiet

    optuna = import_optuna("nasnb.insight.importance")
    with quiet(optuna):
        dists = {k: optuna.distributions.CategoricalDistribution(categories(exp.space[k], [r[k] for r in labels]))
                 for k in varied}
        study = optuna.create_study(direction="maximize" if exp.mode == "max" else "minimize")
        study.add_trials([optuna.trial.create_trial(params={k: row[k] for k in varied}, distributions=dists, value=v)
                          for row, v in zip(labels, values)])
        result = optuna.importance.get_param_importances(study, evaluator=_evaluator(optuna, evaluator, seed))
    return {k: float(v) for k, v in result.items()}


def trials_dataframe(exp: Experiment) -> pandas.DataFrame:
    """The history as a pandas DataFrame, one row per trial (:meth:`Experiment.rows`).

    Columns: ``number``, ``status``, ``score``, ``metric:<name>`` for each metric, each
    key of the space (its value as in ``trial.arch``), ``duration`` and ``error``.

    Raises
    ------
    ImportError
        Without pandas (``pip install pandas``).

    Examples
    --------
    >>> from torch import nn
    >>> import nasnb
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="op"))
    >>> df = trials_dataframe(nasnb.Experiment(net, lambda m: {"width": m[0].out_features}, "grid",
    ...                                        progress=False).run())
    >>> list(df.columns), df["metric:width"].tolist()
    (['number', 'status', 'score', 'metric:width', 'op', 'duration', 'error'], [8.0, 2.0])
    """
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError("trials_dataframe needs pandas: pip install pandas") from err
    rows = exp.rows()
    seen = list(dict.fromkeys(c for row in rows for c in row))
    head, keys, tail = ["number", "status", "score"], list(exp.space), ["duration", "error"]
    metrics = [c for c in seen if c.startswith("metric:")]
    other = [c for c in seen if c not in {*head, *keys, *tail, *metrics}]
    return pd.DataFrame.from_records(rows, columns=[*head, *metrics, *keys, *other, *tail])


def _num(x: float) -> str:
    return f"{x:.4g}"


class Leaderboard:
    """The best trials side by side: the best in full, each other one only where it differs.

    ``header`` and ``rows`` are the cells as text (rank, trial number, score, difference to
    the best score, then one per key; :data:`SAME` where a trial chose what the best chose).
    Shows as an HTML table in notebooks and as aligned text elsewhere. A plain object rather
    than a DataFrame: it needs no pandas, and "same as the best" stays a mark, not a missing value.
    """

    def __init__(self, trials: list[Trial], keys: list[str], labels: list[dict[str, str]], mode: str, n_ok: int):
        self.trials = trials
        self.keys = keys
        self.mode = mode
        self.n_ok = n_ok
        self.header = ["rank", "trial", "score", "Δ best", *keys]
        self.rows: list[list[str]] = []
        for rank, (t, lab) in enumerate(zip(trials, labels), start=1):
            score = t.score if t.score is not None else float("nan")
            best = trials[0].score if trials[0].score is not None else float("nan")
            cells = [lab[k] if rank == 1 or lab[k] != labels[0][k] else SAME for k in keys]
            delta = "" if rank == 1 else f"{score - best:+.4g}"
            self.rows.append([str(rank), str(t.number), _num(score), delta, *cells])

    def _title(self) -> str:
        if not self.trials:
            return "no successful trial yet"
        return f"top {len(self.trials)} of {self.n_ok} ok trials (mode {self.mode}; {SAME} = as the best)"

    def __str__(self) -> str:
        if not self.trials:
            return self._title()
        widths = [max(len(c) for c in col) for col in zip(self.header, *self.rows)]
        lines = [self._title()]
        for row in (self.header, *self.rows):
            cells = [c.rjust(w) if i < 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.header)
        body = []
        for i, row in enumerate(self.rows):
            style = ' style="font-weight: bold"' if i == 0 else ""
            cells = "".join(f'<td style="color: #999">{c}</td>' if c == SAME else f"<td>{html.escape(c)}</td>" for c in row)
            body.append(f"<tr{style}>{cells}</tr>")
        return (f'<div class="nasnb-leaderboard"><p>{html.escape(self._title())}</p>'
                f"<table><tr>{head}</tr>{''.join(body)}</table></div>")


def leaderboard(exp: Experiment, k: int = 10) -> Leaderboard:
    """The ``k`` best trials (:meth:`Experiment.best`): the best one in full, every other one
    only where it chose differently (:data:`SAME` elsewhere), with its score and its
    difference to the best score. See the module's example.

    Raises ValueError for ``k < 1``."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"leaderboard: k must be a positive int (the trials to show), got {k!r}")
    best = exp.best(k)
    keys = [key for key in exp.space if exp.space[key].size > 1]
    labels = [{key: choice_label(exp.space[key], t.arch[key]) for key in keys} for t in best]
    return Leaderboard(best, keys, labels, exp.mode, sum(1 for t in exp.history if t.ok))
