"""Callbacks for the one-shot trainers: checkpoints, exported architectures, LR schedules.

A callback sees the trainer through :meth:`Callback.build` and hears the loop's events;
the trainers write nothing to disk unless a callback here does. Every file is written
atomically (a temporary file beside it, then a rename): a crash or a full disk during a
save leaves the previous file as it was.

Examples
--------
>>> from nasnb.oneshot.callbacks import Callback
>>> class CountEpochs(Callback):
...     def __init__(self):
...         super().__init__()
...         self.seen = []
...     def on_epoch_end(self, epoch, logs):
...         self.seen.append(epoch)
>>> CountEpochs().seen
[]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .._atomic import atomic_file, save_with

__all__ = ["ArchitectureCheckpoint", "Callback", "Checkpoint", "LRSchedulerCallback", "ModelCheckpoint"]


class Callback:
    """Base class: override the events you need (all default to doing nothing)."""

    def __init__(self) -> None:
        self.trainer: Any = None

    def build(self, trainer: Any) -> None:
        """Called once by the trainer's constructor."""
        self.trainer = trainer

    def on_train_begin(self) -> None: ...
    def on_train_end(self) -> None: ...
    def on_epoch_begin(self, epoch: int) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...
    def on_batch_begin(self, batch: int) -> None: ...
    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None: ...


class _DirCallback(Callback):
    def __init__(self, checkpoint_dir: str | os.PathLike[str]):
        super().__init__()
        self.checkpoint_dir = Path(checkpoint_dir)

    def _path(self, name: str) -> Path:
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return self.checkpoint_dir / name


class ArchitectureCheckpoint(_DirCallback):
    """Write the exported architecture to ``<dir>/epoch_{n}.json`` after every epoch (NNI name)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        arch = self.trainer.export()
        with atomic_file(self._path(f"epoch_{epoch}.json"), "w") as f:
            json.dump(dict(arch), f, indent=2)
            f.write("\n")


class ModelCheckpoint(_DirCallback):
    """Save the supernet's ``state_dict`` to ``<dir>/epoch_{n}.pth.tar`` after every epoch (NNI name)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        model = self.trainer.model
        model = getattr(model, "module", model)  # unwrap DataParallel
        state = model.state_dict()
        save_with(self._path(f"epoch_{epoch}.pth.tar"), lambda f: torch.save(state, f))


class Checkpoint(_DirCallback):
    """Save everything needed to resume to ``<dir>/checkpoint.pt`` after every ``every`` epochs.

    Resume with ``trainer.load_checkpoint(path)`` followed by ``trainer.train()``.
    """

    def __init__(self, checkpoint_dir: str | os.PathLike[str], every: int = 1):
        super().__init__(checkpoint_dir)
        self.every = every

    @property
    def path(self) -> Path:
        """Where the checkpoint is written."""
        return self.checkpoint_dir / "checkpoint.pt"

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if (epoch + 1) % self.every == 0:
            self.trainer.save_checkpoint(self._path("checkpoint.pt"))


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler at the end of every epoch."""

    def __init__(self, scheduler: Any, mode: str = "epoch"):
        super().__init__()
        if mode != "epoch":
            raise ValueError(f"LRSchedulerCallback mode must be 'epoch', got {mode!r}")
        self.scheduler = scheduler

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.scheduler.step()
