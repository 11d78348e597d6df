from __future__ import annotations

import math

import pytest
from torch import nn

from nasnb import SearchSpace, mutables
from nasnb.strategy import Random, RegularizedEvolution
from nasnb.strategy.evolution import mutate

from ._spaces import additive_score, additive_space


def input_space(n_chosen):
    net = nn.ModuleList([
        mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="op"),
        mutables.InputChoice(n_candidates=4, n_chosen=n_chosen, key="skip"),
    ])
    return SearchSpace(net)


@pytest.mark.parametrize("n_chosen", [None, 0, 1, 2, 4])
def test_mutation_changes_one_key_and_respects_n_chosen(n_chosen):
    space = input_space(n_chosen)
    s = RegularizedEvolution(seed=0).bind(space)
    for i in range(50):
        parent = s.decode(space.sample(seed=i))
        child = mutate(s, parent)
        assert space.validate(s.encode(child)) == s.encode(child)
        changed = [k for k, (a, b) in enumerate(zip(parent, child)) if a != b]
        assert len(changed) == 1
        if n_chosen is not None:
            assert len(child[1]) == n_chosen
        elif changed == [1]:
            assert len(set(parent[1]) ^ set(child[1])) == 1  # one input toggled


def test_population_ages_and_failures_enter_at_minus_inf():
    space = additive_space()
    s = RegularizedEvolution(population_size=3, sample_size=2, seed=0).bind(space)
    told = []
    for i in range(5):
        arch = s.ask()
        s.tell(arch, None if i == 4 else float(i))
        told.append(arch)
    assert [a for a, _ in s.population] == told[2:]
    assert s.population[-1][1] == -math.inf


def test_invalid_sizes_are_refused():
    with pytest.raises(ValueError, match=r"sample_size must be in 1..population_size=4, got 5"):
        RegularizedEvolution(population_size=4, sample_size=5)
    with pytest.raises(ValueError, match=r"population_size must be >= 1, got 0"):
        RegularizedEvolution(population_size=0)


def trials_to_optimum(strategy, space, budget=256):
    s = strategy.bind(space)
    for n in range(1, budget + 1):
        arch = s.ask()
        score = additive_score(arch)
        if score == 12:
            return n
        s.tell(arch, score)
    return budget


def test_evolution_beats_random_on_an_additive_space():
    evo = sorted(trials_to_optimum(RegularizedEvolution(population_size=10, sample_size=3, seed=i), additive_space())
                 for i in range(9))
    rnd = sorted(trials_to_optimum(Random(seed=i), additive_space()) for i in range(9))
    assert evo[4] < rnd[4]
