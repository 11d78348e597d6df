"""One-shot NAS on nasnb mutables: DARTS, ENAS, SPOS and ProxylessNAS trainers.

Each trainer turns the model's mutables into a supernet (weighted, sampled or gated),
trains it with your loss, optimizer and data, records every key's distribution over its
candidates in :class:`ArchHistory`, and exports the final architecture in the core's
format (``space.fix(trainer.export())`` is the final model).

Every trainer follows one protocol: ``train()`` (a loop over ``step(batch)``; a loop of
your own may call ``step`` and then ``finish()``), then ``export()`` gives an architecture
of the space. :func:`ranking_quality` measures how well a trained supernet ranks the
space's architectures against ground truth (Kendall's tau, Spearman's rho, top-k overlap).
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
    "ranking_quality",
]
