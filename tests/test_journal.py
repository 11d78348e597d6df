from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from torch import nn

import nasnb
from nasnb import SearchSpace, mutables
from nasnb._trial import Trial
from nasnb.journal import Journal, JournalError
from nasnb.strategy import RegularizedEvolution

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from torch import nn
    import nasnb
    from nasnb import mutables

    def make_net():
        return nn.Sequential(*[mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh(), nn.GELU()], key=f"a{i}")
                               for i in range(3)])

    def evaluate(model):
        time.sleep(float(sys.argv[2]))
        return float(sum(i for i, m in enumerate(model) if not isinstance(m, nn.Identity)))

    if __name__ == "__main__":
        strategy = nasnb.strategy.RegularizedEvolution(population_size=8, sample_size=3, seed=0)
        nasnb.Experiment(make_net(), evaluate, strategy, max_trials=40, journal=sys.argv[1], progress=False).run()
    """
)


def trial_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip() and json.loads(line)["type"] == "trial"]


@pytest.mark.slow
def test_kill_and_resume_loses_and_repeats_nothing(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    journal = tmp_path / "search.jsonl"
    proc = subprocess.Popen([sys.executable, str(script), str(journal), "0.05"])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal.exists() and len(trial_lines(journal)) >= 8:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = trial_lines(journal)
    assert 8 <= len(before) < 40, "the search must be killed mid-way"

    result = subprocess.run([sys.executable, str(script), str(journal), "0"], timeout=120)
    assert result.returncode == 0
    after = trial_lines(journal)
    assert after[: len(before)] == before  # nothing lost or rewritten
    numbers = [t["number"] for t in after]
    assert len(numbers) == len(set(numbers)) == 40  # nothing repeated, the budget is respected
    archs = [json.dumps(t["arch"], sort_keys=True) for t in after]
    assert len(set(archs)) == 40  # the resumed strategy knew what had been tried


def net():
    return nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"),
                         mutables.InputChoice(n_candidates=2, n_chosen=None, key="skip"))


def test_resume_in_process_rebuilds_the_strategy(tmp_path):
    path = tmp_path / "j.jsonl"
    first = nasnb.Experiment(net(), lambda m: 1.0, RegularizedEvolution(population_size=4, sample_size=2, seed=1),
                             max_trials=5, journal=path, progress=False)
    first.run()
    strategy = RegularizedEvolution(population_size=4, sample_size=2, seed=1)
    second = nasnb.Experiment(net(), lambda m: 2.0, strategy, max_trials=8, journal=path, progress=False).run()
    assert [t.score for t in second.history] == [1.0] * 5 + [2.0] * 3
    assert strategy.n_told == 8 and len(strategy.population) == 4
    assert [t.number for t in second.history] == list(range(8))


def test_the_same_experiment_picks_up_trials_another_one_appended(tmp_path):
    path = tmp_path / "j.jsonl"
    first = nasnb.Experiment(net(), lambda m: 1.0, "grid", max_trials=2, journal=path, progress=False).run()
    nasnb.Experiment(net(), lambda m: 2.0, "grid", max_trials=4, journal=path, progress=False).run()
    first.max_trials = 6
    first.run()  # was: numbers 2 and 3 written a second time
    assert [t.number for t in first.history] == list(range(6))
    assert [t.number for t in Journal(path, SearchSpace(net())).read()] == list(range(6))
    assert len({json.dumps(t.arch, sort_keys=True) for t in first.history}) == 6


def test_foreign_journal_is_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    nasnb.Experiment(net(), lambda m: 1.0, "grid", max_trials=2, journal=path, progress=False).run()
    other = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))
    exp = nasnb.Experiment(other, lambda m: 1.0, "grid", max_trials=2, journal=path, progress=False)
    with pytest.raises(JournalError, match=r"j.jsonl' was written for another search space \(fingerprint '[0-9a-f]{16}'"):
        exp.run()
    (tmp_path / "notes.txt").write_text('{"hello": 1}\n')
    with pytest.raises(JournalError, match=r"is not a nasnb journal: its first line is not a header"):
        Journal(tmp_path / "notes.txt", SearchSpace(other)).read()


def test_every_trial_is_on_disk_when_it_ends_and_a_torn_line_is_skipped(tmp_path):
    path = tmp_path / "j.jsonl"
    space = SearchSpace(net())
    lines_seen = []

    def evaluate(model):
        lines_seen.append(len(path.read_text().splitlines()) if path.exists() else 0)
        return 1.0

    nasnb.Experiment(space, evaluate, "grid", max_trials=3, journal=path, progress=False).run()
    assert lines_seen == [1, 2, 3]  # the header before the first trial, then each earlier trial
    with open(path, "a") as f:
        f.write('{"type": "trial", "number": 3, "ar')  # killed mid-write
    with pytest.warns(UserWarning, match=r"skipped 1 damaged line .*line 5: not JSON .*cut short"):
        trials = Journal(path, space).read()
    assert [t.number for t in trials] == [0, 1, 2]
    with pytest.warns(UserWarning, match="cut short"):
        exp = nasnb.Experiment(net(), lambda m: 1.0, "grid", max_trials=4, journal=path, progress=False).run()
    assert [t.number for t in exp.history] == [0, 1, 2, 3]
    with pytest.warns(UserWarning, match="line 5"):  # kept, on its own line, and still reported
        assert [t.number for t in Journal(path, space).read()] == [0, 1, 2, 3]


def test_failed_trials_round_trip(tmp_path):
    space = SearchSpace(net())
    with Journal(tmp_path / "j.jsonl", space) as journal:
        journal.append(Trial(0, space.sample(seed=0), "failed", None, {"loss": float("nan")}, "ValueError: x", 0.1))
    (trial,) = Journal(tmp_path / "j.jsonl", space).read()
    assert (trial.status, trial.error, trial.metrics) == ("failed", "ValueError: x", {"loss": None})
    assert os.path.getsize(tmp_path / "j.jsonl") > 0


def test_curves_round_trip_and_old_records_without_them_still_read(tmp_path):
    path = tmp_path / "j.jsonl"
    space = SearchSpace(net())
    arch = space.sample(seed=0)
    with Journal(path, space) as journal:
        journal.report(0, 0, 0.25)
        journal.append(Trial(0, arch, "pruned", intermediate=[[0, 0.25]]))
        journal.append(Trial(1, arch, score=0.5))
    lines = path.read_text().splitlines()
    old = json.loads(lines[-1])
    del old["intermediate"]  # a record written before reporting existed
    bad = {**old, "number": 2, "intermediate": [[0.5, 1.0]]}
    path.write_text("\n".join([*lines[:-1], json.dumps(old), json.dumps(bad)]) + "\n")
    with pytest.warns(UserWarning, match=r"line 5: 'intermediate' is \[\[0.5, 1.0\]\], expected a list of \[step, value\]"):
        trials = Journal(path, space).read()
    assert [(t.number, t.status, t.intermediate) for t in trials] == [(0, "pruned", [[0, 0.25]]), (1, "ok", [])]
