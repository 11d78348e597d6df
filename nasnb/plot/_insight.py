"""Plots of which choices matter: per-key importance bars and a parallel-coordinates plot of the trials.

Examples
--------
>>> from torch import nn
>>> import nasnb
>>> from nasnb import mutables
>>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 4)], key="op"),
...                     mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> exp = nasnb.Experiment(net, lambda m: m[0].out_features, "grid", max_trials=6, progress=False).run()
>>> data = _parallel_data(exp)
>>> data.keys, data.categories["op"], data.positions[:2], data.best
(['op', 'act'], ['0', '1', '2'], [[0, 0], [0, 1]], 4)
>>> fig = plot_parallel(exp)
>>> [ax.get_ylabel() for ax in fig.axes]
['', 'score']
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

from ._style import MIN_FONTSIZE, figure_of, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_importance", "plot_parallel"]

#: At most this many axes in a parallel-coordinates plot by default (the keys whose
#: choice changes the mean value most); ``keys=`` shows others.
MAX_AXES = 12

_NAMES = {"fanova": "fANOVA", "ped-anova": "PED-ANOVA", "mdi": "MDI"}


def plot_importance(exp: Any, *, metric: str | None = None, evaluator: Any = "fanova", seed: int = 0,
                    ax: Axes | None = None) -> Figure:
    """Horizontal bars of :func:`nasnb.insight.importance`, the most important key on top.

    Parameters
    ----------
    exp : Experiment
        Its finished trials.
    metric : str, optional
        A metric of the trials instead of the score.
    evaluator, seed
        As in :func:`nasnb.insight.importance`.
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure (which grows with the number of keys).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from torch import nn
    >>> import nasnb
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 4)], key="op"),
    ...                     mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    >>> exp = nasnb.Experiment(net, lambda m: m[0].out_features, "grid", max_trials=6, progress=False).run()
    >>> fig = plot_importance(exp)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['act', 'op']
    """
    from ..insight import importance

    imp = importance(exp, metric=metric, evaluator=evaluator, seed=seed)
    keys = list(imp)[::-1]  # barh draws bottom-up: the largest on top
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, max(2.5, 0.32 * len(keys) + 1.4)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = figure_of(ax)
    values = [imp[k] for k in keys]
    ax.barh(range(len(keys)), values, color=series_style(0)["color"], height=0.6)
    ax.set_yticks(range(len(keys)), keys)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=MIN_FONTSIZE)
    ax.set_xlim(0, max(1.0, max(values) * 1.15))
    ax.set_ylim(-0.6, len(keys) - 0.4)
    name = _NAMES.get(evaluator, evaluator) if isinstance(evaluator, str) else type(evaluator).__name__
    ax.set_xlabel(f"importance of the choice for the {metric or 'score'} ({name}; they sum to 1)",
                  fontsize=MIN_FONTSIZE + 1)
    ax.tick_params(labelsize=MIN_FONTSIZE)
    n = sum(1 for t in exp.history if t.ok)
    ax.set_title(f"which choices matter: {len(keys)} keys, {n} ok trials", fontsize=MIN_FONTSIZE + 2, loc="left")
    return fig


class ParallelData(NamedTuple):
    """Plain values for :func:`plot_parallel`."""

    keys: list[str]  # one axis each, left to right
    categories: dict[str, list[str]]  # labels of each axis, top to bottom (InputChoices' shortened)
    positions: list[list[int]]  # per trial, the category index on each axis
    values: list[float]  # per trial, the colour
    numbers: list[int]  # per trial, its number
    best: int | None  # the number of the experiment's best trial (None: none among them)
    name: str  # what colours mean: "score" or the metric
    left_out: int  # keys varied but not shown (more than MAX_AXES)


def _spread(labels: list[dict[str, str]], values: list[float], key: str) -> float:
    """How far apart the mean values of the key's choices are (max - min of the means)."""
    groups: dict[str, list[float]] = {}
    for row, v in zip(labels, values):
        groups.setdefault(row[key], []).append(v)
    means = [sum(g) / len(g) for g in groups.values()]
    return max(means) - min(means)


def _shorten(label: str, spec: Any) -> str:
    """An InputChoice's label without the prefix its inputs share (``[p0, p3]`` for ``[reduce_n5_p0, reduce_n5_p3]``)."""
    prefix = os.path.commonprefix(list(spec.names)) if spec.kind == "input" and len(spec.names) > 1 else ""
    prefix = prefix[:prefix.rfind("_") + 1]
    return label.replace(prefix, "") if prefix else label


