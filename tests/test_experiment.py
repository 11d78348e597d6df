from __future__ import annotations

import math
import os
import time
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import SearchSpace, mutables
from nasnb.executors import InlineExecutor, ProcessExecutor
from nasnb.strategy import GridSearch, Random


class Behaviour(nn.Module):
    """A candidate whose name tells evaluate what to do."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what
        self.lin = nn.Linear(2, 2)


def behaviour_net(*names: str) -> nn.Module:
    net = nn.Module()
    net.op = mutables.LayerChoice(OrderedDict((n, Behaviour(n)) for n in names), key="op")
    return net


def evaluate(model: nn.Module):
    what = model.op.what
    if what == "boom":
        raise RuntimeError("boom in training")
    if what == "nan":
        return float("nan")
    if what == "text":
        return {"acc": "high"}
    if what == "slow":
        time.sleep(30)
    if what == "die":
        os._exit(3)
    if what == "tensor":
        return {"acc": torch.tensor(0.25), "loss": 2}
    return {"good": 1.0, "great": 2.0}[what]


def statuses(exp):
    return {t.arch["op"]: (t.status, t.score, t.error) for t in exp.history}


def test_inline_records_failures_and_goes_on():
    exp = nasnb.Experiment(behaviour_net("good", "boom", "nan", "text", "tensor", "slow", "great"), evaluate,
                           GridSearch(), max_trials=7, timeout=0.5, progress=False)
    exp.run()
    got = statuses(exp)
    assert got["good"] == ("ok", 1.0, None)
    assert got["great"] == ("ok", 2.0, None)
    assert got["tensor"] == ("ok", 0.25, None)
    assert got["boom"] == ("failed", None, "RuntimeError: boom in training")
    assert got["nan"] == ("failed", None, "evaluate returned a non-finite score: nan")
    assert got["text"][0] == "failed" and "non-numbers {'acc': 'high'}" in got["text"][2]
    assert got["slow"] == ("timeout", None, "TrialTimeout: exceeded the time limit of 0.5 s")
    assert exp.n_done == 7 and exp.n_failed == 4
    assert "Traceback" in next(t for t in exp.history if t.arch["op"] == "boom").traceback
    assert [t.arch["op"] for t in exp.best(2)] == ["great", "good"]


@pytest.mark.slow
def test_process_executor_runs_concurrently_and_survives_crashes():
    space = SearchSpace(behaviour_net("good", "boom", "slow", "die", "great"))
    exp = nasnb.Experiment(space, evaluate, GridSearch(), max_trials=5, executor=ProcessExecutor(),
                           concurrency=2, timeout=2, progress=False)
    exp.run()
    got = statuses(exp)
    assert got["good"] == ("ok", 1.0, None) and got["great"] == ("ok", 2.0, None)
    assert got["boom"] == ("failed", None, "RuntimeError: boom in training")
    assert got["slow"] == ("timeout", None, "TrialTimeout: exceeded the time limit of 2 s")
    assert got["die"][0] == "failed" and got["die"][2].startswith("WorkerDied: the worker process exited (exit code 3)")
    assert sorted(t.number for t in exp.history) == [0, 1, 2, 3, 4]


def test_evaluate_gets_a_fixed_model_and_the_constraint_filters_before_training():
    net = nn.Sequential(mutables.LayerChoice(OrderedDict(small=nn.Linear(4, 4), big=nn.Linear(4, 64),
                                                         none=nn.Identity()), key="op"))
    seen = []

    def evaluate_params(model):
        assert not any(isinstance(m, mutables.Mutable) for m in model.modules())
        seen.append(type(model[0]).__name__)
        return sum(p.numel() for p in model.parameters())

    exp = nasnb.Experiment(net, evaluate_params, "grid", max_trials=2, progress=False,
                           constraint=lambda m: sum(p.numel() for p in m.parameters()) < 100)
    exp.run()
    assert [(t.arch["op"], t.status) for t in exp.history] == [("small", "ok"), ("big", "rejected"), ("none", "ok")]
    assert seen == ["Linear", "Identity"]
    assert exp.n_done == 2


def test_mode_min_and_metric_selection(tmp_path):
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    losses = {"Identity": 3.0, "ReLU": 1.0, "Tanh": 2.0}
    exp = nasnb.Experiment(net, lambda m: {"acc": 0.5, "loss": losses[type(m[0]).__name__]}, "random", seed=0,
                           metric="loss", mode="min", max_trials=3, progress=False)
    exp.run()
    assert [t.score for t in exp.best(3)] == [1.0, 2.0, 3.0]
    assert exp.export_top(1, path=tmp_path / "best.json") == [{"act": 1}]
    assert SearchSpace(nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))).load(
        tmp_path / "best.json") == {"act": 1}
    assert repr(exp) == "Experiment(Random, 3/3 trials, 0 failed, best 1)"
    assert "<table>" in exp._repr_html_()


def test_strategy_exhaustion_ends_the_run():
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))
    exp = nasnb.Experiment(net, lambda m: 1.0, Random(seed=0), max_trials=10, progress=False).run()
    assert exp.n_done == 2


def test_tabular_evaluators_receive_the_architecture():
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))

    def lookup(arch):
        return {0: 0.1, 1: 0.9}[arch["act"]]

    lookup.takes_arch = True
    exp = nasnb.Experiment(net, lookup, "grid", max_trials=2, progress=False).run()
    assert [t.score for t in exp.history] == [0.1, 0.9]


def test_script_progress_prints_plain_text(capsys):
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))
    nasnb.Experiment(net, lambda m: 1.0, "grid", max_trials=2, progress=True).run()
    out = capsys.readouterr().out
    assert out.startswith("GridSearch: 0/2 trials done\ntrial 0: 1 | 1/2 done, best 1, 0 failed\n")
    assert out.endswith("done: 2/2 trials, best 1, 0 failed\n")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "maximize"}, r"mode must be 'max' or 'min', got 'maximize'"),
        ({"max_trials": 0}, r"max_trials must be a positive int, got 0"),
        ({"concurrency": 0}, r"concurrency must be a positive int, got 0"),
        ({"executor": "dask"}, r"unknown executor 'dask'; expected an Executor or one of \['inline', 'process', 'ray'\]"),
        ({"strategy": "bayes"}, r"unknown strategy 'bayes'"),
        ({"timeout": -1}, r"timeout must be a positive number of seconds or None, got -1"),
    ],
)
def test_bad_arguments(kwargs, message):
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))
    with pytest.raises(ValueError, match=message):
        nasnb.Experiment(net, lambda m: 1.0, **kwargs)


def test_inline_timeout_outside_the_main_thread_is_checked_after_the_fact():
    import threading

    ex = InlineExecutor()
    ex.start(lambda x: time.sleep(x) or 1.0, 1)
    out = {}

    def work():
        ex.submit(0, 0.2, timeout=0.05)
        out.update(ex.wait())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out[0].timed_out and out[0].error.startswith("TrialTimeout: took")
    assert math.isclose(out[0].duration, 0.2, rel_tol=2)


def test_draw_best_applies_and_draws_the_best_architecture():
    pytest.importorskip("matplotlib")
    net = nn.Sequential(mutables.LayerChoice(OrderedDict(small=nn.Linear(4, 2), big=nn.Linear(4, 8)), key="op"))
    exp = nasnb.Experiment(net, lambda m: sum(p.numel() for p in m.parameters()), "grid", max_trials=2, progress=False)
    with pytest.raises(ValueError, match="no successful trial yet"):
        exp.draw_best(example_input=torch.zeros(1, 4))
    exp.run()
    fig = exp.draw_best(example_input=torch.zeros(1, 4))
    assert exp.space.current() == {"op": "big"}
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any("big" in label for label in labels), labels


# ------------------------------------------------------------- nothing is lost
def test_export_top_is_atomic_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    import json

    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    scores = {"Identity": 1.0, "ReLU": 2.0, "Tanh": 0.5}
    exp = nasnb.Experiment(net, lambda m: scores[type(m[0]).__name__], "grid", max_trials=3, progress=False).run()
    path = tmp_path / "best.json"
    exp.export_top(1, path=path)
    before = path.read_text()
    assert json.loads(before) == {"act": 1}
    exp.mode = "min"  # another best: a write that went through would change the file

    def dump_half(obj, f, **kwargs):
        f.write('{"act": ')
        raise OSError(28, "No space left on device")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    for target, name, broken in [(json, "dump", dump_half), (os, "fsync", full_disk)]:
        with monkeypatch.context() as m:
            m.setattr(target, name, broken)
            with pytest.raises(OSError, match="No space left"):
                exp.export_top(1, path=path)
        assert path.read_text() == before
        assert os.listdir(tmp_path) == ["best.json"]  # no temporary file left behind
    exp.export_top(1, path=path)
    assert json.loads(path.read_text()) == {"act": 2}


def tiny_net():
    return nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"),
                         mutables.LayerChoice([nn.Identity(), nn.Sigmoid()], key="out"))


@pytest.mark.parametrize("journal", [False, True])
@pytest.mark.parametrize("strategy", ["grid", "random", "evolution", "tpe", "rl"])
def test_an_interrupted_trial_is_evaluated_on_the_next_run(tmp_path, strategy, journal):
    if strategy == "tpe":
        pytest.importorskip("optuna")
    space = SearchSpace(tiny_net())
    calls, finished = [], []

    def evaluate(model):
        arch = (type(model[0]).__name__, type(model[1]).__name__)
        calls.append(arch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        finished.append(arch)
        return float(len(finished))

    kwargs = {"max_trials": space.size, "seed": 0, "progress": False}
    if journal:
        kwargs["journal"] = tmp_path / "j.jsonl"
    exp = nasnb.Experiment(space, evaluate, strategy, **kwargs)
    with pytest.raises(KeyboardInterrupt):
        exp.run()
    interrupted = calls[2]
    assert len(exp.history) == 2
    exp.run()
    assert interrupted in finished
    assert len(finished) == len(set(finished)) == exp.n_done == space.size
    if strategy in ("grid", "random"):
        assert sorted(finished) == sorted(set(calls))  # every architecture of the space, each once
    assert sorted(t.number for t in exp.history) == list(range(space.size))
    if journal:
        from nasnb.journal import Journal

        assert sorted(t.number for t in Journal(tmp_path / "j.jsonl", space).read()) == list(range(space.size))
