from __future__ import annotations

import functools
import os
import signal
import time
from collections import OrderedDict
from pathlib import Path

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
    if what == "alarm":  # the trial's timer fires now: no race between a time limit and the other trials
        if signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise RuntimeError("no time limit armed: SIGALRM has no handler")
        os.kill(os.getpid(), signal.SIGALRM)
        time.sleep(30)
    if what == "die":
        os._exit(3)
    if what == "tensor":
        return {"score": torch.tensor(0.25), "loss": 2}
    return {"good": 1.0, "great": 2.0}[what]


def statuses(exp):
    return {t.arch["op"]: (t.status, t.score, t.error) for t in exp.history}


def test_inline_records_failures_and_goes_on():
    # "alarm" raises its time limit's timer signal itself, so the limit can be far above what any
    # other trial takes: nothing here races the clock (the real timer is tested below)
    exp = nasnb.Experiment(behaviour_net("good", "boom", "nan", "text", "tensor", "alarm", "great"), evaluate,
                           GridSearch(), max_trials=7, timeout=600, progress=False)
    exp.run()
    got = statuses(exp)
    assert got["good"] == ("ok", 1.0, None)
    assert got["great"] == ("ok", 2.0, None)
    assert got["tensor"] == ("ok", 0.25, None)
    assert got["boom"] == ("failed", None, "RuntimeError: boom in training")
    assert got["nan"] == ("failed", None, "evaluate returned a non-finite score: nan")
    assert got["text"][0] == "failed" and "non-numbers {'acc': 'high'}" in got["text"][2]
    assert got["alarm"] == ("timeout", None, "TrialTimeout: exceeded the time limit of 600 s")
    assert exp.n_done == 7 and exp.n_failed == 4
    assert "Traceback" in next(t for t in exp.history if t.arch["op"] == "boom").traceback
    assert [t.arch["op"] for t in exp.best(2)] == ["great", "good"]


BARRIER_S = 60.0  # how long a paired trial waits for its partner to start (only a broken executor waits it out)


def _stamp(folder: Path, name: str) -> None:
    """Write the trial's own clock reading (system-wide monotonic: comparable across processes)."""
    tmp = folder / f".{name}.tmp"
    tmp.write_text(repr(time.monotonic()))
    tmp.replace(folder / name)  # atomic: a reader never sees a half-written stamp


def evaluate_recorded(folder: str, model: nn.Module):
    """``evaluate`` that records when each trial starts and ends; "good" and "great" are a pair:
    each waits until the other has started, so they overlap whenever the executor runs two at once,
    and a trial left alone says so instead of hanging (a sequential executor)."""
    root, what = Path(folder), model.op.what
    _stamp(root, f"{what}.start")
    if what in ("good", "great"):
        partner = root / ("great.start" if what == "good" else "good.start")
        deadline = time.monotonic() + BARRIER_S
        while not partner.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not partner.exists():
            _stamp(root, f"{what}.alone")
    try:
        return evaluate(model)
    finally:
        _stamp(root, f"{what}.end")


def _interval(folder: Path, what: str) -> tuple[float, float]:
    return float((folder / f"{what}.start").read_text()), float((folder / f"{what}.end").read_text())


@pytest.mark.slow
def test_process_executor_runs_concurrently_and_survives_crashes(tmp_path):
    space = SearchSpace(behaviour_net("good", "great", "boom", "alarm", "die"))
    exp = nasnb.Experiment(space, functools.partial(evaluate_recorded, str(tmp_path)), GridSearch(), max_trials=5,
                           executor=ProcessExecutor(), concurrency=2, timeout=600, progress=False)
    exp.run()
    got = statuses(exp)
    assert got["good"] == ("ok", 1.0, None) and got["great"] == ("ok", 2.0, None)
    assert got["boom"] == ("failed", None, "RuntimeError: boom in training")
    assert got["alarm"] == ("timeout", None, "TrialTimeout: exceeded the time limit of 600 s")
    assert got["die"][0] == "failed" and got["die"][2].startswith("WorkerDied: the worker process exited (exit code 3)")
    assert sorted(t.number for t in exp.history) == [0, 1, 2, 3, 4]
    # concurrency, from the trials' own clocks: the pair ran at the same time in two processes
    assert not list(tmp_path.glob("*.alone")), "a paired trial waited in vain for its partner: trials ran one at a time"
    (s1, e1), (s2, e2) = _interval(tmp_path, "good"), _interval(tmp_path, "great")
    assert s1 < e2 and s2 < e1, f"intervals do not overlap: good {s1:.3f}..{e1:.3f}, great {s2:.3f}..{e2:.3f}"
    for t in exp.history:  # each recorded duration covers the trial's own start..end
        if t.arch["op"] in ("good", "great", "boom"):
            start, end = _interval(tmp_path, t.arch["op"])
            assert t.duration >= end - start


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

    inside = []  # the trial's own clock: (start, end) around its sleep

    def sleepy(seconds):
        start = time.perf_counter()
        time.sleep(seconds)
        inside.append((start, time.perf_counter()))
        return 1.0

    ex = InlineExecutor()
    ex.start(sleepy, 1)
    out, outside = {}, []

    def work():
        start = time.perf_counter()
        ex.submit(0, 0.2, timeout=0.05)
        out.update(ex.wait())
        outside.append((start, time.perf_counter()))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    (start, end), (outer_start, outer_end) = inside[0], outside[0]
    assert end - start >= 0.2, "the trial ran to completion: no timer signal outside the main thread"
    assert out[0].timed_out and out[0].result is None
    assert end - start <= out[0].duration <= outer_end - outer_start  # what evaluate took, measured around it
    assert out[0].error == f"TrialTimeout: took {out[0].duration:.3g} s, limit 0.05 s"


