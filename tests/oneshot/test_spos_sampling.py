"""SPOS cost-binned sampling: equal shares per cost bin, exact costs, seeded, checkpoint-checked.

The spaces stack ``n`` keys choosing between ``Identity`` (0 parameters, 0 FLOPs) and a
bias-free ``Linear(8, 8)`` (64 parameters, 128 FLOPs per sample), so an architecture's
cost is ``64 k`` (or ``128 k``) for ``k`` Linear layers, and a uniform path has
``k ~ Binomial(n, 1/2)``. Shares are checked against bounds of at least 6 binomial
standard deviations (and every draw is seeded, so nothing depends on chance).
"""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasnb import SearchSpace, mutables
from nasnb._measure import count_flops
from nasnb.exceptions import CheckpointError
from nasnb.oneshot import SPOSTrainer


def _net(n: int) -> nn.Sequential:
    return nn.Sequential(*(mutables.LayerChoice([nn.Identity(), nn.Linear(8, 8, bias=False)], key=f"k{i}")
                           for i in range(n)))


def _data() -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(0)
    return torch.utils.data.TensorDataset(torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g))


def _trainer(n: int = 4, seed: int = 0, **kw) -> SPOSTrainer:
    return SPOSTrainer(_net(n), F.mse_loss, dataset_train=_data(), batch_size=8, progress=False, seed=seed, **kw)


def _bin_shares(binned: SPOSTrainer, drawer: SPOSTrainer, draws: int, seed: int = 1) -> list[float]:
    """Share of ``draws`` paths of ``drawer.sample`` in each of ``binned``'s bins."""
    rng = random.Random(seed)
    counts: Counter[int] = Counter()
    for _ in range(draws):
        drawer.sample(rng)  # applied to drawer's model
        counts[binned.bin_of(drawer.space.current())] += 1
    return [counts[b] / draws for b in range(len(binned.bin_edges) - 1)]


def _six_sigma(p: float, n: int) -> float:
    return 6 * math.sqrt(p * (1 - p) / n)


def test_params_bins_have_equal_width_and_one_cost_each():
    t = _trainer(sampling="params", bins=5)
    assert t.bin_edges == [0.0, 51.2, 102.4, 153.6, 204.8, 256.0]
    for k in range(5):
        arch = {f"k{i}": int(i < k) for i in range(4)}
        assert t.arch_cost(arch) == 64 * k
        assert t.bin_of(arch) == k


def test_binned_sampling_gives_every_bin_an_equal_share_where_uniform_does_not():
    n = 5000
    binned = _trainer(sampling="params", bins=5)
    shares = _bin_shares(binned, binned, n)
    assert all(abs(s - 0.2) < _six_sigma(0.2, n) for s in shares), shares
    uniform = _trainer()
    expected = [math.comb(4, k) / 16 for k in range(5)]  # 1/16, 4/16, 6/16, 4/16, 1/16
    u_shares = _bin_shares(binned, uniform, n)
    assert all(abs(s - p) < _six_sigma(p, n) for s, p in zip(u_shares, expected)), u_shares
    assert u_shares[2] > 0.3 and u_shares[0] < 0.1 and u_shares[4] < 0.1  # the middle over-trained, the ends under


def test_paths_within_a_bin_are_uniform():
    n = 4000
    t = _trainer(sampling="params", bins=5)
    rng = random.Random(2)
    in_bin_1: Counter[tuple[int, ...]] = Counter()
    for _ in range(n):
        arch = t.sample(rng)
        if t.bin_of(t.space.current()) == 1:  # exactly one Linear: 4 architectures
            in_bin_1[tuple(i for i in range(4) if arch[f"k{i}"] == (1,))] += 1
    total = sum(in_bin_1.values())
    assert sorted(in_bin_1) == [(0,), (1,), (2,), (3,)]
    assert all(abs(c / total - 0.25) < _six_sigma(0.25, total) for c in in_bin_1.values()), in_bin_1


