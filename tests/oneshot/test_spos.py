"""SPOS: uniform single paths, evolution with constraints, BatchNorm recalibration, no CUDA needed."""

from __future__ import annotations

import json
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasnb import NasnbError, mutables
from nasnb.oneshot import SPOSTrainer, accuracy
from nasnb.oneshot._spos_search import recalibrate_bn

from ._nets import TinyNet, digits


def _trainer(net=None, epochs=3, **kw):
    train, valid = digits()
    net = net or TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return SPOSTrainer(net, F.cross_entropy, accuracy, opt, epochs, train, valid, batch_size=64, progress=False, **kw)


def test_uniform_sampling_covers_every_kind_of_key():
    t = _trainer(epochs=0)
    rng = random.Random(0)
    archs = [t.sample(rng) for _ in range(600)]
    assert t.space.decision("act").indices == archs[-1]["act"]  # applied to the model
    freq = [sum(a["op_b"] == (i,) for a in archs) / 600 for i in range(4)]
    assert all(0.18 < f < 0.32 for f in freq)
    assert all(len(a["mix"]) == 2 for a in archs)
    sizes = {len(a["skip"]) for a in archs}
    assert sizes == {0, 1, 2}


def test_trains_on_digits_then_evolves_under_a_parameter_bound():
    t = _trainer()
    h = t.train()
    assert t.validate()["acc"] > 0.4  # random paths through the supernet, chance 0.1
    assert h.kind == "frequency" and abs(sum(h.final()["act"]) - 1) < 1e-9
    bound = 4600
    best = t.search(population=8, generations=3, params=(None, bound), seed=0)
    assert t.arch_params(best) <= bound
    scores = [s for _, s in t.search_results]
    assert scores == sorted(scores, reverse=True) and scores[0] < 0  # minus the validation loss by default
    assert t.export() == best == t.search_results[0][0]
    assert t.space.current() == best
    assert len(t.search_history) == 3
    fixed = t.space.fix(best)
    assert sum(p.numel() for p in fixed.parameters()) == t.arch_params(best)


def test_search_scores_by_minus_the_loss_or_by_accuracy():
    t = _trainer(epochs=1)
    t.train()
    t.search(population=4, generations=1, seed=0, score_by="acc")
    by_acc = {json.dumps(a, sort_keys=True): s for a, s in t.search_results}
    t.search(population=4, generations=1, seed=0)
    by_loss = {json.dumps(a, sort_keys=True): s for a, s in t.search_results}
    assert by_acc.keys() == by_loss.keys()  # same seed, same architectures
    assert all(0.1 < s <= 1.0 for s in by_acc.values()) and all(s < 0 for s in by_loss.values())
    for arch, score in by_loss.items():
        t.space.set_indices({k: t.space[k].parse(v) for k, v in json.loads(arch).items()}, check=False)
        t.model.eval()
        assert score == pytest.approx(-t._mean_stats(t.dataset_valid, "valid")["loss"], rel=1e-5)
    with pytest.raises(ValueError, match=r"score_by must be one of \['loss', 'acc'\].*'top1'"):
        t.search(population=4, generations=1, score_by="top1")


def test_flops_bound_and_custom_constraint():
    t = _trainer(epochs=1)
    t.train()
    bound = 2 * 64 * 32 + 2 * 32 * 32 + 2 * 32 * 10 + 2 * 32 * 32
    best = t.search(population=6, generations=2, flops=(None, bound), constraint=lambda arch: arch["act"] == "tanh",
                    seed=1)
    assert best["act"] == "tanh"
    one = digits()[0].tensors[0][:1]
    flops = {json.dumps(a): t._flops_of({k: t.space[k].parse(v) for k, v in a.items()}, one) for a, _ in t.search_results}
    assert all(a["act"] == "tanh" for a, _ in t.search_results) and max(flops.values()) <= bound
    assert min(flops.values()) > 0  # the bound is on the real count, not on a zero from a failed measurement
    with pytest.raises(NasnbError, match=r"no architecture satisfied the constraints"):
        t.search(population=4, generations=1, params=(None, 10), max_tries=50)


def test_batchnorm_is_recalibrated_before_scoring():
    net = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16),
                        mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"), nn.Linear(16, 10))
    t = _trainer(net=net, epochs=1)
    t.train()
    bn = net[1]
    x = digits()[0].tensors[0][:128]
    recalibrate_bn(t.model, [(x[:64], None), (x[64:], None)])
    with torch.no_grad():
        feats = net[0](x)
    assert torch.allclose(bn.running_mean, feats.mean(0), atol=1e-5)
    assert bn.momentum == 0.1  # restored


def test_validation_is_reproducible():
    t = _trainer(epochs=1)
    t.train()
    assert t.validate() == t.validate()