def test_inline_timeout_in_the_main_thread_interrupts_the_trial():
    from nasnb._trial import run_evaluate

    steps = []

    def stuck(_):
        steps.append(("start", time.perf_counter()))
        time.sleep(30)
        steps.append(("finished", time.perf_counter()))

    outcome = run_evaluate(stuck, None, 0.2)
    assert [s for s, _ in steps] == ["start"], "the timer did not interrupt the sleep"
    assert outcome.timed_out and outcome.error == "TrialTimeout: exceeded the time limit of 0.2 s"
    assert outcome.duration >= 0.2  # interrupted at the limit, not before


def test_draw_best_draws_the_best_architecture_and_keeps_the_models():
    pytest.importorskip("matplotlib")
    net = nn.Sequential(mutables.LayerChoice(OrderedDict(small=nn.Linear(4, 2), big=nn.Linear(4, 8)), key="op"))
    exp = nasnb.Experiment(net, lambda m: sum(p.numel() for p in m.parameters()), "grid", max_trials=2, progress=False)
    with pytest.raises(ValueError, match="no successful trial yet"):
        exp.draw_best(example_input=torch.zeros(1, 4))
    exp.run()
    exp.space.apply({"op": "small"})
    kept = exp.space.current()
    fig = exp.draw_best(example_input=torch.zeros(1, 4))
    assert exp.best(1)[0].arch == {"op": "big"}
    assert exp.space.current() == kept  # drawn, not applied: the model keeps its architecture
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any("big" in label for label in labels), labels
    assert "output\n8" in labels, labels  # drawn running "big" (Linear 4->8), not the model's current "small"


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


@pytest.mark.filterwarnings("ignore:Experiment. max_trials=6 <=:UserWarning")  # warm-up: not what is tested
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


# ------------------------------------------------------------------ no silent wrong answers
def two_act_net():
    return nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))


def test_a_dict_of_several_metrics_without_metric_is_an_error():
    exp = nasnb.Experiment(two_act_net(), lambda m: {"loss": 0.3, "acc": 0.9}, "grid", progress=False)
    with pytest.raises(ValueError, match=r"^Experiment: trial 0 evaluate returned several metrics \['loss', 'acc'\] "
                                         r"and no metric= says which is the score; pass metric=\.\.\. \(and "
                                         r"mode='min' if smaller is better\)$"):
        exp.run()
    assert exp.history == []


def test_the_several_metrics_error_says_the_journal_must_change(tmp_path):
    path = tmp_path / "j.jsonl"
    exp = nasnb.Experiment(two_act_net(), lambda m: {"loss": 0.3, "acc": 0.9}, "grid", journal=path, progress=False)
    with pytest.raises(ValueError, match=r"records metric=None, so resume with a new journal path"):
        exp.run()
    with pytest.raises(nasnb.exceptions.JournalMismatchError, match="metric"):  # what the message warns of
        nasnb.Experiment(two_act_net(), lambda m: {"loss": 0.3, "acc": 0.9}, "grid", journal=path, metric="acc",
                         progress=False).run()


@pytest.mark.parametrize("result, expected", [({"acc": 0.7}, 0.7), ({"score": 0.5, "loss": 2.0}, 0.5), (0.25, 0.25)])
def test_one_number_a_score_entry_or_a_float_needs_no_metric(result, expected):
    exp = nasnb.Experiment(two_act_net(), lambda m: result, "grid", progress=False).run()
    assert [t.score for t in exp.history] == [expected, expected]


