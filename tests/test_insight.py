"""Which choices matter: importance, the trials as a DataFrame, the leaderboard and their plots."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("optuna")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from collections import OrderedDict  # noqa: E402

from torch import nn  # noqa: E402

import nasnb  # noqa: E402
from nasnb import insight, mutables  # noqa: E402
from nasnb._trial import Trial  # noqa: E402
from nasnb.plot import plot_importance, plot_parallel  # noqa: E402
from nasnb.plot._insight import _parallel_data  # noqa: E402

ACTS = OrderedDict(relu=nn.ReLU, tanh=nn.Tanh, gelu=nn.GELU)


def net():
    """Keys: ``a`` (3 widths), ``b`` (3 activations), ``c`` (2 widths), ``one`` (a single candidate)."""
    return nn.Sequential(
        mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3)], key="a"),
        mutables.LayerChoice(OrderedDict((k, v()) for k, v in ACTS.items()), key="b"),
        mutables.LayerChoice([nn.Linear(4, 4), nn.Linear(4, 8)], key="c"),
        mutables.LayerChoice([nn.Identity()], key="one"),
    )


def parts(model):
    return model[0].out_features, type(model[1]).__name__.lower(), model[2].out_features


def only_a_matters(model):
    a, b, c = parts(model)
    return {"acc": 10.0 * a + 0.01 * (b == "tanh"), "params": float(c) + 0.001 * a}


def grid(evaluate=only_a_matters, max_trials=18, **kw):
    kw.setdefault("metric", "acc")
    return nasnb.Experiment(net(), evaluate, "grid", max_trials=max_trials, progress=False, **kw).run()


# ------------------------------------------------------------------ importance


@pytest.mark.parametrize("evaluator", ["fanova", "mdi"])
def test_the_key_that_changes_the_score_is_by_far_the_most_important(evaluator):
    imp = insight.importance(grid(), evaluator=evaluator)
    assert set(imp) == {"a", "b", "c"}  # "one" has a single candidate: left out
    assert list(imp)[0] == "a" and imp["a"] > 0.8, imp
    assert all(imp["a"] > 5 * imp[k] for k in ("b", "c")), imp
    assert sum(imp.values()) == pytest.approx(1.0)


def test_ped_anova_looks_at_what_the_best_trials_share():
    imp = insight.importance(grid(), evaluator="ped-anova")
    # the best 10% (2 of 18 trials) all have a=2 and b=tanh, and either c
    assert imp["a"] == max(imp.values()) and imp["a"] > 0.3 and imp["c"] == pytest.approx(0.0), imp


def test_importance_of_a_metric_and_an_optuna_evaluator():
    import optuna

    exp = grid()
    imp = exp.importance(metric="params", evaluator=optuna.importance.FanovaImportanceEvaluator(seed=1))
    assert list(imp)[0] == "c" and imp["c"] > 0.8, imp


def test_fanova_does_not_depend_on_the_mode():
    assert insight.importance(grid()) == insight.importance(grid(mode="min"))


def test_too_few_trials_say_how_many_there_are_and_how_many_are_needed():
    def evaluate(model):
        if model[0].out_features > 1:
            raise RuntimeError("diverged")
        return 1.0

    exp = nasnb.Experiment(nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3)], key="a")),
                           evaluate, "grid", max_trials=3, progress=False).run()
    with pytest.raises(ValueError, match=r"at least 2 ok trials with a score; the experiment has 1 \(1 ok of 3 trials\)"):
        insight.importance(exp)
    exp.history = [Trial(0, {"a": 0}, score=1.0), Trial(1, {"a": 0}, score=2.0)]
    with pytest.raises(ValueError, match=r"the 2 ok trials all chose the same for every key \(\{'a': '0'\}\)"):
        insight.importance(exp)


def test_several_objectives_need_a_metric():
    exp = grid()
    exp.objectives = {"acc": "max", "params": "min"}
    with pytest.raises(ValueError, match=r"2 objectives \['acc', 'params'\]; pass metric="):
        insight.importance(exp)
    assert list(insight.importance(exp, metric="acc"))[0] == "a"


def test_unknown_metric_and_evaluator_are_named():
    exp = grid()
    with pytest.raises(ValueError, match=r"metric='loss': no successful trial returned it; .* \['acc', 'params'\]"):
        insight.importance(exp, metric="loss")
    with pytest.raises(ValueError, match=r"evaluator='shap': expected one of \['fanova', 'ped-anova', 'mdi'\]"):
        insight.importance(exp, evaluator="shap")
    with pytest.raises(TypeError, match="an Optuna importance evaluator, got 3"):
        insight.importance(exp, evaluator=3)


def test_input_choices_are_compared_by_the_inputs_chosen():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.x = mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="x")
            self.y = mutables.LayerChoice([nn.Identity(), nn.Tanh()], key="y")
            self.skip = mutables.InputChoice(choose_from=["x", "y"], n_chosen=None, key="skip")

        def forward(self, t):
            a = self.x(t)
            b = self.y(a)
            return b, self.skip([a, b])

    def evaluate(arch):
        return 1.0 + len(arch["skip"])  # only the inputs chosen matter

    evaluate.takes_arch = True
    exp = nasnb.Experiment(Net(), evaluate, "grid", max_trials=16, progress=False).run()
    imp = exp.importance()
    assert list(imp)[0] == "skip" and imp["skip"] > 0.8, imp
    labels = {insight.choice_label(exp.space["skip"], t.arch["skip"]) for t in exp.history}
    assert labels == {"[x, y]", "[x]", "[y]", "[]"}


# ------------------------------------------------------------------ DataFrame


def test_trials_dataframe_has_one_row_per_trial_with_every_column():
    def evaluate(model):
        a, b, c = parts(model)
        if b == "gelu":
            raise RuntimeError("diverged")
        return {"acc": float(a), "params": float(c)}

    exp = grid(evaluate, max_trials=6)
    df = exp.trials_dataframe()
    assert list(df.columns) == ["number", "status", "score", "metric:acc", "metric:params", "a", "b", "c", "one",
                                "duration", "error"]
    assert df["number"].tolist() == list(range(6))
    failed = [t.arch["b"] == "gelu" for t in exp.history]
    assert failed.count(True) == 2 and df["status"].tolist() == ["failed" if f else "ok" for f in failed]
    assert df["b"].tolist() == [t.arch["b"] for t in exp.history] and set(df["b"]) <= set(ACTS)
    assert df["metric:params"].isna().tolist() == failed
    assert df["metric:params"].dropna().tolist() == [4.0 + 4 * t.arch["c"] for t in exp.history if t.ok]
    assert df["score"].isna().tolist() == failed
    i, j = failed.index(True), failed.index(False)
    assert df["error"][i] == "RuntimeError: diverged" and df["error"].isna()[j]
    rows = exp.rows()
    assert [r["metric:acc"] for r in rows if "metric:acc" in r] == df["metric:acc"].dropna().tolist()


def test_trials_dataframe_names_pandas_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="trials_dataframe needs pandas: pip install pandas"):
        insight.trials_dataframe(grid(max_trials=2))


# ------------------------------------------------------------------ leaderboard


def test_leaderboard_shows_the_best_in_full_and_the_others_where_they_differ():
    def evaluate(model):
        a, b, c = parts(model)
        return 10.0 * a + (b == "tanh") + 0.5 * (c == 8)

    exp = grid(evaluate, metric=None)
    board = exp.leaderboard(4)
    assert board.header == ["rank", "trial", "score", "Δ best", "a", "b", "c"]
    assert [t.number for t in board.trials] == [t.number for t in exp.best(4)]
    n = [str(t.number) for t in board.trials]
    assert board.rows == [
        ["1", n[0], "31.5", "", "2", "tanh", "1"],
        ["2", n[1], "31", "-0.5", "·", "·", "0"],
        ["3", n[2], "30.5", "-1", "·", "relu", "·"],
        ["4", n[3], "30.5", "-1", "·", "gelu", "·"],
    ]
    text = str(board).splitlines()
    assert text[0] == "top 4 of 18 ok trials (mode max; · = as the best)"
    assert text[1].split() == ["rank", "trial", "score", "Δ", "best", "a", "b", "c"]
    assert text[3].split() == ["2", n[1], "31", "-0.5", "·", "·", "0"]
    page = board._repr_html_()
    assert page.count("<tr") == 5 and 'class="nasnb-leaderboard"' in page and page.count(">·</td>") == 6
    assert repr(board) == str(board)


def test_leaderboard_in_min_mode_and_without_results():
    exp = grid(lambda m: float(parts(m)[0]), metric=None, mode="min", max_trials=3)
    board = insight.leaderboard(exp, k=2)
    assert [row[2:4] for row in board.rows] == [["1", ""], ["1", "+0"]]
    empty = nasnb.Experiment(net(), lambda m: 1.0, "grid", max_trials=2, progress=False)
    assert str(empty.leaderboard()) == "no successful trial yet" and empty.leaderboard().rows == []
    with pytest.raises(ValueError, match="k must be a positive int .* got 0"):
        exp.leaderboard(0)


# ------------------------------------------------------------------ plots


def test_plot_importance_draws_sorted_bars():
    exp = grid()
    imp = insight.importance(exp)
    ax = plot_importance(exp).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(imp)[::-1]  # the largest on top
    assert [p.get_width() for p in ax.patches] == pytest.approx(list(imp.values())[::-1])
    assert "fANOVA" in ax.get_xlabel() and "score" in ax.get_xlabel()


def test_plot_parallel_places_each_trial_on_its_choices():
    exp = grid()
    data = _parallel_data(exp)
    assert data.keys == ["a", "b", "c"] and data.categories == {"a": ["0", "1", "2"], "b": list(ACTS), "c": ["0", "1"]}
    first = exp.history[0].arch
    assert data.positions[0] == [first["a"], list(ACTS).index(first["b"]), first["c"]]
    assert data.best == exp.best(1)[0].number and data.name == "score" and len(data.values) == 18
    assert _parallel_data(exp, metric="params", keys=["c", "a"]).keys == ["c", "a"]
    with pytest.raises(ValueError, match=r"keys \['z'\] are not in the search space"):
        plot_parallel(exp, keys=["z"])

    fig = plot_parallel(exp)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert {t.get_text() for t in ax.texts} == {"0", "1", "2", *ACTS}
    (best,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("best")]
    assert best.get_label() == f"best trial (#{data.best})"
    assert fig.axes[1].get_ylabel() == "score"  # the colour bar


def test_plot_parallel_labels_do_not_overlap():
    from tests.test_plot_readability import _check_labels_apart, darts_experiment

    _check_labels_apart(plot_parallel(grid()))
    _check_labels_apart(plot_parallel(darts_experiment()))
