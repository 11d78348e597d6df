"""Whether code runs in a Jupyter kernel, where rich outputs (widgets, live plots) can show.

>>> in_notebook()  # a script or a test
False
"""

from __future__ import annotations

import sys

__all__ = ["in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel; never imports IPython (only looks at it when it is loaded)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return getattr(shell, "kernel", None) is not None
