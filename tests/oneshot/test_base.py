"""The shared trainer loop: data forms, errors, callbacks, live feedback selection."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from nasnb.exceptions import SearchSpaceError
from nasnb.oneshot import (
    Callback,
    DartsTrainer,
    EnasTrainer,
    LRSchedulerCallback,
    ProxylessTrainer,
    SPOSTrainer,
    TrainingError,
    accuracy,
)
from nasnb.oneshot._live import LiveMonitor, Monitor, make_monitor

from ._nets import TinyNet, digits


class _Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self):
        self.events.append("begin")

    def on_epoch_begin(self, epoch):
        self.events.append(("epoch", epoch))

    def on_batch_end(self, batch, logs):
        self.events.append("batch")

    def on_epoch_end(self, epoch, logs):
        self.events.append(("end", epoch, sorted(logs)))

    def on_train_end(self):
        self.events.append("done")


def test_callbacks_see_every_event_and_the_lr_scheduler_steps():
    train, valid = digits(n_train=128)
    net = TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = _Recorder()
    sched = LRSchedulerCallback(torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
    t = SPOSTrainer(net, F.cross_entropy, accuracy, opt, 2, train, valid, batch_size=64, callbacks=[rec, sched],
                    progress=False)
    assert rec.trainer is t
    t.train()
    assert rec.events == ["begin", ("epoch", 0), "batch", "batch", ("end", 0, ["loss", "val_acc", "val_loss"]),
                          ("epoch", 1), "batch", "batch", ("end", 1, ["loss", "val_acc", "val_loss"]), "done"]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    with pytest.raises(ValueError, match="mode must be 'epoch' or 'step', got 'iteration'"):
        LRSchedulerCallback(sched.scheduler, mode="iteration")


def test_data_forms_and_errors():
    train, _valid = digits(n_train=128)
    t = SPOSTrainer(TinyNet(), F.cross_entropy, dataset_train=DataLoader(train, batch_size=32), progress=False)
    t.train()
    assert t.global_step == 4
    with pytest.raises(TrainingError, match="dataset_train is None"):
        SPOSTrainer(TinyNet(), F.cross_entropy)
    with pytest.raises(TrainingError, match=r"dataset_valid is empty \(0 batches\)"):
        SPOSTrainer(TinyNet(), F.cross_entropy, dataset_train=train, dataset_valid=DataLoader(
            TensorDataset(torch.zeros(0, 64), torch.zeros(0)), batch_size=4))
    t = SPOSTrainer(TinyNet(), F.cross_entropy, dataset_train=[torch.zeros(4, 64)], progress=False)
    with pytest.raises(TrainingError, match=r"a batch must be a pair \(input, target\), got Tensor"):
        t.train()
    t = SPOSTrainer(TinyNet(), F.cross_entropy, dataset_train=iter([]), progress=False)
    with pytest.raises(TrainingError, match="dataset_train yielded no batches in epoch 0"):
        t.train()
    t = SPOSTrainer(TinyNet(), lambda o, y: "bad", dataset_train=train, progress=False)
    with pytest.raises(TrainingError, match="loss returned str; expected a scalar torch.Tensor"):
        t.train()
    with pytest.raises(TrainingError, match="nothing to validate on"):
        t.validate()
    with pytest.raises(TypeError, match="loss must be callable"):
        SPOSTrainer(TinyNet(), "ce", dataset_train=train)
    with pytest.raises(ValueError, match="num_epochs must be an int >= 0, got -1"):
        SPOSTrainer(TinyNet(), F.cross_entropy, num_epochs=-1, dataset_train=train)


def test_aux_logits_are_weighted():
    class Aux(TinyNet):
        def forward(self, x):
            out = super().forward(x)
            return out, out * 0.0

    train, _ = digits(n_train=64)
    t = SPOSTrainer(Aux(), F.cross_entropy, dataset_train=train, aux_weight=0.4, progress=False)
    x, y = train.tensors
    t.sample()
    _, with_aux = t._forward_loss(x, y)
    assert float(with_aux.detach()) == pytest.approx(float(F.cross_entropy(t.model(x)[0], y).detach()) + 0.4 * float(
        F.cross_entropy(torch.zeros(64, 10), y)), rel=1e-5)


def test_monitor_selection_in_scripts(capsys):
    train, _ = digits(n_train=64)
    t = SPOSTrainer(TinyNet(), F.cross_entropy, dataset_train=train, progress=False)
    assert type(make_monitor(t, False, False)) is Monitor
    auto = make_monitor(t, "auto", "auto")  # not in a notebook: text only, never a plot
    assert isinstance(auto, LiveMonitor) and auto.text and not auto.plot and not auto.use_bar
    with pytest.raises(ValueError, match="live_plot must be True, False or 'auto', got 'yes'"):
        make_monitor(t, True, "yes")
    t.progress = "auto"
    t.train()
    assert capsys.readouterr().out.startswith("epoch 1/1: loss=")


def test_live_plot_is_throttled(monkeypatch):
    train, _ = digits(n_train=64)
    t = SPOSTrainer(TinyNet(), F.cross_entropy, dataset_train=train, progress=False)
    t._record()
    m = LiveMonitor(t, bar=False, text=False, plot=True, budget=0.05)
    drawn = []

    def fake_draw():
        drawn.append(1)
        m.draws += 1
        m.last_cost = m.draw_time = 1.0  # pretend a draw costs 1 s
        m.dirty = False

    monkeypatch.setattr(m, "_draw", fake_draw)
    clock = iter([0.0, 1.0, 10.0, 50.0])
    monkeypatch.setattr("nasnb.oneshot._live.time.perf_counter", lambda: next(clock))
    m.start = 0.0
    m.record()  # first record draws at once
    m.record()  # 1 s in: 2 s of drawing would exceed 5%
    m.record()  # 10 s in: still over budget
    m.record()  # 50 s in: 2 s <= 2.5 s, draw
    assert len(drawn) == 2


def test_a_model_with_nothing_to_search():
    """Before: EnasTrainer was built, then train() died with IndexError: pop from empty list
    (no mutables) or 'element 0 of tensors does not require grad' (only one-option keys)."""
    from torch import nn

    from nasnb import mutables

    train, valid = digits(n_train=64)
    with pytest.raises(SearchSpaceError, match=r"EnasTrainer: the model \(Sequential\) has no LayerChoice or "
                                               r"InputChoice to search"):
        EnasTrainer(nn.Sequential(nn.Linear(64, 10)), F.cross_entropy, dataset_train=train, progress=False)
    one_option = nn.Sequential(nn.Linear(64, 10), mutables.LayerChoice([nn.ReLU()], key="act"))
    with pytest.raises(SearchSpaceError, match=r"every key has a single option: 'act' \(1 option\)"):
        EnasTrainer(one_option, F.cross_entropy, dataset_train=train, progress=False)
    # the other trainers train such a model as a plain one and export the empty architecture
    for cls in (DartsTrainer, ProxylessTrainer, SPOSTrainer):
        t = cls(nn.Sequential(nn.Linear(64, 10)), F.cross_entropy, dataset_train=train, dataset_valid=valid,
                progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no weights to learn: no "the weights did not move" warning
            t.train()
        if cls is SPOSTrainer:
            t.search(population=2, generations=1)
        assert t.export() == {} and t.epoch == 1
