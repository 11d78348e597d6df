"""One-shot NAS on nasnb mutables: DARTS, ENAS, SPOS and ProxylessNAS trainers.

Each trainer turns the model's mutables into a supernet (weighted, sampled or gated),
trains it with your loss, optimizer and data, records every key's distribution over its
candidates in :class:`ArchHistory`, and exports the final architecture in the core's
format (``space.fix(trainer.export())`` is the final model).

Every trainer follows one protocol: ``train()`` (a loop over ``step(batch)``; a loop of
your own may call ``step`` and then ``finish()``), then ``export()`` gives an architecture
of the space. :func:`ranking_quality` measures how well a trained supernet ranks the
space's architectures against ground truth (Kendall's tau, Spearman's rho, top-k overlap).

Several processes
-----------------
A script that builds a trainer and calls ``train()`` / ``export()`` runs unchanged under
``torchrun --nproc_per_node N`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``); :func:`launch` does the same from a notebook cell.
The trainer initialises the process group from the environment when the script has not
(NCCL on CUDA, gloo on CPU; ``device="cuda"`` becomes ``cuda:<LOCAL_RANK>``), and:

* the weights are wrapped in ``DistributedDataParallel`` (rank 0's initial weights and
  architecture parameters are broadcast at the first step); a Dataset is sharded so that
  each rank takes ``batch_size`` samples of every step's ``N * batch_size`` (a loader is
  used as given, with a warning), so N ranks follow one process of batch ``N * batch_size``;
* DARTS and ProxylessNAS average the architecture gradients over the ranks (DARTS'
  second order too), so every rank holds the same architecture parameters; SPOS, ENAS and
  ProxylessNAS draw their paths from generators seeded alike, so every rank runs the same
  path at every step; ENAS trains its controller on rank 0 and broadcasts it;
* validation (and SPOS's search scores) are means over every rank's share; progress bars,
  live plots and checkpoint files are rank 0's; ``export()`` is the same on every rank.

BatchNorm normalises each rank's share on its own: for the single-process equivalence
convert the model with ``nn.SyncBatchNorm.convert_sync_batchnorm(model)`` (GPUs) before
building the trainer. A training set whose size is not a multiple of N loses up to N - 1
samples per epoch, so that every rank takes the same number of steps.
"""

from __future__ import annotations

from ..exceptions import CheckpointError, TrainingError
from ._base import OneShotTrainer, accuracy
from .callbacks import (
    ArchitectureCheckpoint,
    Callback,
    Checkpoint,
    LRSchedulerCallback,
    ModelCheckpoint,
)
from .darts import DartsTrainer
from .enas import EnasController, EnasTrainer
from .history import ArchHistory, ArchRecord
from .launch import launch
from .proxyless import ProxylessTrainer
from .ranking import RankingReport, arch_log_prob, ranking_quality
from .spos import SPOSTrainer

__all__ = [
    "ArchHistory",
    "ArchRecord",
    "ArchitectureCheckpoint",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "DartsTrainer",
    "EnasController",
    "EnasTrainer",
    "LRSchedulerCallback",
    "ModelCheckpoint",
    "OneShotTrainer",
    "ProxylessTrainer",
    "RankingReport",
    "SPOSTrainer",
    "TrainingError",
    "accuracy",
    "arch_log_prob",
    "launch",
    "ranking_quality",
]
