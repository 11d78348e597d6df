"""One-shot trainers under torch.distributed (gloo on CPU): N ranks x batch b follow one process with batch N*b."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from nasnb.exceptions import TrainingError
from nasnb.oneshot import DartsTrainer, EnasTrainer, ProxylessTrainer, SPOSTrainer, accuracy, launch
from nasnb.oneshot._distributed import ShardSampler
from nasnb.oneshot.launch import _free_port

from ._nets import TinyNet, digits

pytestmark = [
    pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in"),
    pytest.mark.filterwarnings("ignore:SPOSTrainer.export.. no search has run yet"),  # export() runs the search
]

OPTIONS = {
    DartsTrainer: {"arc_learning_rate": 0.05},
    ProxylessTrainer: {"arch_lr": 0.05},
    SPOSTrainer: {},
    EnasTrainer: {"controller_lr": 0.01, "controller_steps": 3},
}


def _data():
    train, valid = digits(n_train=256)
    return TensorDataset(*train[:256]), TensorDataset(*valid[:75])


def _make(cls, batch_size, epochs=2, **extra):
    """A trainer on TinyNet (no BatchNorm) with the same initial weights in every process."""
    def make():
        torch.manual_seed(0)
        net = TinyNet()
        train, valid = _data()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        return cls(net, F.cross_entropy, accuracy, opt, epochs, train, valid, batch_size=batch_size, seed=3,
                   progress=False, live_plot=False, **OPTIONS[cls], **extra)
    return make


def _state(trainer):
    arch = [p.detach().clone() for p in trainer._arch_tensors()]
    return {"weights": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}, "arch": arch,
            "export": trainer.export(), "history": trainer.history.to_dict()}


def _saving(tmp_path, then=None):
    """``run`` for launch(): train, then save this rank's state to ``tmp_path/rank{r}.pt``."""
    def run(trainer):
        trainer.train(validate=False)
        state = _state(trainer)
        state["val"] = trainer.validate()
        if then is not None:
            then(trainer)
        torch.save(state, tmp_path / f"rank{trainer.dist.rank}.pt")
    return run


def _close(a, b, atol=2e-5):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=atol), (k, (a[k].float() - b[k].float()).abs().max())


