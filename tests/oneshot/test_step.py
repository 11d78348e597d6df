"""The public step protocol of every one-shot trainer: ``step()``, ``train()`` as a loop over it,
``finish()``, ``train(); export()`` on every algorithm, and lazily measured ProxylessNAS costs."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasnb import mutables
from nasnb.oneshot import DartsTrainer, EnasTrainer, ProxylessTrainer, SPOSTrainer, TrainingError, accuracy

from ._nets import TinyNet, digits

TRAINERS = {
    "darts": (DartsTrainer, {}),
    "enas": (EnasTrainer, {"controller_steps": 1}),
    "spos": (SPOSTrainer, {}),
    "proxyless": (ProxylessTrainer, {}),
}


def _make(name, epochs=1, seed=0, **kw):
    cls, extra = TRAINERS[name]
    torch.manual_seed(seed)
    train, valid = digits(n_train=256)
    return cls(TinyNet(), F.cross_entropy, accuracy, None, epochs, train, valid, batch_size=64, progress=False,
               seed=seed, **extra, **kw)


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_step_counts_records_and_keeps_the_supernet_mode_until_finish(name):
    t = _make(name, history_every=2)
    x, y = digits(n_train=256)[0].tensors
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    stats = [t.step((x[:32], y[:32])) for _ in range(3)]
    assert all("loss" in s and s["loss"] > 0 for s in stats)
    if name in ("darts", "proxyless"):  # the architecture step drew its batch from the trainer's arch data
        assert all("arch_loss" in s for s in stats)
    assert t.global_step == 3 and [r.step for r in t.history.records] == [2]
    assert t._depth == 1  # entered once by step(), still on
    assert any(not torch.equal(before[k], v) for k, v in t.model.state_dict().items())  # weights were updated
    t.finish()
    assert t._depth == 0
    if name != "spos":  # SPOS exports the search's best; without one, finish() leaves the last sampled path
        assert t.space.current() == t.export()


def test_step_takes_an_explicit_architecture_batch_and_refuses_a_bad_batch():
    t = _make("darts")
    x, y = digits(n_train=256)[0].tensors
    stats = t.step((x[:16], y[:16]), arch_batch=(x[16:32], y[16:32]))
    assert set(stats) == {"loss", "arch_loss"}
    with pytest.raises(TrainingError, match=r"a batch must be a pair \(input, target\), got Tensor"):
        t.step(x[:16])
    t.finish()


@pytest.mark.parametrize("name", ["darts", "spos"])
def test_train_is_a_loop_over_step(name):
    """One epoch of train() and a hand-written loop over step() with the same batches end identical."""
    a = _make(name)
    a.train(validate=False)
    b = _make(name)
    arch = b.data.arch_batches(0) if b.arch_data is not None else None
    for batch in b.data.train_batches(0):
        b.step(batch, next(arch) if arch is not None else None)
    b.epoch = 1
    b.finish()
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert a.global_step == b.global_step
    assert [r.weights for r in a.history.records[:-1]] == [r.weights for r in b.history.records]  # [-1]: epoch end
    if name == "darts":
        assert a.export() == b.export()


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_train_then_export_gives_an_architecture_on_every_trainer(name):
    t = _make(name)
    t.train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arch = t.export()
    assert t.space.validate(arch) == arch and set(arch) == set(t.space)
    assert t.space.fix(arch)(torch.zeros(2, 64)).shape == (2, 10)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if name == "spos":  # no search ran: export() ran one with the defaults and said so
        assert any("runs search() with its defaults (population=20, generations=5" in m for m in messages)
        assert len(t.search_history) == 5 and t.export() == t.best == t.search_results[0][0]
    else:
        assert messages == []


def test_spos_export_after_search_does_not_search_again():
    t = _make("spos")
    t.train()
    best = t.search(population=4, generations=1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert t.export() == best
    assert len(t.search_history) == 1


def _counting_net():
    net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.Linear(8, 8), nn.Identity()], key="op"),
                        nn.Linear(8, 2))
    calls = []
    net.register_forward_hook(lambda m, a, out: calls.append(1))
    return net, calls


@pytest.mark.parametrize("cost", ["flops", "latency"])
def test_proxyless_measures_costs_on_first_use_not_in_the_constructor(cost):
    net, calls = _counting_net()
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
    t = ProxylessTrainer(net, F.cross_entropy, dataset_train=data, batch_size=8, cost=cost, cost_weight=1.0,
                         progress=False)
    assert calls == []  # the constructor ran no forward
    costs = t.costs
    assert len(calls) == 1 and set(costs) == {"op"} and costs["op"][0] > 0
    if cost == "flops":
        assert costs["op"] == [2.0 * 8 * 8, 0.0]  # one sample through Linear(8, 8); Identity is free
    assert t.costs is costs and len(calls) == 1  # measured once


def test_proxyless_measures_costs_when_training_starts():
    net, calls = _counting_net()
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
    t = ProxylessTrainer(net, F.cross_entropy, dataset_train=data, batch_size=8, cost="flops", cost_weight=1.0,
                         progress=False)
    stats = t.step((torch.randn(8, 4), torch.randint(0, 2, (8,))))
    assert t._costs == {"op": [128.0, 0.0]} and stats["cost_penalty"] > 0
    t.finish()
