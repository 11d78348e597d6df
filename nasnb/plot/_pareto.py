"""The Pareto front of a multi-objective search: every trial as a point, the front as a staircase.

Examples
--------
>>> from nasnb._trial import Trial
>>> class Run:  # anything with ``history`` and ``objectives``, as an Experiment
...     objectives = {"acc": "max", "params": "min"}
...     history = [Trial(0, {}, metrics={"acc": 0.9, "params": 10.0}), Trial(1, {}, metrics={"acc": 0.8, "params": 5.0}),
...                Trial(2, {}, metrics={"acc": 0.7, "params": 20.0})]
>>> data = _pareto_data(Run())
>>> data.x_name, data.y_name, [n for n, _, _ in data.front]
('params', 'acc', [1, 0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ._style import MIN_FONTSIZE, figure_of, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_pareto"]

_LABELLED = 12  # front points labelled with their trial number, at most


class ParetoData(NamedTuple):
    """Plain lists for :func:`plot_pareto`: ``(trial number, x, y)`` points."""

    points: list[tuple[int, float, float]]  # every ok trial with both values
    front: list[tuple[int, float, float]]  # non-dominated in (x, y), by increasing x
    x_name: str
    y_name: str
    x_mode: str
    y_mode: str


def _pareto_data(source: Any, x: str | None = None, y: str | None = None) -> ParetoData:
    from ..objectives import objective_values, pareto_front

    objectives = getattr(source, "objectives", None)
    if not objectives or len(objectives) < 2:
        raise ValueError(f"plot_pareto needs an experiment with at least two objectives, got objectives={objectives!r}")
    names = list(objectives)
    y = names[0] if y is None else y
    x = next(n for n in names if n != y) if x is None else x
    for axis, name in (("x", x), ("y", y)):
        if name not in objectives:
            raise ValueError(f"plot_pareto: {axis}={name!r} is not an objective; expected one of {names}")
    if x == y:
        raise ValueError(f"plot_pareto: x and y are both {x!r}; pick two different objectives of {names}")
    pair = {x: objectives[x], y: objectives[y]}
    points = [(t.number, v[0], v[1]) for t in source.history if (v := objective_values(t, pair)) is not None]
    front = sorted(((t.number, t.metrics[x], t.metrics[y]) for t in pareto_front(source.history, pair)),
                   key=lambda p: (p[1], p[0]))
    return ParetoData(points, front, x, y, pair[x], pair[y])  # type: ignore[arg-type]  # metrics are numbers here


def plot_pareto(source: Any, x: str | None = None, y: str | None = None, *, highlight: int | None = None,
                ax: Axes | None = None) -> Figure:
    """Every successful trial as a grey point, the Pareto front in colour, joined as a staircase.

    Parameters
    ----------
    source : Experiment
        An experiment with ``objectives`` (two or more).
    x, y : str, optional
        Objectives on each axis. Default: the first objective up, the second across.
    highlight : int, optional
        A trial number to ring (the one picked in :class:`nasnb.widgets.ParetoView`).
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.

    Raises
    ------
    ValueError
        For an experiment with fewer than two objectives, or ``x``/``y`` not among them.

    Examples
    --------
    >>> from nasnb._trial import Trial
    >>> class Run:
    ...     objectives = {"acc": "max", "params": "min"}
    ...     history = [Trial(0, {}, metrics={"acc": 0.9, "params": 10.0}), Trial(1, {}, metrics={"acc": 0.8, "params": 5.0})]
    >>> fig = plot_pareto(Run(), highlight=0)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('params (lower is better)', 'acc (higher is better)')
    """
    data = _pareto_data(source, x, y)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = figure_of(ax)
    on_front = {n for n, _, _ in data.front}
    rest = [(px, py) for n, px, py in data.points if n not in on_front]
    if rest:
        ax.scatter([p[0] for p in rest], [p[1] for p in rest], s=22, color="#9a9a9a", alpha=0.7, label="trial")
    if data.front:
        color = series_style(1)["color"]
        fx, fy = [p[1] for p in data.front], [p[2] for p in data.front]
        ax.step(fx, fy, where="post" if data.y_mode == "max" else "pre", color=color, linewidth=1.5, alpha=0.8)
        ax.scatter(fx, fy, s=44, color=color, zorder=3, label=f"Pareto front ({len(data.front)})")
        if len(data.front) <= _LABELLED:
            for n, px, py in data.front:
                ax.annotate(f"#{n}", (px, py), xytext=(4, 4), textcoords="offset points", fontsize=MIN_FONTSIZE)
    picked = [(px, py) for n, px, py in data.points if n == highlight]
    if picked:
        ax.scatter([p[0] for p in picked], [p[1] for p in picked], s=180, facecolors="none", edgecolors="black",
                   linewidths=2, zorder=4,
                   label=f"picked #{highlight}")
    if data.points:
        ax.legend(loc="best", fontsize=MIN_FONTSIZE)
    words = {"max": "higher is better", "min": "lower is better"}
    ax.set_xlabel(f"{data.x_name} ({words[data.x_mode]})", fontsize=MIN_FONTSIZE + 1)
    ax.set_ylabel(f"{data.y_name} ({words[data.y_mode]})", fontsize=MIN_FONTSIZE + 1)
    ax.tick_params(labelsize=MIN_FONTSIZE)
    ax.grid(alpha=0.3)
    return fig