def _parallel_data(exp: Any, metric: str | None = None, keys: list[str] | None = None) -> ParallelData:
    from ..insight import categories, table

    name, all_keys, labels, values, trials = table(exp, metric)
    if not trials:
        raise ValueError(f"plot_parallel: no ok trial with a {name} yet ({len(exp.history)} trials)")
    left_out = 0
    if keys is None:
        varied = [k for k in all_keys if len({row[k] for row in labels}) > 1] or all_keys
        shown = set(sorted(varied, key=lambda k: -_spread(labels, values, k))[:MAX_AXES])
        keys, left_out = [k for k in varied if k in shown], max(0, len(varied) - MAX_AXES)
    else:
        unknown = [k for k in keys if k not in exp.space]
        if unknown:
            raise ValueError(f"plot_parallel: keys {unknown} are not in the search space; its keys are {list(exp.space)}")
        from ..insight import choice_label

        labels = [{k: choice_label(exp.space[k], t.arch[k]) for k in keys} for t in trials]
    if not keys:
        raise ValueError("plot_parallel: no key to show (every key of the space has a single candidate)")
    cats = {k: categories(exp.space[k], [row[k] for row in labels]) for k in keys}
    positions = [[cats[k].index(row[k]) for k in keys] for row in labels]
    cats = {k: [_shorten(c, exp.space[k]) for c in cs] for k, cs in cats.items()}
    best = exp.best(1)
    numbers = [t.number for t in trials]
    best_number = best[0].number if best and best[0].number in numbers else None
    return ParallelData(list(keys), cats, positions, values, numbers, best_number, name, left_out)


def plot_parallel(exp: Any, *, metric: str | None = None, keys: list[str] | None = None,
                  ax: Axes | None = None) -> Figure:
    """Parallel coordinates: one vertical axis per key, one line per ok trial coloured by its score.

    Each axis lists the key's choices (top to bottom in the space's order); a trial's line
    passes through the choice it made on every axis, slightly offset so that trials
    sharing a choice stay apart. The colour bar gives the score (or ``metric``); the
    experiment's best trial is the thick dashed black line.

    Parameters
    ----------
    exp : Experiment
        Its finished trials.
    metric : str, optional
        Colour by this metric of the trials instead of the score.
    keys : list of str, optional
        The axes, left to right. Default: the keys the trials chose differently for, at
        most :data:`MAX_AXES` of them (those whose choices' mean values differ most).
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure (which grows with the keys and choices).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Without an ok trial, or for keys not in the space.
    """
    import numpy as np
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    data = _parallel_data(exp, metric, keys)
    n_keys = len(data.keys)
    longest = max([len(c) for cats in data.categories.values() for c in cats] + [len(k) for k in data.keys])
    step = max(1.5, 0.075 * longest + 0.6)  # inches between axes: room for the labels of an axis
    if ax is None:
        from matplotlib.figure import Figure

        tallest = max(len(c) for c in data.categories.values())
        fig = Figure(figsize=(min(40.0, step * n_keys + 2.2), max(4.0, 0.28 * tallest + 1.8)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = figure_of(ax)

    def height(i: int, key: str) -> float:  # choices spread over 1..0 on every axis, the first on top
        n = len(data.categories[key])
        return 0.5 if n == 1 else 1 - i / (n - 1)

    jitter = np.random.default_rng(0).uniform(-0.025, 0.025, size=(len(data.positions), n_keys))
    lines = [[(j, height(p, k) + jitter[t, j]) for j, (p, k) in enumerate(zip(row, data.keys))]
             for t, row in enumerate(data.positions)]
    norm = Normalize(min(data.values), max(data.values) if max(data.values) > min(data.values) else min(data.values) + 1)
    order = np.argsort(data.values if exp.mode == "max" else [-v for v in data.values])  # the best drawn last
    collection = LineCollection([lines[i] for i in order], cmap="viridis", norm=norm, linewidths=1.2, alpha=0.75)
    collection.set_array(np.asarray([data.values[i] for i in order]))
    ax.add_collection(collection)
    if data.best is not None:
        best = lines[data.numbers.index(data.best)]
        ax.plot([x for x, _ in best], [y for _, y in best], color="black", linewidth=2.6, linestyle="--",
                label=f"best trial (#{data.best})", zorder=3)
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.08), fontsize=MIN_FONTSIZE, frameon=False)
    for j, key in enumerate(data.keys):
        ax.axvline(j, color="0.3", linewidth=1.0, zorder=1)
        for i, label in enumerate(data.categories[key]):
            ax.text(j + 0.03, height(i, key), label, fontsize=MIN_FONTSIZE, va="center", ha="left", zorder=4,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    last = max(len(c) for c in data.categories[data.keys[-1]])
    ax.set_xlim(-0.15, n_keys - 1 + min(0.9, (0.065 * last + 0.15) / step))  # room for the last axis' labels
    ax.set_ylim(-0.08, 1.08)
    ax.set_xticks(range(n_keys), data.keys)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labelsize=MIN_FONTSIZE + 1, length=0)
    ax.set_yticks([])
    for side in ("left", "right", "bottom", "top"):
        ax.spines[side].set_visible(False)
    bar = fig.colorbar(collection, ax=ax, pad=0.01, fraction=0.04)
    bar.set_label(data.name, fontsize=MIN_FONTSIZE + 1)
    bar.ax.tick_params(labelsize=MIN_FONTSIZE)
    more = f"; {data.left_out} more varied keys not shown (keys=...)" if data.left_out else ""
    ax.set_title(f"{len(data.values)} ok trials by their choices{more}", fontsize=MIN_FONTSIZE + 1, loc="left", pad=22)
    return fig
