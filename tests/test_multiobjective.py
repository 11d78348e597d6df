"""Multi-objective search: objectives, costs measured by nasnb.profile, the Pareto front, its plot and view."""

from __future__ import annotations

import json

import matplotlib
import pytest
import torch
from torch import nn

import nasnb
from nasnb import SearchSpace, mutables
from nasnb.exceptions import JournalMismatchError, StrategyError
from nasnb.profile import profile

matplotlib.use("Agg")
pytest.importorskip("optuna")

OBJ = {"val_acc": "max", "params": "min"}


def widths_net():
    return nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3, 4)], key="width"),
                         mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))


def dominated(a, b, objectives):
    """True when trial b is at least as good as a on every objective and better on one."""
    sign = {n: (1 if d == "max" else -1) for n, d in objectives.items()}
    ge = all(sign[n] * b.metrics[n] >= sign[n] * a.metrics[n] for n in objectives)
    gt = any(sign[n] * b.metrics[n] > sign[n] * a.metrics[n] for n in objectives)
    return ge and gt


def test_digits_two_objectives_front_is_exactly_the_non_dominated_trials():
    bench = nasnb.bench.load_digits_benchmark()
    exp = nasnb.Experiment(bench.space, bench.evaluate, objectives=OBJ, max_trials=60, seed=0, progress=False).run()
    assert type(exp.strategy).__name__ == "NSGA2"  # the default with several objectives
    ok = [t for t in exp.history if t.ok]
    assert len(ok) == 60
    expected = {t.number for t in ok if not any(dominated(t, u, OBJ) for u in ok)}
    front = exp.pareto_front()
    assert {t.number for t in front} == expected
    assert [t.metrics["val_acc"] for t in front] == sorted((t.metrics["val_acc"] for t in front), reverse=True)
    assert repr(exp) == f"Experiment(NSGA2, 60/60 trials, 0 failed, Pareto front of {len(expected)})"


def test_params_and_flops_are_measured_by_profile_when_evaluate_does_not_return_them():
    x = torch.zeros(2, 4)
    exp = nasnb.Experiment(widths_net(), lambda m: m[0].out_features / 4, "grid", max_trials=8,
                           objectives={"acc": "max", "params": "min", "flops": "min"}, example_input=x,
                           progress=False).run()
    assert len(exp.history) == 8
    for t in exp.history:
        fixed = exp.space.fix(t.arch)
        assert t.metrics["acc"] == fixed[0].out_features / 4  # the number result is the one objective not measured
        assert t.metrics["params"] == sum(p.numel() for p in fixed.parameters())
        assert t.metrics["flops"] == profile(fixed, x, latency=False).flops
    # ReLU and Tanh cost the same params and (counted) flops: each width's two trials tie, both on the front
    assert sorted((t.metrics["acc"], t.arch["act"]) for t in exp.pareto_front()) == [
        (w / 4, a) for w in (1, 2, 3, 4) for a in (0, 1)]


def test_latency_is_measured_and_a_number_when_asked():
    exp = nasnb.Experiment(widths_net(), lambda m: 1.0, "random", max_trials=2, seed=0, progress=False,
                           objectives={"acc": "max", "latency_ms": "min"}, example_input=torch.zeros(1, 4)).run()
    assert all(t.metrics["latency_ms"] > 0 for t in exp.history)


def test_evaluate_own_number_wins_over_the_measured_cost():
    exp = nasnb.Experiment(widths_net(), lambda m: {"acc": 0.5, "params": 7}, "grid", max_trials=2, progress=False,
                           objectives={"acc": "max", "params": "min"}).run()
    assert [t.metrics["params"] for t in exp.history] == [7.0, 7.0]


def test_flops_or_latency_without_example_input_is_refused_before_any_trial():
    with pytest.raises(ValueError, match=r"\['latency_ms'\] are measured by nasnb.profile .* pass example_input="):
        nasnb.Experiment(widths_net(), lambda m: 1.0, objectives={"acc": "max", "latency_ms": "min"})
    with pytest.raises(ValueError, match=r"\['flops'\] are measured"):
        nasnb.Experiment(widths_net(), lambda m: 1.0, constraint={"flops": 100})


def test_objectives_and_metric_together_are_refused():
    with pytest.raises(ValueError, match=r"pass objectives= or metric=/mode=, not both"):
        nasnb.Experiment(widths_net(), lambda m: 1.0, objectives=OBJ, metric="val_acc")
    with pytest.raises(ValueError, match=r"objectives: 'acc' has direction 'up'; expected 'max' or 'min'"):
        nasnb.Experiment(widths_net(), lambda m: 1.0, objectives={"acc": "up"})


