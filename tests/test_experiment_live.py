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


# ------------------------------------------------------------------ stop


def _widths_experiment(evaluate, max_trials=6, **kw):
    net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in range(1, 9)], key="width"))
    return nasnb.Experiment(net, evaluate, "random", max_trials=max_trials, seed=0, progress=False, **kw)


@pytest.mark.parametrize("with_journal", [False, True])
def test_stop_during_trial_3_then_run_again_loses_and_repeats_nothing(tmp_path, with_journal):
    calls = []

    def evaluate(model):
        calls.append(model[0].out_features)
        if len(calls) == 3:
            exp.stop()
        return float(model[0].out_features)

    journal = tmp_path / "stop.jsonl" if with_journal else None
    exp = _widths_experiment(evaluate, journal=journal)
    assert exp.run() is exp
    assert [t.number for t in exp.history] == [0, 1, 2] and exp.n_done == 3 and exp.stopped
    assert repr(exp).endswith(", stopped)")
    exp.run()
    numbers = [t.number for t in exp.history]
    widths = [t.arch["width"] for t in exp.history]
    assert numbers == [0, 1, 2, 3, 4, 5] and len(calls) == 6 and not exp.stopped
    assert len(set(widths)) == 6, f"a trial was repeated: {widths}"
    assert [w + 1 for w in widths] == calls  # every evaluated trial is in the history, in order
    if with_journal:
        on_disk = exp.journal.read()
        assert [(t.number, t.arch) for t in on_disk] == [(t.number, t.arch) for t in exp.history]
        resumed = _widths_experiment(lambda m: pytest.fail("nothing is left to evaluate"), journal=journal).run()
        assert resumed.n_done == 6


def test_stop_lets_the_running_trials_finish():
    class TwoAtOnce(nasnb.executors.InlineExecutor):
        """Runs two trials per round, as a pool with two workers would."""

        def start(self, evaluate, slots=1, on_report=None):
            super().start(evaluate, slots, on_report)
            self.slots = 2

    seen = []

    def evaluate(model):
        seen.append(model[0].out_features)
        if len(seen) == 3:  # the first of the second pair: the second one is already submitted
            exp.stop()
        return 1.0

    exp = _widths_experiment(evaluate, executor=TwoAtOnce())
    exp.run()
    assert len(seen) == 4 and exp.n_done == 4 and [t.status for t in exp.history] == ["ok"] * 4


def test_stop_before_run_has_no_effect():
    exp = _widths_experiment(lambda m: 1.0, max_trials=3)
    exp.stop()
    assert exp.run().n_done == 3 and not exp.stopped


def test_clicking_the_stop_button_stops_the_run():
    from nasnb._experiment_live import StopButton

    def evaluate(model):
        if len(exp.history) == 1:  # during the second trial
            stop.button.click()
        return 1.0

    exp = _widths_experiment(evaluate)
    stop = StopButton(exp)
    assert stop.button.description == "Stop" and not stop.button.disabled
    exp.run()
    assert exp.n_done == 2 and exp.stopped
    assert (stop.button.description, stop.button.disabled) == ("Stopping…", True)
    stop.close(stopped=True)
    assert stop.button.description == "Stopped"
    exp.stop = lambda: pytest.fail("a click after the run must not stop the next run")
    stop.clicked()  # a click queued during the run arrives after it: nothing happens
    stop._heard_click()
    assert stop.button.description == "Stopped"


def test_a_click_heard_on_another_thread_stops_the_run_and_shows_at_the_next_poll(monkeypatch):
    import threading

    from nasnb._experiment_live import StopButton, hear_while_busy

    class Comm:  # ipykernel 7's comm: asked where to route each message, on the shell-channel thread
        def _reply_subshell_for(self, data, default):
            return default

    comm = Comm()
    click = {"method": "custom", "content": {"event": "click"}}

    def evaluate(model):
        if len(exp.history) == 1:  # during the second trial, the kernel's other thread hears a click
            routed = []
            thread = threading.Thread(target=lambda: routed.append(comm._reply_subshell_for(click, "main")))
            thread.start()
            thread.join()
            assert routed == ["main"]  # the message still goes where it went
            assert stop.button.description == "Stop"  # widgets change on the main thread only
        return 1.0

    exp = _widths_experiment(evaluate)
    stop = StopButton(exp)
    assert hear_while_busy(comm, stop._heard_click)
    live = LiveProgress(exp, notebook=False)
    live.stop_button = stop
    monkeypatch.setattr(_experiment_live, "make_progress", lambda experiment, progress: live)
    exp.run()
    assert exp.n_done == 2 and stop.button.description == "Stopped"
    comm._reply_subshell_for({"method": "update", "state": {}}, None)  # other messages: no stop
    assert not hear_while_busy(object(), stop._heard_click)


def test_progress_says_stopped(capsys):
    def evaluate(model):
        if len(exp.history) == 2:
            exp.stop()
        return 1.0

    exp = _widths_experiment(evaluate)
    exp.run(progress=True)
    assert capsys.readouterr().out.splitlines()[-1] == "stopped: 3/6 trials, best 1, 0 failed"
    assert LiveProgress(exp, notebook=False).figure().axes[0].get_title() == "Random: 3/6 trials (stopped), best 1"


def test_the_live_figure_adds_the_learning_curves_once_trials_report():
    net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3)], key="op"))

    def evaluate(model, trial):
        for step in range(3):
            trial.report(model[0].out_features * (step + 1), step)
        return model[0].out_features

    exp = nasnb.Experiment(net, evaluate, "grid", max_trials=3, progress=False).run()
    fig = LiveProgress(exp, notebook=False).figure()
    assert len(fig.axes) == 2
    assert len(fig.axes[1].get_lines()) >= 3  # one curve per trial
    plain = nasnb.Experiment(net, lambda m: 1.0, "grid", max_trials=3, progress=False).run()
    assert len(LiveProgress(plain, notebook=False).figure().axes) == 1


def test_a_running_trials_curve_is_drawn_as_it_reports():
    net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2)], key="op"))
    seen = []

    def evaluate(model, trial):
        trial.report(0.5, 0)
        trial.report(0.7, 1)
        fig = live.figure()  # mid-trial: the running curve is on the right panel
        seen.append([line.get_label() for line in fig.axes[1].get_lines()])
        return 1.0

    exp = nasnb.Experiment(net, evaluate, "grid", max_trials=1, progress=False)
    live = LiveProgress(exp, notebook=False)
    exp._live = live
    exp._start_executor()
    exp.executor.submit(0, exp.space.fix({"op": 0}), None)
    exp.executor.wait()
    exp.executor.shutdown()
    assert seen == [["running"]]
