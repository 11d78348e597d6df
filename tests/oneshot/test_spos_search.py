"""The evolution helpers SPOS's search shares with nasnb.strategy.evolution."""

from __future__ import annotations

import random

from torch import nn

from nasnb import SearchSpace, mutables
from nasnb.strategy.evolution import crossover, resample_keys, select_top


def _specs():
    net = nn.Sequential(*[mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.GELU()], key=f"a{i}") for i in range(6)],
                        mutables.InputChoice(n_candidates=4, n_chosen=2, key="in"))
    space = SearchSpace(net)
    return [space[k] for k in space]


def test_resample_keys_redraws_each_key_with_the_given_probability():
    specs, rng = _specs(), random.Random(0)
    parent = tuple(spec.default for spec in specs)
    assert resample_keys(specs, parent, rng, 0.0) == parent
    children = [resample_keys(specs, parent, rng, 1.0) for _ in range(50)]
    assert all(spec.fits(v) for child in children for spec, v in zip(specs, child))
    assert len(set(children)) > 40  # every key redrawn: almost always a new architecture


def test_crossover_takes_each_key_from_one_parent():
    a, b = tuple((0,) for _ in range(20)), tuple((1,) for _ in range(20))
    child = crossover(a, b, random.Random(0))
    assert all(v in ((0,), (1,)) for v in child) and (0,) in child and (1,) in child


def test_select_top_keeps_the_best_in_order_and_ties_stable():
    scored = [(0.1, ("a",)), (0.9, ("b",)), (0.5, ("c",)), (0.9, ("d",))]
    assert select_top(scored, 3) == [("b",), ("d",), ("c",)]
