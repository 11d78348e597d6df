"""Train a one-shot supernet on several local processes from a notebook cell (or a script).

:func:`launch` does what ``torchrun --nproc_per_node N script.py`` does for a script, for
a function that builds a trainer: this process becomes rank 0 (so its progress bar and
live plots show in the notebook, and the trained trainer comes back), the other ranks
are child processes on the same machine, and the trainers find each other through the
standard ``torch.distributed`` environment (``MASTER_ADDR``, ``MASTER_PORT``,
``WORLD_SIZE``, ``RANK``). See :mod:`nasnb.oneshot` for what each algorithm
synchronises.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import pickle
import socket
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import torch

from ..exceptions import TrainingError

__all__ = ["launch"]

_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _default_run(trainer: Any) -> None:
    trainer.train()


def _init(rank: int, world_size: int, backend: str, timeout: float) -> None:
    import torch.distributed as dist

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank))
    if backend == "nccl":
        torch.cuda.set_device(rank)  # NCCL: one GPU per rank
    dist.init_process_group(backend, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout))


def _child(rank: int, world_size: int, backend: str, timeout: float, threads: int,
           make_trainer: Callable[[], Any], run: Callable[[Any], Any], errors: Any) -> None:
    import torch.distributed as dist

    torch.set_num_threads(threads)
    warnings.simplefilter("ignore")  # rank 0 holds the same state and shows the same warnings once
    try:
        _init(rank, world_size, backend, timeout)
        run(make_trainer())
    except BaseException:  # noqa: BLE001 - reported to rank 0, which raises it
        errors.put((rank, traceback.format_exc()))
        raise SystemExit(1) from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(make_trainer: Callable[[], Any], nprocs: int = 2, *, run: Callable[[Any], Any] | None = None,
           backend: str | None = None, threads: int = 1, timeout: float = 300.0) -> Any:
    """Train the trainer that ``make_trainer()`` builds on ``nprocs`` local processes; return rank 0's.

    Every rank calls ``make_trainer()`` (build the model, data and trainer in it, as a
    script run by ``torchrun`` would) and then ``run(trainer)`` (default:
    ``trainer.train()``; e.g. ``lambda t: (t.train(), t.search())`` for SPOS). This
    process is rank 0: its progress bar, live plot and warnings appear where it runs (the
    other ranks', the same, are not shown), and the
    trainer it built is returned, trained, and back to a single-process trainer (its
    ``validate()``, ``export()``, ``fix`` work as after ``train()``). Each rank trains on
    its share of the data with ``batch_size`` samples per step, so a step sees
    ``nprocs * batch_size`` samples.

    Ranks 1..nprocs-1 are forked on Linux (so ``make_trainer`` may be defined in the
    notebook); elsewhere they are spawned and ``make_trainer`` and ``run`` must be
    importable module-level functions.

    Parameters
    ----------
    make_trainer : callable
        ``make_trainer() -> OneShotTrainer``, called once in every process.
    nprocs : int
        Number of processes (1: ``make_trainer()`` and ``run`` here, nothing launched).
    run : callable, optional
        ``run(trainer)``, called in every process after building it.
    backend : str, optional
        ``torch.distributed`` backend; default "nccl" when CUDA has a device for every
        rank, else "gloo". Each rank's trainer should then use ``device="cuda"`` (it
        becomes ``cuda:<rank>``).
    threads : int
        Torch CPU threads per process (1 is safe in forked processes).
    timeout : float
        Seconds a rank waits for the others in a collective before the run fails (a rank
        that crashed shows up as this timeout, then as its own traceback).

    Returns
    -------
    OneShotTrainer
        Rank 0's trainer.

    Raises
    ------
    TrainingError
        A rank failed (the message carries its traceback), or a distributed run is
        already going on in this process.
    ValueError
        ``nprocs`` or ``threads`` is not an int >= 1.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.oneshot import DartsTrainer, launch
    >>> def make_trainer():
    ...     torch.manual_seed(0)
    ...     net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
    ...                         nn.Linear(8, 2))
    ...     data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    ...     return DartsTrainer(net, nn.functional.cross_entropy, num_epochs=1, dataset_train=data,
    ...                         batch_size=8, arc_learning_rate=0.1, progress=False, live_plot=False)
    >>> trainer = launch(make_trainer, nprocs=2)
    >>> trainer.dist.world_size, sorted(trainer.export())  # back to one process, trained
    (1, ['act'])
    """
    import torch.distributed as dist

    for name, value in (("nprocs", nprocs), ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    run = run or _default_run
    if nprocs == 1:
        trainer = make_trainer()
        run(trainer)
        return trainer
    if dist.is_available() and dist.is_initialized():
        raise TrainingError("launch() starts its own processes, but this process is already in a torch.distributed "
                            "run; call trainer.train() directly there (or destroy_process_group() first)")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= nprocs else "gloo"
    fork = sys.platform.startswith("linux")
    ctx: Any = multiprocessing.get_context("fork" if fork else "spawn")
    if not fork:
        for what, fn in (("make_trainer", make_trainer), ("run", run)):
            try:
                pickle.dumps(fn)
            except Exception as err:  # noqa: BLE001 - pickle raises several kinds
                raise TypeError(f"launch() spawns processes on {sys.platform}, so {what} must be a module-level "
                                f"function they can import ({err})") from err
    saved_env = {k: os.environ.get(k) for k in _ENV}
    saved_threads = torch.get_num_threads()
    saved_hook = sys.excepthook  # init_process_group prefixes it with "[rank0]" and never takes it back
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(nprocs),
                      LOCAL_WORLD_SIZE=str(nprocs))
    errors = ctx.SimpleQueue()
    children = [ctx.Process(target=_child, args=(rank, nprocs, backend, timeout, threads, make_trainer, run, errors),
                            daemon=True) for rank in range(1, nprocs)]
    trainer = None
    failure: BaseException | None = None
    try:
        for p in children:
            p.start()
        torch.set_num_threads(threads)
        _init(0, nprocs, backend, timeout)
        trainer = make_trainer()
        run(trainer)
    except BaseException as err:  # noqa: BLE001 - the children's tracebacks are added below
        failure = err
        for p in children:
            if p.is_alive():
                p.terminate()
    finally:
        for p in children:
            p.join(timeout if failure is None else 10)
            if p.is_alive():
                p.terminate()
        if dist.is_initialized():
            dist.destroy_process_group()
        torch.set_num_threads(saved_threads)
        sys.excepthook = saved_hook
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if trainer is not None and hasattr(trainer, "_leave_distributed"):
            trainer._leave_distributed()  # its process group is gone
    reports = []
    while not errors.empty():
        reports.append(errors.get())
    if reports:
        text = "\n".join(f"--- rank {rank} ---\n{tb}" for rank, tb in sorted(reports))
        raise TrainingError(f"launch(): {len(reports)} of {nprocs} ranks failed:\n{text}") from failure
    if failure is not None:
        raise failure
    bad = [(i + 1, p.exitcode) for i, p in enumerate(children) if p.exitcode != 0]
    if bad:
        raise TrainingError(f"launch(): ranks exited abnormally (rank, exit code): {bad}")
    return trainer

