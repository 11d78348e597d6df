"""ENAS: controller structure (any candidate counts, any n_chosen, scopes), REINFORCE, export."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasnb.oneshot import EnasController, EnasTrainer, TrainingError, accuracy
from nasnb.oneshot.enas import _program

from ._nets import OracleNet, TinyNet, digits, oracle_data


def _trainer(epochs=3, **kw):
    train, valid = digits()
    net = TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return EnasTrainer(net, F.cross_entropy, accuracy, opt, epochs, train, valid, batch_size=64,
                       controller_lr=5e-3, controller_steps=5, progress=False, **kw)


def test_program_walks_keys_in_pre_order_with_scope_exits():
    t = _trainer(epochs=0)
    assert _program(t.space) == [("choice", "act"), ("choice", "op_a"), ("choice", "op_b"), ("choice", "node"),
                                 ("exit", "cell"), ("choice", "skip"), ("choice", "mix")]
    # different candidate counts (3, 2, 4): one head per key, no equal-count requirement
    heads = {k: t.controller.heads[t.controller.slot[k]].out_features for k in ("act", "op_a", "op_b")}
    assert heads == {"act": 3, "op_a": 2, "op_b": 4}


def test_samples_respect_n_chosen_and_are_reproducible():
    t = _trainer(epochs=0)
    g = torch.Generator().manual_seed(3)
    out = t.controller(50, generator=g)
    archs = t.controller.decode(out["choices"])
    assert all(len(a["mix"]) == 2 and len(set(a["mix"])) == 2 for a in archs)
    assert all(len(a["node"]) == 1 for a in archs)
    assert {len(a["skip"]) for a in archs} >= {0, 1, 2} - {0} and len({a["skip"] for a in archs}) > 1
    assert out["log_prob"].shape == (50,) and (out["log_prob"] <= 0).all() and (out["entropy"] > 0).all()
    assert t.export(samples=4, seed=1) == t.export(samples=4, seed=1)
    assert all(t.space.validate(a) == a for a in t.export(samples=4, seed=1))


def test_learns_on_digits_and_export_is_the_most_likely_architecture():
    t = _trainer()
    h = t.train()
    assert t.validate()["acc"] > 0.6
    first, last = h.records[0].weights, h.records[-1].weights
    assert max(abs(a - b) for k in first for a, b in zip(first[k], last[k])) > 0.05
    arch = t.export()
    assert arch == t.export()  # deterministic (NNI 1.x exported a fresh random sample)
    greedy = t.controller.decode(t.controller(1, greedy=True)["choices"])[0]
    assert arch == t.space.validate({k: t.space[k].encode(v) for k, v in greedy.items()})
    assert t.space.current() == arch
    assert t.space.fix(arch)(torch.zeros(2, 64)).shape == (2, 10)


def test_reinforce_finds_the_oracle_candidate():
    t = EnasTrainer(OracleNet(), F.cross_entropy, num_epochs=4, dataset_train=oracle_data(), batch_size=16,
                    controller_lr=0.05, controller_steps=10, controller_batch=8, progress=False)
    t.train()
    assert t.export()["choice"] == "right"
    assert t.history.final()["choice"][1] > 0.7


def test_nan_reward_stops_training():
    train, _ = digits()
    t = EnasTrainer(TinyNet(), F.cross_entropy, dataset_train=train, reward_function=lambda o, y: torch.tensor(
        float("nan")), controller_steps=1, progress=False)
    with pytest.raises(TrainingError, match="controller reward is nan"):
        t.train()


def test_checkpoint_restores_the_controller(tmp_path):
    t = _trainer(epochs=1)
    t.train()
    t.save_checkpoint(tmp_path / "c.pt")
    other = _trainer(epochs=2, seed=5)
    other.load_checkpoint(tmp_path / "c.pt")
    for (n, a), (_, b) in zip(t.controller.state_dict().items(), other.controller.state_dict().items()):
        assert torch.equal(a, b), n
    assert other.baseline == t.baseline and other.export() == t.export()
    other.train()
    assert other.epoch == 2


def test_controller_samples_valid_architectures_and_learns_from_train_controller():
    t = _trainer(epochs=0)
    assert isinstance(t.controller, EnasController)
    g = torch.Generator().manual_seed(0)
    archs = t.controller.decode(t.controller(32, generator=g)["choices"])
    for a in archs:  # every sample is an architecture of the space (set_indices checks it)
        t.space.set_indices(a)
        assert t.space.indices() == a

    def policy():
        with torch.no_grad():
            out = t.controller(64, generator=torch.Generator().manual_seed(1))
        return out["log_prob"].clone(), out["entropy"].mean().item()

    log_prob, entropy = policy()
    logs = t.train_controller()  # the public REINFORCE update (train() runs it after each epoch)
    assert 0.0 <= logs["reward"] <= 1.0
    log_prob2, entropy2 = policy()
    assert not torch.allclose(log_prob, log_prob2) and entropy2 != entropy
    greedy = t.controller.decode(t.controller(1, greedy=True)["choices"])[0]
    assert t.export() == {k: t.space[k].encode(v) for k, v in greedy.items()}


def test_a_controller_that_does_not_learn_warns_naming_controller_lr():
    import warnings

    def oracle(lr):
        return EnasTrainer(OracleNet(), F.cross_entropy, num_epochs=2, dataset_train=oracle_data(), batch_size=16,
                           controller_lr=lr, controller_steps=10, controller_batch=8, progress=False)

    with pytest.warns(UserWarning) as record:
        oracle(1e-9).train()
    still = [str(w.message) for w in record if "architecture weights moved" in str(w.message)]
    assert len(still) == 1
    assert still[0].startswith("EnasTrainer: after epoch 0 the architecture weights moved by at most ")
    assert "Raise controller_lr (now 1e-09), e.g. 10x" in still[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oracle(0.05).train()  # learns: silent
