"""``nni.nas.pytorch.callbacks``: NNI 1.x's trainer callbacks (``build(model, mutator, trainer)``).

The NNI-style trainers here also accept nasnb's own callbacks (:mod:`nasnb.oneshot.callbacks`).

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> from nasnb.compat.nni.nas.pytorch.darts import DartsTrainer
>>> class Count(Callback):
...     def __init__(self):
...         super().__init__()
...         self.epochs = []
...     def on_epoch_end(self, epoch):
...         self.epochs.append(epoch)
>>> net = nn.Sequential(LayerChoice([nn.Linear(4, 2), nn.Linear(4, 2, bias=False)], key="fc"))
>>> data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
>>> count = Count()
>>> trainer = DartsTrainer(net, nn.functional.cross_entropy, None, torch.optim.SGD(net.parameters(), lr=0.1), 2,
...                        data, data, batch_size=8, workers=0, callbacks=[count])
>>> _ = trainer.train()
>>> count.epochs, count.trainer is trainer, count.mutator is trainer.mutator
([0, 1], True, True)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import torch

from nasnb._atomic import save_with
from nasnb.oneshot import callbacks as native

from .utils import AverageMeterGroup

__all__ = ["ArchitectureCheckpoint", "Callback", "LRSchedulerCallback", "ModelCheckpoint"]

_logger = logging.getLogger("nni")


class Callback:
    """Base class: ``build`` gets the model, the mutator and the trainer; override the events."""

    def __init__(self) -> None:
        self.model: Any = None
        self.mutator: Any = None
        self.trainer: Any = None

    def build(self, model: Any, mutator: Any, trainer: Any) -> None:
        """Called once by the trainer."""
        self.model, self.mutator, self.trainer = model, mutator, trainer

    def on_epoch_begin(self, epoch: int) -> None:
        """Before each epoch."""

    def on_epoch_end(self, epoch: int) -> None:
        """After each epoch (and its validation)."""

    def on_batch_begin(self, epoch: int) -> None:
        """Before each training batch."""

    def on_batch_end(self, epoch: int) -> None:
        """After each training batch."""


class LRSchedulerCallback(Callback):
    """Step ``scheduler`` after every epoch."""

    def __init__(self, scheduler: Any, mode: str = "epoch"):
        super().__init__()
        if mode != "epoch":
            raise ValueError(f"LRSchedulerCallback: mode must be 'epoch' (as in NNI 1.x), got {mode!r}")
        self.scheduler = scheduler
        self.mode = mode

    def on_epoch_end(self, epoch: int) -> None:
        self.scheduler.step()


class ArchitectureCheckpoint(Callback):
    """Write the trainer's export to ``<checkpoint_dir>/epoch_{n}.json`` after every epoch."""

    def __init__(self, checkpoint_dir: str | os.PathLike[str]):
        super().__init__()
        self.checkpoint_dir = os.fspath(checkpoint_dir)
        os.makedirs(self.checkpoint_dir, exist_ok=True)

    def on_epoch_end(self, epoch: int) -> None:
        path = os.path.join(self.checkpoint_dir, f"epoch_{epoch}.json")
        _logger.info("Saving architecture to %s", path)
        self.trainer.export(path)


class ModelCheckpoint(Callback):
    """Save the model's ``state_dict`` to ``<checkpoint_dir>/epoch_{n}.pth.tar`` after every epoch."""

    def __init__(self, checkpoint_dir: str | os.PathLike[str]):
        super().__init__()
        self.checkpoint_dir = os.fspath(checkpoint_dir)
        os.makedirs(self.checkpoint_dir, exist_ok=True)

    def on_epoch_end(self, epoch: int) -> None:
        model = getattr(self.model, "module", self.model)  # unwrap DataParallel
        state = model.state_dict()
        path = os.path.join(self.checkpoint_dir, f"epoch_{epoch}.pth.tar")
        _logger.info("Saving model to %s", path)
        save_with(path, lambda f: torch.save(state, f))


class _Adapter(native.Callback):
    """Runs an NNI-style callback inside a nasnb trainer's loop."""

    def __init__(self, callback: Callback):
        super().__init__()
        self.callback = callback

    def build(self, trainer: Any) -> None:
        super().build(trainer)
        self.callback.build(trainer.model, getattr(trainer, "mutator", None), trainer)

    def on_epoch_begin(self, epoch: int) -> None:
        self.callback.on_epoch_begin(epoch)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.callback.on_epoch_end(epoch)

    def on_batch_begin(self, batch: int) -> None:
        self.callback.on_batch_begin(self.trainer.epoch)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self.callback.on_batch_end(self.trainer.epoch)


class _LogEvery(native.Callback):
    """NNI's ``log_frequency``: log the running averages every ``n`` steps."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n
        self.meters = AverageMeterGroup()

    def on_epoch_begin(self, epoch: int) -> None:
        self.meters = AverageMeterGroup()

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self.meters.update(logs)
        if (batch + 1) % self.n == 0:
            _logger.info("Epoch [%d/%d] Step [%d]  %s", self.trainer.epoch + 1, self.trainer.num_epochs, batch + 1,
                         self.meters.summary())


def native_callbacks(callbacks: Sequence[Any] | None, log_frequency: int | None) -> list[Any]:
    """nasnb callbacks for NNI arguments: NNI-style callbacks wrapped, nasnb ones as given."""
    out: list[Any] = []
    for cb in callbacks or []:
        if isinstance(cb, Callback):
            out.append(_Adapter(cb))
        elif isinstance(cb, native.Callback):
            out.append(cb)
        else:
            raise TypeError(f"callbacks: {cb!r} is neither an nni.nas.pytorch.callbacks.Callback nor a "
                            f"nasnb.oneshot.callbacks.Callback")
    if log_frequency is not None:
        if not isinstance(log_frequency, int) or isinstance(log_frequency, bool) or log_frequency < 1:
            raise ValueError(f"log_frequency must be an int >= 1 or None, got {log_frequency!r}")
        out.append(_LogEvery(log_frequency))
    return out


def nni_device(device: Any) -> torch.device:
    """NNI's default device: CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
