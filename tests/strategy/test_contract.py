"""Contract tests run over every strategy in nasnb.strategy.STRATEGIES, on seeded random spaces."""

from __future__ import annotations

import pytest

from nasnb import strategy as strategies
from nasnb.strategy import STRATEGIES, Strategy, StrategyError, make_strategy

from ._spaces import random_space

SPACE_SEEDS = range(8)


def drive(s: Strategy, n: int, batch: int = 1) -> list[dict]:
    """Ask up to n architectures, ``batch`` at a time before telling (concurrency)."""
    asked = []
    while len(asked) < n:
        group = []
        for _ in range(batch):
            arch = s.ask()
            if arch is None:
                break
            group.append(arch)
        if not group:
            break
        for i, arch in enumerate(group):
            score = None if (len(asked) + i) % 7 == 3 else float(len(str(arch)) % 5)  # some failures
            s.tell(arch, score)
        asked += group
    return asked


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("space_seed", SPACE_SEEDS)
def test_asks_valid_unique_architectures_until_exhausted(name, space_seed):
    space = random_space(space_seed)
    s = make_strategy(name, seed=1).bind(space)
    budget = min(space.size, 25)
    asked = drive(s, budget, batch=2)
    for arch in asked:
        assert space.validate(arch) == arch  # in-space, canonical readable form
    keys = [tuple(map(str, arch.values())) for arch in asked]
    assert len(set(keys)) == len(keys)  # dedup
    if space.size <= 25:
        assert len(asked) == space.size
        assert s.ask() is None


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("space_seed", [0, 3, 5])
def test_same_seed_same_asks(name, space_seed):
    runs = [drive(make_strategy(name, seed=7).bind(random_space(space_seed)), 12) for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_tell_accepts_architectures_never_asked(name):
    space = random_space(2)
    s = make_strategy(name, seed=0).bind(space)
    told = space.sample(seed=3)
    s.tell(told, 1.0)
    assert s.n_told == 1
    asked = drive(s, space.size)
    assert told not in asked


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_unbound_strategy_is_refused(name):
    with pytest.raises(StrategyError, match=r"not bound to a space: call strategy.bind\(space\)"):
        make_strategy(name).ask()


def test_the_random_spaces_cover_the_hard_cases():
    choices = [c for seed in SPACE_SEEDS for c in random_space(seed).values()]
    assert any(c.kind == "input" and c.n_chosen is None for c in choices)
    assert any(c.kind == "input" and c.n_chosen not in (None, 1) for c in choices)
    assert any(c.kind == "input" and len(c.paths) > 1 for c in choices)  # shared InputChoice key
    assert any(c.kind == "layer" and len(c.paths) > 1 for c in choices)  # shared LayerChoice key


def test_every_strategy_is_registered_and_exported():
    assert set(STRATEGIES) == {"random", "grid", "evolution", "tpe", "rl", "nsga2"}
    for cls in STRATEGIES.values():
        assert getattr(strategies, cls.__name__) is cls
    assert strategies.__all__ == sorted(strategies.__all__)


def test_unknown_strategy_name():
    with pytest.raises(ValueError, match=r"unknown strategy 'bayes'; expected a Strategy or one of \['evolution'"):
        make_strategy("bayes")
