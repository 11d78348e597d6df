"""ProxylessNAS: BinaryConnect gradients, InputChoice gates, cost penalty, learning on digits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import nasnb
from nasnb import mutables
from nasnb.oneshot import ProxylessTrainer, accuracy

from ._nets import OracleNet, TinyNet, digits, oracle_data


def _trainer(net=None, epochs=3, **kw):
    train, valid = digits()
    net = net or TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    kw.setdefault("arch_lr", 0.05)
    return ProxylessTrainer(net, F.cross_entropy, accuracy, opt, epochs, train, valid, batch_size=64,
                            progress=False, **kw)


def test_learns_on_digits_with_input_choices():
    t = _trainer()
    h = t.train()
    assert t.validate()["acc"] > 0.6
    first, last = h.records[0].weights, h.records[-1].weights
    assert max(abs(a - b) for k in first for a, b in zip(first[k], last[k])) > 0.1
    arch = t.export()
    assert t.space.validate(arch) == arch and t.space.current() == arch
    assert len(arch["mix"]) == 2
    assert t.space.fix(arch)(torch.zeros(2, 64)).shape == (2, 10)


def test_binary_connect_gradient():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), mutables.LayerChoice([nn.Linear(6, 6), nn.Tanh(), nn.Identity()], key="op"),
                        nn.Linear(6, 3))
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g))
    t = ProxylessTrainer(net, F.cross_entropy, dataset_train=data, batch_size=8, arch_lr=0.0, progress=False)
    with torch.no_grad():
        t.alphas["op"].copy_(torch.tensor([0.2, -0.1, 0.4]))
    t._refresh_probs()
    x, y = data.tensors[0][:8], data.tensors[1][:8]
    t._enter()
    try:
        t._arch_step(x, y)
    finally:
        t._exit()
    active = t.mixer.active["op"][0]
    h = net[0](x)
    out = net[1][active](h)
    grad_out = torch.autograd.grad(F.cross_entropy(net[2](out), y), out)[0]
    G = torch.stack([(net[1][j](h) * grad_out).sum() for j in range(3)]).detach()
    p = torch.softmax(torch.tensor([0.2, -0.1, 0.4]), -1)
    expected = torch.stack([sum(G[j] * p[j] * (float(i == j) - p[i]) for j in range(3)) for i in range(3)])
    assert torch.allclose(t.alphas["op"].grad, expected, atol=1e-6)


def test_oracle_candidate_wins():
    import warnings

    t = ProxylessTrainer(OracleNet(), F.cross_entropy, num_epochs=5, dataset_train=oracle_data(), batch_size=16,
                         arch_lr=0.1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # settled weights (they moved < 1e-3 in epoch 3) are no "flat search"
        t.train()
    assert t.export()["choice"] == "right"


def test_flat_architecture_weights_warn_naming_arch_lr():
    t = ProxylessTrainer(OracleNet(), F.cross_entropy, num_epochs=1, dataset_train=oracle_data(), batch_size=16,
                         arch_lr=1e-7, progress=False)
    with pytest.warns(UserWarning, match=r"^ProxylessTrainer: after epoch 0 .* Raise arch_lr \(now 1e-07\)"):
        t.train()


def test_cost_tables_and_the_penalty_pushes_to_cheap_candidates():
    t = _trainer(epochs=0, cost="params")
    assert t.costs["op_a"] == [32 * 32 + 32, 2 * (32 * 32 + 32)]
    assert t.costs["act"] == [0.0, 0.0, 0.0]
    t = _trainer(epochs=0, cost="flops")
    assert t.costs["op_b"] == [2 * 32 * 32, 0.0, 0.0, 0.0]  # one sample, Linear 32 -> 32
    cheap = _trainer(epochs=2, cost="params", cost_weight=20.0)
    before = float(cheap.expected_cost().detach())
    cheap.train()
    assert float(cheap.expected_cost().detach()) < 0.8 * before
    assert cheap.export()["op_a"] == "lin"
    latency = _trainer(epochs=0, cost="latency")
    assert all(v > 0 for v in latency.costs["op_a"])
    with pytest.raises(nasnb.SearchSpaceError, match=r"cost table for key 'act' has 2 values, expected 3"):
        _trainer(epochs=0, cost={"act": [1.0, 2.0]})


class _Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 8)
        self.pick = mutables.InputChoice(n_candidates=2, n_chosen=None, reduction="concat", key="pick")
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.pick([self.fc(x), self.fc(x)]))


def test_refuses_concat_inputs_before_training():
    with pytest.raises(nasnb.SearchSpaceError, match=r"ProxylessNAS cannot gate InputChoice 'pick'.*'concat'"):
        _trainer(net=_Concat())


def test_warmup_trains_weights_only():
    t = _trainer(epochs=1, warmup_epochs=1)
    t.train()
    assert all(torch.equal(a, torch.zeros_like(a)) for a in t.alphas.values())
