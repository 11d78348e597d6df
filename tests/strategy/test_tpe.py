from __future__ import annotations

import sys

import pytest

from nasnb.strategy import TPE

from ._spaces import additive_score, additive_space, random_space

pytest.importorskip("optuna", reason="TPE needs the optional extra nasnb[optuna]")


def test_missing_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"nasnb.strategy.TPE needs optuna, an optional extra: pip install 'nasnb\[optuna\]'"):
        TPE(seed=0).bind(additive_space())


def test_tpe_is_built_on_optuna_and_learns():
    import optuna

    assert isinstance(TPE(seed=0).bind(additive_space()).study.sampler, optuna.samplers.TPESampler)
    needed = []
    for seed in range(5):
        s = TPE(seed=seed).bind(additive_space())
        for n in range(1, 257):  # noqa: B007 - the count is read after the loop
            arch = s.ask()
            if additive_score(arch) == 12:
                break
            s.tell(arch, additive_score(arch))
        needed.append(n)
    assert sorted(needed)[2] < 64  # random search needs ~128 on this 256-architecture space


def test_failed_and_foreign_tells_reach_the_study():
    import optuna

    space = random_space(0)
    s = TPE(seed=0).bind(space)
    arch = s.ask()
    s.tell(arch, None)
    s.tell(space.sample(seed=99), 2.0)
    states = [t.state for t in s.study.trials]
    assert optuna.trial.TrialState.FAIL in states
    assert [t.value for t in s.study.trials if t.state == optuna.trial.TrialState.COMPLETE] == [2.0]


def test_optuna_logging_is_left_as_found():
    import optuna

    before = optuna.logging.get_verbosity()
    s = TPE(seed=0).bind(additive_space())
    s.tell(s.ask(), 1.0)
    assert optuna.logging.get_verbosity() == before
