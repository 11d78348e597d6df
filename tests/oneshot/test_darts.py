"""DARTS: learning on digits, shared keys, edge export, exact second order, errors, resume."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.utils.data import DataLoader, TensorDataset

import nasnb
from nasnb import mutables
from nasnb.oneshot import (
    ArchitectureCheckpoint,
    Checkpoint,
    DartsTrainer,
    ModelCheckpoint,
    TrainingError,
    accuracy,
)

from ._nets import OracleNet, TinyNet, digits, oracle_data


def _trainer(net=None, epochs=3, **kw):
    train, valid = digits()
    net = net or TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    kw.setdefault("arc_learning_rate", 3e-2)
    return DartsTrainer(net, F.cross_entropy, accuracy, opt, epochs, train, valid, batch_size=64,
                        progress=False, **kw)


def test_learns_on_digits_and_exports_core_format():
    t = _trainer()
    h = t.train()
    val = t.validate()
    assert val["acc"] > 0.6  # chance is 0.1
    first, last = h.records[0].weights, h.records[-1].weights
    moved = max(abs(a - b) for k in ("act", "op_a", "op_b") for a, b in zip(first[k], last[k]))
    assert moved > 0.1
    arch = t.export()
    assert t.space.validate(arch) == arch
    assert t.space.current() == arch  # the model runs the exported architecture after train()
    fixed = t.space.fix(arch)
    assert fixed(torch.zeros(3, 64)).shape == (3, 10)
    assert not any(isinstance(m, (mutables.LayerChoice, mutables.InputChoice)) for m in fixed.modules())


def test_one_parameter_vector_per_key_and_zero_op_on_edges():
    t = _trainer(epochs=0)
    # shared key "act" (two mutables) -> one vector; edges of the "node" cell input get a zero op;
    # "node" itself (choose_from = LayerChoice keys) has no vector; other inputs have their own.
    assert sorted(t.alphas) == ["act", "mix", "op_a", "op_b", "skip"]
    assert len(t.alphas["act"]) == 3
    assert len(t.alphas["op_a"]) == 2 + 1 and len(t.alphas["op_b"]) == 4 + 1
    assert len(t.alphas["skip"]) == 2 and len(t.alphas["mix"]) == 3


def test_edge_export_keeps_the_strongest_edge_and_history_records_strengths():
    t = _trainer(epochs=0)
    with torch.no_grad():
        t.alphas["op_a"].copy_(torch.tensor([0.0, 0.0, 5.0]))  # mostly the zero op: weak edge
        t.alphas["op_b"].copy_(torch.tensor([0.0, 3.0, 0.0, 0.0, 0.0]))  # strong "relu"
        t.alphas["skip"].copy_(torch.tensor([2.0, -2.0]))
        t.alphas["mix"].copy_(torch.tensor([-1.0, 2.0, 1.0]))
    arch = t.export()
    assert arch["node"] == ["op_b"] and arch["op_b"] == "relu"
    assert arch["skip"] == [0] and arch["mix"] == [1, 2]  # inputs without distinct names export indices
    w = t._arch_weights()
    assert w["node"][1] == pytest.approx(max(w["op_b"])) and w["node"][0] == pytest.approx(max(w["op_a"]))
    assert sum(w["op_a"]) < 1.0  # the implicit zero op takes the rest


def test_oracle_candidate_wins():
    t = DartsTrainer(OracleNet(), F.cross_entropy, num_epochs=5, dataset_train=oracle_data(), batch_size=16,
                     arc_learning_rate=0.1, progress=False)
    t.train()
    assert t.export()["choice"] == "right"
    assert t.history.final()["choice"][1] > 0.6


# ---------------------------------------------------------------- second order
class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.op = mutables.LayerChoice([nn.Linear(4, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 4), nn.Sigmoid())],
                                       key="op")
        self.b = nn.Linear(4, 2)

    def forward(self, x):
        return self.b(self.op(torch.tanh(self.a(x))))


def _second_order_setup():
    torch.manual_seed(0)
    net = _Tiny().double()
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(16, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (16,), generator=g))
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    t = DartsTrainer(net, F.cross_entropy, optimizer=opt, dataset_train=data, batch_size=8, unrolled=True,
                     progress=False)
    with torch.no_grad():
        t.alphas["op"].copy_(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))
    x, y = data.tensors[0][:8], data.tensors[1][:8]
    xa, ya = data.tensors[0][8:], data.tensors[1][8:]
    return t, net, (x, y, xa, ya)


def test_finite_difference_hessian_vector_product_matches_autograd():
    t, net, (x, y, _xa, _ya) = _second_order_setup()
    params = [p for p in net.parameters()]
    vector = [torch.randn_like(p) for p in params]
    t._enter()
    try:
        approx = t._hessian_vector_product(vector, x, y)
        t.mixer.refresh()
        loss = F.cross_entropy(net(x), y)
        gw = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gw, vector))
        exact = torch.autograd.grad(dot, [t.alphas["op"]])[0]
    finally:
        t._exit()
    assert torch.allclose(approx[0], exact, rtol=1e-4, atol=1e-7)
    assert exact.abs().max() > 1e-3  # not trivially zero


def test_unrolled_gradient_equals_exact_autograd_of_the_virtual_step():
    t, net, (x, y, xa, ya) = _second_order_setup()
    names = [n for n, _ in net.named_parameters()]
    params = [p for p in net.parameters()]
    before = [p.detach().clone() for p in params]
    alpha = t.alphas["op"]
    t._enter()
    try:
        t._unrolled_backward(x, y, xa, ya)
        ours = alpha.grad.clone()
        # exact: d/d alpha L_val(w - lr * grad_w L_train(w, alpha), alpha)
        t.mixer.refresh()
        loss = F.cross_entropy(net(x), y)
        gw = torch.autograd.grad(loss, params, create_graph=True)
        moved = {n: p - 0.3 * g for n, p, g in zip(names, params, gw)}
        t.mixer.refresh()
        loss_v = F.cross_entropy(functional_call(net, moved, (xa,)), ya)
        exact = torch.autograd.grad(loss_v, [alpha])[0]
        t.mixer.refresh()
        first_order = torch.autograd.grad(F.cross_entropy(net(xa), ya), [alpha])[0]
    finally:
        t._exit()
    assert all(torch.equal(b, p) for b, p in zip(before, params))  # weights restored exactly
    assert torch.allclose(ours, exact, rtol=1e-4, atol=1e-8)
    assert not torch.allclose(ours, first_order, rtol=1e-3)  # second order really differs


def test_virtual_step_really_moves_the_weights():
    t, net, (x, y, _xa, _ya) = _second_order_setup()
    original = [p.detach().clone() for p in net.parameters()]
    t._enter()
    try:
        backup = t._virtual_step(x, y)
    finally:
        t._exit()
    assert all(torch.equal(b, o) for b, o in zip(backup, original))
    assert any(not torch.equal(p, o) for p, o in zip(net.parameters(), original))  # NNI 1.x bug: unchanged


def test_second_order_trains_on_digits():
    t = _trainer(epochs=2, unrolled=True)
    t.train()
    assert t.validate()["acc"] > 0.4


# -------------------------------------------------------------------- errors
class _Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 8)
        self.pick = mutables.InputChoice(n_candidates=3, n_chosen=2, reduction="concat", key="pick")
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        h = self.fc(x)
        return self.head(self.pick([h, h, h]))


def test_refuses_a_concat_input_choice_before_training():
    train, _ = digits()
    with pytest.raises(nasnb.SearchSpaceError, match=r"DARTS cannot search InputChoice 'pick'.*'concat'"):
        DartsTrainer(_Concat(), F.cross_entropy, dataset_train=train)


def test_mismatched_candidate_shapes_name_the_key():
    net = nn.Sequential(nn.Linear(64, 8), mutables.LayerChoice([nn.Linear(8, 4), nn.Linear(8, 5)], key="bad"))
    train, _ = digits()
    t = DartsTrainer(net, lambda o, y: o.sum() * 0.0, dataset_train=train, progress=False)
    with pytest.raises(nasnb.SearchSpaceError, match=r"key 'bad'.*differ in shape"):
        t.train()


def test_empty_dataset_non_scalar_and_nan_loss():
    train, _ = digits()
    empty = TensorDataset(torch.zeros(0, 64), torch.zeros(0, dtype=torch.long))
    with pytest.raises(TrainingError, match=r"dataset_train is empty \(0 samples\)"):
        DartsTrainer(TinyNet(), F.cross_entropy, dataset_train=empty)
    t = DartsTrainer(TinyNet(), lambda o, y: F.cross_entropy(o, y, reduction="none"), dataset_train=train,
                     progress=False)
    with pytest.raises(TrainingError, match=r"loss returned a tensor of shape \(\d+,\); expected a scalar"):
        t.train()
    t = DartsTrainer(TinyNet(), lambda o, y: F.cross_entropy(o, y) * float("nan"), dataset_train=train,
                     progress=False)
    alphas = {k: a.detach().clone() for k, a in t.alphas.items()}
    with pytest.raises(TrainingError, match=r"architecture \(validation\) loss is nan.*diverged"):
        t.train()
    assert all(torch.equal(alphas[k], a) for k, a in t.alphas.items())  # no NaN architecture kept


def test_loaders_need_arch_data():
    train, valid = digits()
    loader = DataLoader(train, batch_size=64)
    with pytest.raises(TrainingError, match=r"dataset_train is a loader.*arch_data="):
        DartsTrainer(TinyNet(), F.cross_entropy, dataset_train=loader)
    t = DartsTrainer(TinyNet(), F.cross_entropy, accuracy, dataset_train=loader,
                     arch_data=DataLoader(valid, batch_size=64), progress=False)
    t.train()
    assert len(t.history) == len(loader) + 1


# --------------------------------------------------------------- checkpoints
def test_callbacks_write_files_and_resume_matches_an_uninterrupted_run(tmp_path):
    torch.manual_seed(0)
    straight = _trainer(net=TinyNet(), epochs=3)
    straight.train()

    torch.manual_seed(0)
    first = _trainer(net=TinyNet(), epochs=2, callbacks=[Checkpoint(tmp_path), ArchitectureCheckpoint(tmp_path),
                                                        ModelCheckpoint(tmp_path)])
    first.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.pt", "epoch_0.json", "epoch_0.pth.tar", "epoch_1.json", "epoch_1.pth.tar"]
    saved = json.loads((tmp_path / "epoch_1.json").read_text())
    assert saved == first.export()

    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = _trainer(net=TinyNet(), epochs=3)
    resumed.load_checkpoint(tmp_path / "checkpoint.pt")
    assert resumed.epoch == 2
    resumed.train()
    assert len(resumed.history) == len(straight.history)
    for k in straight.alphas:
        assert torch.allclose(straight.alphas[k], resumed.alphas[k], atol=1e-6)
    assert resumed.export() == straight.export()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_on_cuda():
    t = _trainer(epochs=2, device="cuda")
    t.train()
    assert all(a.device.type == "cuda" for a in t.alphas.values())
    assert t.validate()["acc"] > 0.3


# ---------------------------------------------------------------- no silent flat search
def _oracle(lr, **kw):
    return DartsTrainer(OracleNet(), F.cross_entropy, num_epochs=kw.pop("num_epochs", 2), dataset_train=oracle_data(),
                        batch_size=16, arc_learning_rate=lr, progress=False, live_plot=False, **kw)


def test_architecture_weights_that_do_not_move_warn_once_naming_the_learning_rate():
    import warnings

    t = _oracle(1e-7)
    with pytest.warns(UserWarning) as record:
        t.train()
    still = [w for w in record if "architecture weights moved" in str(w.message)]
    assert len(still) == 1
    assert str(still[0].message).startswith(
        "DartsTrainer: after epoch 0 the architecture weights moved by at most ")
    assert "Raise arc_learning_rate (now 1e-07), e.g. 10x, or train more epochs." in str(still[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _oracle(0.1).train()  # learns: silent
        _oracle(1e-7, num_epochs=1, warmup_epochs=1).train()  # a warm-up epoch does not learn on purpose


def test_train_applies_the_export_unless_told_not_to():
    t = _oracle(0.1)
    t.train(apply=False)
    assert t.export() == {"choice": "right"} and t.space.current() == {"choice": "wrong"}
    t = _oracle(0.1)
    t.train()
    assert t.space.current() == t.export() == {"choice": "right"}
