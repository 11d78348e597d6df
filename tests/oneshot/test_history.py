"""ArchHistory: the common record format of every trainer, its checks and serialisation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nasnb import NasnbError
from nasnb.oneshot import (
    ArchHistory,
    DartsTrainer,
    EnasTrainer,
    ProxylessTrainer,
    SPOSTrainer,
)

from ._nets import TinyNet, digits


def test_records_entropy_and_final():
    h = ArchHistory({"op": ["a", "b", "c"], "one": ["x"]}, kind="softmax")
    h.append({"op": [1 / 3] * 3, "one": [1.0]}, step=0, epoch=0.0)
    h.append({"op": [1.0, 0.0, 0.0], "one": [1.0]}, step=5, epoch=0.5)
    assert h.steps == [0, 5] and h.epochs == [0.0, 0.5] and len(h) == 2
    assert h.entropy("op") == pytest.approx([1.0, 0.0])
    assert h.entropy("one") == [0.0, 0.0]
    assert h.final() == {"op": [1.0, 0.0, 0.0], "one": [1.0]}
    assert h.weights("op")[0] == pytest.approx([1 / 3] * 3)
    assert repr(h) == "ArchHistory(softmax: 2 keys, 2 records, last step 5)"


def test_bad_records_are_refused_with_the_key():
    h = ArchHistory({"op": ["a", "b"]})
    with pytest.raises(NasnbError, match=r"history record for key 'op' has 3 weights, expected 2 \(\['a', 'b'\]\)"):
        h.append({"op": [0.1, 0.2, 0.7]}, step=0, epoch=0)
    with pytest.raises(NasnbError, match=r"history record misses key 'op'"):
        h.append({}, step=0, epoch=0)
    with pytest.raises(NasnbError, match=r"history has no key 'nope'"):
        h.append({"op": [0.5, 0.5], "nope": [1.0]}, step=0, epoch=0)
    with pytest.raises(NasnbError, match=r"architecture weights of key 'op' are NaN.*diverged"):
        h.append({"op": [math.nan, 0.5]}, step=0, epoch=0)
    with pytest.raises(NasnbError, match=r"history has no key 'x'; keys are \['op'\]"):
        h.weights("x")
    assert len(h) == 0


def test_round_trip(tmp_path):
    h = ArchHistory({"op": ["a", "b"]}, kind="probability")
    h.append({"op": [0.25, 0.75]}, step=3, epoch=1.0)
    h.save(tmp_path / "h.json")
    back = ArchHistory.load(tmp_path / "h.json")
    assert back.to_dict() == h.to_dict() and back.kind == "probability"


@pytest.mark.parametrize("cls, kind, kw", [
    (DartsTrainer, "softmax", {}),
    (EnasTrainer, "probability", {"controller_steps": 1}),
    (SPOSTrainer, "frequency", {}),
    (ProxylessTrainer, "gate probability", {}),
])
def test_every_trainer_records_the_same_format(cls, kind, kw):
    train, _ = digits(n_train=256)
    t = cls(TinyNet(), F.cross_entropy, num_epochs=1, dataset_train=train, batch_size=64, progress=False,
            history_every=2, **kw)
    h = t.train()
    space = t.space
    assert h.kind == kind and h.keys == list(space)
    assert {k: len(v) for k, v in h.names.items()} == {k: space[k].n_candidates for k in space}
    assert h.names["skip"] == ["cell", "input 1"] and h.names["op_b"] == ["lin", "relu", "tanh", "zero"]
    assert len(h) >= 2 and h.steps == sorted(h.steps) and h.epochs[-1] == 1.0
    # DARTS gives the edges of a cell node ("op_a", "op_b", chosen by "node") an implicit zero
    # candidate that history leaves out: their recorded softmax sums to 1 - p(zero) < 1.
    zero_keys = t._zero_keys if kind == "softmax" else set()
    assert zero_keys == ({"op_a", "op_b"} if kind == "softmax" else set())
    for record in h.records:
        for key, w in record.weights.items():
            assert len(w) == space[key].n_candidates and all(v >= 0 for v in w)
        for key in ("act", "op_a", "op_b"):
            if key in zero_keys:
                assert 0.0 < sum(record.weights[key]) < 1.0
            else:
                assert sum(record.weights[key]) == pytest.approx(1.0, abs=1e-6)
    for key in zero_keys:  # what is missing is exactly the zero op's share of the softmax
        p_zero = float(torch.softmax(t.alphas[key].detach(), -1)[-1])
        assert sum(h.final()[key]) == pytest.approx(1.0 - p_zero, abs=1e-6)
    arch = t.export() if cls is not SPOSTrainer else t.search(population=2, generations=1, data=train)
    assert space.validate(arch) == arch
    assert space.fix(arch)(torch.zeros(1, 64)).shape == (1, 10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cls", [DartsTrainer, EnasTrainer, SPOSTrainer, ProxylessTrainer])
def test_every_trainer_runs_on_cuda(cls):
    train, valid = digits(n_train=256)
    t = cls(TinyNet(), F.cross_entropy, num_epochs=1, dataset_train=train, dataset_valid=valid, batch_size=64,
            device="cuda", progress=False)
    t.train()
    assert next(t.model.parameters()).device.type == "cuda"
    assert len(t.history) >= 1 and t.validate()["loss"] > 0
