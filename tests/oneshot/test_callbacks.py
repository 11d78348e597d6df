"""Callbacks of the one-shot trainers: learning-rate schedules per epoch or per step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasnb.oneshot import LRSchedulerCallback, SPOSTrainer

from ._nets import TinyNet, digits


def _lr_after_training(mode: str) -> float:
    train, _ = digits(n_train=256)  # 4 batches of 64 per epoch
    net = TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    SPOSTrainer(net, F.cross_entropy, optimizer=opt, num_epochs=2, dataset_train=train, batch_size=64,
                callbacks=[LRSchedulerCallback(sched, mode=mode)], progress=False).train()
    return float(opt.param_groups[0]["lr"])


def test_epoch_mode_steps_once_per_epoch():
    assert _lr_after_training("epoch") == 0.5 ** 2


def test_step_mode_steps_after_every_batch():
    assert _lr_after_training("step") == 0.5 ** 8  # 2 epochs x 4 batches


def test_unknown_mode_is_refused():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match=r"mode must be 'epoch' or 'step', got 'batch'"):
        LRSchedulerCallback(torch.optim.lr_scheduler.StepLR(opt, 1), mode="batch")
