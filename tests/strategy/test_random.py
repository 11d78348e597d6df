from __future__ import annotations

from nasnb.strategy import Random

from ._spaces import additive_space, random_space


def test_random_covers_the_space_without_duplicates_then_stops():
    space = random_space(4)
    s = Random(seed=0).bind(space)
    asked = [s.ask() for _ in range(space.size)]
    assert sorted(map(str, asked)) == sorted(map(str, space.grid()))
    assert s.ask() is None


def test_random_differs_across_seeds():
    space = additive_space()
    firsts = {str(Random(seed=i).bind(space).ask()) for i in range(10)}
    assert len(firsts) > 5


def test_pending_asks_are_not_repeated():
    space = additive_space(keys=2, candidates=2)
    s = Random(seed=0).bind(space)
    asked = [s.ask() for _ in range(4)]  # none told yet
    assert len({str(a) for a in asked}) == 4
    assert s.ask() is None
    assert s.n_pending == 4
