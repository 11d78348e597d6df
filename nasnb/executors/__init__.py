"""Where trials run: inline (default), local processes, or Ray — one interface.

``Experiment(executor="inline" | "process" | "ray")`` picks one by name; pass an
instance to configure it (``ProcessExecutor(start_method="fork")``,
``RayExecutor(address="auto")``).
"""

from __future__ import annotations

from typing import Any

from ._base import Executor
from .inline import InlineExecutor
from .process import ProcessExecutor
from .ray_executor import RayExecutor

__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "ProcessExecutor", "RayExecutor", "make_executor"]

EXECUTORS: dict[str, type[Executor]] = {cls.name: cls for cls in (InlineExecutor, ProcessExecutor, RayExecutor)}


def make_executor(executor: str | Executor, **kwargs: Any) -> Executor:
    """An executor from a name in :data:`EXECUTORS` (or the instance itself).

    >>> make_executor("process")
    ProcessExecutor(start_method='spawn', slots=1)
    """
    if isinstance(executor, Executor):
        return executor
    if isinstance(executor, str) and executor in EXECUTORS:
        return EXECUTORS[executor](**kwargs)
    raise ValueError(f"unknown executor {executor!r}; expected an Executor or one of {sorted(EXECUTORS)}")
