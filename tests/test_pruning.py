"""Learning curves and pruning in classic search: reporting, the journal, Optuna's pruners, every executor."""

from __future__ import annotations

import json
import warnings

import optuna
import pytest
from torch import nn

import nasnb
from nasnb import mutables
from nasnb._experiment_live import _counts
from nasnb._report import TrialReporter, takes_trial
from nasnb.executors import Executor, InlineExecutor, ProcessExecutor
from nasnb.journal import Journal
from nasnb.plot import plot_curves

#: The final value of each architecture (grid order): trials 3, 5 and 7 fall below the median of those before them.
QUALITY = [0.5, 0.3, 0.9, 0.2, 0.7, 0.1, 0.8, 0.4]
STEPS = 5
PRUNED = [3, 5, 7]


def toy_net() -> nn.Module:
    return nn.Sequential(mutables.LayerChoice([nn.Linear(1, n) for n in range(1, len(QUALITY) + 1)], key="op"))


def curve(q: float) -> list[list[float]]:
    return [[s, q * (s + 1) / STEPS] for s in range(STEPS)]


def toy_evaluate(model, trial):
    """A learning curve that is known per architecture: q/5, 2q/5, ..., q."""
    q = QUALITY[model[0].out_features - 1]
    for _, value in curve(q):
        trial.report(value)
        if trial.should_prune():
            raise nasnb.TrialPruned()
    return q


def median() -> optuna.pruners.MedianPruner:
    return optuna.pruners.MedianPruner(n_startup_trials=2)


def run(executor="inline", **kwargs) -> nasnb.Experiment:
    kwargs = {"max_trials": len(QUALITY), "pruner": median(), **kwargs}
    return nasnb.Experiment(toy_net(), toy_evaluate, "grid", executor=executor, progress=False, **kwargs).run()


def check_pruned(exp: nasnb.Experiment) -> None:
    assert [t.number for t in exp.history if t.status == "pruned"] == PRUNED
    assert [t.number for t in exp.history if t.status == "ok"] == [0, 1, 2, 4, 6]
    assert exp.best(1)[0].number == 2  # the best architecture was never pruned
    for t in exp.history:
        q = QUALITY[t.number]
        if t.status == "ok":
            assert t.intermediate == curve(q) and t.score == q
        else:  # stopped at its first report, which its curve keeps
            assert t.score is None and t.intermediate == curve(q)[:1]
            assert t.error == f"stopped after step 0 (last reported value {q / STEPS:.6g})"


# ------------------------------------------------------------------ the reporter
def test_takes_trial_follows_the_documented_rule():
    assert takes_trial(lambda model, trial: 1.0) and takes_trial(lambda model, t: 1.0)
    assert takes_trial(lambda model, trial=None: 1.0)
    assert not takes_trial(lambda model: 1.0)
    assert not takes_trial(lambda model, epochs=5: 1.0)  # an existing default argument stays untouched
    assert not takes_trial(lambda *args: 1.0)


def test_bad_reports_raise_naming_the_trial_the_value_and_what_was_expected():
    trial = TrialReporter(7)
    with pytest.raises(ValueError, match=r"trial 7: report\(nan\) got a non-finite value; expected a finite number"):
        trial.report(float("nan"))
    with pytest.raises(ValueError, match=r"trial 7: report\('high'\) got 'high' \(str\); expected a finite number"):
        trial.report("high")
    with pytest.raises(ValueError, match=r"trial 7: report\(0.5, step=1.5\) got step 1.5 \(float\); expected an int"):
        trial.report(0.5, step=1.5)
    trial.report(0.5, step=3)
    with pytest.raises(ValueError, match=r"trial 7: report\(0.6, step=2\) got step 2 after step 3; expected a step above 3"):
        trial.report(0.6, step=2)
    with pytest.raises(ValueError, match="got step 3 after step 3"):
        trial.report(0.6, step=3)
    trial.report(0.7)
    assert trial.intermediate == [[3, 0.5], [4, 0.7]] and not trial.should_prune()


def test_a_bad_report_fails_its_trial_with_the_message():
    def evaluate(model, trial):
        trial.report(float("inf"))
        return 1.0

    exp = nasnb.Experiment(toy_net(), evaluate, "grid", max_trials=1, progress=False).run()
    assert exp.history[0].status == "failed"
    assert exp.history[0].error.startswith("ValueError: trial 0: report(inf) got a non-finite value")


