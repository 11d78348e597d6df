"""Shared plot style: the smallest readable font and distinguishable series styles.

Every nasnb plot uses these, so "readable at the default size" is one rule in one place:
no text below :data:`MIN_FONTSIZE` points, and up to 30 series told apart by colour
*and* line style (colour alone repeats after 10).

>>> series_style(0)["color"] != series_style(10)["color"] or series_style(0)["linestyle"] != series_style(10)["linestyle"]
True
>>> len({tuple(sorted(series_style(i).items())) for i in range(30)})
30
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MIN_FONTSIZE", "series_style"]

#: Smallest font size (points) of any text a nasnb plot draws.
MIN_FONTSIZE = 9.0

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
_LINESTYLES = ("-", "--", ":")
_MARKERS = ("o", "s", "^")


def series_style(i: int) -> dict[str, Any]:
    """Matplotlib keyword arguments (color, linestyle, marker) for the ``i``-th series.

    Colours cycle over 10; every 10 series the line style and marker change, so 30 series
    are all distinct (beyond that, give a legend).
    """
    block = (i // len(_COLORS)) % len(_LINESTYLES)
    return {"color": _COLORS[i % len(_COLORS)], "linestyle": _LINESTYLES[block], "marker": _MARKERS[block]}


def figure_of(ax: Axes) -> Figure:
    """``ax.figure``: what the plot functions return when drawing on a given ``ax``.

    For an Axes inside a SubFigure that is the SubFigure (it draws and is returned like a
    Figure, as before); matplotlib types ``ax.figure`` as ``Figure | SubFigure``.
    """
    return ax.figure  # type: ignore[return-value]  # a SubFigure for an Axes in one; documented as the Figure
