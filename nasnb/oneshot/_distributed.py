"""A one-shot trainer's place in a ``torch.distributed`` run: rank, world size and the collectives it needs.

A script run with ``torchrun --nproc_per_node N`` (or any launcher that sets the
standard ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``) gets a
process group as soon as it builds a trainer: :func:`join` initialises it from the
environment when the script has not (NCCL on CUDA, gloo on CPU). Without those
variables, or with ``WORLD_SIZE=1``, the trainer is a single process and
:data:`SINGLE` makes every collective a no-op, so the code paths are the same.

Examples
--------
>>> import torch
>>> ctx = join(torch.device("cpu"))  # no launcher: one process
>>> ctx.world_size, ctx.rank, ctx.is_main, ctx.sum_floats({"loss": 2.0})
(1, 0, True, {'loss': 2.0})
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any

import torch
from torch.utils.data import Sampler

__all__ = ["SINGLE", "DistContext", "ShardSampler", "join"]


class DistContext:
    """Rank, world size and the few collectives a trainer uses (all no-ops for one process)."""

    def __init__(self, rank: int = 0, world_size: int = 1):
        self.rank, self.world_size = rank, world_size

    @property
    def enabled(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that shows progress and plots and writes files."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"DistContext(rank={self.rank}, world_size={self.world_size})"

    @torch.no_grad()
    def mean_(self, tensors: Iterable[torch.Tensor]) -> None:
        """Replace each tensor by its mean over the ranks, in place (one all-reduce of a flat buffer)."""
        if not self.enabled:
            return
        import torch.distributed as dist

        items = [t for t in tensors if t is not None]
        if not items:
            return
        flat = torch.cat([t.reshape(-1) for t in items])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for t in items:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()

    @torch.no_grad()
    def broadcast_(self, tensors: Iterable[torch.Tensor], src: int = 0) -> None:
        """Overwrite each tensor with rank ``src``'s, in place."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for t in tensors:
            dist.broadcast(t.data, src)

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` (any picklable object) on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src)
        return box[0]

    def sum_floats(self, values: Mapping[str, float]) -> dict[str, float]:
        """The per-key sums over the ranks of ``values`` (a rank may lack keys: they count 0)."""
        if not self.enabled:
            return dict(values)
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, dict(values))
        out: dict[str, float] = {}
        for part in gathered:
            for k, v in part.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


#: The context of a single process.
SINGLE = DistContext()


def _env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def join(device: torch.device) -> DistContext:
    """This process's context: the initialised process group, or one started from the launcher's environment.

    ``torch.distributed.init_process_group`` runs here (backend NCCL for a CUDA
    ``device``, else gloo) when ``WORLD_SIZE`` > 1 and no group exists yet; a group the
    script made itself is used as it is.
    """
    import torch.distributed as dist

    if not dist.is_available():
        return SINGLE
    if not dist.is_initialized():
        if _env_world_size() <= 1:
            return SINGLE
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # NCCL: one GPU per rank
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.get_world_size() <= 1:
        return SINGLE
    return DistContext(dist.get_rank(), dist.get_world_size())


def local_device(device: torch.device) -> torch.device:
    """``cuda:LOCAL_RANK`` for a CUDA ``device`` without an index under a launcher, else ``device``."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ and _env_world_size() > 1:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


class ShardSampler(Sampler[int]):
    """Rank ``rank``'s share ``perm[rank::world_size]`` of one order of a dataset.

    The order is a permutation drawn with ``generator`` (``shuffle``) or ``range(n)``,
    the same on every rank. With ``even=True`` the tail is cut so that every rank gets
    ``n // world_size`` samples (and so the same number of batches: a training step is a
    collective). Batch ``k`` of every rank then holds samples of the single-process run's
    batch ``k`` of size ``world_size * batch_size``, so averaging the ranks' gradients
    gives that batch's gradient.

    >>> list(ShardSampler(range(10), rank=1, world_size=3, shuffle=False, even=True))
    [1, 4, 7]
    """

    def __init__(self, data: Sized, *, rank: int, world_size: int, shuffle: bool,
                 generator: torch.Generator | None = None, even: bool = True):
        self.n, self.rank, self.world_size = len(data), rank, world_size
        self.shuffle, self.generator, self.even = shuffle, generator, even

    def _order(self) -> list[int]:
        order = torch.randperm(self.n, generator=self.generator).tolist() if self.shuffle else list(range(self.n))
        if self.even:
            order = order[: self.n - self.n % self.world_size]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order())

    def __len__(self) -> int:
        if self.even:
            return self.n // self.world_size
        return len(range(self.rank, self.n, self.world_size))
