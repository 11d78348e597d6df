from __future__ import annotations

import pytest

from nasnb.strategy import GridSearch

from ._spaces import random_space


def test_grid_follows_space_grid_order():
    space = random_space(2)
    s = GridSearch().bind(space)
    assert [s.ask() for _ in range(space.size)] == list(space.grid())
    assert s.ask() is None


def test_grid_skips_told_architectures():
    space = random_space(2)
    first = next(space.grid())
    s = GridSearch().bind(space)
    s.tell(first, 0.1)
    assert s.ask() == list(space.grid())[1]


def test_shuffled_grid_is_a_seeded_permutation():
    space = random_space(4)
    a = GridSearch(shuffle=True, seed=3).bind(space)
    b = GridSearch(shuffle=True, seed=3).bind(random_space(4))
    seq_a = [a.ask() for _ in range(space.size)]
    assert seq_a == [b.ask() for _ in range(space.size)]
    assert seq_a != list(space.grid())
    assert sorted(map(str, seq_a)) == sorted(map(str, space.grid()))


def test_repr():
    assert repr(GridSearch(shuffle=True, seed=1)) == "GridSearch(shuffle=True, seed=1)"
    with pytest.raises(TypeError):
        GridSearch(population_size=3)  # type: ignore[call-arg]
