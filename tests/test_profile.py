"""nasnb.profile: parameters, FLOPs, latency, memory and per-candidate numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import nasnb
from nasnb import mutables
from nasnb.exceptions import NasnbError
from nasnb.profile import ForwardError, count_params, format_count, profile, profile_candidates

X = torch.zeros(1, 1, 28, 28)


def test_count_params_leaves_out_unchosen_candidates(seed_space):
    total = sum(p.numel() for p in seed_space.model.parameters())
    conv5 = 32 * 25 + 32
    conv3 = 32 * 9 + 32
    assert count_params(seed_space.model) == (total - conv5, total)
    seed_space.apply({"conv1": "1"})
    assert count_params(seed_space.model) == (total - conv3, total)


def test_count_params_shared_module_counts_once():
    shared = nn.Linear(2, 2)
    lc = mutables.LayerChoice([shared, nn.Sequential(shared, nn.ReLU())], key="x")
    lc.choice = "1"
    assert count_params(lc) == (6, 6)


def test_profile_seed_net_matches_torch(seed_space):
    p = profile(seed_space, X, repeats=3)
    fixed = seed_space.fix()
    with FlopCounterMode(display=False) as counter:
        fixed(X)
    assert p.flops == counter.get_total_flops() > 0
    assert p.output_shapes == [(1, 10)] and p.output_shape == (1, 10)
    assert p.params_active == sum(q.numel() for q in fixed.parameters())
    assert len(p.latencies_ms) == 3 and p.latency_ms == sorted(p.latencies_ms)[1]
    assert p.peak_memory is None and p.device == "cpu"
    assert p.as_dict()["params_total"] == p.params_total


def test_profile_changes_with_the_architecture():
    space = nasnb.SearchSpace(nn.Sequential(mutables.LayerChoice([nn.Linear(4, 8), nn.Linear(4, 2)], key="fc")))
    a = profile(space, torch.zeros(1, 4), latency=False)
    space.apply({"fc": "1"})
    b = profile(space, torch.zeros(1, 4), latency=False)
    assert (a.flops, a.output_shape, a.params_active) == (64, (1, 8), 40)
    assert (b.flops, b.output_shape, b.params_active) == (16, (1, 2), 10)
    assert a.latency_ms is None and a.latencies_ms == []


def test_profile_restores_training_flags_and_needs_no_grad(seed_space):
    seed_space.model.train()
    seen = []
    hook = seed_space.model.register_forward_hook(
        lambda m, a, out: seen.append((torch.is_grad_enabled(), m.training, getattr(out, "requires_grad", None))))
    try:
        profile(seed_space, X, repeats=2)
    finally:
        hook.remove()
    assert len(seen) == 4  # FLOPs count, warm-up, two timed runs
    assert all(rec == (False, False, False) for rec in seen)  # eval, no autograd graph, no grad-tracking output
    assert torch.is_grad_enabled()
    assert all(m.training for m in seed_space.model.modules())
    assert all(p.grad is None for p in seed_space.model.parameters())


def test_profile_several_outputs():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.op = mutables.LayerChoice([nn.Linear(2, 3), nn.Linear(2, 4)], key="op")

        def forward(self, x):
            return x, self.op(x)

    p = profile(Two(), torch.zeros(1, 2), latency=False)
    assert p.output_shapes == [(1, 2), (1, 3)] and p.output_shape == [(1, 2), (1, 3)]


def test_forward_error_names_module_and_keys(seed_space):
    seed_space.apply({"conv1": "1"})
    with pytest.raises(ForwardError, match=r"(?s)mat1 and mat2.*in module 'fc1'.*keys changed last: conv1=1") as info:
        profile(seed_space, X, keys=["conv1"])
    err = info.value
    assert err.keys == ["conv1"] and err.key == "conv1" and err.module == "fc1"
    assert isinstance(err.error, RuntimeError) and isinstance(err, NasnbError)


def test_forward_error_without_keys_shows_architecture(seed_space):
    seed_space.apply({"conv1": "1"})
    with pytest.raises(ForwardError, match=r"architecture: \{'conv1': 1, 'skipcon': \[0\]\}"):
        profile(seed_space, X, latency=False)


def test_profile_candidates_rows(seed_space):
    rows = profile_candidates(seed_space, "conv1", X, repeats=2)
    assert [(r.candidate, r.type, r.params, r.chosen) for r in rows] == [
        ("0", "Conv2d", 320, True), ("1", "Conv2d", 832, False)]
    assert rows[0].output_shape == (1, 32, 26, 26) and rows[1].output_shape == (1, 32, 8, 8)
    assert (rows[0].flops, rows[1].flops) == (2 * 26 * 26 * 32 * 9, 2 * 8 * 8 * 32 * 25)
    assert all(r.latency_ms is not None and r.error is None for r in rows)


def test_profile_candidates_reports_a_failing_candidate():
    net = nn.Sequential(nn.Linear(3, 4), mutables.LayerChoice([nn.Linear(4, 2), nn.Linear(5, 2)], key="head"))
    rows = profile_candidates(net, "head", torch.zeros(1, 3), latency=False)
    assert rows[0].error is None and rows[0].flops == 16
    assert rows[1].error is not None and "mat1 and mat2" in rows[1].error


def test_profile_candidates_refuses_input_choice(seed_space):
    with pytest.raises(NasnbError, match=r"key 'skipcon' is an InputChoice; expected the key of a LayerChoice"):
        profile_candidates(seed_space, "skipcon", X)


def test_format_count():
    assert format_count(1234567) == "1.23 M"
    assert format_count(999) == "999"
    assert format_count(2.5e9, "B") == "2.5 GB"
    assert format_count(None) == "-"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_profile_on_gpu_reports_memory(seed_space):
    seed_space.model.to("cuda")
    p = profile(seed_space, X, repeats=3)  # the input moves to the model's device
    assert p.device.startswith("cuda") and p.peak_memory is not None and p.peak_memory > 0
    assert p.latency_ms is not None
