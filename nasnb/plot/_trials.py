"""Plots of classic-search trials: score per trial with the best-so-far line, and
best-so-far curves of several searches side by side.

Examples
--------
>>> from nasnb._trial import Trial
>>> trials = [Trial(0, {}, score=0.5), Trial(1, {}, "failed"), Trial(2, {}, score=0.7)]
>>> _trials_data(trials).best
[0.5, 0.5, 0.7]
>>> fig = plot_trials(trials)
>>> len(fig.axes)
1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ._style import MIN_FONTSIZE, figure_of, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_best_so_far", "plot_trials"]


class TrialsData(NamedTuple):
    """Plain lists for :func:`plot_trials`."""

    numbers: list[int]  # every evaluated trial, in finishing order
    scores: list[float | None]  # None for failed / timed-out trials
    best: list[float | None]  # best score so far after each trial
    failed: list[int]  # numbers of failed / timed-out trials
    mode: str
    pruned: list[int] = []  # numbers of trials the pruner stopped early


def _trials_of(source: Any) -> tuple[list[Any], str]:
    if hasattr(source, "history"):
        return list(source.history), getattr(source, "mode", "max")
    if isinstance(source, Mapping) or (isinstance(source, (list, tuple)) and any(hasattr(s, "history") for s in source)):
        raise TypeError(f"plot_trials draws one search (an Experiment or a list of Trials), got "
                        f"{len(source)} experiments in a {type(source).__name__}; compare searches with "
                        f"plot_best_so_far")
    return list(source), "max"


def _runs_of(runs: Any) -> dict[str, Any]:
    """Name -> run for one Experiment, a list of them (named by strategy) or a dict (as it is)."""
    if isinstance(runs, Mapping):
        return dict(runs)
    if hasattr(runs, "history"):
        runs = [runs]
    if not isinstance(runs, (list, tuple)) or not all(hasattr(r, "history") for r in runs):
        raise TypeError(f"plot_best_so_far expects an Experiment, a list of Experiments or a dict "
                        f"name -> Experiment (or list of Experiments), got {type(runs).__name__}")
    names = [type(getattr(r, "strategy", None)).__name__ if hasattr(r, "strategy") else "run" for r in runs]
    out: dict[str, Any] = {}
    for i, (name, run) in enumerate(zip(names, runs)):
        out[f"{name} {i}" if names.count(name) > 1 else name] = run
    return out


def _trials_data(source: Any, mode: str | None = None) -> TrialsData:
    """Score, best-so-far and failures per trial of an Experiment or a list of Trials."""
    trials, default_mode = _trials_of(source)
    mode = mode or default_mode
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    numbers, scores, best, failed, pruned = [], [], [], [], []
    current: float | None = None
    for t in trials:
        if t.status == "rejected":
            continue
        numbers.append(t.number)
        scores.append(t.score if t.status == "ok" else None)
        if t.status == "ok":
            if current is None or (t.score > current if mode == "max" else t.score < current):
                current = t.score
        elif t.status == "pruned":
            pruned.append(t.number)
        else:
            failed.append(t.number)
        best.append(current)
    return TrialsData(numbers, scores, best, failed, mode, pruned)


def _new_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return figure_of(ax), ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    return fig, fig.add_subplot()


def _trial_axis(ax: Axes, n: int, before: tuple[float, float] | None = None) -> None:
    """Trial axis ``1..n``: whole-number ticks only and limits half a trial beyond the data,
    so every visible tick is a trial that exists (``before``: the x limits of what the axes
    already showed, kept in view)."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = 0.5, max(n, 1) + 0.5
    if before is not None:
        lo, hi = min(lo, before[0]), max(hi, before[1])
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.tick_params(labelsize=MIN_FONTSIZE)
    ax.set_xlabel("trial", fontsize=MIN_FONTSIZE + 1)


def _shown(ax: Axes) -> tuple[float, float] | None:
    return tuple(ax.get_xlim()) if ax.has_data() else None  # type: ignore[return-value]


