"""Strategies and several objectives: who accepts them, what they are told, and NSGA-II learning a front."""

from __future__ import annotations

import pytest

from nasnb.strategy import NSGA2, STRATEGIES, StrategyError, make_strategy

from ._spaces import random_space

MULTI = sorted(name for name, cls in STRATEGIES.items() if cls.max_objectives is None)
SINGLE = sorted(name for name, cls in STRATEGIES.items() if cls.max_objectives == 1)


def test_who_handles_several_objectives():
    assert MULTI == ["grid", "nsga2", "random", "tpe"]
    assert SINGLE == ["evolution", "rl"]


@pytest.mark.parametrize("name", SINGLE)
def test_a_single_objective_strategy_refuses_two(name):
    with pytest.raises(StrategyError, match=r"learns from one score, not 2 objectives; use 'nsga2' or 'tpe'"):
        make_strategy(name, seed=0).bind(random_space(0), n_objectives=2)


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("space_seed", [0, 4])
def test_multi_objective_strategies_ask_unique_valid_architectures(name, space_seed):
    space = random_space(space_seed)
    s = make_strategy(name, seed=3).bind(space, n_objectives=2)
    asked = []
    for i in range(min(space.size, 20)):
        arch = s.ask()
        if arch is None:
            break
        asked.append(arch)
        s.tell(arch, None if i % 5 == 2 else (float(i % 3), -float(i % 4)))
    assert all(space.validate(a) == a for a in asked)
    assert len({str(a) for a in asked}) == len(asked)
    assert s.n_told == len(asked)


def test_telling_the_wrong_number_of_values_is_refused():
    s = NSGA2(seed=0).bind(random_space(0), n_objectives=2)
    arch = s.ask()
    with pytest.raises(StrategyError, match=r"bound for 2 objectives; told 0\.5, expected a sequence of 2 numbers"):
        s.tell(arch, 0.5)
    single = NSGA2(seed=0).bind(random_space(0))
    with pytest.raises(StrategyError, match=r"bound for one objective; told \(1\.0, 2\.0\)"):
        single.tell(single.ask(), (1.0, 2.0))


def test_population_size_below_two_is_refused():
    with pytest.raises(ValueError, match=r"population_size must be >= 2 \(parents are paired\), got 1"):
        NSGA2(population_size=1)


def test_nsga2_study_holds_every_told_result_with_both_values():
    s = NSGA2(population_size=4, seed=0).bind(random_space(1), n_objectives=2)
    for i in range(8):
        arch = s.ask()
        s.tell(arch, (float(i), float(-i)))
    complete = [t for t in s.study.trials if t.values is not None]
    assert sorted(t.values[0] for t in complete) == [float(i) for i in range(8)]
    assert all(t.values[1] == -t.values[0] for t in complete)
