"""A supernet's ranking against the truth: estimate vs true score, one point per architecture (:func:`plot_ranking`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ._style import MIN_FONTSIZE, figure_of, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_ranking"]

_ESTIMATE_LABELS = {
    ("inherited", "loss"): "supernet estimate: −loss with inherited weights",
    ("inherited", "acc"): "supernet estimate: accuracy with inherited weights",
    ("logprob", None): "supernet estimate: log-probability of the architecture",
}


class RankingData(NamedTuple):
    """Plain numbers for :func:`plot_ranking`: ``(estimate, truth)`` points."""

    rest: list[tuple[float, float]]  # architectures outside the true top k
    top: list[tuple[float, float]]  # the true top k, ties included
    exported: tuple[float, float]
    title: str
    x_label: str
    y_label: str
    exported_label: str


def _ranking_data(report: Any) -> RankingData:
    sign = 1.0 if report.mode == "max" else -1.0
    kth = sorted((sign * t for t in report.truths), reverse=True)[report.k - 1]
    top = {i for i, t in enumerate(report.truths) if sign * t >= kth}
    points = list(zip(report.estimates, report.truths))
    words = "higher is better" if report.mode == "max" else "lower is better"
    return RankingData(
        rest=[p for i, p in enumerate(points) if i not in top],
        top=[p for i, p in enumerate(points) if i in top],
        exported=(report.exported_estimate, report.exported_truth),
        title=f"{report.trainer}: Kendall τ = {report.kendall_tau:.2f}, Spearman ρ = {report.spearman_rho:.2f}\n"
              f"top-{report.k} overlap {report.top_k_overlap:.0%} ({len(points)} architectures)",
        x_label=_ESTIMATE_LABELS.get((report.estimate, getattr(report, "score_by", None)),
                                     f"supernet estimate ({report.estimate})"),
        y_label=f"true {report.metric} ({words})",
        exported_label=f"exported: true rank {report.exported_rank} ({report.exported_percentile:.0f}th pct)",
    )


def plot_ranking(report: Any, *, ax: Axes | None = None) -> Figure:
    """Scatter of a :class:`~nasnb.oneshot.RankingReport`: estimate across, true score up.

    Grey points are architectures, the true top ``k`` (ties included) are coloured and the trainer's
    exported architecture is ringed and labelled with its true rank. The title gives
    Kendall's tau, Spearman's rho and the top-k overlap: a good supernet puts its points
    on a rising band.

    Parameters
    ----------
    report : RankingReport
        From :func:`nasnb.oneshot.ranking_quality`.
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> report = SimpleNamespace(trainer="SPOSTrainer", estimate="inherited", score_by="loss", metric="val_acc",
    ...                          mode="max", k=1, archs=[{"a": 0}, {"a": 1}], estimates=[0.5, 0.7], truths=[0.8, 0.9],
    ...                          kendall_tau=1.0, spearman_rho=1.0, top_k_overlap=1.0, exported={"a": 1},
    ...                          exported_estimate=0.7, exported_truth=0.9, exported_rank=1,
    ...                          exported_percentile=100.0)
    >>> fig = plot_ranking(report)
    >>> fig.axes[0].get_ylabel()
    'true val_acc (higher is better)'
    """
    data = _ranking_data(report)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4.8), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = figure_of(ax)
    if data.rest:
        ax.scatter([p[0] for p in data.rest], [p[1] for p in data.rest], s=16, color="#9a9a9a", alpha=0.6,
                   label="architecture")
    if data.top:
        ax.scatter([p[0] for p in data.top], [p[1] for p in data.top], s=30, color=series_style(1)["color"], zorder=3,
                   label=f"true top {report.k}" + (f" ({len(data.top)} with ties)" if len(data.top) > report.k else ""))
    ex, ey = data.exported
    ax.scatter([ex], [ey], s=200, facecolors="none", edgecolors="black", linewidths=2, zorder=4,
               label=data.exported_label)
    ax.annotate("exported", (ex, ey), xytext=(8, -12), textcoords="offset points", fontsize=MIN_FONTSIZE)
    ax.legend(loc="best", fontsize=MIN_FONTSIZE)
    ax.set_title(data.title, fontsize=MIN_FONTSIZE + 1, loc="left")
    ax.set_xlabel(data.x_label, fontsize=MIN_FONTSIZE + 1)
    ax.set_ylabel(data.y_label, fontsize=MIN_FONTSIZE + 1)
    ax.tick_params(labelsize=MIN_FONTSIZE)
    ax.grid(alpha=0.3)
    return fig
