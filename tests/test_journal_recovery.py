"""The journal keeps every valid record, reports damaged lines, is locked, and checks settings on resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from collections import OrderedDict

import pytest
from torch import nn

import nasnb
from nasnb import SearchSpace, mutables
from nasnb._trial import Trial
from nasnb.journal import Journal, JournalError
from nasnb.nni_format import space_fingerprint, to_nni_search_space
from nasnb.strategy import RegularizedEvolution


def net(act=nn.ReLU):
    return nn.Sequential(mutables.LayerChoice([nn.Identity(), act(), nn.Tanh(), nn.Sigmoid()], key="a"),
                         mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="b"))


def experiment(path, max_trials, score=1.0, **kwargs):
    kwargs.setdefault("strategy", "grid")
    return nasnb.Experiment(net(), lambda m: score, max_trials=max_trials, journal=path, progress=False, **kwargs)


def numbers(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [t.number for t in Journal(path, SearchSpace(net())).read()]


def make_journal(tmp_path, n=3):
    path = tmp_path / "j.jsonl"
    experiment(path, n).run()
    assert numbers(path) == list(range(n))
    return path


def damaged_copies(path):
    with open(f"{path}.damaged") as f:
        return [json.loads(line) for line in f]


# ---------------------------------------------------------------- item 1: reading rules
def test_damaged_middle_line_is_skipped_reported_and_kept(tmp_path):
    path = make_journal(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "garbage{\n"  # trial 1
    path.write_text("".join(lines))
    with pytest.warns(UserWarning, match=r"j\.jsonl'.*1 damaged line.*line 3: not JSON"):
        exp = experiment(path, 5).run()
    assert sorted(t.number for t in exp.history) == [0, 2, 3, 4, 5]
    with pytest.warns(UserWarning, match=r"line 3"):
        exp = experiment(path, 6).run()  # the second resume works too
    assert sorted(t.number for t in exp.history) == [0, 2, 3, 4, 5, 6]
    assert numbers(path) == [0, 2, 3, 4, 5, 6]
    assert "garbage{\n" in path.read_text()  # never deleted
    assert [(d["line"], d["text"]) for d in damaged_copies(path)] == [(3, "garbage{")]  # copied once


def test_damaged_last_line_with_newline_does_not_block_the_next_resume(tmp_path):
    path = make_journal(tmp_path)
    with open(path, "a") as f:
        f.write('{"type": "trial", "num\n')
    with pytest.warns(UserWarning, match=r"line 5: not JSON"):
        exp = experiment(path, 5).run()
    assert sorted(t.number for t in exp.history) == [0, 1, 2, 3, 4]
    with pytest.warns(UserWarning, match=r"line 5: not JSON"):
        exp = experiment(path, 6).run()  # was: JournalError "line 5 is not JSON"
    assert numbers(path) == [0, 1, 2, 3, 4, 5]
    assert '{"type": "trial", "num\n' in path.read_text()


def test_valid_last_line_without_newline_is_kept(tmp_path):
    path = make_journal(tmp_path)
    path.write_text(path.read_text()[:-1])  # the newline of trial 2 never reached the disk
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is damaged: no warning
        exp = experiment(path, 5).run()
        assert sorted(t.number for t in exp.history) == [0, 1, 2, 3, 4]  # was: trial 2 deleted as "torn"
        exp = experiment(path, 6).run()
    assert numbers(path) == [0, 1, 2, 3, 4, 5]
    assert all(json.loads(line) for line in path.read_text().splitlines())
    assert not os.path.exists(f"{path}.damaged")


def test_torn_last_line_is_quarantined_not_truncated(tmp_path):
    path = make_journal(tmp_path)
    torn = '{"type": "trial", "number": 3, "ar'
    with open(path, "a") as f:
        f.write(torn)  # killed mid-write
    with pytest.warns(UserWarning, match=r"line 5: not JSON"):
        assert [t.number for t in Journal(path, SearchSpace(net())).read()] == [0, 1, 2]
    with pytest.warns(UserWarning, match=r"copied to '.*j\.jsonl\.damaged'\): line 5"):
        experiment(path, 5).run()
    with pytest.warns(UserWarning, match=r"line 5"):
        exp = experiment(path, 6).run()
    assert sorted(t.number for t in exp.history) == [0, 1, 2, 3, 4, 5]
    assert numbers(path) == [0, 1, 2, 3, 4, 5]
    assert torn + "\n" in path.read_text()
    assert [(d["line"], d["text"]) for d in damaged_copies(path)] == [(5, torn)]


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda r: r.update(score="abc"), r"line 4: 'score' is 'abc', expected a finite number"),
        (lambda r: r.pop("number"), r"line 4: no 'number' field"),
        (lambda r: r.update(arch=5), r"line 4: 'arch' is 5, expected an object key -> choice"),
        (lambda r: r.update(arch={"a": 9, "b": 0}), r"line 4: 'arch' does not fit this search space.*'a'"),
        (lambda r: r.update(status="great"), r"line 4: 'status' is 'great', expected one of"),
        (lambda r: r.update(number=True), r"line 4: 'number' is True, expected a non-negative integer"),
        (lambda r: r.update(metrics=[1]), r"line 4: 'metrics' is \[1\], expected an object name -> number"),
        (lambda r: r.update(duration="1s"), r"line 4: 'duration' is '1s', expected a number"),
    ],
)
def test_hand_edited_lines_are_reported_like_damaged_ones(tmp_path, edit, problem):
    path = make_journal(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[3])  # trial 2
    edit(record)
    lines[3] = json.dumps(record) + "\n"
    path.write_text("".join(lines))
    with pytest.warns(UserWarning, match=problem):
        exp = experiment(path, 4).run()
    got = sorted(t.number for t in exp.history)
    assert got[:2] == [0, 1] and len(set(got)) == 4  # trials 0 and 1 kept, two new ones
    if "number" in path.read_text().splitlines()[3] and "true" not in path.read_text().splitlines()[3]:
        assert got == [0, 1, 3, 4]  # a number on a damaged line is not reused


def test_an_ok_trial_without_score_and_a_non_object_line_are_damaged(tmp_path):
    path = make_journal(tmp_path)
    with open(path, "a") as f:
        f.write('{"type": "trial", "number": 3, "arch": {"a": 0, "b": 1}, "status": "ok", "score": null}\n[1, 2]\n')
    with pytest.warns(UserWarning, match=r"2 damaged lines.*line 5: an 'ok' trial needs a finite 'score'.*"
                                         r"line 6: \[1, 2\] is not a journal record"):
        assert [t.number for t in Journal(path, SearchSpace(net())).read()] == [0, 1, 2]


def test_the_header_must_still_be_a_header(tmp_path):
    path = make_journal(tmp_path)
    text = path.read_text().splitlines(keepends=True)
    path.write_text("nonsense\n" + "".join(text[1:]))
    with pytest.raises(JournalError, match=r"j\.jsonl' is not a nasnb journal: its first line is not a header "
                                           r"\(line 1: not JSON"):
        experiment(path, 5).run()


# ---------------------------------------------------------------- item 3: one writer at a time
def test_a_second_writer_is_refused_in_the_same_process(tmp_path):
    path = tmp_path / "j.jsonl"
    space = SearchSpace(net())
    first = Journal(path, space)
    first.open()
    second = Journal(path, space)
    with pytest.raises(JournalError, match=rf"journal '.*j\.jsonl' is being written by another experiment "
                                           rf"\(pid {os.getpid()}"):
        second.open()
    first.append(Trial(0, {"a": 0, "b": 0}, score=1.0))
    first.close()
    second.open()  # the lock is released on close
    second.append(Trial(1, {"a": 0, "b": 1}, score=1.0))
    second.close()
    assert numbers(path) == [0, 1]


def test_two_experiments_on_one_journal_do_not_interleave(tmp_path):
    path = tmp_path / "j.jsonl"
    errors = []

    def evaluate(model):
        try:
            experiment(path, 8, strategy="random", seed=1).run()
        except JournalError as err:
            errors.append(str(err))
        return 1.0

    exp = nasnb.Experiment(net(), evaluate, "random", seed=1, max_trials=4, journal=path, progress=False).run()
    assert len(errors) == 4 and "is being written by another experiment" in errors[0]
    assert numbers(path) == [0, 1, 2, 3] and exp.n_done == 4


def test_the_lock_holder_in_another_process_is_named_and_its_death_frees_the_journal(tmp_path):
    path = tmp_path / "j.jsonl"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_journal_recovery import net
        from nasnb import SearchSpace
        from nasnb.journal import Journal
        journal = Journal({str(path)!r}, SearchSpace(net()))
        journal.open()
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        calls = []
        exp = nasnb.Experiment(net(), lambda m: calls.append(1) or 1.0, "grid", max_trials=2, journal=path,
                               progress=False)
        with pytest.raises(JournalError, match=rf"another experiment \(pid {proc.pid}\)"):
            exp.run()
        assert calls == []
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    time.sleep(0.05)
    assert experiment(path, 2).run().n_done == 2


# ---------------------------------------------------------------- item 5: settings and candidates
@pytest.mark.parametrize(
    "first, second, message",
    [
        ({}, {"mode": "min"}, r"mode: journal 'max', this experiment 'min'"),
        ({"metric": "acc"}, {"metric": "loss"}, r"metric: journal 'acc', this experiment 'loss'"),
        ({}, {"strategy": "random"}, r"strategy: journal 'grid', this experiment 'random'"),
        ({"strategy": "random", "seed": 0}, {"strategy": "random", "seed": 1},
         r"strategy setting 'seed': journal 0, this experiment 1"),
        ({"strategy": RegularizedEvolution(population_size=8, seed=0)},
         {"strategy": RegularizedEvolution(population_size=4, sample_size=2, seed=0)},
         r"strategy setting 'population_size': journal 8, this experiment 4"),
    ],
)
def test_resuming_with_other_settings_is_refused(tmp_path, first, second, message):
    path = tmp_path / "j.jsonl"
    experiment(path, 2, **first).run()
    with pytest.raises(JournalError, match=rf"journal '.*j\.jsonl' was written with other settings:\n.*{message}"):
        experiment(path, 4, **second).run()
    assert numbers(path) == [0, 1]


def test_changed_candidates_with_the_same_names_are_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    experiment(path, 2).run()
    exp = nasnb.Experiment(net(act=nn.GELU), lambda m: 1.0, "grid", max_trials=4, journal=path, progress=False)
    with pytest.raises(JournalError, match=r"candidate '1' of 'a': journal 'ReLU\(\)', "
                                           r"this space \"GELU\(approximate='none'\)\""):
        exp.run()
    wide = nn.Sequential(mutables.LayerChoice(OrderedDict(lin=nn.Linear(4, 8)), key="a"))
    narrow = nn.Sequential(mutables.LayerChoice(OrderedDict(lin=nn.Linear(4, 4)), key="a"))
    nasnb.Experiment(wide, lambda m: 1.0, "grid", max_trials=1, journal=tmp_path / "k.jsonl", progress=False).run()
    with pytest.raises(JournalError, match=r"out_features=8.*out_features=4"):
        nasnb.Experiment(narrow, lambda m: 1.0, "grid", max_trials=1, journal=tmp_path / "k.jsonl",
                         progress=False).run()


def test_a_journal_from_the_previous_format_still_resumes(tmp_path):
    path = tmp_path / "old.jsonl"
    space = SearchSpace(net())
    header = {"type": "header", "format": 1, "fingerprint": space_fingerprint(space),
              "search_space": to_nni_search_space(space), "created": 0.0, "strategy": "grid", "metric": None,
              "mode": "max"}
    trial = {"type": "trial", "number": 0, "arch": {"a": 0, "b": 0}, "status": "ok", "score": 1.0,
             "metrics": {"score": 1.0}, "error": None, "duration": 0.1, "traceback": None}
    path.write_text(json.dumps(header) + "\n" + json.dumps(trial) + "\n")
    with pytest.warns(UserWarning, match=r"written by an older nasnb.*candidates.*not checked"):
        exp = experiment(path, 3).run()
    assert [t.number for t in exp.history] == [0, 1, 2]
    with pytest.raises(JournalError, match=r"mode: journal 'max', this experiment 'min'"):
        experiment(path, 3, mode="min").run()
    header["format"] = 7
    path.write_text(json.dumps(header) + "\n")
    with pytest.raises(JournalError, match=r"written by a newer nasnb \(format 7; this nasnb reads formats up to 1\)"):
        experiment(path, 3).run()


# ---------------------------------------------------------------- item 6: check the path before any trial
def test_a_missing_folder_fails_before_the_first_trial(tmp_path):
    calls = []
    path = tmp_path / "no" / "such" / "j.jsonl"
    exp = nasnb.Experiment(net(), lambda m: calls.append(1) or 1.0, "grid", max_trials=2, journal=path,
                           progress=False)
    with pytest.raises(JournalError, match=r"cannot create journal '.*j\.jsonl': its folder '.*such' does not exist"):
        exp.run()
    assert calls == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError, match=r"cannot create journal '.*file/j\.jsonl': '.*file' is not a folder"):
        experiment(tmp_path / "file" / "j.jsonl", 2).run()


def test_a_read_only_folder_fails_before_the_first_trial(tmp_path, monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    monkeypatch.setattr("os.open", refuse)
    exp = nasnb.Experiment(net(), lambda m: calls.append(1) or 1.0, "grid", max_trials=2,
                           journal=tmp_path / "j.jsonl", progress=False)
    with pytest.raises(JournalError, match=r"cannot create journal '.*j\.jsonl': no permission to write in "
                                           r"'.*' \(PermissionError"):
        exp.run()
    assert calls == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder_fails_before_the_first_trial_for_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(JournalError, match=r"no permission to write in"):
            experiment(folder / "j.jsonl", 2).run()
    finally:
        folder.chmod(0o755)


def test_a_forked_child_that_outlives_the_run_does_not_keep_the_journal_locked(tmp_path):
    import multiprocessing

    path = tmp_path / "j.jsonl"
    children = []

    def evaluate(model):  # e.g. persistent DataLoader workers started with fork
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,), daemon=True)
        child.start()
        children.append(child)
        return 1.0

    try:
        nasnb.Experiment(net(), evaluate, "grid", max_trials=2, journal=path, progress=False).run()
        assert all(child.is_alive() for child in children)
        journal = Journal(path, SearchSpace(net()), meta={"strategy": "grid"})
        assert [t.number for t in journal.open()] == [0, 1]  # the children closed their copies at fork
        journal.close()
    finally:
        for child in children:
            child.kill()
            child.join()