def test_large_space_rejection_sampling_also_evens_the_bins():
    n = 4000
    t = _trainer(n=8, sampling="params", bins=4)
    t.cost_samples = 100  # fewer than the 256 architectures: bins from 100 seeded draws, paths by rejection
    edges = t.bin_edges
    assert len(edges) == 5 and edges[0] >= 0 and edges[-1] <= 8 * 64
    shares = _bin_shares(t, t, n)
    assert all(abs(s - 0.25) < _six_sigma(0.25, n) for s in shares), shares
    u_shares = _bin_shares(t, _trainer(n=8), n)
    assert max(u_shares) - min(u_shares) > 0.3, u_shares


def test_flops_are_the_sum_of_the_measured_candidates():
    t = _trainer(sampling="flops", bins=5)
    assert t.bin_edges == [0.0, 102.4, 204.8, 307.2, 409.6, 512.0]  # 128 FLOPs per Linear(8, 8) on one sample
    space = SearchSpace(_net(4))
    arch = {"k0": 1, "k1": 0, "k2": 1, "k3": 1}
    fixed = space.fix(arch)
    assert t.arch_cost(arch) == count_flops(lambda: fixed(torch.zeros(1, 8)))[0] == 384


def test_flops_example_input_comes_from_the_first_batch_or_the_argument():
    stepped = _trainer(n=2, sampling="flops")
    stepped.step((torch.randn(4, 8), torch.randn(4, 8)))  # measured on this batch's first sample
    given = _trainer(n=2, sampling="flops", example_input=torch.zeros(3, 8))  # used as given: 3 samples
    default = _trainer(n=2, sampling="flops")  # before any step: dataset_train's first sample
    assert stepped.bin_edges == default.bin_edges == [0.0, 51.2, 153.6, 256.0]  # empty ranges merged upwards
    assert given.bin_edges[-1] == 3 * 256.0


def test_steps_use_the_unchecked_path_and_are_reproducible_with_the_seed():
    def run(seed: int) -> list[dict]:
        t = _trainer(seed=seed, sampling="flops", bins=3)
        checks = []
        set_indices = t.space.set_indices

        def spy(indices, check=True):
            checks.append(check)
            set_indices(indices, check=check)

        t.space.set_indices = spy
        archs = []
        for batch in t.data.loader(t.dataset_train, False, 0):
            t.step(batch)
            archs.append(t.space.indices())
        t.finish(apply=False)
        assert checks and not any(checks)
        return archs

    assert run(0) == run(0)
    assert run(0) != run(3)


def test_trains_with_binned_sampling():
    t = _trainer(sampling="params", bins=3)
    t.num_epochs = 2
    t.train(validate=False, apply=False)
    assert t.global_step == 8  # 2 epochs of 4 batches


@pytest.mark.parametrize(("kw", "named"), [
    ({"sampling": "fair"}, "'fair'"), ({"sampling": None}, "None"), ({"bins": 0}, "got 0"),
    ({"bins": 2.5}, "got 2.5"), ({"bins": True}, "got True"),
])
def test_bad_options_name_the_value_and_what_was_expected(kw, named):
    with pytest.raises(ValueError, match="expected|must be") as err:
        _trainer(**kw)
    assert named in str(err.value)
    assert ("'uniform', 'flops' or 'params'" if "sampling" in kw else "int >= 1") in str(err.value)


def test_a_uniform_trainer_has_no_bins():
    with pytest.raises(ValueError, match="sampling='uniform'"):
        _ = _trainer().bin_edges


def test_checkpoints_refuse_another_sampling(tmp_path):
    path = tmp_path / "spos.pt"
    t = _trainer(sampling="params", bins=5)
    t.step(next(iter(t.data.loader(t.dataset_train, False, 0))))
    t.save_checkpoint(path)
    _trainer(sampling="params", bins=5).load_checkpoint(path)
    for kw in ({}, {"sampling": "flops", "bins": 5}, {"sampling": "params", "bins": 4}):
        with pytest.raises(CheckpointError, match="sampling") as err:
            _trainer(**kw).load_checkpoint(path)
        assert "sampling='params', bins=5" in str(err.value)


def test_checkpoints_without_a_sampling_entry_were_uniform():
    t = _trainer()
    state = t.state_dict()
    del state["algorithm"]["sampling"]  # as written before the option existed
    _trainer().load_state_dict(state)
    with pytest.raises(CheckpointError, match="sampling='uniform'"):
        _trainer(sampling="params").load_state_dict(state)
