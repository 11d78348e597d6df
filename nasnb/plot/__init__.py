"""Pure plotting functions: each returns a matplotlib Figure or draws on a given ``ax``.

Each plot has a ``_<name>_data`` step (plain numbers, tested by value) and a drawing
step; nothing calls ``plt.show`` or changes global style. matplotlib loads when this
module is first used (``nasnb.plot``), never at ``import nasnb``.
"""

from __future__ import annotations

from ._cell import draw_cell
from ._curves import plot_curves
from ._history import plot_arch_entropy, plot_arch_graph, plot_arch_heatmap, plot_arch_weights
from ._insight import plot_importance, plot_parallel
from ._pareto import plot_pareto
from ._ranking import plot_ranking
from ._space import draw_space, plot_candidates
from ._trials import plot_best_so_far, plot_trials

__all__ = [
    "draw_cell",
    "draw_space",
    "plot_arch_entropy",
    "plot_arch_graph",
    "plot_arch_heatmap",
    "plot_arch_weights",
    "plot_best_so_far",
    "plot_candidates",
    "plot_curves",
    "plot_importance",
    "plot_parallel",
    "plot_pareto",
    "plot_ranking",
    "plot_trials",
]
