"""Callbacks for the one-shot trainers: checkpoints, exported architectures, LR schedules.

A callback sees the trainer through :meth:`Callback.build` and hears the loop's events;
the trainers write nothing to disk unless a callback here does (under ``torch.distributed``
only rank 0 writes). Every file is written atomically (a temporary file beside it, then a
rename): a crash or a full disk during a save leaves the previous file as it was.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.oneshot import SPOSTrainer
>>> from nasnb.oneshot.callbacks import Callback
>>> class MeanLoss(Callback):
...     def __init__(self):
...         super().__init__()
...         self.seen = []
...     def on_epoch_end(self, epoch, logs):
...         self.seen.append((epoch, sorted(logs)))
>>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 2), nn.Linear(4, 2, bias=False)], key="fc"))
>>> data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
>>> cb = MeanLoss()
>>> _ = SPOSTrainer(net, nn.functional.cross_entropy, num_epochs=2, dataset_train=data, batch_size=8,
...                 callbacks=[cb], progress=False).train()
>>> cb.seen
[(0, ['loss']), (1, ['loss'])]
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

    @property
    def _writes(self) -> bool:
        """Whether this process writes files: rank 0 only under ``torch.distributed``."""
        return bool(getattr(getattr(self.trainer, "dist", None), "is_main", True))


class ArchitectureCheckpoint(_DirCallback):
    """Write the exported architecture to ``<dir>/epoch_{n}.json`` after every epoch (NNI name)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        arch = self.trainer.export()  # on every rank (SPOS's default search is a collective)
        if not self._writes:
            return
        with atomic_file(self._path(f"epoch_{epoch}.json"), "w") as f:
            json.dump(dict(arch), f, indent=2)
            f.write("\n")


class ModelCheckpoint(_DirCallback):
    """Save the supernet's ``state_dict`` to ``<dir>/epoch_{n}.pth.tar`` after every epoch (NNI name)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if not self._writes:
            return
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
    """Step a learning-rate scheduler after every epoch (``mode="epoch"``) or every batch (``"step"``).

    Parameters
    ----------
    scheduler : torch.optim.lr_scheduler.LRScheduler
        Any object with ``step()``.
    mode : {"epoch", "step"}
        ``"step"`` calls ``scheduler.step()`` after each training batch, for schedules
        counted in steps (warm-up, one-cycle, cosine over all steps).

    Raises
    ------
    ValueError
        ``mode`` is neither "epoch" nor "step".

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> cb = LRSchedulerCallback(torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), mode="step")
    >>> for batch in range(3):  # a training step, then the callback's batch end
    ...     opt.step()
    ...     cb.on_batch_end(batch, {})
    >>> cb.on_epoch_end(0, {})  # "step" mode: nothing at the epoch's end
    >>> opt.param_groups[0]["lr"]
    0.125
    """

    def __init__(self, scheduler: Any, mode: str = "epoch"):
        super().__init__()
        if mode not in ("epoch", "step"):
            raise ValueError(f"LRSchedulerCallback mode must be 'epoch' or 'step', got {mode!r}")
        self.scheduler = scheduler
        self.mode = mode

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self.mode == "step":
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.mode == "epoch":
            self.scheduler.step()