# ------------------------------------------------------------------ pruning
def test_median_pruner_prunes_the_bad_trials_and_never_the_best():
    exp = run()
    check_pruned(exp)
    assert (exp.n_done, exp.n_pruned, exp.n_failed) == (8, 3, 0)  # pruned trials count toward max_trials
    assert repr(exp) == "Experiment(GridSearch, 8/8 trials, 0 failed, 3 pruned, best 0.9)"
    assert _counts(exp) == {"failed": 0, "pruned": 3}
    assert [r["status"] for r in exp.rows()].count("pruned") == 3


def test_pruner_names_build_optunas_pruners():
    exp = nasnb.Experiment(toy_net(), toy_evaluate, "grid", pruner="median", progress=False)
    assert isinstance(exp.pruner, optuna.pruners.MedianPruner)
    exp = nasnb.Experiment(toy_net(), toy_evaluate, "grid", pruner="halving", mode="min", progress=False)
    assert isinstance(exp.pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert exp._pruning.study.direction == optuna.study.StudyDirection.MINIMIZE


def test_without_a_pruner_reports_are_recorded_and_nothing_is_pruned():
    exp = run(pruner=None)
    assert exp.n_pruned == 0 and [t.intermediate for t in exp.history] == [curve(q) for q in QUALITY]


def test_an_unknown_pruner_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown pruner 'mediam'; expected None, one of \['halving', 'median'\] or an "
                                         r"optuna.pruners.BasePruner instance"):
        nasnb.Experiment(toy_net(), toy_evaluate, pruner="mediam", progress=False)
    with pytest.raises(TypeError, match="got int"):
        nasnb.Experiment(toy_net(), toy_evaluate, pruner=3, progress=False)


def test_a_pruner_for_an_evaluate_that_cannot_report_warns_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = nasnb.Experiment(toy_net(), lambda model: 1.0, "grid", max_trials=3, pruner="median", progress=False)
        exp.run()
    texts = [str(w.message) for w in caught if "can do nothing" in str(w.message)]
    assert len(texts) == 1 and caught[0].category is UserWarning and caught[0].filename == __file__
    assert "pruner='median' can do nothing because evaluate takes no `trial` argument" in texts[0]
    assert exp.n_done == 3 and exp.n_pruned == 0


def test_optunas_own_trial_pruned_also_prunes():
    def evaluate(model, trial):
        trial.report(0.1)
        raise optuna.TrialPruned()

    exp = nasnb.Experiment(toy_net(), evaluate, "grid", max_trials=2, progress=False).run()
    assert [t.status for t in exp.history] == ["pruned", "pruned"] and exp.best() == []


# ------------------------------------------------------------------ journal and resume
def test_reports_are_journaled_as_they_happen_and_curves_resume(tmp_path):
    path = tmp_path / "search.jsonl"
    seen = []

    def evaluate(model, trial):
        q = QUALITY[model[0].out_features - 1]
        for _, value in curve(q):
            trial.report(value)
            lines = [json.loads(x) for x in path.read_text().splitlines()[1:]]
            seen.append(lines[-1])  # this report is on disk before report() returned
        return q

    exp = nasnb.Experiment(toy_net(), evaluate, "grid", max_trials=3, journal=path, progress=False).run()
    assert seen[:2] == [{"type": "report", "number": 0, "step": 0, "value": 0.1},
                        {"type": "report", "number": 0, "step": 1, "value": 0.2}]
    assert [t.intermediate for t in Journal(path, exp.space).read()] == [curve(q) for q in QUALITY[:3]]
    # resumed with a pruner: the journal's curves are what it compares against (3 finished trials > n_startup_trials)
    resumed = run(journal=path, max_trials=4)
    assert [t.status for t in resumed.history] == ["ok", "ok", "ok", "pruned"]
    assert resumed.history[0].intermediate == curve(QUALITY[0])


