"""``nni.nas.pytorch.trainer``: ``Trainer``, the base of hand-written NNI 1.x trainers.

Subclass it and implement ``train_one_epoch(epoch)`` and ``validate_one_epoch(epoch)``
(as NNI's CDARTS, Cream or your own trainers do); ``train()`` runs the epochs with the
callbacks, ``export(file)`` writes ``mutator.export()`` as JSON. nasnb's ready-made
trainers (:mod:`nasnb.compat.nni.nas.pytorch.darts` and siblings) do not derive from it:
they are nasnb's own trainers with NNI's arguments. NNI's TensorBoard-style log folder
(``logs/<time>``) is not written.

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> from nasnb.compat.nni.nas.pytorch.random import RandomMutator
>>> class Epochs(Trainer):
...     def train_one_epoch(self, epoch):
...         self.mutator.reset()
...     def validate_one_epoch(self, epoch):
...         pass
>>> net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
>>> t = Epochs(net, RandomMutator(net), nn.MSELoss(), None, None, 2, None, None, 8, 0, "cpu", None, None)
>>> t.train()
>>> sorted(t.mutator.export())
['act']
"""

from __future__ import annotations

import json
import logging
import os
from abc import abstractmethod
from typing import Any

import torch
from torch import nn

from nasnb._atomic import write_text

from .base_trainer import BaseTrainer
from .callbacks import Callback, nni_device

__all__ = ["TorchTensorEncoder", "Trainer"]

_logger = logging.getLogger("nni")


class TorchTensorEncoder(json.JSONEncoder):
    """JSON encoder that writes tensors as lists."""

    def default(self, o: Any) -> Any:
        if torch.is_tensor(o):
            return o.detach().cpu().tolist()
        return super().default(o)


class Trainer(BaseTrainer):
    """An NNI 1.x trainer with a model, a mutator, data and callbacks (NNI's argument order)."""

    def __init__(self, model: nn.Module, mutator: Any, loss: Any, metrics: Any, optimizer: Any, num_epochs: int,
                 dataset_train: Any, dataset_valid: Any, batch_size: int, workers: int, device: Any,
                 log_frequency: int | None, callbacks: list[Callback] | None):
        self.device = nni_device(device)
        self.model = model.to(self.device)
        self.mutator: Any = mutator.to(self.device) if isinstance(mutator, nn.Module) else mutator
        self.loss = loss.to(self.device) if isinstance(loss, nn.Module) else loss
        self.metrics = metrics
        self.optimizer = optimizer
        self.num_epochs = num_epochs
        self.dataset_train, self.dataset_valid = dataset_train, dataset_valid
        self.batch_size, self.workers = batch_size, workers
        self.log_frequency = log_frequency
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: {cb!r} is not an nni.nas.pytorch.callbacks.Callback")
            cb.build(self.model, self.mutator, self)

    @abstractmethod
    def train_one_epoch(self, epoch: int) -> Any:
        """Train one epoch."""

    @abstractmethod
    def validate_one_epoch(self, epoch: int) -> Any:
        """Validate after epoch ``epoch`` (-1: a stand-alone validation)."""

    def train(self, validate: bool = True) -> None:
        """Run ``num_epochs`` epochs (each validated when ``validate``), with the callbacks."""
        for epoch in range(self.num_epochs):
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch)
            _logger.info("Epoch %d Training", epoch + 1)
            self.train_one_epoch(epoch)
            if validate:
                _logger.info("Epoch %d Validating", epoch + 1)
                self.validate_one_epoch(epoch)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch)

    def validate(self) -> Any:
        """One validation (``validate_one_epoch(-1)``)."""
        return self.validate_one_epoch(-1)

    def export(self, file: str | os.PathLike[str]) -> dict[str, Any]:
        """Write ``mutator.export()`` to ``file`` as JSON (atomically); return it."""
        arch: dict[str, Any] = self.mutator.export()
        write_text(file, json.dumps(arch, indent=2, sort_keys=True, cls=TorchTensorEncoder) + "\n")
        return arch

    def checkpoint(self) -> Any:
        """Not provided by NNI 1.x's Trainer either."""
        raise NotImplementedError("Trainer.checkpoint is not implemented (as in NNI 1.x); save the model and "
                                  "mutator state_dicts, or use ModelCheckpoint")

    def enable_visualization(self) -> None:
        """NNI's NAS UI visualization is not provided; see nasnb.plot and nasnb.Explorer."""
        raise NotImplementedError("enable_visualization (NNI's NAS UI) is not provided by nasnb.compat; use "
                                  "nasnb.Explorer(model, x) or nasnb.plot.plot_arch_weights(trainer.history)")