@pytest.mark.parametrize("name", ["evolution", "rl"])
def test_a_single_score_strategy_is_refused_with_several_objectives(name):
    with pytest.raises(StrategyError, match=r"learns from one score, not 2 objectives; use 'nsga2' or 'tpe'"):
        nasnb.Experiment(widths_net(), lambda m: 1.0, name, max_trials=50, objectives={"acc": "max", "params": "min"})


def test_tpe_searches_two_objectives_too():
    exp = nasnb.Experiment(widths_net(), lambda m: m[0].out_features / 4, "tpe", max_trials=8, seed=0,
                           strategy_options={"n_startup_trials": 4}, objectives={"acc": "max", "params": "min"},
                           progress=False).run()
    assert exp.n_done == 8 and exp.pareto_front()


def test_no_single_best_with_several_objectives():
    exp = nasnb.Experiment(widths_net(), lambda m: 1.0, "grid", max_trials=2, progress=False,
                           objectives={"acc": "max", "params": "min"}).run()
    with pytest.raises(ValueError, match=r"2 objectives \['acc', 'params'\]: no trial is best on all of them; "
                                         r"use exp.pareto_front\(\)"):
        exp.best()
    with pytest.raises(ValueError, match=r"no trial is best"):
        exp.export_top()


def test_one_objective_is_metric_and_mode():
    exp = nasnb.Experiment(widths_net(), lambda m: {"acc": m[0].out_features}, "grid", max_trials=8,
                           objectives={"acc": "min"}, progress=False).run()
    assert exp.best()[0].score == 1.0
    assert [t.score for t in exp.pareto_front()] == [1.0, 1.0]  # both activations


def test_an_objective_missing_from_the_result_fails_that_trial_and_says_why():
    exp = nasnb.Experiment(widths_net(), lambda m: {"loss": 0.1}, "grid", max_trials=1, progress=False,
                           objectives={"acc": "max", "loss": "min"}).run()
    (t,) = exp.history
    assert t.status == "failed"
    assert "evaluate returned no ['acc']; objectives ['acc', 'loss'] need every one" in t.error
    exp = nasnb.Experiment(widths_net(), lambda m: 0.5, "grid", max_trials=1, progress=False,
                           objectives={"acc": "max", "loss": "min"}).run()
    assert exp.history[0].status == "failed"  # a number cannot be two objectives


def test_cost_bounds_reject_before_training_with_the_costs_and_the_reason():
    trained = []

    def evaluate(model):
        trained.append(model[0].out_features)
        return 1.0

    exp = nasnb.Experiment(widths_net(), evaluate, "grid", max_trials=8, constraint={"params": 11},
                           progress=False).run()
    rejected = [t for t in exp.history if t.status == "rejected"]
    assert sorted(trained) == [1, 1, 2, 2]  # params 5 and 10 pass, 15 and 20 do not
    assert sorted(t.metrics["params"] for t in rejected) == [15.0, 15.0, 20.0, 20.0]
    assert all(t.error == f"rejected by the constraint: params {t.metrics['params']:g} > 11" for t in rejected)
    assert all(t.metrics["params"] in (5.0, 10.0) for t in exp.history if t.ok)  # costs kept on trained trials


@pytest.mark.parametrize(("constraint", "message"), [
    ({"acc": 0.5}, r"constraint: 'acc' is not a cost nasnb measures before training"),
    ({"params": -1}, r"constraint: the bound of 'params' is -1; expected a positive number"),
    ({"params": "10"}, r"constraint: the bound of 'params' is '10'; expected a positive number"),
])
def test_bad_cost_bounds_are_refused(constraint, message):
    with pytest.raises(ValueError, match=message):
        nasnb.Experiment(widths_net(), lambda m: 1.0, constraint=constraint)


def test_a_forward_that_fails_while_measuring_costs_fails_only_that_trial():
    net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 2), nn.Linear(5, 2)], key="op"))
    exp = nasnb.Experiment(net, lambda m: 1.0, "grid", max_trials=2, progress=False,
                           objectives={"acc": "max", "flops": "min"}, example_input=torch.zeros(1, 4)).run()
    assert [t.status for t in exp.history] == ["ok", "failed"]
    assert "measuring ['flops'] with nasnb.profile failed" in exp.history[1].error


