"""``nni.nas.pytorch.base_trainer``: the abstract interface of every NNI 1.x trainer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["BaseTrainer"]


class BaseTrainer(ABC):
    """``train``, ``validate``, ``export`` and ``checkpoint``: what every trainer provides."""

    @abstractmethod
    def train(self) -> Any:
        """Train the supernet (and the architecture)."""

    @abstractmethod
    def validate(self) -> Any:
        """Validate the current state."""

    @abstractmethod
    def export(self, file: Any) -> Any:
        """Write the chosen architecture to ``file``."""

    @abstractmethod
    def checkpoint(self) -> Any:
        """Save a checkpoint."""
