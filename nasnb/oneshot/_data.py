"""The batches a one-shot trainer uses: checked, split, batched, seeded, moved to the device.

:class:`TrainingData` holds the training, validation and architecture data of one
trainer. A :class:`~torch.utils.data.Dataset` is batched (``batch_size``) and shuffled
with a generator seeded from ``seed`` and a salt (the epoch), so runs repeat; a loader
(any iterable of batches) is used as given.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset

from .._device import to_device
from ..exceptions import TrainingError
from ._distributed import SINGLE, DistContext, ShardSampler

__all__ = ["TrainingData"]


def _is_loader(data: Any) -> bool:
    return isinstance(data, DataLoader) or (
        not isinstance(data, Dataset) and not hasattr(data, "__getitem__") and hasattr(data, "__iter__")
    )


class _Cycle:
    """Endless iterator over a loader factory (a new epoch of batches when one runs out)."""

    def __init__(self, make: Callable[[int], Iterable[Any]], what: str):
        self.make, self.what, self.round = make, what, 0
        self.it: Iterator[Any] | None = None

    def __iter__(self) -> _Cycle:
        return self

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


class TrainingData:
    """Training, validation and architecture data of one trainer.

    Parameters
    ----------
    train, valid, arch : Dataset, loader or None
        ``train`` is required. With ``arch_split`` set and no ``arch`` given, the last
        ``arch_split`` of ``train`` (a Dataset) is held out as ``arch``.
    batch_size, workers : int
        Used to batch a Dataset.
    seed : int
        Seeds the shuffling.
    device : torch.device
        Where :meth:`to_device` moves batches.
    arch_split : float or None
        Share of ``train`` held out for the architecture updates (None: no split).
    owner : str
        The trainer's name, for error messages.
    dist : DistContext
        The ``torch.distributed`` context; Datasets are sharded over its ranks.

    Raises
    ------
    TrainingError
        ``train`` is None or empty, any data is empty, or ``train`` cannot be split.

    Examples
    --------
    >>> import torch
    >>> data = torch.utils.data.TensorDataset(torch.arange(10.0), torch.arange(10))
    >>> d = TrainingData(data, None, None, batch_size=4, workers=0, seed=0, device=torch.device("cpu"),
    ...                  arch_split=0.2, owner="Demo")
    >>> len(d.train), len(d.arch), [len(b[1]) for b in d.loader(d.train, shuffle=True, salt=0)]
    (8, 2, [4, 4])
    """

    def __init__(self, train: Any, valid: Any, arch: Any, *, batch_size: int, workers: int, seed: int,
                 device: torch.device, arch_split: float | None, owner: str, dist: DistContext = SINGLE):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if train is None:
            raise TrainingError("dataset_train is None; expected a dataset or a loader of (input, target) batches")
        for what, data in (("dataset_train", train), ("dataset_valid", valid), ("arch_data", arch)):
            if data is not None:
                self.check(what, data)
        self.batch_size, self.workers, self.seed, self.device = batch_size, workers, seed, device
        self.dist = dist
        self._warned_loader = False
        self.owner = owner
        self.valid = valid
        self.train, self.arch = self._split(train, arch, arch_split)

    @staticmethod
    def check(what: str, data: Any) -> None:
        """Raise TrainingError if ``data`` has a length of 0."""
        try:
            n = len(data)
        except TypeError:
            return
        if n == 0:
            raise TrainingError(f"{what} is empty (0 {'batches' if _is_loader(data) else 'samples'}); "
                                f"expected at least one (input, target) batch")

    def _split(self, data: Any, arch: Any, share: float | None) -> tuple[Any, Any]:
        if share is None or arch is not None:
            return data, arch
        if _is_loader(data):
            raise TrainingError(
                f"{self.owner}: dataset_train is a loader, so it cannot be split into weight and "
                f"architecture halves; pass a Dataset, or pass arch_data="
            )
        n = len(data)
        n_arch = round(n * share)
        if n_arch < 1 or n - n_arch < 1:
            raise TrainingError(
                f"dataset_train has {n} samples: too few to hold out {share:.0%} for the "
                f"architecture updates; expected at least 2 samples, or pass arch_data="
            )
        return Subset(data, range(n - n_arch)), Subset(data, range(n - n_arch, n))

    def loader(self, data: Any, shuffle: bool, salt: int) -> Iterable[Any]:
        """Batches of ``data``: a loader as given; a Dataset batched, shuffled by ``seed`` and ``salt``.

        Under ``torch.distributed`` (``self.dist``) a Dataset is sharded: each rank gets
        ``batch_size`` samples per batch from its share of the same order
        (:class:`~nasnb.oneshot._distributed.ShardSampler`; shuffled data is cut to an
        equal number of samples per rank). A loader is used as given on every rank, with a
        warning: shard it yourself (``DistributedSampler``) or pass a Dataset.
        """
        if _is_loader(data):
            if self.dist.enabled and not self._warned_loader:
                self._warned_loader = True
                warnings.warn(f"{self.owner}: a data loader is used as given on each of the {self.dist.world_size} "
                              f"ranks, so every rank sees the same batches; pass a Dataset (sharded for you) or give "
                              f"the loader a DistributedSampler", stacklevel=3)
            loader: Iterable[Any] = data
            return loader
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + salt)
        sampler: Any = RandomSampler(data, generator=g) if shuffle else None
        if self.dist.enabled:
            sampler = ShardSampler(data, rank=self.dist.rank, world_size=self.dist.world_size, shuffle=shuffle,
                                   generator=g, even=shuffle)
        return DataLoader(data, batch_size=self.batch_size, sampler=sampler, num_workers=self.workers)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        """The training batches of ``epoch`` (a new order each epoch)."""
        return self.loader(self.train, True, 2 * epoch)

    def arch_batches(self, epoch: int) -> Iterator[Any]:
        """Endless architecture batches for ``epoch`` (not yet on the device)."""
        return _Cycle(lambda r: self.loader(self.arch, True, 2 * (epoch * 1009 + r) + 1), "arch_data")

    def to_device(self, batch: Any) -> tuple[Any, Any]:
        """``(input, target)`` of ``batch`` on the device; TrainingError for anything but a pair."""
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TrainingError(
                f"a batch must be a pair (input, target), got {type(batch).__name__}"
                + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            )
        inputs, target = batch
        return to_device(inputs, self.device), to_device(target, self.device)
