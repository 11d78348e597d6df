"""The training loop every one-shot trainer shares: device, loss, metrics, callbacks.

A subclass implements the algorithm: ``_check_space`` (refuse unsupported keys before
training), ``_train_step`` (one weight/architecture update), ``_arch_weights`` (what the
history records), ``_export_indices`` and, for supernet modes, ``_enter``/``_exit``.
Data handling lives in :mod:`._data`, checkpoints in :mod:`._checkpoint`.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..architecture import dump_json
from ..exceptions import CheckpointError, TrainingError
from ..space import SearchSpace
from ._checkpoint import CheckpointMixin
from ._data import TrainingData
from ._distributed import SINGLE, join, local_device
from .history import ArchHistory

__all__ = ["CheckpointError", "OneShotTrainer", "TrainingError", "accuracy"]


def accuracy(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Top-1 accuracy of class scores ``output`` (N x C) against labels ``target`` (N).

    >>> import torch
    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    {'acc': 0.5}
    """
    if isinstance(output, (tuple, list)):
        output = output[0]
    return {"acc": float((output.argmax(dim=1) == target).float().mean())}


class OneShotTrainer(CheckpointMixin):
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
    callbacks : list of ~nasnb.oneshot.callbacks.Callback, optional
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

    Notes
    -----
    :meth:`train` is a loop over :meth:`step`; a loop of your own can call :meth:`step`
    on each batch instead and :meth:`finish` at the end. The constructor moves the model
    to ``device`` and checks the data; it runs no forward pass.
    """

    kind = "weights"
    arch_split = 0.0
    uses_arch_data = False
    #: Whether each :meth:`step` needs an architecture batch (False: the algorithm uses
    #: its architecture data elsewhere, e.g. ENAS at the end of an epoch).
    arch_batch_per_step = True

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
        if device is None:
            p = next(self.model.parameters(), None)
            device = p.device if p is not None else torch.device("cpu")
        self.device = local_device(torch.device(device))
        #: This process's place in a ``torch.distributed`` run (``dist.world_size == 1``: a single process).
        self.dist = join(self.device)
        self.data = TrainingData(dataset_train, dataset_valid, arch_data, batch_size=batch_size, workers=workers,
                                 seed=seed, device=self.device, owner=type(self).__name__,
                                 arch_split=self.arch_split if self.uses_arch_data else None, dist=self.dist)
        self.model.to(self.device)
        self.loss = loss.to(self.device) if isinstance(loss, nn.Module) else loss
        self.metrics = metrics
        self.num_epochs = num_epochs
        self.grad_clip, self.aux_weight = grad_clip, aux_weight
        self.seed = seed
        self.history_every = history_every
        self.progress, self.live_plot = progress, live_plot
        self.callbacks = list(callbacks or [])
        self.epoch, self.global_step = 0, 0
        self.rng = random.Random(seed)
        self.generator = torch.Generator(device=self.device if self.device.type != "mps" else "cpu")
        self.generator.manual_seed(seed)
        self._check_space()
        self.optimizer = optimizer if optimizer is not None else self._default_optimizer()
        self._build()
        self.history = ArchHistory({k: self.space[k] for k in self.space}, kind=self.kind)
        self._depth = 0  # nesting of the supernet mode (train, validate, step)
        self._stepping = False  # step() entered the supernet mode and left it on
        self._progress: float | None = None  # fractional epoch of the current step, set by train()
        self._arch_stream: Iterator[Any] | None = None  # architecture batches for step() called without one
        self._live: Any = None
        self._ddp_model: nn.Module | None = None  # the weights' DistributedDataParallel wrapper (first step)
        self._joined = False  # the first distributed step broadcast rank 0's state
        for cb in self.callbacks:
            cb.build(self)

    def _default_optimizer(self) -> torch.optim.Optimizer | None:
        """SGD(lr=0.025, momentum=0.9, weight_decay=3e-4) on the trainable weights (None if there are none)."""
        weights = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.SGD(weights, lr=0.025, momentum=0.9, weight_decay=3e-4) if weights else None

    # -------------------------------------------------------------- data
    @property
    def dataset_train(self) -> Any:
        """The training data the weights are trained on (after any architecture split)."""
        return self.data.train

    @property
    def dataset_valid(self) -> Any:
        """The data :meth:`validate` uses by default."""
        return self.data.valid

    @dataset_valid.setter
    def dataset_valid(self, value: Any) -> None:
        self.data.valid = value

    @property
    def arch_data(self) -> Any:
        """The data of the architecture updates (None if the algorithm has none)."""
        return self.data.arch

    @property
    def batch_size(self) -> int:
        """Batch size used for a Dataset."""
        return self.data.batch_size

    @property
    def workers(self) -> int:
        """DataLoader workers used for a Dataset."""
        return self.data.workers

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

    # -------------------------------------------------------------- loss
    def _forward_loss(self, x: Any, y: Any, model: nn.Module | None = None) -> tuple[Any, torch.Tensor]:
        output = (model or self.model)(x)
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

    def _weight_forward_loss(self, x: Any, y: Any) -> tuple[Any, torch.Tensor]:
        """Forward and loss of a weight step: through ``DistributedDataParallel`` when distributed.

        DDP averages the weights' gradients over the ranks during ``backward`` (so the
        step is that of the ranks' batches together); every other forward (architecture
        steps, validation, scoring) runs the plain model and synchronises what it needs
        itself.
        """
        return self._forward_loss(x, y, self._ddp_model)

    def _join_ranks(self, x: Any, y: Any) -> None:
        """At the first step of every rank: rank 0's architecture parameters everywhere, and the DDP wrapper.

        DDP (which broadcasts rank 0's weights) wraps the model when it has trainable
        weights; ``x``, ``y`` is the step's batch (for :meth:`_ddp_find_unused`).
        """
        self._joined = True
        self.dist.broadcast_(self._arch_tensors())
        if any(p.requires_grad for p in self.model.parameters()):
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" and self.device.index is not None else None
            self._ddp_model = DistributedDataParallel(self.model, device_ids=ids,
                                                      find_unused_parameters=self._ddp_find_unused(x, y))

    def _ddp_find_unused(self, x: Any, y: Any) -> bool:
        """``find_unused_parameters`` of DDP: a single-path step (SPOS, ENAS, ProxylessNAS) leaves the other
        candidates without gradients, so DDP must look for them every step (the ranks run the same path, so they
        agree on which)."""
        return True

    def _leave_distributed(self) -> None:
        """Become a single-process trainer again (after :func:`~nasnb.oneshot.launch`: the process group is gone)."""
        self.dist = self.data.dist = SINGLE
        self._ddp_model, self._joined = None, False

    def _arch_tensors(self) -> list[torch.Tensor]:
        """The architecture parameters (broadcast from rank 0 when the run goes distributed)."""
        return []

    def _sync_arch_grads(self, params: Iterable[torch.Tensor]) -> None:
        """Average the ``.grad`` of architecture parameters over the ranks (before their optimizer steps)."""
        self.dist.mean_(p.grad for p in params if p.grad is not None)

    def _weight_update(self, loss: torch.Tensor) -> None:
        if self.optimizer is None:  # a supernet without trainable weights
            return
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch stubs leave Tensor.backward unannotated
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()


    # ------------------------------------------------------------- steps
    def step(self, batch: Any, arch_batch: Any = None) -> dict[str, float]:
        """One training step on ``batch``; returns its statistics (``loss``, ``arch_loss``, ...).

        Moves ``batch`` (an ``(input, target)`` pair) to the device, enters the supernet
        mode if it is not on yet (it stays on until :meth:`finish`), runs the
        algorithm's architecture and weight updates, counts ``global_step`` and records
        the architecture weights every ``history_every`` steps. :meth:`train` is a loop
        over it; call it from a loop of your own to combine the algorithm with your
        schedule, logging or data pipeline.

        Parameters
        ----------
        batch : (input, target)
            The weights' batch.
        arch_batch : (input, target), optional
            The architecture update's batch (DARTS, ProxylessNAS); by default the next
            batch of the trainer's architecture data.

        Raises
        ------
        TrainingError
            A batch that is not a pair, or a loss that is not finite.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> from nasnb.oneshot import DartsTrainer
        >>> _ = torch.manual_seed(0)
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 2), nn.Linear(4, 2, bias=False)], key="fc"))
        >>> data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
        >>> trainer = DartsTrainer(net, nn.functional.cross_entropy, dataset_train=data, progress=False)
        >>> stats = trainer.step((torch.randn(8, 4), torch.randint(0, 2, (8,))))
        >>> sorted(stats), trainer.global_step, len(trainer.history)
        (['arch_loss', 'loss'], 1, 1)
        >>> trainer.finish()  # leave the supernet mode; the model runs the exported architecture
        >>> trainer.space.current() == trainer.export()
        True
        """
        x, y = self.data.to_device(batch)
        if arch_batch is not None:
            arch_batch = self.data.to_device(arch_batch)
        elif self.arch_batch_per_step and self.data.arch is not None:
            if self._arch_stream is None:
                self._arch_stream = self.data.arch_batches(self.epoch)
            arch_batch = self.data.to_device(next(self._arch_stream))
        if self._depth == 0:
            self._enter_mode()
            self._stepping = True
        if not self.model.training:
            self.model.train()
        if self.dist.enabled and not self._joined:
            self._join_ranks(x, y)
        stats = self._train_step(x, y, arch_batch)
        self.global_step += 1
        if self.history_every and self.global_step % self.history_every == 0:
            self._record(self._progress)
        return stats

    def finish(self, apply: bool = True) -> None:
        """Leave the supernet mode that :meth:`step` entered and apply the exported architecture (``apply``).

        :meth:`train` calls it at its end; call it after a loop of your own over :meth:`step`.
        """
        if self._stepping:
            self._stepping = False
            self._exit_mode()
        if apply:
            self._apply_export()

    def _enter_mode(self) -> None:
        if self._depth == 0:
            self._enter()
        self._depth += 1

    def _exit_mode(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._exit()

    # ------------------------------------------------------------ public
    def train(self, validate: bool = True, apply: bool = True) -> ArchHistory:
        """Train up to ``num_epochs``, then apply the exported architecture to the model (``apply``); return the history.

        A loop over :meth:`step` with callbacks, progress and validation. With
        ``apply=True`` (the default) the model afterwards runs the exported architecture
        (``space.current() == trainer.export()``, see :meth:`finish`); with
        ``apply=False`` its decisions are left as training left them.

        Warns
        -----
        UserWarning
            After an epoch in which the learned architecture distribution did not move
            (every recorded weight changed by less than 1e-3): the message names the
            learning-rate argument to raise (trainers with ``arch_lr_arg``).
        """
        from ._live import make_monitor

        main = self.dist.is_main  # progress and plots on rank 0 only
        self._live = make_monitor(self, self.progress if main else False, self.live_plot if main else False)
        for cb in self.callbacks:
            cb.on_train_begin()
        warned = False
        start: dict[str, list[float]] | None = None  # the weights before the first epoch that learns them
        try:
            for epoch in range(self.epoch, self.num_epochs):
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch)
                before = self._arch_weights() if self.arch_lr_arg is not None and self._learns_arch(epoch) else None
                if start is None and before is not None:
                    start = dict(before)
                logs = self._train_epoch(epoch)
                if validate and self.dataset_valid is not None:
                    logs.update({f"val_{k}": v for k, v in self.validate().items()})
                self.epoch = epoch + 1
                self._record()
                if before is not None and start is not None and not warned:
                    warned = self._warn_if_still(start, before, epoch)
                self._live.epoch_end(epoch, logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
        finally:
            self._live.close()
        self.finish(apply=apply)
        for cb in self.callbacks:
            cb.on_train_end()
        return self.history

    #: The constructor argument that sets the learning rate of the architecture
    #: distribution (None: the trainer learns none, e.g. SPOS samples uniformly).
    arch_lr_arg: str | None = None
    #: A change of every recorded architecture weight below this over an epoch counts as "not moved"
    #: (unless the weights moved by ``settled_threshold`` since training began: they may have converged).
    still_threshold = 1e-3
    settled_threshold = 0.05

    def _learns_arch(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` updates the architecture distribution (False in warm-up epochs)."""
        return epoch >= getattr(self, "warmup_epochs", 0)

    def _warn_if_still(self, start: Mapping[str, Sequence[float]], before: Mapping[str, Sequence[float]],
                       epoch: int) -> bool:
        """Warn if the weights moved by less than ``still_threshold`` over the epoch and little since ``start``.

        Keys with a single candidate (nothing to learn) are left out.
        """
        after = self._arch_weights()
        keys = [k for k in before if len(before[k]) > 1]
        if not keys:
            return False

        def change(old: Mapping[str, Sequence[float]]) -> float:
            return max(abs(a - b) for k in keys for a, b in zip(after[k], old[k]))

        moved = change(before)
        if moved >= self.still_threshold or change(start) >= self.settled_threshold:
            return False
        lr = getattr(self, self.arch_lr_arg or "", None)
        warnings.warn(f"{type(self).__name__}: after epoch {epoch} the architecture weights moved by at most "
                      f"{moved:.1e} (< {self.still_threshold:g}); the search is not learning an architecture and "
                      f"export() will be close to arbitrary. Raise {self.arch_lr_arg} (now {lr!r}), e.g. 10x, "
                      f"or train more epochs.", stacklevel=3)
        return True

    fit = train

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        loader = self.data.train_batches(epoch)
        arch_iter = self.data.arch_batches(epoch) if self.arch_batch_per_step and self.arch_data is not None else None
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
                self._progress = epoch + ((i + 1) / n_batches if n_batches else 0.0)
                stats = self.step(batch, next(arch_iter) if arch_iter is not None else None)
                count += 1
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
                self._live.step(stats)
                for cb in self.callbacks:
                    cb.on_batch_end(i, stats)
        finally:
            self._progress = None
            self._exit_mode()
        if count == 0:
            raise TrainingError(f"dataset_train yielded no batches in epoch {epoch}; expected at least one batch")
        return {k: v / count for k, v in sums.items()}

    @torch.no_grad()
    def validate(self, data: Any = None) -> dict[str, float]:
        """Mean loss and metrics of the supernet on ``data`` (default ``dataset_valid``)."""
        data = self.dataset_valid if data is None else data
        if data is None:
            raise TrainingError("nothing to validate on: dataset_valid is None and no data was given")
        self.data.check("validation data", data)
        was_training = self.model.training
        decisions = self.space.indices()
        self.model.eval()
        self._enter_mode()
        try:
            return self._mean_stats(data, "validation data", before_batch=self._eval_arch)
        finally:
            self._exit_mode()
            self.model.train(was_training)
            self.space.set_indices(decisions, check=False)  # validation sampled paths: put the model back

    @torch.no_grad()
    def _mean_stats(self, data: Any, what: str, before_batch: Callable[[int], Any] | None = None) -> dict[str, float]:
        """Sample-weighted mean ``loss`` and metrics of the model as it is set over ``data`` (``before_batch(i)`` first)."""
        sums: dict[str, float] = {}
        total = 0
        for i, batch in enumerate(self.data.loader(data, False, 0)):
            x, y = self.data.to_device(batch)
            if before_batch is not None:
                before_batch(i)
            output, loss = self._forward_loss(x, y)
            n = len(y) if hasattr(y, "__len__") else 1
            stats = {"loss": float(loss)}
            if self.metrics is not None:
                stats.update({k: float(v) for k, v in self.metrics(output, y).items()})
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v * n
            total += n
        if self.dist.enabled:  # every rank scored its shard: the mean over all of them
            sums = self.dist.sum_floats({**sums, "\0total": float(total)})
            total = int(sums.pop("\0total"))
        if total == 0:
            raise TrainingError(f"{what} yielded no batches; expected at least one batch")
        return {k: v / total for k, v in sums.items()}

    def _record(self, epoch: float | None = None) -> None:
        self.history.append(self._arch_weights(), step=self.global_step,
                            epoch=float(self.epoch if epoch is None else epoch))
        if self._live is not None:
            self._live.record()

    def export(self, file: str | os.PathLike[str] | None = None) -> dict[str, Any]:
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

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.space)} keys, epoch {self.epoch}/{self.num_epochs}, "
                f"device={self.device.type})")