def test_an_unfinished_trials_reports_are_dropped_and_its_rerun_starts_a_new_curve(tmp_path):
    path = tmp_path / "search.jsonl"
    interrupt = [True]

    def evaluate(model, trial):
        q = QUALITY[model[0].out_features - 1]
        for step, value in curve(q):
            trial.report(value)
            if interrupt[0] and model[0].out_features == 2 and step == 2:
                raise KeyboardInterrupt
        return q

    exp = nasnb.Experiment(toy_net(), evaluate, "grid", max_trials=3, journal=path, pruner=median(), progress=False)
    with pytest.raises(KeyboardInterrupt):
        exp.run()
    assert '"type": "report", "number": 1, "step": 2' in path.read_text()  # journaled, then cut short
    assert [(t.number, t.intermediate) for t in Journal(path, exp.space).read()] == [(0, curve(QUALITY[0]))]
    interrupt[0] = False
    exp.run()  # re-runs trial 1 first
    assert [t.number for t in exp.history] == [0, 1, 2]
    assert exp.history[1].intermediate == curve(QUALITY[1])  # not the 3 old reports + the 5 new ones
    assert [t.intermediate for t in Journal(path, exp.space).read()] == [curve(q) for q in QUALITY[:3]]


# ------------------------------------------------------------------ executors
def test_process_executor_reports_and_prunes():
    check_pruned(run(ProcessExecutor(start_method="fork", threads_per_worker=None)))


def test_process_executor_reports_from_concurrent_trials():
    exp = run(ProcessExecutor(start_method="fork", threads_per_worker=None), concurrency=2, pruner=None)
    assert sorted((t.number, tuple(map(tuple, t.intermediate))) for t in exp.history) == [
        (i, tuple(map(tuple, curve(q)))) for i, q in enumerate(QUALITY)]


def test_a_process_worker_skips_a_late_answer_to_a_report():
    from nasnb.executors.process import _CONTINUE

    ex = ProcessExecutor(start_method="fork", threads_per_worker=None)
    ex.start(lambda x, trial: trial.report(x) or x, 1, on_report=lambda n, step, value: False)
    try:
        ex._workers[0].conn.send_bytes(_CONTINUE)  # as if a time limit had cut a report short
        ex.submit(0, 2.0, timeout=60)
        assert [(i, out.result, out.error) for i, out in ex.wait(timeout=60)] == [(0, 2.0, None)]
    finally:
        ex.shutdown()


@pytest.mark.slow
def test_ray_executor_reports_and_prunes():
    ray = pytest.importorskip("ray", reason="the Ray executor needs the optional extra nasnb[ray] (ray)")
    from nasnb.executors import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        check_pruned(run(RayExecutor()))
    finally:
        ray.shutdown()


class OldExecutor(InlineExecutor):
    """An executor written before reporting: its start() takes no on_report."""

    def start(self, evaluate, slots=1):  # noqa: D102
        super().start(evaluate, slots)


def test_an_executor_without_on_report_still_runs_evaluate_with_a_trial():
    with pytest.warns(UserWarning, match=r"OldExecutor.start\(\) takes no on_report argument"):
        exp = run(OldExecutor(), pruner=None)
    assert [t.score for t in exp.history] == QUALITY and all(t.intermediate == [] for t in exp.history)
    assert issubclass(OldExecutor, Executor)


# ------------------------------------------------------------------ plot
def test_plot_curves_draws_one_line_per_trial():
    import matplotlib

    matplotlib.use("Agg")
    exp = run()
    ax = plot_curves(exp).axes[0]
    lines = ax.get_lines()
    assert len(lines) == len(QUALITY)
    grey = [ln for ln in lines if matplotlib.colors.to_hex(ln.get_color()) == "#7f7f7f"]
    assert len(grey) == len(PRUNED) and all(ln.get_marker() == "x" and ln.get_markevery() == [0] for ln in grey)
    best = [ln for ln in lines if ln.get_label() == "best (trial 2)"]
    assert len(best) == 1 and best[0].get_linewidth() > max(ln.get_linewidth() for ln in lines if ln is not best[0])
    assert [float(y) for y in best[0].get_ydata()] == [v for _, v in curve(0.9)]
    assert ax.get_xlabel() == "step"


def test_trial_pruned_and_trial_reporter_are_exported():
    assert nasnb.TrialPruned is nasnb.exceptions.TrialPruned and nasnb.TrialReporter is TrialReporter
    assert "TrialPruned" in nasnb.__all__ and "TrialReporter" in nasnb.__all__
