"""The training loop every one-shot trainer shares: data, device, loss, metrics, callbacks.

A subclass implements the algorithm: ``_check_space`` (refuse unsupported keys before
training), ``_train_step`` (one weight/architecture update), ``_arch_weights`` (what the
history records), ``_export_indices`` and, for supernet modes, ``_enter``/``_exit``.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset

from ..architecture import dump_json
from ..exceptions import NasnbError
from ..space import SearchSpace
from .history import ArchHistory

__all__ = ["OneShotTrainer", "TrainingError", "accuracy"]


class TrainingError(NasnbError, ValueError):
    """Training cannot go on: empty data, a non-scalar or NaN loss, a diverged architecture."""


def accuracy(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Top-1 accuracy of class scores ``output`` (N x C) against labels ``target`` (N).

    >>> import torch
    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    {'acc': 0.5}
    """
    if isinstance(output, (tuple, list)):
        output = output[0]
    return {"acc": float((output.argmax(dim=1) == target).float().mean())}


def _is_loader(data: Any) -> bool:
    return isinstance(data, DataLoader) or (
        not isinstance(data, Dataset) and not hasattr(data, "__getitem__") and hasattr(data, "__iter__")
    )


class _Cycle:
    """Endless iterator over a loader factory (a new epoch of batches when one runs out)."""

    def __init__(self, make: Callable[[int], Iterable], what: str):
        self.make, self.what, self.round, self.it = make, what, 0, None

    def __next__(self) -> Any:
        for _ in range(2):
            if self.it is None:
                self.it = iter(self.make(self.round))
                self.round += 1
            try:
                return next(self.it)
            except StopIteration:
                self.it = None
        raise TrainingError(f"{self.what} yielded no batches; expected at least one batch")