@pytest.mark.parametrize("cls", [DartsTrainer, ProxylessTrainer, SPOSTrainer], ids=lambda c: c.__name__)
def test_two_ranks_of_batch_b_follow_one_process_of_batch_2b(tmp_path, cls):
    single = _make(cls, 16)()
    single.train(validate=False)
    expected = _state(single)
    expected_val = single.validate()

    trainer = launch(_make(cls, 8), nprocs=2, run=_saving(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    _close(ranks[0]["weights"], expected["weights"])
    for mine, theirs in zip(ranks[0]["arch"], expected["arch"]):
        assert torch.allclose(mine, theirs, atol=2e-5), (mine - theirs).abs().max()
    assert ranks[0]["export"] == ranks[1]["export"] == expected["export"]
    _close(ranks[1]["weights"], ranks[0]["weights"], atol=0)  # the ranks hold the very same supernet
    assert ranks[0]["history"] == ranks[1]["history"]
    assert len(ranks[0]["history"]["records"]) == len(expected["history"]["records"])
    # validation: each rank scored its share, the mean is over all 75 samples
    assert ranks[0]["val"] == ranks[1]["val"]
    if cls is DartsTrainer:  # the supernet's validation is deterministic: compare with one process
        assert ranks[0]["val"]["loss"] == pytest.approx(expected_val["loss"], abs=1e-4)
    # launch() returns rank 0's trainer as a single-process trainer
    assert trainer.dist.world_size == 1 and trainer.export() == expected["export"]
    _close({k: v for k, v in trainer.model.state_dict().items()}, ranks[0]["weights"], atol=0)


def test_enas_controller_is_trained_on_rank_0_and_every_rank_samples_the_same_paths(tmp_path):
    launch(_make(EnasTrainer, 8), nprocs=2, run=_saving(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    for a, b in zip(ranks[0]["arch"], ranks[1]["arch"]):
        assert torch.equal(a, b)
    fresh = _make(EnasTrainer, 8)()
    assert any(not torch.equal(a, b) for a, b in zip(ranks[0]["arch"], fresh._arch_tensors()))  # it learned
    _close(ranks[0]["weights"], ranks[1]["weights"], atol=0)  # same paths: same weight updates
    assert ranks[0]["export"] == ranks[1]["export"] and ranks[0]["history"] == ranks[1]["history"]


def test_spos_search_and_checkpoint_under_two_ranks(tmp_path):
    def then(trainer):
        trainer.search(population=4, generations=2, seed=0)
        trainer.save_checkpoint(tmp_path / "c.pt")  # every rank calls it, rank 0 writes
        torch.save(trainer.search_results, tmp_path / f"search{trainer.dist.rank}.pt")

    launch(_make(SPOSTrainer, 8, epochs=1), nprocs=2, run=_saving(tmp_path, then))
    results = [torch.load(tmp_path / f"search{r}.pt", weights_only=False) for r in range(2)]
    assert results[0] == results[1] and len(results[0]) >= 4  # same scores: validation is all-reduced
    fresh = _make(SPOSTrainer, 8, epochs=1)()
    fresh.load_checkpoint(tmp_path / "c.pt")
    assert fresh.epoch == 1


def test_a_failing_rank_is_reported_with_its_traceback():
    make = _make(DartsTrainer, 8)

    def make_or_fail():
        if os.environ["RANK"] == "1":
            raise ValueError("rank one cannot build its model")
        return make()

    hook = sys.excepthook
    with pytest.raises(TrainingError, match=r"(?s)1 of 2 ranks failed.*rank 1.*rank one cannot build its model"):
        launch(make_or_fail, nprocs=2, timeout=5)
    assert not torch.distributed.is_initialized()  # cleaned up: a later launch() works
    assert sys.excepthook is hook  # torch's "[rank0]" prefix does not outlive the run
    assert "RANK" not in os.environ and "WORLD_SIZE" not in os.environ
    assert launch(make, nprocs=1).dist.world_size == 1


def test_bad_launch_arguments_are_refused():
    with pytest.raises(ValueError, match=r"nprocs must be an int >= 1, got 0"):
        launch(_make(DartsTrainer, 8), nprocs=0)
    with pytest.raises(ValueError, match=r"threads must be an int >= 1, got 1.5"):
        launch(_make(DartsTrainer, 8), threads=1.5)


def test_shard_sampler_splits_every_batch_of_the_single_process_order():
    g = torch.Generator().manual_seed(1)
    order = torch.randperm(20, generator=g).tolist()
    shards = [list(ShardSampler(range(20), rank=r, world_size=2, shuffle=True,
                                generator=torch.Generator().manual_seed(1))) for r in range(2)]
    for k in range(2):  # batch k of size 5 per rank covers the single-process batch k of size 10
        assert sorted(shards[0][5 * k:5 * k + 5] + shards[1][5 * k:5 * k + 5]) == sorted(order[10 * k:10 * k + 10])
    uneven = [list(ShardSampler(range(7), rank=r, world_size=2, shuffle=False, even=False)) for r in range(2)]
    assert uneven == [[0, 2, 4, 6], [1, 3, 5]]  # validation keeps every sample
    assert [len(ShardSampler(range(7), rank=r, world_size=2, shuffle=True)) for r in range(2)] == [3, 3]


SCRIPT = """
import json, os, sys
import torch, torch.nn.functional as F
sys.path.insert(0, {root!r})
from tests.oneshot._nets import TinyNet, digits
from nasnb.oneshot import DartsTrainer

torch.manual_seed(0)
net = TinyNet()
train, _ = digits(n_train=128)
trainer = DartsTrainer(net, F.cross_entropy, num_epochs=1, dataset_train=train, batch_size=16,
                       arc_learning_rate=0.05, progress=False, live_plot=False)
trainer.train(validate=False)
alphas = {{k: v.tolist() for k, v in trainer.alphas.items()}}
with open(os.path.join({out!r}, "rank" + os.environ["RANK"] + ".json"), "w") as f:
    json.dump({{"world": trainer.dist.world_size, "rank": trainer.dist.rank, "export": trainer.export(),
               "alphas": alphas}}, f)
"""


def test_the_same_script_under_torchrun_trains_one_supernet(tmp_path):
    root = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(SCRIPT.format(root=root, out=str(tmp_path))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(_free_port()), str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [(r["world"], r["rank"]) for r in ranks] == [(2, 0), (2, 1)]  # torch.distributed was initialised
    assert ranks[0]["export"] == ranks[1]["export"] and ranks[0]["alphas"] == ranks[1]["alphas"]


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices (NCCL: one GPU per rank)")
def test_two_gpus_with_nccl_follow_one_gpu(tmp_path):
    single = _make(DartsTrainer, 16, device="cuda")()
    single.train(validate=False)
    trainer = launch(_make(DartsTrainer, 8, device="cuda"), nprocs=2, backend="nccl", run=_saving(tmp_path))
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=False, map_location="cpu")
    assert trainer.device == torch.device("cuda", 0)  # each rank took the GPU of its LOCAL_RANK
    for mine, theirs in zip(rank1["arch"], single._arch_tensors()):
        assert torch.allclose(mine, theirs.detach().cpu(), atol=1e-4)
    assert rank1["export"] == single.export() == trainer.export()


class _AuxNet(torch.nn.Module):
    """A supernet with an auxiliary head: unused by the loss when aux_weight is 0."""

    def __init__(self):
        super().__init__()
        from nasnb import mutables

        self.stem = torch.nn.Linear(64, 16)
        self.act = mutables.LayerChoice([torch.nn.ReLU(), torch.nn.Tanh()], key="act")
        self.head, self.aux = torch.nn.Linear(16, 10), torch.nn.Linear(16, 10)

    def forward(self, x):
        h = self.act(self.stem(x))
        return self.head(h), self.aux(h)


@pytest.mark.parametrize("aux_weight", [0.0, 0.4])
def test_darts_with_an_auxiliary_head_used_or_not(tmp_path, aux_weight):
    def make():
        torch.manual_seed(0)
        train, _ = _data()
        return DartsTrainer(_AuxNet(), F.cross_entropy, num_epochs=1, dataset_train=train, batch_size=16,
                            aux_weight=aux_weight, arc_learning_rate=0.05, progress=False, live_plot=False)

    def run(trainer):
        trainer.train(validate=False)
        torch.save({"aux": trainer.model.aux.weight.detach().clone(), "unused": trainer._ddp_model.find_unused_parameters},
                   tmp_path / f"rank{trainer.dist.rank}.pt")

    launch(make, nprocs=2, run=run)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["unused"] == ranks[1]["unused"] == (aux_weight == 0.0)  # found by the dry run
    assert torch.equal(ranks[0]["aux"], ranks[1]["aux"])
    assert torch.equal(ranks[0]["aux"], make().model.aux.weight) == (aux_weight == 0.0)  # trained only when used


def test_proxyless_latency_costs_are_rank_0s_on_every_rank(tmp_path):
    make = _make(ProxylessTrainer, 8, epochs=1, cost="latency", cost_weight=0.5)

    def run(trainer):
        trainer.train(validate=False)
        torch.save({"costs": trainer.costs, "arch": [a.detach().clone() for a in trainer._arch_tensors()]},
                   tmp_path / f"rank{trainer.dist.rank}.pt")

    launch(make, nprocs=2, run=run)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["costs"] == ranks[1]["costs"] and ranks[0]["costs"]  # measured timings differ per process
    for a, b in zip(ranks[0]["arch"], ranks[1]["arch"]):
        assert torch.equal(a, b)