def test_journal_keeps_the_objectives_and_the_front_survives_a_resume(tmp_path):
    bench = nasnb.bench.load_digits_benchmark()
    path = tmp_path / "mo.jsonl"
    kwargs = dict(objectives=OBJ, seed=1, journal=path, progress=False)
    first = nasnb.Experiment(bench.space, bench.evaluate, max_trials=30, **kwargs).run()
    header = json.loads(path.read_text().splitlines()[0])
    assert header["objectives"] == OBJ
    resumed = nasnb.Experiment(nasnb.bench.load_digits_benchmark().space, bench.evaluate, max_trials=40, **kwargs)
    resumed.run()
    numbers = [t.number for t in resumed.history]
    assert numbers == list(range(40))  # nothing lost, nothing repeated
    assert resumed.strategy.n_told == 40
    old_front = {t.number for t in first.pareto_front()}
    new_front = {t.number for t in resumed.pareto_front()}
    assert all(n in new_front or any(dominated(first.history[n], t, OBJ) for t in resumed.history[30:])
               for n in old_front)
    with pytest.raises(JournalMismatchError, match=r"objectives"):
        nasnb.Experiment(bench.space, bench.evaluate, max_trials=50, objectives={"val_acc": "max", "params": "max"},
                         seed=1, journal=path, progress=False).run()


def test_plot_pareto_draws_every_trial_and_the_front():
    bench = nasnb.bench.load_digits_benchmark()
    exp = nasnb.Experiment(bench.space, bench.evaluate, "random", objectives=OBJ, max_trials=25, seed=0,
                           progress=False).run()
    from nasnb.plot._pareto import _pareto_data

    data = _pareto_data(exp)
    assert (data.x_name, data.y_name) == ("params", "val_acc")
    assert len(data.points) == 25
    assert {n for n, _, _ in data.front} == {t.number for t in exp.pareto_front()}
    assert [x for _, x, _ in data.front] == sorted(x for _, x, _ in data.front)
    fig = exp.plot()
    ax = fig.axes[0]
    front_points = [c for c in ax.collections if c.get_label().startswith("Pareto front")]
    assert len(front_points) == 1 and len(front_points[0].get_offsets()) == len(data.front)
    with pytest.raises(ValueError, match=r"x='loss' is not an objective; expected one of \['val_acc', 'params'\]"):
        nasnb.plot.plot_pareto(exp, x="loss")
    single = nasnb.Experiment(bench.space, bench.evaluate, "random", max_trials=2, seed=0, progress=False).run()
    with pytest.raises(ValueError, match=r"at least two objectives"):
        nasnb.plot.plot_pareto(single)


def test_pareto_view_picks_applies_fixes_and_exports(tmp_path):
    exp = nasnb.Experiment(widths_net(), lambda m: m[0].out_features / 4, "grid", max_trials=8,
                           objectives={"acc": "max", "params": "min"}, progress=False).run()
    view = exp.pareto_view()
    assert [label for label, _ in view.list.options][0].startswith("#6: acc=1, params=20")
    front = [t.number for t in exp.pareto_front()]
    assert view.list.value == front[0]
    with pytest.raises(ValueError, match=r"trial 99 is not on the Pareto front; expected one of"):
        view.select(99)
    png_before = view.image.value
    view.select(front[-1])
    assert view.image.value != png_before  # the ring moved
    assert "trial #" + str(front[-1]) in view.arch.value
    assert view.fix()[0].out_features == 1
    view.apply_button.click()
    assert exp.space.current()["width"] == view.picked.arch["width"]
    view.path.value = str(tmp_path / "arch.json")
    view.export_button.click()
    assert json.loads((tmp_path / "arch.json").read_text()) == view.picked.arch
    assert SearchSpace(widths_net()).load(tmp_path / "arch.json") is not None
    view.path.value = str(tmp_path / "no_such_dir" / "arch.json")
    view.export_button.click()
    assert "FileNotFoundError" in view.status.value  # shown in the widget, not raised


def test_pareto_view_needs_two_objectives_and_a_result():
    exp = nasnb.Experiment(widths_net(), lambda m: 1.0, "grid", max_trials=1, progress=False)
    with pytest.raises(ValueError, match=r"at least two objectives"):
        exp.pareto_view()
    exp = nasnb.Experiment(widths_net(), lambda m: 1.0, "grid", max_trials=1, progress=False,
                           objectives={"acc": "max", "params": "min"})
    with pytest.raises(ValueError, match=r"no successful trial yet"):
        exp.pareto_view()


def test_live_progress_and_results_show_the_front_not_a_best(capsys):
    from nasnb._experiment_live import LiveProgress, results_html

    exp = nasnb.Experiment(widths_net(), lambda m: m[0].out_features / 4, "grid", max_trials=8,
                           objectives={"acc": "max", "params": "min"}, progress=False).run()
    live = LiveProgress(exp, notebook=False)
    live.close()
    assert "done: 8/8 trials, Pareto front 8, 0 failed" in capsys.readouterr().out
    fig = live.figure()
    assert fig.axes[0].get_xlabel() == "params (lower is better)"
    assert "Pareto front 8" in fig.axes[0].get_title()
    table = results_html(exp)
    assert "<th>acc</th><th>params</th>" in table and "<th>score</th>" not in table
    assert table.count("<tr>") == 1 + 8
