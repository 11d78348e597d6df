from __future__ import annotations

from torch import nn

import nasnb
from nasnb import mutables
from nasnb._experiment_live import LiveProgress, in_notebook, make_progress, results_html


def experiment(**kw):
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    return nasnb.Experiment(net, lambda m: {"acc": 0.5 + 0.1 * (len(str(m)) % 3)}, "grid", max_trials=3, **kw)


def test_no_progress_outside_a_terminal_or_notebook_unless_asked():
    exp = experiment()
    assert not in_notebook()
    assert make_progress(exp, "auto") is None  # pytest's stdout is not a TTY
    assert make_progress(exp, False) is None
    live = make_progress(exp, True)
    assert isinstance(live, LiveProgress) and live.bar is None


def test_text_progress_is_throttled(capsys):
    exp = experiment(progress=True)
    exp.run()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "GridSearch: 0/3 trials done"
    assert lines[1].startswith("trial 0: ")
    assert len(lines) == 3  # the next trials came within print_every seconds
    assert lines[-1].startswith("done: 3/3 trials, best ")


def test_results_table_lists_the_best_trials():
    exp = experiment(progress=False).run()
    html = results_html(exp, k=2)
    assert html.count("<tr>") == 3  # header + 2 trials
    assert "<th>act</th>" in html and "<th>acc</th>" in html
    rows = exp.rows()
    assert [r["number"] for r in rows] == [0, 1, 2] and "metric:acc" in rows[0] and "act" in rows[0]


def test_live_plot_is_readable_and_spans_the_run():
    exp = experiment(progress=False)
    fig = LiveProgress(exp, notebook=False).figure()  # before any trial
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (7, 4)  # was 6 x 2.6 inches at 72 dpi
    assert ax.get_xlim() == (0.5, 3.5) and ax.get_title() == "GridSearch: 0/3 trials, best -"
    exp.run()
    ax = LiveProgress(exp, notebook=False).figure().axes[0]
    assert ax.get_xlim() == (0.5, 3.5) and ax.get_title().startswith("GridSearch: 3/3 trials, best ")
    assert ax.title.get_fontsize() >= 9