def test_a_benchmark_names_its_own_metric():
    space = SearchSpace(two_act_net())
    bench = nasnb.bench.build_table(space, lambda m: float(isinstance(m[0], nn.ReLU)), metric="val_acc")
    bench = nasnb.bench.TabularBenchmark(space, [{**r, "params": 5.0} for r in bench.rows], metric="val_acc")
    for evaluator in (bench, bench.evaluate):
        exp = nasnb.Experiment(space, evaluator, "grid", progress=False).run()
        assert [t.score for t in exp.history] == [0.0, 1.0]


@pytest.mark.parametrize("strategy, option, size", [("evolution", "population_size", 20), ("tpe", "n_startup_trials", 10)])
def test_max_trials_within_the_warm_up_warns(strategy, option, size):
    if strategy == "tpe":
        pytest.importorskip("optuna")
    with pytest.warns(UserWarning, match=rf"^Experiment: max_trials={size} <= {option}={size}: every trial is a "
                                         rf"random draw; {strategy} never starts learning from the results\. Pass "
                                         rf"strategy_options=\{{'{option}': \.\.\.\}} below {size}, or raise max_trials\.$"):
        nasnb.Experiment(two_act_net(), lambda m: 1.0, strategy, max_trials=size, progress=False)
    with pytest.warns(UserWarning, match=rf"Pass \w+\({option}=\.\.\.\) below 3"):
        nasnb.Experiment(two_act_net(), lambda m: 1.0, nasnb.strategy.make_strategy(strategy), max_trials=3,
                         progress=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nasnb.Experiment(two_act_net(), lambda m: 1.0, strategy, max_trials=size + 1, progress=False)
        nasnb.Experiment(two_act_net(), lambda m: 1.0, strategy, max_trials=3, strategy_options={option: 2},
                         progress=False)


def test_strategy_options_reach_a_strategy_given_by_name():
    exp = nasnb.Experiment(two_act_net(), lambda m: 1.0, "evolution", seed=1, max_trials=5,
                           strategy_options={"population_size": 4, "sample_size": 2}, progress=False)
    assert (exp.strategy.population_size, exp.strategy.sample_size, exp.strategy.seed) == (4, 2, 1)


@pytest.mark.parametrize("strategy, options, message", [
    ("evolution", {"population": 5},
     r"^strategy 'evolution' \(RegularizedEvolution\) has no option 'population'; it accepts "
     r"\['dedup_tries', 'population_size', 'sample_size'\]$"),
    ("random", {"a": 1, "b": 2}, r"^strategy 'random' \(Random\) has no options \['a', 'b'\]; it accepts \[\]$"),
    ("grid", {"seed": 3}, r"^strategy option 'seed' for 'grid': pass seed= itself"),
    (GridSearch(), {"shuffle": True}, r"^strategy options \['shuffle'\] were given with a GridSearch instance"),
])
def test_bad_strategy_options(strategy, options, message):
    with pytest.raises(ValueError, match=message):
        nasnb.Experiment(two_act_net(), lambda m: 1.0, strategy, strategy_options=options, progress=False)


def test_rejected_trials_are_counted_in_the_summary_and_the_progress(capsys):
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    exp = nasnb.Experiment(net, lambda m: 1.0, "grid", max_trials=3, progress=True,
                           constraint=lambda m: not isinstance(m[0], nn.ReLU)).run()
    assert (exp.n_done, exp.n_failed, exp.n_rejected) == (2, 0, 1)
    assert repr(exp) == "Experiment(GridSearch, 2/3 trials, 0 failed, 1 rejected, best 1)"
    assert "1 rejected" in exp._repr_html_()
    assert capsys.readouterr().out.endswith("done: 2/3 trials, best 1, 0 failed, 1 rejected\n")


def test_notebook_progress_bar_counts_rejected_trials(monkeypatch):
    pytest.importorskip("tqdm")
    from nasnb import _experiment_live

    postfixes = []

    class Bar:
        def __init__(self, *args, **kwargs):
            pass

        def update(self, n):
            pass

        def set_postfix(self, **kwargs):
            postfixes.append(kwargs)

        def close(self):
            pass

    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    monkeypatch.setattr(_experiment_live.LiveProgress, "_plot", lambda self, force=False: None)
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    exp = nasnb.Experiment(net, lambda m: 1.0, "grid", max_trials=3,
                           constraint=lambda m: not isinstance(m[0], nn.ReLU))
    live = _experiment_live.LiveProgress(exp, notebook=True)
    exp._loop(live)
    live.close()
    assert postfixes[0]["failed"] == 0 and "rejected" not in postfixes[0]
    assert postfixes[-1] == {"best": "1", "failed": 0, "rejected": 1, "refresh": False}