class OneShotTrainer:
    """Base class of the one-shot trainers (see :class:`DartsTrainer` and siblings).

    Parameters
    ----------
    model : nn.Module or SearchSpace
        The supernet: a model with mutables, or a space bound to it.
    loss : callable
        ``loss(output, target) -> scalar tensor`` (a function or an ``nn.Module``).
    metrics : callable, optional
        ``metrics(output, target) -> dict[str, float]`` (e.g. :func:`accuracy`).
    optimizer : torch.optim.Optimizer, optional
        Optimizer of the model weights; default SGD(lr=0.025, momentum=0.9, wd=3e-4).
    num_epochs : int
        Epochs that :meth:`train` runs in total (a resumed run continues to this number).
    dataset_train, dataset_valid : Dataset or iterable of batches
        Batches are ``(input, target)``. A dataset is batched (``batch_size``) and
        shuffled with a seeded generator; a loader is used as given.
    arch_data : Dataset or iterable, optional
        Data for the architecture updates; by default a fraction of ``dataset_train``
        (``arch_split``) is held out for them.
    batch_size, workers : int
        Used when a dataset (not a loader) is given.
    device : str or torch.device, optional
        Where to train; default the device of the model's parameters.
    callbacks : list of Callback, optional
        See :mod:`nasnb.oneshot.callbacks`. Nothing is written to disk unless a callback does.
    grad_clip : float or None
        Clip the weights' gradient norm (NNI: 5.0).
    aux_weight : float
        If the model returns ``(logits, aux_logits)``, add ``aux_weight * loss(aux_logits)``.
    seed : int
        Seeds data order, sampling and architecture-parameter initialisation.
    history_every : int
        Record the architecture weights every this many steps (and at each epoch end).
    progress, live_plot : bool or "auto"
        Progress bar / live plot of the weights; "auto" = only in a Jupyter kernel. In a
        script, ``progress`` logs a text line per epoch.
    """

    kind = "weights"
    arch_split = 0.0
    uses_arch_data = False

    def __init__(
        self,
        model: nn.Module | SearchSpace,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Callable[[Any, Any], Mapping[str, float]] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        num_epochs: int = 1,
        dataset_train: Any = None,
        dataset_valid: Any = None,
        *,
        arch_data: Any = None,
        batch_size: int = 64,
        workers: int = 0,
        device: str | torch.device | None = None,
        callbacks: Sequence[Any] | None = None,
        grad_clip: float | None = 5.0,
        aux_weight: float = 0.0,
        seed: int = 0,
        history_every: int = 1,
        progress: bool | str = "auto",
        live_plot: bool | str = "auto",
    ):
        self.space = model if isinstance(model, SearchSpace) else SearchSpace(model)
        self.model = self.space.model
        if not callable(loss):
            raise TypeError(f"loss must be callable as loss(output, target), got {type(loss).__name__}")
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise ValueError(f"num_epochs must be an int >= 0, got {num_epochs!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if dataset_train is None:
            raise TrainingError("dataset_train is None; expected a dataset or a loader of (input, target) batches")
        if device is None:
            p = next(self.model.parameters(), None)
            device = p.device if p is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.model.to(self.device)
        self.loss = loss.to(self.device) if isinstance(loss, nn.Module) else loss
        self.metrics = metrics
        self.num_epochs = num_epochs
        self.batch_size, self.workers = batch_size, workers
        self.grad_clip, self.aux_weight = grad_clip, aux_weight
        self.seed = seed
        self.history_every = history_every
        self.progress, self.live_plot = progress, live_plot
        self.callbacks = list(callbacks or [])
        self.epoch = 0
        self.global_step = 0
        self.rng = random.Random(seed)
        self.generator = torch.Generator(device=self.device if self.device.type != "mps" else "cpu")
        self.generator.manual_seed(seed)
        self._check_data("dataset_train", dataset_train)
        if dataset_valid is not None:
            self._check_data("dataset_valid", dataset_valid)
        if arch_data is not None:
            self._check_data("arch_data", arch_data)
        self.dataset_valid = dataset_valid
        self.dataset_train, self.arch_data = self._split(dataset_train, arch_data)
        self._check_space()
        weights = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = optimizer if optimizer is not None or not weights else torch.optim.SGD(
            weights, lr=0.025, momentum=0.9, weight_decay=3e-4
        )
        self._build()
        self.history = ArchHistory({k: self.space[k] for k in self.space}, kind=self.kind)
        self._depth = 0
        self._live: Any = None
        for cb in self.callbacks:
            cb.build(self)

    # ------------------------------------------------------------- hooks
    def _check_space(self) -> None:
        """Raise SearchSpaceError naming a key this algorithm cannot handle."""

    def _build(self) -> None:
        """Create architecture parameters / controllers (after ``_check_space``)."""

    def _enter(self) -> None:
        """Install the supernet mode (mixers) before training or validation."""

    def _exit(self) -> None:
        """Undo :meth:`_enter`."""

    def _train_step(self, x: Any, y: Any, arch_batch: Any) -> dict[str, float]:
        raise NotImplementedError

    def _eval_arch(self, batch_index: int) -> None:
        """Set the architecture a validation batch runs (supernet mode: nothing)."""

    def _arch_weights(self) -> dict[str, list[float]]:
        raise NotImplementedError

    def _export_indices(self) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    def _algo_state(self) -> dict[str, Any]:
        return {}

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        pass

    # -------------------------------------------------------------- data
    @staticmethod
    def _check_data(what: str, data: Any) -> None:
        try:
            n = len(data)
        except TypeError:
            return
        if n == 0:
            raise TrainingError(f"{what} is empty (0 {'batches' if _is_loader(data) else 'samples'}); "
                                f"expected at least one (input, target) batch")

    def _split(self, data: Any, arch_data: Any) -> tuple[Any, Any]:
        if not self.uses_arch_data or arch_data is not None:
            return data, arch_data
        if _is_loader(data):
            raise TrainingError(
                f"{type(self).__name__}: dataset_train is a loader, so it cannot be split into weight and "
                f"architecture halves; pass a Dataset, or pass arch_data="
            )
        n = len(data)
        n_arch = round(n * self.arch_split)
        if n_arch < 1 or n - n_arch < 1:
            raise TrainingError(
                f"dataset_train has {n} samples: too few to hold out {self.arch_split:.0%} for the "
                f"architecture updates; expected at least 2 samples, or pass arch_data="
            )
        return Subset(data, range(n - n_arch)), Subset(data, range(n - n_arch, n))

    def _loader(self, data: Any, shuffle: bool, salt: int) -> Iterable:
        if _is_loader(data):
            return data
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + salt)
        sampler = RandomSampler(data, generator=g) if shuffle else None
        return DataLoader(data, batch_size=self.batch_size, sampler=sampler, num_workers=self.workers)

    def _to_device(self, batch: Any) -> tuple[Any, Any]:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TrainingError(
                f"a batch must be a pair (input, target), got {type(batch).__name__}"
                + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            )
        return tuple(_move(b, self.device) for b in batch)  # type: ignore[return-value]

    def _arch_batches(self, epoch: int) -> Iterator[tuple[Any, Any]]:
        cycle = _Cycle(lambda r: self._loader(self.arch_data, True, 2 * (epoch * 1009 + r) + 1), "arch_data")
        while True:
            yield self._to_device(next(cycle))

    # -------------------------------------------------------------- loss
    def _forward_loss(self, x: Any, y: Any) -> tuple[Any, torch.Tensor]:
        output = self.model(x)
        if isinstance(output, tuple) and len(output) == 2 and self.aux_weight:
            logits, aux = output
            loss = self._scalar(self.loss(logits, y)) + self.aux_weight * self._scalar(self.loss(aux, y))
            return logits, loss
        if isinstance(output, tuple) and len(output) == 2:
            output = output[0]
        return output, self._scalar(self.loss(output, y))

    @staticmethod
    def _scalar(loss: Any) -> torch.Tensor:
        if not torch.is_tensor(loss):
            raise TrainingError(f"loss returned {type(loss).__name__}; expected a scalar torch.Tensor")
        if loss.numel() != 1:
            raise TrainingError(
                f"loss returned a tensor of shape {tuple(loss.shape)}; expected a scalar "
                f"(reduce it, e.g. reduction='mean')"
            )
        return loss.reshape(())

    def _finite(self, value: float, what: str) -> float:
        if not math.isfinite(value):
            raise TrainingError(
                f"{what} is {value} at epoch {self.epoch}, step {self.global_step}; training diverged "
                f"(lower the learning rate or check the data); the architecture was not updated with it"
            )
        return value

    def _weight_update(self, loss: torch.Tensor) -> None:
        if self.optimizer is None:  # a supernet without trainable weights
            return
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()

    # ------------------------------------------------------------ public
    def train(self, validate: bool = True) -> ArchHistory:
        """Train from the current epoch up to ``num_epochs``; return the history.

        Afterwards the model runs the exported architecture (``space.current()``).
        """
        from ._live import make_monitor

        self._live = make_monitor(self, self.progress, self.live_plot)
        for cb in self.callbacks:
            cb.on_train_begin()
        try:
            for epoch in range(self.epoch, self.num_epochs):
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch)
                logs = self._train_epoch(epoch)
                if validate and self.dataset_valid is not None:
                    logs.update({f"val_{k}": v for k, v in self.validate().items()})
                self.epoch = epoch + 1
                self._record()
                self._live.epoch_end(epoch, logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
        finally:
            self._live.close()
        self._apply_export()
        for cb in self.callbacks:
            cb.on_train_end()
        return self.history

    fit = train

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        loader = self._loader(self.dataset_train, True, 2 * epoch)
        arch_iter = self._arch_batches(epoch) if self.arch_data is not None else None
        try:
            n_batches = len(loader)  # type: ignore[arg-type]
        except TypeError:
            n_batches = None
        self._live.epoch_begin(epoch, n_batches)
        sums: dict[str, float] = {}
        count = 0
        self.model.train()
        self._enter_mode()
        try:
            for i, batch in enumerate(loader):
                for cb in self.callbacks:
                    cb.on_batch_begin(i)
                x, y = self._to_device(batch)
                arch_batch = next(arch_iter) if arch_iter is not None else None
                stats = self._train_step(x, y, arch_batch)
                self.global_step += 1
                count += 1
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
                if self.history_every and self.global_step % self.history_every == 0:
                    frac = (i + 1) / n_batches if n_batches else 0.0
                    self._record(epoch + frac)
                self._live.step(stats)
                for cb in self.callbacks:
                    cb.on_batch_end(i, stats)
        finally:
            self._exit_mode()
        if count == 0:
            raise TrainingError(f"dataset_train yielded no batches in epoch {epoch}; expected at least one batch")
        return {k: v / count for k, v in sums.items()}

    def _enter_mode(self) -> None:
        if self._depth == 0:
            self._enter()
        self._depth += 1

    def _exit_mode(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._exit()

    @torch.no_grad()
    def validate(self, data: Any = None) -> dict[str, float]:
        """Mean loss and metrics of the supernet on ``data`` (default ``dataset_valid``)."""
        data = self.dataset_valid if data is None else data
        if data is None:
            raise TrainingError("nothing to validate on: dataset_valid is None and no data was given")
        self._check_data("validation data", data)
        was_training = self.model.training
        decisions = {k: self.space.decision(k).indices for k in self.space}
        self.model.eval()
        self._enter_mode()
        sums: dict[str, float] = {}
        total = 0
        try:
            for i, batch in enumerate(self._loader(data, False, 0)):
                x, y = self._to_device(batch)
                self._eval_arch(i)
                output, loss = self._forward_loss(x, y)
                n = len(y) if hasattr(y, "__len__") else 1
                stats = {"loss": float(loss)}
                if self.metrics is not None:
                    stats.update({k: float(v) for k, v in self.metrics(output, y).items()})
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v * n
                total += n
        finally:
            self._exit_mode()
            self.model.train(was_training)
            for key, indices in decisions.items():  # validation sampled paths: put the model back
                self.space.decision(key).set(indices)
        if total == 0:
            raise TrainingError("validation data yielded no batches; expected at least one batch")
        return {k: v / total for k, v in sums.items()}

    def _record(self, epoch: float | None = None) -> None:
        self.history.append(self._arch_weights(), step=self.global_step,
                            epoch=float(self.epoch if epoch is None else epoch))
        if self._live is not None:
            self._live.record()

    def export(self, file: str | os.PathLike | None = None) -> dict[str, Any]:
        """The final architecture in the core's readable format (written to ``file`` if given).

        ``space.fix(trainer.export())`` gives the final plain model.
        """
        indices = self._export_indices()
        arch = {k: self.space[k].encode(indices[k]) for k in self.space}
        arch = self.space.validate(arch)
        if file is not None:
            dump_json(arch, file)
        return arch

    def _apply_export(self) -> None:
        self.space.apply(self.export())

    # --------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizers, architecture state, history, RNGs."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history.to_dict(),
            "algorithm": self._algo_state(),
            "rng": self.rng.getstate(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; :meth:`train` then continues from its epoch."""
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = ArchHistory.from_dict(state["history"])
        self._load_algo_state(state["algorithm"])
        self.rng.setstate(_as_tuple(state["rng"]))
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write :meth:`state_dict` to ``path`` (``torch.save``)."""
        torch.save(self.state_dict(), path)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Resume from a file written by :meth:`save_checkpoint` (or the Checkpoint callback)."""
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.space)} keys, epoch {self.epoch}/{self.num_epochs}, "
                f"device={self.device.type})")


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(i) for i in x) if isinstance(x, (list, tuple)) else x


def _move(obj: Any, device: torch.device) -> Any:
    if torch.is_tensor(obj):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _move(v, device) for k, v in obj.items()}
    return obj
