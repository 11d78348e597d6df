"""Learning curves of a classic search: what each trial reported, step by step.

Examples
--------
>>> from nasnb._trial import Trial
>>> trials = [Trial(0, {}, score=0.6, intermediate=[[0, 0.3], [1, 0.6]]),
...           Trial(1, {}, "pruned", intermediate=[[0, 0.1]]),
...           Trial(2, {}, score=0.9, intermediate=[[0, 0.5], [1, 0.9]])]
>>> [(c.number, c.kind) for c in _curves_data(trials)]
[(0, 'completed'), (1, 'pruned'), (2, 'best')]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ._style import MIN_FONTSIZE, series_style
from ._trials import _new_axes, _trials_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_curves"]

#: How each kind of curve is drawn (and named in the legend); the best trial's is drawn last, on top.
_STYLE: dict[str, dict[str, Any]] = {
    "completed": {"color": series_style(0)["color"], "linewidth": 1.2, "alpha": 0.6},
    "failed": {"color": series_style(3)["color"], "linewidth": 1.2, "linestyle": ":", "alpha": 0.8},
    "pruned": {"color": "#7f7f7f", "linewidth": 1.0, "alpha": 0.75},
    "best": {"color": series_style(1)["color"], "linewidth": 2.4, "zorder": 3},
}


class Curve(NamedTuple):
    """One trial's reported values and how it ended: ``completed``, ``best``, ``pruned`` or ``failed``."""

    number: int
    kind: str
    steps: list[int]
    values: list[float]


def _curves_data(source: Any) -> list[Curve]:
    """The curve of every trial that reported something, in history order."""
    trials, mode = _trials_of(source)
    ok = [t for t in trials if t.status == "ok" and t.score is not None]
    sign = -1.0 if mode == "max" else 1.0
    best = min(ok, key=lambda t: (sign * t.score, t.number)).number if ok else None
    out = []
    for t in trials:
        if not t.intermediate:
            continue
        if t.status == "ok":
            kind = "best" if t.number == best else "completed"
        else:
            kind = "pruned" if t.status == "pruned" else "failed"
        out.append(Curve(t.number, kind, [int(s) for s, _ in t.intermediate], [float(v) for _, v in t.intermediate]))
    return out


def plot_curves(source: Any, *, ax: Axes | None = None) -> Figure:
    """One line per trial: the values ``evaluate(model, trial)`` reported against their step.

    Completed trials are blue, the best one thick orange, pruned ones grey ending in an
    ``x`` (where the pruner stopped them), failed ones red dotted.

    Parameters
    ----------
    source : Experiment or list of Trial
        Anything with a ``history`` of trials (and a ``mode``, default "max"), or the trials.
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nasnb._trial import Trial
    >>> trials = [Trial(0, {}, score=0.6, intermediate=[[0, 0.3], [1, 0.6]]),
    ...           Trial(1, {}, "pruned", intermediate=[[0, 0.1], [1, 0.2]])]
    >>> fig = plot_curves(trials)
    >>> [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    ['pruned', 'best (trial 0)']
    """
    from matplotlib.ticker import MaxNLocator

    curves = _curves_data(source)
    fig, ax = _new_axes(ax)
    named: set[str] = set()
    for c in sorted(curves, key=lambda c: c.kind == "best"):
        label = f"best (trial {c.number})" if c.kind == "best" else c.kind
        end: dict[str, Any] = {"marker": "x", "markersize": 7, "markevery": [len(c.steps) - 1]} if c.kind == "pruned" else {}
        ax.plot(c.steps, c.values, label=label if label not in named else f"_{label} {c.number}", **_STYLE[c.kind], **end)
        named.add(label)
    if curves:
        ax.legend(loc="best", fontsize=MIN_FONTSIZE)
    else:
        ax.text(0.5, 0.5, "no trial reported values yet", transform=ax.transAxes, ha="center", va="center",
                fontsize=MIN_FONTSIZE + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.tick_params(labelsize=MIN_FONTSIZE)
    ax.set_xlabel("step", fontsize=MIN_FONTSIZE + 1)
    ax.set_ylabel("reported value", fontsize=MIN_FONTSIZE + 1)
    return fig
