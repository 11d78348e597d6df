from __future__ import annotations

import time

import pytest
from torch import nn

import nasnb
from nasnb import _experiment_live, mutables
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


class FakeClock:
    """Stands in for the ``time`` module of the progress display; the trials move it."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str):  # anything else the module uses from ``time``: the real one
        return getattr(time, name)


@pytest.mark.parametrize("seconds_per_trial, printed", [(0.5, [0]), (1.2, [0, 2]), (2.5, [0, 1, 2])])
def test_text_progress_is_throttled(capsys, monkeypatch, seconds_per_trial, printed):
    clock = FakeClock()
    monkeypatch.setattr(_experiment_live, "time", clock)

    def evaluate(model):
        clock.now += seconds_per_trial  # each trial "takes" this long on the display's clock
        return 1.0

    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU(), nn.Tanh()], key="act"))
    nasnb.Experiment(net, evaluate, "grid", max_trials=3, progress=True).run()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "GridSearch: 0/3 trials done"
    assert [int(line.split(":")[0].removeprefix("trial ")) for line in lines[1:-1]] == printed  # print_every=2 s
    assert lines[-1] == "done: 3/3 trials, best 1, 0 failed"


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
