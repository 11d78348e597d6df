"""NNI 1.x one-shot trainers on nasnb: NNI's arguments, mutators, callbacks and exports."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return TensorDataset(x, y)


def _net():
    from nni.nas.pytorch.mutables import InputChoice, LayerChoice
    from nni.nas.pytorch.utils import _reset_global_mutable_counting

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 8)
            self.act = LayerChoice([nn.ReLU(), nn.Tanh(), nn.Identity()])
            self.skip = InputChoice(n_candidates=2, n_chosen=1)
            self.out = nn.Linear(8, 2)

        def forward(self, x):
            h = self.fc1(x)
            return self.out(self.skip([self.act(h), h]))

    _reset_global_mutable_counting()
    torch.manual_seed(0)
    return Net()


def _accuracy(output, target):
    return {"acc": float((output.argmax(1) == target).float().mean())}


def test_darts_trainer_takes_nni_arguments_callbacks_and_writes_nni_files(tmp_path, caplog):
    from nni.nas.pytorch.callbacks import ArchitectureCheckpoint, LRSchedulerCallback, ModelCheckpoint
    from nni.nas.pytorch.darts import DartsMutator, DartsTrainer

    net = _net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)
    mutator = DartsMutator(net)
    before = mutator.choices["LayerChoice1"].detach().clone()
    trainer = DartsTrainer(net, nn.CrossEntropyLoss(), _accuracy, optimizer, 2, _data(), _data(16, 1),
                           mutator=mutator, batch_size=8, workers=0, device="cpu", log_frequency=1,
                           callbacks=[LRSchedulerCallback(scheduler), ArchitectureCheckpoint(tmp_path / "arch"),
                                      ModelCheckpoint(tmp_path / "model")], arc_learning_rate=0.05)
    with caplog.at_level(logging.INFO, logger="nni"):
        trainer.train()
    assert "Epoch [1/2] Step [1]" in caplog.text
    assert not torch.equal(before, mutator.choices["LayerChoice1"].detach())  # the alphas learnt
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    saved = json.loads((tmp_path / "arch" / "epoch_1.json").read_text())
    assert saved == trainer.export() and sorted(saved) == ["InputChoice2", "LayerChoice1"]
    state = torch.load(tmp_path / "model" / "epoch_1.pth.tar")
    assert set(state) == set(net.state_dict())
    path = tmp_path / "final.json"
    assert trainer.export(path) == json.loads(path.read_text())


def test_darts_trainer_runs_a_custom_darts_mutator():
    from nni.nas.pytorch.darts import DartsMutator, DartsTrainer

    class NoIdentity(DartsMutator):
        resets = 0

        def sample_search(self):
            NoIdentity.resets += 1
            result = super().sample_search()
            w = result["LayerChoice1"].clone()
            w[2] = 0.0  # cut a candidate, P-DARTS style
            result["LayerChoice1"] = w
            return result

    net = _net()
    trainer = DartsTrainer(net, nn.CrossEntropyLoss(), None, torch.optim.SGD(net.parameters(), lr=0.05), 1,
                           _data(), None, mutator=NoIdentity(net), batch_size=8, workers=0, device="cpu",
                           unrolled=True, arc_learning_rate=0.1)
    before = trainer.mutator.choices["LayerChoice1"].detach().clone()
    trainer.train()
    assert not torch.equal(before, trainer.mutator.choices["LayerChoice1"].detach())  # second order moved them
    assert NoIdentity.resets >= 3  # every step draws through the override
    assert trainer.mutator.status()["LayerChoice1"][2] == 0.0


def test_trainers_reject_a_mutator_of_another_model():
    from nni.nas.pytorch.darts import DartsMutator, DartsTrainer

    net, other = _net(), _net()
    with pytest.raises(ValueError, match="built for another model"):
        DartsTrainer(net, nn.CrossEntropyLoss(), None, torch.optim.SGD(net.parameters(), lr=0.1), 1, _data(), None,
                     mutator=DartsMutator(other), workers=0)


def test_enas_trainer_with_nni_arguments_trains_the_mutators_controller(tmp_path):
    from nni.nas.pytorch.enas import EnasMutator, EnasTrainer

    net = _net()
    mutator = EnasMutator(net, lstm_size=16)
    before = [p.detach().clone() for p in mutator.controller.parameters()]
    reward = lambda out, y: (out.argmax(1) == y).float().mean()  # noqa: E731
    trainer = EnasTrainer(net, nn.CrossEntropyLoss(), _accuracy, reward, torch.optim.SGD(net.parameters(), lr=0.05),
                          2, _data(60), _data(16, 1), mutator=mutator, batch_size=8, workers=0, device="cpu",
                          child_steps=3, mutator_steps=2, mutator_steps_aggregate=2)
    trainer.train()
    assert trainer.global_step == 6  # child_steps weight steps per epoch
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, mutator.controller.parameters()))
    arch = trainer.export(tmp_path / "enas.json")
    assert sorted(arch) == ["InputChoice2", "LayerChoice1"] and json.loads((tmp_path / "enas.json").read_text()) == arch


def test_spos_trainer_trains_the_paths_its_mutator_draws():
    from nni.nas.pytorch.spos import SPOSEvolution, SPOSSupernetTrainer, SPOSSupernetTrainingMutator

    drawn = []

    class Logged(SPOSSupernetTrainingMutator):
        def sample_search(self):
            result = super().sample_search()
            drawn.append(int(result["LayerChoice1"].int().argmax()))
            return result

    net = _net()
    torch.manual_seed(3)
    trainer = SPOSSupernetTrainer(net, nn.CrossEntropyLoss(), _accuracy, torch.optim.SGD(net.parameters(), lr=0.05),
                                  1, DataLoader(_data(), batch_size=8), DataLoader(_data(16, 1), batch_size=8),
                                  mutator=Logged(net), workers=0, device="cpu")
    trainer.train(validate=False)
    counts = trainer._counts["LayerChoice1"]
    assert len(drawn) == 6 and [drawn.count(i) for i in range(3)] == counts
    trainer.search(population=4, generations=1, data=DataLoader(_data(16, 1), batch_size=8), bn_batches=1)
    assert sorted(trainer.export()) == ["InputChoice2", "LayerChoice1"]
    with pytest.raises(NotImplementedError, match="trainer.search"):
        SPOSEvolution()


def test_spos_flops_binned_sampling_stays_in_the_drawn_bin():
    from nni.nas.pytorch.spos import SPOSSupernetTrainingMutator

    net = _net()
    cost = lambda cand: float(cand["LayerChoice1"].int().argmax())  # noqa: E731  0, 1 or 2
    mutator = SPOSSupernetTrainingMutator(net, flops_func=cost, flops_lb=-0.5, flops_ub=2.5, flops_bin_num=3)
    torch.manual_seed(0)
    picks = []
    for _ in range(60):
        mutator.reset()
        picks.append(mutator.status()["LayerChoice1"].index(1.0))
    assert min(picks.count(i) for i in range(3)) >= 10  # each bin (one candidate each) drawn uniformly
    with pytest.raises(ValueError, match="flops_lb < flops_ub"):
        SPOSSupernetTrainingMutator(_net(), flops_func=cost)


def test_proxylessnas_trainer_with_nni_arguments(tmp_path):
    from nni.nas.pytorch.proxylessnas import ProxylessNasTrainer

    net = _net()
    optim = torch.optim.SGD(net.parameters(), lr=0.05)
    trainer = ProxylessNasTrainer(net, optim, "cpu", DataLoader(_data(), batch_size=8),
                                  DataLoader(_data(16, 1), batch_size=8), n_epochs=1, warmup_epochs=1,
                                  grad_update_arch_param_every=1, init_lr=0.05, arch_path=str(tmp_path / "p.json"))
    trainer.train()
    assert trainer.epoch == 2
    assert optim.param_groups[0]["lr"] < 0.05  # the cosine schedule ran
    arch = json.loads((tmp_path / "p.json").read_text())
    assert sorted(arch) == ["InputChoice2", "LayerChoice1"]
    with pytest.raises(NotImplementedError, match="binary_mode='two'"):
        ProxylessNasTrainer(_net(), optim, "cpu", DataLoader(_data()), DataLoader(_data()), binary_mode="two")


def test_a_hand_written_nni_trainer_runs_on_the_trainer_base_class(tmp_path):
    from nni.nas.pytorch.callbacks import Callback
    from nni.nas.pytorch.random import RandomMutator
    from nni.nas.pytorch.trainer import Trainer
    from nni.nas.pytorch.utils import AverageMeterGroup

    class Seen(Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_end(self, epoch):
            self.epochs.append(epoch)

    class RandomPaths(Trainer):
        def train_one_epoch(self, epoch):
            meters = AverageMeterGroup()
            for x, y in DataLoader(self.dataset_train, batch_size=self.batch_size):
                self.mutator.reset()
                loss = self.loss(self.model(x), y)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                meters.update({"loss": loss})
            self.last = meters.loss.avg

        def validate_one_epoch(self, epoch):
            self.validated = epoch

    net = _net()
    seen = Seen()
    trainer = RandomPaths(net, RandomMutator(net), nn.CrossEntropyLoss(), None,
                          torch.optim.SGD(net.parameters(), lr=0.1), 2, _data(), None, 8, 0, "cpu", None, [seen])
    trainer.train()
    assert seen.epochs == [0, 1] and trainer.validated == 1 and trainer.last > 0
    arch = trainer.export(tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text()) == arch
    with pytest.raises(NotImplementedError):
        trainer.checkpoint()
