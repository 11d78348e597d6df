"""The training loop every one-shot trainer shares: data, device, loss, metrics, callbacks.

A subclass implements the algorithm: ``_check_space`` (refuse unsupported keys before
training), ``_train_step`` (one weight/architecture update), ``_arch_weights`` (what the
history records), ``_export_indices`` and, for supernet modes, ``_enter``/``_exit``.
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
from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset

from .._atomic import save_with
from ..architecture import dump_json
from ..exceptions import MAX_QUOTE as _MAX_QUOTE
from ..exceptions import CheckpointError, NasnbError, TrainingError
from ..exceptions import short_repr as _quote
from ..space import SearchSpace
from .history import ArchHistory

__all__ = ["CheckpointError", "OneShotTrainer", "TrainingError", "accuracy"]


def _some(items: Sequence[Any], n: int = 8) -> str:
    """A short list of names: the first ``n`` and how many more."""
    items = list(items)
    head = _quote(items[:n])
    return head if len(items) <= n else f"{head[:-1]}, ... and {len(items) - n} more]"


def _key_problems(where: str, saved: Mapping[str, Any], current: Mapping[str, Any],
                  add: Callable[[str, str], None]) -> None:
    """Report the keys only this trainer has (missing) and those only the file has (unexpected)."""
    missing = [k for k in current if k not in saved]
    unexpected = [k for k in saved if k not in current]
    if missing:
        add(where, f"missing keys {_some(missing)} (in this trainer, not in the file)")
    if unexpected:
        add(where, f"unexpected keys {_some(unexpected)} (in the file, not in this trainer)")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= _MAX_QUOTE else f"{line[:_MAX_QUOTE - 3]}..."


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


#: Entries every checkpoint has (older nasnb files too).
_REQUIRED = ("model", "optimizer", "epoch", "global_step", "history", "algorithm", "rng", "generator", "torch_rng")
#: The ``"nasnb"`` header entry of a checkpoint.
_FORMAT, _VERSION = "nasnb.oneshot checkpoint", 1
#: Per-parameter optimizer state that has the parameter's shape (SGD, Adam(W), RMSprop, Adagrad, Adadelta, Rprop).
_PARAM_SHAPED = frozenset({"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg",
                           "acc_delta", "sum", "prev", "step_size", "ax"})


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

    def __init__(self, make: Callable[[int], Iterable[Any]], what: str):
        self.make, self.what, self.round = make, what, 0
        self.it: Iterator[Any] | None = None

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

    def _loader(self, data: Any, shuffle: bool, salt: int) -> Iterable[Any]:
        if _is_loader(data):
            loader: Iterable[Any] = data
            return loader
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
        inputs, target = batch
        return _move(inputs, self.device), _move(target, self.device)

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
        loss.backward()  # type: ignore[no-untyped-call]  # torch stubs leave Tensor.backward unannotated
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

    # --------------------------------------------------------- checkpoint
    #: Algorithm-state entries holding a readable architecture (or None), such as SPOS's
    #: ``best``: a checkpoint's value is checked with ``space.validate``, not by structure.
    _checkpoint_architectures: tuple[str, ...] = ("best",)

    def _algorithm_name(self) -> str:
        """The algorithm that writes and reads this trainer's checkpoints (a user subclass
        of DartsTrainer reads DARTS checkpoints)."""
        for cls in type(self).__mro__:
            if cls.__module__.startswith("nasnb.oneshot") and cls is not OneShotTrainer:
                return cls.__name__
        return type(self).__name__

    def _space_description(self) -> dict[str, dict[str, Any]]:
        return {k: {"kind": s.kind, "candidates": list(s.names), "n_chosen": s.n_chosen} for k, s in self.space.items()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizers, architecture state, history, RNGs.

        The ``"nasnb"`` entry names the format, the trainer and the space, so that a load
        can refuse a checkpoint of another algorithm or model before changing anything.
        """
        return {
            "nasnb": {"format": _FORMAT, "version": _VERSION, "trainer": self._algorithm_name(),
                      "space": self._space_description()},
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
        """Restore a :meth:`state_dict`; :meth:`train` then continues from its epoch.

        Everything is checked before anything is changed.

        Raises
        ------
        CheckpointError
            ``state`` was written by another trainer or for another model (listing every
            mismatch); the trainer is left as it was.
        """
        self._load_checked(state, "state dict", None)

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` (``torch.save``), atomically: a failed
        write (a full disk, a crash) leaves the previous file as it was."""
        state = self.state_dict()
        save_with(path, lambda f: torch.save(state, f))

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Resume from a file written by :meth:`save_checkpoint` (or the Checkpoint callback).

        The whole file is read and checked against this trainer (algorithm, space, weight
        names and shapes, optimizer groups, algorithm state, history) before anything is
        changed; :meth:`train` then continues from the checkpoint's epoch.

        Raises
        ------
        CheckpointError
            The file is empty, truncated or not a nasnb checkpoint, or was written by
            another trainer or for another model; the message names the file and lists
            every mismatch, and the trainer is left as it was.
        OSError
            The file cannot be opened (missing, a folder, no permission).
        """
        where = os.fspath(path)
        source = f"checkpoint '{where}'"
        with open(where, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(4)
            f.seek(0)
            reason = None
            if size == 0:
                reason = ("it is empty (0 bytes): truncated, e.g. by a save interrupted by a crash or a full disk; "
                          "expected a file written by save_checkpoint or the Checkpoint callback")
            else:
                try:
                    state = torch.load(f, map_location="cpu", weights_only=True)
                except MemoryError:
                    raise
                except Exception as err:  # noqa: BLE001 - torch/pickle raise many kinds for a bad file
                    reason = _unreadable(err, head, size)
        if reason is not None:
            raise CheckpointError(source, type(self).__name__, [("file", reason)], path=where)
        self._load_checked(state, source, where)

    def _load_checked(self, state: Any, source: str, path: str | None) -> None:
        try:
            problems, history, generator_ok = self._state_problems(state)
        except Exception as err:  # noqa: BLE001 - a file malformed in a way no check foresaw
            problems = [("file", f"not a nasnb checkpoint: checking it failed with {type(err).__name__}: "
                                 f"{_first_line(err)}")]
        if problems:
            raise CheckpointError(source, type(self).__name__, problems, path=path)
        if history is None:  # every check that rebuilds no history reports a problem: cannot happen
            raise CheckpointError(source, type(self).__name__, [("history", "could not be rebuilt")], path=path)
        try:
            self.model.load_state_dict(state["model"])
            if self.optimizer is not None:
                self.optimizer.load_state_dict(state["optimizer"])
            self._load_algo_state(state["algorithm"])
        except Exception as err:  # noqa: BLE001 - checked above; a custom module hook may still refuse
            raise CheckpointError(source, type(self).__name__, [("apply", f"{type(err).__name__}: {_first_line(err)}")],
                                  path=path, changed=True) from err
        self.history = history
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.rng.setstate(_as_tuple(state["rng"]))
        if generator_ok:
            self.generator.set_state(state["generator"].cpu())
        else:
            warnings.warn(f"{source}: its sampling generator state ({state['generator'].numel()} bytes) is for "
                          f"another device type than {self.generator.device.type!r}; the generator keeps its "
                          f"current state, so the resumed run is not bit-identical to an uninterrupted one",
                          RuntimeWarning, stacklevel=3)
        torch.set_rng_state(state["torch_rng"].cpu())

    # ------------------------------------------------------ checkpoint checks
    def _state_problems(self, state: Any) -> tuple[list[tuple[str, str]], ArchHistory | None, bool]:
        """Every way ``state`` does not fit this trainer; the rebuilt history; whether the generator state fits."""
        me = self._algorithm_name()
        if not isinstance(state, Mapping):
            return [("file", f"not a nasnb checkpoint: it holds a {type(state).__name__} ({_quote(state, 80)}), "
                             f"expected the dict that save_checkpoint writes")], None, False
        if state and all(torch.is_tensor(v) for v in state.values()):
            return [("file", f"not a nasnb checkpoint: it holds a model state_dict ({len(state)} tensors, e.g. "
                             f"{_quote(next(iter(state)))}), as ModelCheckpoint writes; load that with "
                             f"trainer.model.load_state_dict(torch.load(path)), or resume from the file the "
                             f"Checkpoint callback or save_checkpoint writes")], None, False
        missing = [k for k in _REQUIRED if k not in state]
        if missing:
            return [("file", f"not a nasnb checkpoint: it has no {_some(missing)} entries (it has "
                             f"{_some(list(state))}); expected a file written by save_checkpoint")], None, False
        problems: list[tuple[str, str]] = []

        def add(where: str, what: str) -> None:
            problems.append((where, what))

        space_checked = False  # True: the header's space was compared and differs (history names would repeat it)
        header = state.get("nasnb")
        if header is not None:
            if not isinstance(header, Mapping) or header.get("format") != _FORMAT:
                add("nasnb", f"got {_quote(header)}, expected the header {{'format': {_FORMAT!r}, ...}}")
            elif not isinstance(header.get("version"), int) or header["version"] > _VERSION:
                add("nasnb", f"format version {_quote(header.get('version'))}: written by a newer nasnb; this one "
                             f"reads version {_VERSION}")
            else:
                if header.get("trainer") != me:
                    writer = header.get("trainer")
                    writer = writer if isinstance(writer, str) and writer.isidentifier() else _quote(writer)
                    add("trainer", f"written by a {writer}, this is a {me}; a checkpoint resumes the algorithm "
                                   f"that wrote it")
                before = len(problems)
                space_checked = self._space_problems(header.get("space"), add) and len(problems) > before
        self._state_dict_problems("model", state["model"], self.model.state_dict(), add)
        self._optimizer_problems("optimizer", state["optimizer"], self.optimizer, add)
        self._algo_problems(state["algorithm"], add)
        history = self._history_problems(state["history"], add, names=not space_checked)
        for name in ("epoch", "global_step"):
            v = state[name]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                add(name, f"got {_quote(v)}, expected an int >= 0")
        try:
            random.Random().setstate(_as_tuple(state["rng"]))
        except (TypeError, ValueError) as err:
            add("rng", f"got {_quote(state['rng'], 80)}, expected Python's random.getstate() ({_first_line(err)})")
        generator_ok = False
        for name in ("generator", "torch_rng"):
            v = state[name]
            if not torch.is_tensor(v) or v.dtype != torch.uint8 or v.dim() != 1:
                add(name, f"got {_quote(v, 80)}, expected a generator state (a 1-d uint8 tensor)")
            elif name == "torch_rng" and v.numel() != torch.get_rng_state().numel():
                add(name, f"a state of {v.numel()} bytes, expected {torch.get_rng_state().numel()} "
                          f"(torch.get_rng_state())")
            elif name == "generator":
                try:
                    torch.Generator(device=self.generator.device).set_state(v.cpu())
                    generator_ok = True
                except (RuntimeError, ValueError):
                    pass  # saved on another device type: resumed with a warning
        return problems, history, generator_ok

    def _space_problems(self, saved: Any, add: Callable[[str, str], None]) -> bool:
        """Compare the header's space with this one; True if it could be compared."""
        if not isinstance(saved, Mapping):
            add("space", f"got {_quote(saved)}, expected key -> {{'kind', 'candidates', 'n_chosen'}}")
            return False
        mine = self._space_description()
        missing = [k for k in mine if k not in saved]
        unexpected = [k for k in saved if k not in mine]
        if missing:
            add("space", f"missing keys {_some(missing)} (in this model's space, not in the file)")
        if unexpected:
            add("space", f"unexpected keys {_some(unexpected)} (in the file, not in this model's space)")
        for key, want in mine.items():
            got = saved.get(key)
            if key not in saved:
                continue
            if not isinstance(got, Mapping):
                add(f"space {_quote(key)}", f"got {_quote(got)}, expected {_quote(want)}")
                continue
            for field in ("kind", "candidates", "n_chosen"):
                g = got.get(field)
                g = list(g) if isinstance(g, (list, tuple)) else g
                if g != want[field]:
                    add(f"space {_quote(key)}", f"{field} {_quote(g)} in the file, expected {_quote(want[field])}")
        return True

    @staticmethod
    def _state_dict_problems(where: str, saved: Any, current: Mapping[str, Any],
                             add: Callable[[str, str], None]) -> None:
        """A strict ``load_state_dict`` dry run: missing/unexpected keys and size mismatches."""
        if not isinstance(saved, Mapping):
            add(where, f"got {type(saved).__name__} {_quote(saved, 80)}, expected a state_dict (name -> tensor)")
            return
        _key_problems(where, saved, current, add)
        for k, want in current.items():
            if k not in saved or not torch.is_tensor(want):
                continue
            got = saved[k]
            if not torch.is_tensor(got):
                add(where, f"{_quote(k)} is {type(got).__name__} {_quote(got, 80)}, expected a tensor of shape "
                           f"{_shape(want)}")
            elif got.shape != want.shape:
                add(where, f"size mismatch for {_quote(k)}: {_shape(got)} in the file, expected {_shape(want)} "
                           f"in this trainer")

    @staticmethod
    def _optimizer_problems(where: str, saved: Any, opt: torch.optim.Optimizer | None,
                            add: Callable[[str, str], None]) -> None:
        """What ``opt.load_state_dict(saved)`` would refuse, or accept and regret at the next step."""
        if opt is None:
            if saved is not None:
                add(where, "the file has optimizer state, but this trainer has no optimizer")
            return
        if saved is None:
            add(where, f"the file has no optimizer state, expected one for this {type(opt).__name__}")
            return
        groups = saved.get("param_groups") if isinstance(saved, Mapping) else None
        if not isinstance(groups, (list, tuple)) or not isinstance(saved.get("state"), Mapping) or not all(
                isinstance(g, Mapping) and isinstance(g.get("params"), (list, tuple)) for g in groups):
            add(where, f"got {_quote(saved, 80)}, expected an optimizer state_dict ('state', 'param_groups')")
            return
        current = opt.param_groups
        if len(groups) != len(current):
            add(where, f"{len(current)} parameter groups in this {type(opt).__name__}, {len(groups)} in the file")
            return
        index: dict[Any, torch.Tensor] = {}
        for i, (g, c) in enumerate(zip(groups, current)):
            if len(g["params"]) != len(c["params"]):
                add(where, f"parameter group {i} has {len(c['params'])} parameters in this trainer, "
                           f"{len(g['params'])} in the file")
                continue
            index.update(zip(g["params"], c["params"]))
            ours = set(c) - {"params", "param_names"}
            theirs = set(g) - {"params", "param_names"}
            extra, lacking = sorted(theirs - ours), sorted(ours - theirs)
            if extra and lacking:  # one-sided differences are other torch versions' options
                add(where, f"parameter group {i} has options {_some(extra)} in the file and {_some(lacking)} in "
                           f"this {type(opt).__name__}: written by another optimizer class")
        for pid, st in saved["state"].items():
            p = index.get(pid)
            if p is None:
                if len(index) == sum(len(c["params"]) for c in current):
                    add(where, f"state for parameter {_quote(pid)}, which no parameter group in the file lists")
                continue
            if not isinstance(st, Mapping):
                add(where, f"state of parameter {_quote(pid)} is {_quote(st, 80)}, expected a dict")
                continue
            for name, v in st.items():
                if name in _PARAM_SHAPED and torch.is_tensor(v) and v.shape != p.shape:
                    add(where, f"size mismatch for {name!r} of parameter {_quote(pid)}: {_shape(v)} in the file, "
                               f"expected {_shape(p)}")

    def _algo_problems(self, saved: Any, add: Callable[[str, str], None]) -> None:
        """Compare the algorithm state (alphas, controller, counts, ...) with this trainer's, by structure."""
        current = self._algo_state()
        if not isinstance(saved, Mapping):
            add("algorithm", f"got {_quote(saved, 80)}, expected a dict with {_some(list(current))}")
            return
        missing = [k for k in current if k not in saved]
        unexpected = [k for k in saved if k not in current]
        me = self._algorithm_name()
        if missing:
            add("algorithm", f"missing entries {_some(missing)} (a {me} has them, the file does not)")
        if unexpected:
            add("algorithm", f"unexpected entries {_some(unexpected)} (in the file, not in a {me})")
        for name, want in current.items():
            if name in saved:
                self._compare(f"algorithm[{name!r}]", saved[name], want, name, add)

    def _compare(self, where: str, got: Any, want: Any, name: str | None, add: Callable[[str, str], None]) -> None:
        if name in self._checkpoint_architectures:
            if got is not None:
                try:
                    self.space.validate(got)
                except NasnbError as err:
                    add(where, f"not an architecture of this space: {_first_line(err)}")
            return
        if got is None or want is None:
            return
        if isinstance(want, Mapping) and "param_groups" in want and "state" in want:
            opt = getattr(self, name, None) if name else None
            if isinstance(opt, torch.optim.Optimizer):
                self._optimizer_problems(where, got, opt, add)
            return
        if torch.is_tensor(want):
            if not torch.is_tensor(got):
                add(where, f"got {type(got).__name__} {_quote(got, 80)}, expected a tensor of shape {_shape(want)}")
            elif got.shape != want.shape:
                add(where, f"size mismatch: {_shape(got)} in the file, expected {_shape(want)}")
            return
        if isinstance(want, Mapping):
            if not isinstance(got, Mapping):
                add(where, f"got {type(got).__name__} {_quote(got, 80)}, expected a dict with keys {_some(list(want))}")
                return
            _key_problems(where, got, want, add)
            for k, w in want.items():
                if k in got:
                    self._compare(f"{where}[{k!r}]", got[k], w, None, add)
            return
        if isinstance(want, (list, tuple)) and all(isinstance(v, (int, float)) for v in want):
            if not isinstance(got, (list, tuple)) or not all(isinstance(v, (int, float)) for v in got):
                add(where, f"got {_quote(got, 80)}, expected {len(want)} numbers")
            elif len(got) != len(want):
                add(where, f"{len(got)} values in the file, expected {len(want)}")
            return
        if isinstance(want, (int, float)) and not isinstance(got, (int, float)):
            add(where, f"got {_quote(got, 80)}, expected a number")

    def _history_problems(self, saved: Any, add: Callable[[str, str], None], names: bool) -> ArchHistory | None:
        """Rebuild the history (every record checked); compare its keys and candidates with the space."""
        if not isinstance(saved, Mapping) or not isinstance(saved.get("names"), Mapping):
            add("history", f"got {_quote(saved, 80)}, expected ArchHistory.to_dict() (with 'names' and 'records')")
            return None
        mine = self.history.names
        if names:  # unless the header's space already reported these differences
            theirs = saved["names"]
            missing = [k for k in mine if k not in theirs]
            unexpected = [k for k in theirs if k not in mine]
            if missing:
                add("history", f"missing keys {_some(missing)} (in this model's space, not in the file)")
            if unexpected:
                add("history", f"unexpected keys {_some(unexpected)} (in the file, not in this model's space)")
            for k, labels in mine.items():
                got = theirs.get(k)
                if k in theirs and (not isinstance(got, (list, tuple)) or [str(n) for n in got] != labels):
                    add(f"history {_quote(k)}", f"candidates {_quote(got)} in the file, expected {_quote(labels)}")
        if saved.get("kind", "weights") != self.history.kind:
            add("history", f"records {_quote(saved.get('kind'))} weights, a {self._algorithm_name()} records "
                           f"{self.history.kind!r}")
        try:
            return ArchHistory.from_dict(saved)
        except (NasnbError, LookupError, TypeError, ValueError, AttributeError) as err:
            add("history", f"records cannot be read: {type(err).__name__}: {_first_line(err)}")
            return None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.space)} keys, epoch {self.epoch}/{self.num_epochs}, "
                f"device={self.device.type})")


def _unreadable(err: Exception, head: bytes, size: int) -> str:
    """Why ``torch.load`` could not read a checkpoint file starting with ``head``."""
    if head != b"PK\x03\x04":  # every torch.save since 1.6 writes a zip archive
        return (f"not a nasnb checkpoint: not a file written by torch.save (it starts with {_quote(head)}); expected "
                f"a file written by save_checkpoint or the Checkpoint callback")
    unpickler = [line.strip() for line in str(err).splitlines() if "WeightsUnpickler error:" in line]
    if unpickler and unpickler[0].split("WeightsUnpickler error:", 1)[1].strip():
        detail = unpickler[0].split("WeightsUnpickler error:", 1)[1].strip()
        return (f"not a nasnb checkpoint: a torch.save file holding Python objects besides tensors and plain data "
                f"({_quote(detail)[1:-1]}); a nasnb checkpoint holds only those")
    return f"truncated or corrupt: a zip archive of {size} bytes that torch.load cannot read ({_first_line(err)})"


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
