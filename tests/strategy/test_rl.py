from __future__ import annotations

import pytest
from torch import nn

from nasnb import SearchSpace, mutables
from nasnb.strategy import PolicyGradient


def test_policy_moves_towards_rewarded_choices():
    net = nn.ModuleList([
        mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="op"),
        mutables.InputChoice(n_candidates=3, n_chosen=None, key="skip"),
        mutables.InputChoice(n_candidates=4, n_chosen=2, key="pair"),
    ])
    space = SearchSpace(net)
    s = PolicyGradient(learning_rate=0.3, seed=0).bind(space)
    for _ in range(60):
        arch = s.ask()
        if arch is None:
            break
        reward = (arch["op"] == "2") + (0 in arch["skip"]) + (3 in arch["pair"])
        s.tell(arch, float(reward))
    p = s.probabilities()
    assert p["op"][2] == max(p["op"])
    assert p["skip"][0] > 0.5
    assert p["pair"][3] == max(p["pair"])


def test_failed_trials_do_not_move_the_policy():
    space = SearchSpace(nn.ModuleList([mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="op")]))
    s = PolicyGradient(seed=0).bind(space)
    s.tell({"op": "0"}, 1.0)
    s.tell({"op": "1"}, None)
    assert s.logits == [[0.0, 0.0]]


def test_bad_settings():
    with pytest.raises(ValueError, match=r"learning_rate must be > 0, got 0"):
        PolicyGradient(learning_rate=0)
    with pytest.raises(ValueError, match=r"baseline_decay must be in \[0, 1\), got 1"):
        PolicyGradient(baseline_decay=1)