def plot_trials(source: Any, *, mode: str | None = None, ax: Axes | None = None) -> Figure:
    """Score per trial (dots), best so far (line), failed trials (red crosses at the bottom), pruned ones (grey).

    Parameters
    ----------
    source : Experiment or list of Trial
        What to draw.
    mode : {"max", "min"}, optional
        Direction of "best" (default: the experiment's, or "max").
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nasnb._trial import Trial
    >>> trials = [Trial(0, {}, score=0.5), Trial(1, {}, "failed"), Trial(2, {}, score=0.7)]
    >>> fig = plot_trials(trials)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:1], fig.axes[0].get_ylabel()
    (['best so far'], 'score')
    """
    data = _trials_data(source, mode)
    fig, ax = _new_axes(ax)
    before = _shown(ax)
    x = list(range(1, len(data.numbers) + 1))
    ok = [(i, s) for i, s in zip(x, data.scores) if s is not None]
    if ok:
        ax.scatter([i for i, _ in ok], [s for _, s in ok], s=22, alpha=0.7, color=series_style(0)["color"],
                   label="trial score")
        ax.step(x, [b if b is not None else float("nan") for b in data.best], where="post", linewidth=1.8,
                color=series_style(1)["color"], label="best so far")
        low = min(s for _, s in ok)
        for what, numbers, color in (("failed", data.failed, series_style(3)["color"]), ("pruned", data.pruned, "#8c8c8c")):
            where = [i for i, n in zip(x, data.numbers) if n in set(numbers)]
            if where:
                ax.scatter(where, [low] * len(where), marker="x", color=color, s=36, label=what)
        ax.legend(loc="best", fontsize=MIN_FONTSIZE)
    _trial_axis(ax, len(x), before)
    ax.set_ylabel("score", fontsize=MIN_FONTSIZE + 1)
    return fig


def _best_so_far_data(runs: Any, mode: str | None = None) -> dict[str, list[float | None]]:
    """Best-so-far curve of each named experiment (or list of experiments, averaged).

    A group's mean at trial ``i`` averages every run of the group: a run that stopped
    earlier keeps its final best (it is the best that run found in ``i`` trials), and
    where some run has no score yet the mean is None (not drawn). Averaging only the
    runs that already have a score would drop the unlucky ones and bias the curve upward.
    """
    out: dict[str, list[float | None]] = {}
    for name, run in _runs_of(runs).items():
        group = run if isinstance(run, (list, tuple)) and run and hasattr(run[0], "history") else [run]
        curves = [_trials_data(r, mode).best for r in group]
        length = max((len(c) for c in curves), default=0)
        mean: list[float | None] = []
        for i in range(length):
            vals = [c[min(i, len(c) - 1)] if c else None for c in curves]
            scored = [v for v in vals if v is not None]
            mean.append(sum(scored) / len(scored) if len(scored) == len(vals) else None)
        out[name] = mean
    return out


def plot_best_so_far(runs: Any, *, mode: str | None = None, ax: Axes | None = None,
                     reference: float | None = None) -> Figure:
    """Best score so far against trials for several searches (e.g. one per strategy).

    Each search has its own colour / line style / marker (30 distinct); more than 6 get
    their legend beside the axes (a new figure widens for it).

    Parameters
    ----------
    runs : Experiment, list of Experiment, or dict
        One Experiment; a list of them (one curve each, named by strategy); or a dict
        name -> Experiment, or name -> list of Experiments (their mean curve is drawn: a run
        that stopped earlier counts with its final best, and the curve starts where every
        run has a score).
    mode : {"max", "min"}, optional
        Direction of "best".
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.
    reference : float, optional
        A horizontal line (e.g. the best score of a tabular benchmark).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from nasnb._trial import Trial
    >>> def run(*scores):  # anything with a ``history`` of trials, as an Experiment
    ...     return SimpleNamespace(history=[Trial(i, {}, score=s) for i, s in enumerate(scores)], mode="max")
    >>> fig = plot_best_so_far({"random": [run(0.2, 0.6), run(0.4, 0.5)], "grid": run(0.1, 0.9)}, reference=1.0)
    >>> [(line.get_label(), [round(float(y), 2) for y in line.get_ydata()]) for line in fig.axes[0].get_lines()]
    [('random', [0.3, 0.55]), ('grid', [0.1, 0.9]), ('optimum', [1.0, 1.0])]
    """
    data = _best_so_far_data(runs, mode)
    new = ax is None
    fig, ax = _new_axes(ax)
    before = _shown(ax)
    n = max((len(c) for c in data.values()), default=0)
    every = max(1, n // 8)
    for i, (name, curve) in enumerate(data.items()):
        ax.plot(range(1, len(curve) + 1), [c if c is not None else float("nan") for c in curve], label=name,
                linewidth=1.6, markersize=5, markevery=(i % every, every), **series_style(i))
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=(0, (6, 3)), linewidth=1, label="optimum")
    _trial_axis(ax, n, before)
    ax.set_ylabel("best score so far", fontsize=MIN_FONTSIZE + 1)
    if data and len(data) <= 6:
        ax.legend(loc="best", fontsize=MIN_FONTSIZE, handlelength=3.0)
    elif data:  # many curves: the legend beside the axes, not over the curves
        ncol = -(-len(data) // 16)
        if new:
            fig.set_size_inches(7 + 1.8 * ncol, max(4.0, 0.21 * -(-len(data) // ncol) + 1.0))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=MIN_FONTSIZE,
                  ncol=ncol, handlelength=3.0)
    return fig
