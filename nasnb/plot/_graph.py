"""What every graph drawing does: its axes, its edges as line collections, its frame.

:func:`nasnb.plot.draw_space` (the recorded graph, boxes sized to their labels) and
:func:`nasnb.plot.plot_arch_graph` (edges shaded by architecture weights) draw nodes
differently but share these steps, so axes sizing, edge drawing and framing are one
rule in one place.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig, ax = graph_axes(None, (3.0, 2.0), title=True)  # room above for the title
>>> draw_edges(ax, [[(0.0, 0.0), (1.0, 1.0)]], colors=["#1f77b4"], widths=[1.5])
>>> frame(ax, (-0.5, 1.5, -0.5, 1.5), title="g")
>>> fig.get_size_inches().tolist(), ax.get_title(), len(ax.collections)
([3.0, 2.32], 'g', 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._style import MIN_FONTSIZE, figure_of

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["TITLE_FONTSIZE", "draw_edges", "frame", "graph_axes"]

#: Font size of a graph drawing's title.
TITLE_FONTSIZE = MIN_FONTSIZE + 1
#: Inches above the graph kept for a title.
TITLE_ROOM = 0.32


def graph_axes(ax: Axes | None, figsize: tuple[float, float], *, title: bool = False) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure of ``figsize`` inches whose axes fill it (room above for a title)."""
    if ax is not None:
        return figure_of(ax), ax
    from matplotlib.figure import Figure

    w, h = figsize
    top = TITLE_ROOM if title else 0.0
    fig = Figure(figsize=(w, h + top))
    return fig, fig.add_axes((0.0, 0.0, 1.0, h / (h + top)))


def draw_edges(ax: Axes, lines: Sequence[Sequence[tuple[float, float]]], *, colors: Sequence[Any],
               widths: Sequence[float], zorder: float = 1, **style: Any) -> None:
    """Draw edges (each a polyline of points) as one line collection: far faster than a line per edge."""
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection(lines, colors=colors, linewidths=widths, zorder=zorder, **style))


def frame(ax: Axes, limits: tuple[float, float, float, float], title: str | None = None) -> None:
    """Show exactly ``limits`` (x0, x1, y0, y1), without axes; add ``title`` if given."""
    x0, x1, y0, y1 = limits
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE_FONTSIZE)
