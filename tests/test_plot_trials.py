from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from torch import nn  # noqa: E402

import nasnb  # noqa: E402
from nasnb import mutables  # noqa: E402
from nasnb._trial import Trial  # noqa: E402
from nasnb.plot import plot_best_so_far, plot_trials  # noqa: E402
from nasnb.plot._trials import _best_so_far_data, _trials_data  # noqa: E402

TRIALS = [Trial(0, {}, score=0.5), Trial(1, {}, "failed"), Trial(2, {}, "rejected"), Trial(3, {}, score=0.3),
          Trial(4, {}, score=0.9)]


def test_trials_data_by_value():
    data = _trials_data(TRIALS)
    assert data.numbers == [0, 1, 3, 4]  # rejected trials were never evaluated
    assert data.scores == [0.5, None, 0.3, 0.9]
    assert data.best == [0.5, 0.5, 0.5, 0.9]
    assert data.failed == [1]
    assert _trials_data(TRIALS, mode="min").best == [0.5, 0.5, 0.3, 0.3]
    with pytest.raises(ValueError, match=r"mode must be 'max' or 'min', got 'up'"):
        _trials_data(TRIALS, mode="up")


def test_best_so_far_averages_groups_of_experiments():
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    scores = {nn.Identity: 1.0, nn.ReLU: 2.0, nn.Tanh: 3.0}
    runs = [nasnb.Experiment(net, lambda m: scores[type(m[0])], "grid", max_trials=3, progress=False).run()
            for _ in range(2)]
    assert _best_so_far_data({"grid": runs}) == {"grid": [1.0, 2.0, 3.0]}
    fig = plot_best_so_far({"grid": runs, "one": runs[0]}, reference=3.0)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["grid", "one", "optimum"]


def test_plots_draw_on_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert plot_trials(TRIALS, ax=ax) is fig
    assert ax.get_ylabel() == "score" and len(ax.collections) == 2  # scores + failed markers


def test_trial_axis_shows_whole_trials_only():
    fig = plot_trials(TRIALS)
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (7, 4)
    assert ax.get_xlim() == (0.5, 4.5)  # 4 evaluated trials, half a trial of margin
    fig.savefig(io.BytesIO())  # lays out and places the ticks
    shown = [t for t in ax.get_xticks() if 0.5 <= t <= 4.5]
    assert shown == [1, 2, 3, 4]
    assert all(t.get_fontsize() >= 9 for t in ax.get_legend().get_texts())


def test_plots_on_a_given_axes_keep_what_it_showed():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    ax.plot(range(1, 11), range(10))
    plot_trials(TRIALS, ax=ax)
    assert ax.get_xlim()[0] <= 0.5 and ax.get_xlim()[1] >= 10
    many = {f"run {i}": TRIALS for i in range(8)}
    fig = plot_best_so_far(many)
    assert fig.get_size_inches()[0] > 7  # the legend of 8 runs sits beside the axes
    styles = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in fig.axes[0].get_lines()}
    assert len(styles) == 8


def _run(*best_scores):
    """A stand-in Experiment whose trials score ``best_scores`` (None: the trial failed)."""
    from types import SimpleNamespace

    trials = [Trial(i, {}, "ok", s) if s is not None else Trial(i, {}, "failed") for i, s in enumerate(best_scores)]
    return SimpleNamespace(history=trials, mode="max")


def test_best_so_far_of_uneven_runs_is_not_biased_upward():
    """A run without a score yet is not dropped from the mean (that would lift the curve): the mean
    starts where every run has a score, and a run that stopped keeps its final best."""
    lucky, unlucky, short = _run(0.9, 0.9, 0.9), _run(None, None, 0.3), _run(0.5)
    assert _best_so_far_data({"g": [lucky, unlucky]}) == {"g": [None, None, 0.6]}
    assert _best_so_far_data({"g": [lucky, short]}) == {"g": [0.7, 0.7, 0.7]}
    assert _best_so_far_data({"g": [_run(0.2, 0.4, 0.8), short]}) == {"g": [0.35, 0.45, 0.65]}
    assert _best_so_far_data({"g": [lucky, _run()]}) == {"g": [None, None, None]}  # one run never scored
    fig = plot_best_so_far({"g": [lucky, unlucky]})
    ys = fig.axes[0].get_lines()[0].get_ydata()
    assert list(ys[2:]) == [pytest.approx(0.6)] and all(y != y for y in ys[:2])  # NaN: not drawn


def _experiment(strategy="grid"):
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="act"))
    return nasnb.Experiment(net, lambda m: float(isinstance(m[0], nn.ReLU)), strategy, seed=0, max_trials=2,
                            progress=False).run()


def test_best_so_far_takes_one_experiment_a_list_or_a_dict():
    grid, rnd = _experiment("grid"), _experiment("random")
    assert _best_so_far_data(grid) == {"GridSearch": [0.0, 1.0]}
    assert list(_best_so_far_data([grid, rnd])) == ["GridSearch", "Random"]
    assert list(_best_so_far_data([grid, _experiment("grid")])) == ["GridSearch 0", "GridSearch 1"]
    assert _best_so_far_data({"g": grid}) == {"g": [0.0, 1.0]}
    assert [line.get_label() for line in plot_best_so_far(grid).axes[0].get_lines()] == ["GridSearch"]
    with pytest.raises(TypeError, match=r"plot_best_so_far expects an Experiment, a list of Experiments or a dict"):
        plot_best_so_far(3.0)


def test_plot_trials_names_plot_best_so_far_for_several_experiments():
    with pytest.raises(TypeError, match=r"plot_trials draws one search .* got 2 experiments in a list; compare "
                                        r"searches with plot_best_so_far"):
        plot_trials([_experiment(), _experiment()])


def test_results_table_of_a_float_evaluate_has_one_score_column():
    html = _experiment()._repr_html_()
    assert html.count("<th>score</th>") == 1
    assert "<tr><th>#</th><th>score</th><th>act</th></tr>" in html


def test_pruned_trials_are_marked_apart_from_failed_ones():
    trials = [*TRIALS, Trial(5, {}, "pruned", intermediate=[[0, 0.1]])]
    data = _trials_data(trials)
    assert data.failed == [1] and data.pruned == [5]
    ax = plot_trials(trials).axes[0]
    labels = {c.get_label(): len(c.get_offsets()) for c in ax.collections}
    assert labels == {"trial score": 3, "failed": 1, "pruned": 1}
