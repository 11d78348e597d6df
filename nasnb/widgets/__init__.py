"""Notebook widgets: a control for each choice, the :class:`Explorer` panel and the :class:`ParetoView`.

Loaded on first use (``nasnb.Explorer``, ``nasnb.widgets``), never by ``import nasnb``.
A LayerChoice / InputChoice displayed in a notebook shows :func:`mimebundle` (its :func:`choice_widget`).
"""

from __future__ import annotations

try:
    import ipywidgets  # noqa: F401
except ImportError as err:  # pragma: no cover - ipywidgets is a dependency of the notebook parts
    raise ImportError("nasnb.widgets needs ipywidgets: pip install ipywidgets") from err

from ..exceptions import LoadError
from ._choice import MAX_TOGGLES, ChoiceControl, ChoiceWidget, SharedLook, choice_widget, mimebundle, one_line
from ._explorer import Explorer
from ._pareto import ParetoView

__all__ = [
    "ChoiceControl",
    "ChoiceWidget",
    "Explorer",
    "LoadError",
    "MAX_TOGGLES",
    "ParetoView",
    "SharedLook",
    "choice_widget",
    "mimebundle",
    "one_line",
]
