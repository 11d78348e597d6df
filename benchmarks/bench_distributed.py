"""One-shot training on 1 and 2 processes (torch.distributed, gloo on CPU): time per epoch and equivalence.

    python benchmarks/bench_distributed.py [--epochs 3] [--rounds 3] [--trainers darts,spos]

On the digits space (``nasnb.bench.digits_model()``, the table's 1000 training digits, one
CPU thread per process) each trainer trains ``--epochs`` epochs with a global batch of 50:
one process of batch 50, then two processes of batch 25 started by
:func:`nasnb.oneshot.launch`. Seconds per epoch are timed inside rank 0 around
``train()`` (process start and group set-up excluded, printed apart), median of
``--rounds``. The plain-PyTorch reference is the same loop by hand on the digits model
fixed to one architecture: ``DistributedDataParallel`` with a ``DistributedSampler``,
SGD, 1 and 2 processes, timed the same way. Last, the equivalence error: the largest
difference of a weight and of an architecture parameter between the 2 x 25 run and the
1 x 50 run after the same epochs.

On a 2-core machine two processes share the cores that one process had, so expect
little gain; the ratio says what the communication costs.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import statistics
import time
import warnings
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from nasnb.bench import digits_model, load_digits_split
from nasnb.oneshot import DartsTrainer, SPOSTrainer, accuracy, launch
from nasnb.oneshot.launch import _free_port

TRAINERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "darts": (DartsTrainer, {"arc_learning_rate": 3e-3}),
    "spos": (SPOSTrainer, {}),
}
GLOBAL_BATCH = 50


def make(name: str, batch: int, epochs: int) -> Any:
    cls, kwargs = TRAINERS[name]
    data = load_digits_split()
    torch.manual_seed(0)
    model = digits_model()
    return cls(model, F.cross_entropy, accuracy, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), epochs,
               TensorDataset(*data["train"]), TensorDataset(*data["val"]), batch_size=batch, seed=0, progress=False,
               live_plot=False, **kwargs)


def timed_train(trainer: Any) -> None:
    start = time.perf_counter()
    trainer.train(validate=False)
    trainer.bench_seconds = time.perf_counter() - start


def nasnb_epoch(name: str, nprocs: int, epochs: int) -> tuple[float, float, Any]:
    """(seconds per epoch inside train(), seconds of the whole launch, rank 0's trainer)."""
    start = time.perf_counter()
    trainer = launch(lambda: make(name, GLOBAL_BATCH // nprocs, epochs), nprocs=nprocs, run=timed_train)
    return trainer.bench_seconds / epochs, time.perf_counter() - start, trainer


def plain_worker(rank: int, nprocs: int, epochs: int, out: Any) -> None:
    """The fixed digits model trained by hand with DDP; rank 0 puts its seconds per epoch in ``out``."""
    torch.set_num_threads(1)
    if nprocs > 1:
        os.environ["RANK"] = str(rank)
        dist.init_process_group("gloo", rank=rank, world_size=nprocs, timeout=datetime.timedelta(seconds=120))
    data = load_digits_split()
    torch.manual_seed(0)
    space_model = digits_model()
    from nasnb import SearchSpace

    space = SearchSpace(space_model)
    model = space.fix(next(iter(space.grid())))
    net: Any = torch.nn.parallel.DistributedDataParallel(model) if nprocs > 1 else model
    train = TensorDataset(*data["train"])
    sampler = DistributedSampler(train, nprocs, rank, seed=0) if nprocs > 1 else None
    loader = DataLoader(train, batch_size=GLOBAL_BATCH // nprocs, sampler=sampler, shuffle=sampler is None)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = time.perf_counter()
    for epoch in range(epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
    if rank == 0:
        out.put((time.perf_counter() - start) / epochs)
    if nprocs > 1:
        dist.destroy_process_group()


def plain_epoch(nprocs: int, epochs: int) -> float:
    ctx = multiprocessing.get_context("fork")
    out = ctx.SimpleQueue()
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(nprocs))
    procs = [ctx.Process(target=plain_worker, args=(r, nprocs, epochs, out)) for r in range(nprocs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"):
        os.environ.pop(k, None)
    return float(out.get())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trainers", default=",".join(TRAINERS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=r"\w+Trainer", category=UserWarning)  # the trainers' advice
    print(f"digits space, 1000 training digits, global batch {GLOBAL_BATCH}, {args.epochs} epochs, "
          f"median of {args.rounds} rounds, 1 torch thread per process, {os.cpu_count()} cores; the trainers' "
          f"UserWarnings are silenced")
    plain = {n: statistics.median(plain_epoch(n, args.epochs) for _ in range(args.rounds)) for n in (1, 2)}
    print(f"{'seconds per epoch':24}{'1 process':>12}{'2 processes':>13}{'2p / 1p':>9}")
    print(f"{'plain PyTorch DDP':24}{plain[1] * 1e3:>9.1f} ms{plain[2] * 1e3:>10.1f} ms{plain[2] / plain[1]:>9.2f}")
    for name in args.trainers.split(","):
        rows = {n: [nasnb_epoch(name, n, args.epochs) for _ in range(args.rounds)] for n in (1, 2)}
        epoch = {n: statistics.median(r[0] for r in rows[n]) for n in (1, 2)}
        whole = statistics.median(r[1] for r in rows[2])
        print(f"{name + ' (nasnb)':24}{epoch[1] * 1e3:>9.1f} ms{epoch[2] * 1e3:>10.1f} ms{epoch[2] / epoch[1]:>9.2f}"
              f"   (a whole 2-process launch: {whole:.1f} s)")
        print(f"{'':24}ratio to plain PyTorch: 1 process {epoch[1] / plain[1]:.2f}, 2 processes "
              f"{epoch[2] / plain[2]:.2f} (the supernet step does more than a fixed model's)")
        one, two = rows[1][0][2], rows[2][0][2]
        weights = max(float((a - b).abs().max()) for a, b in zip(one.model.state_dict().values(),
                                                                   two.model.state_dict().values()))
        arch = max((float((a.detach() - b.detach()).abs().max())
                    for a, b in zip(one._arch_tensors(), two._arch_tensors())), default=0.0)
        print(f"{'':24}equivalence, 2 x {GLOBAL_BATCH // 2} vs 1 x {GLOBAL_BATCH}: largest weight difference "
              f"{weights:.1e}, architecture parameter {arch:.1e}, same export: {one.export() == two.export()}")


if __name__ == "__main__":
    main()
