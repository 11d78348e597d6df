"""A trial never crashes the search.

Odd results (ints too large for a float, failing ``.item()``, failing ``repr``), exceptions
whose message cannot be shown, ``timeout=inf``, a time limit that fires just after
``evaluate`` returned, and a process-executor driver killed with ``kill -9`` (its workers
must die with it).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import torch

import nasnb
from nasnb import _trial
from nasnb.executors import InlineExecutor, ProcessExecutor
from nasnb.strategy import GridSearch

from .test_experiment import behaviour_net, statuses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ odd results and exceptions
class UnprintableError(Exception):
    def __str__(self):
        raise ValueError("__str__ is broken too")


class ItemFails:
    def item(self):
        raise ZeroDivisionError("item is broken")

    def __repr__(self):
        return "ItemFails()"


class ReprFails:
    def __repr__(self):
        raise RuntimeError("repr is broken")


def odd_evaluate(model):
    what = model.op.what
    if what == "unprintable":
        raise UnprintableError()
    return {
        "huge": lambda: 10**400,
        "huger": lambda: -(10**5000),  # even repr() of it fails (int max str digits)
        "huge_metric": lambda: {"score": 0.5, "params": 10**400},
        "tensor": lambda: torch.tensor([1.0, 2.0]),
        "item_fails": lambda: ItemFails(),
        "repr_fails": lambda: ReprFails(),
        "long": lambda: "x" * 100_000,
        "good": lambda: 1.0,
    }[what]()


ODD = ("huge", "huger", "huge_metric", "unprintable", "tensor", "item_fails", "repr_fails", "long", "good")


def check_odd(got):
    assert set(got) == set(ODD)
    assert got["good"] == ("ok", 1.0, None)
    for what in ODD[:-1]:
        status, score, error = got[what]
        assert status == "failed" and score is None, (what, got[what])
        assert error and len(error) < 400, (what, error)  # readable, never the whole value
    assert "int of 401 digits (about 1e+400)" in got["huge"][2]
    assert "not a finite number" in got["huge"][2]
    assert "int of 5001 digits (about -1e+5000)" in got["huger"][2]
    assert "'params'" in got["huge_metric"][2] and "int of 401 digits" in got["huge_metric"][2]
    assert got["unprintable"][2] == "<exception of type UnprintableError; its message could not be shown>"
    assert ".item() raised RuntimeError" in got["tensor"][2] and "tensor([1., 2.])" in got["tensor"][2]
    assert got["item_fails"][2].startswith("evaluate returned ItemFails(); its .item() raised ZeroDivisionError: "
                                           "item is broken")
    assert "<ReprFails object" in got["repr_fails"][2]
    assert got["long"][2].startswith("evaluate returned 'xxxx")


def test_odd_results_and_exceptions_are_recorded_failures_inline(tmp_path):
    exp = nasnb.Experiment(behaviour_net(*ODD), odd_evaluate, GridSearch(), max_trials=len(ODD), progress=False,
                           journal=tmp_path / "search.jsonl")
    exp.run()
    check_odd(statuses(exp))
    assert exp.n_done == len(ODD) and exp.n_failed == len(ODD) - 1
    assert {t.arch["op"]: (t.status, t.score, t.error) for t in exp.journal.read()} == statuses(exp)
    unprintable = next(t for t in exp.history if t.arch["op"] == "unprintable")
    assert "UnprintableError" in unprintable.traceback


@pytest.mark.slow
def test_odd_results_and_exceptions_are_recorded_failures_in_processes():
    exp = nasnb.Experiment(behaviour_net(*ODD), odd_evaluate, GridSearch(), max_trials=len(ODD), progress=False,
                           executor=ProcessExecutor(start_method="fork"), concurrency=2, timeout=float("inf"))
    exp.run()
    check_odd(statuses(exp))
    assert sorted(t.number for t in exp.history) == list(range(len(ODD)))


@pytest.mark.parametrize("value, expected", [
    (10**400, None),
    (float("nan"), "evaluate returned a non-finite score: nan"),
    ("x" * 10_000, None),
], ids=["huge-int", "nan", "long-str"])
def test_interpret_never_raises_and_caps_what_it_shows(value, expected):
    score, metrics, error = _trial.interpret(value, None)
    assert score is None and error and len(error) < 400
    if expected:
        assert error == expected


# ------------------------------------------------------------------ timeout validation
def test_infinite_timeout_means_no_limit_inline():
    exp = nasnb.Experiment(behaviour_net("good"), odd_evaluate, "grid", max_trials=1, timeout=float("inf"),
                           progress=False).run()
    assert statuses(exp) == {"good": ("ok", 1.0, None)}
    assert _trial.run_evaluate(lambda x: x, 2.0, 1e30).result == 2.0  # finite, too large for the timer


@pytest.mark.parametrize("bad, shown", [
    (float("nan"), "nan"), (-1, "-1"), (0, "0"), (-float("inf"), "-inf"), ("10", "'10'"), (True, "True"),
    ([1] * 1000, "[1, 1, "),
])
def test_bad_timeouts_are_refused_with_a_clear_message(bad, shown):
    with pytest.raises(ValueError, match=r"^timeout must be a positive number of seconds or None, got ") as info:
        _trial.check_timeout(bad)
    assert shown in str(info.value) and len(str(info.value)) < 300
    for executor in (InlineExecutor(), ProcessExecutor(start_method="fork")):
        executor.slots = 1  # submit checks before any worker is needed
        with pytest.raises(ValueError, match=r"^timeout must be a positive number"):
            executor.submit(0, None, bad)
        assert executor.running == 0


def test_good_timeouts_are_normalised():
    assert _trial.check_timeout(None) is None
    assert _trial.check_timeout(float("inf")) is None
    assert _trial.check_timeout(10**400) is None
    assert _trial.check_timeout(2) == 2.0 and type(_trial.check_timeout(2)) is float


@pytest.mark.parametrize("bad", ["10", True])
def test_experiment_refuses_non_number_timeouts_up_front(bad):
    with pytest.raises(ValueError, match=r"^timeout must be a positive number of seconds or None, got "):
        nasnb.Experiment(behaviour_net("good"), odd_evaluate, timeout=bad)


# ------------------------------------------------------------------ a late alarm never escapes
@pytest.fixture
def harmless_sigalrm():
    """A no-op SIGALRM handler as the 'previous' one, so a signal after restoring cannot kill pytest."""
    calls = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def alarm_on_disarm(monkeypatch, harmless_sigalrm):
    """The armed timer expires just as it is being disarmed (the signal arrives right after evaluate returned)."""
    real = signal.setitimer
    armed = []

    def setitimer(which, seconds, interval=0.0):
        if seconds:
            armed.append(seconds)
            return real(which, seconds, interval)
        old = real(which, 0)
        if armed:
            armed.clear()
            os.kill(os.getpid(), signal.SIGALRM)  # pending: the handler runs at the next bytecode
        return old

    monkeypatch.setattr(signal, "setitimer", setitimer)
    return harmless_sigalrm


class SlowMessageError(Exception):
    """Formatting the message takes so long that the time limit passes meanwhile."""

    def __str__(self):
        os.kill(os.getpid(), signal.SIGALRM)
        time.sleep(0.01)
        return "slow message"


class SlowItem:
    def item(self):
        os.kill(os.getpid(), signal.SIGALRM)
        time.sleep(0.01)
        return 0.75


def late_evaluate(model):
    what = model.op.what
    if what == "slow_message":
        raise SlowMessageError()
    if what == "slow_item":
        return SlowItem()
    return 1.0


def test_an_alarm_landing_as_evaluate_returns_does_not_escape(alarm_on_disarm):
    exp = nasnb.Experiment(behaviour_net("good", "good2"), lambda m: 1.0, "grid", max_trials=2, timeout=30,
                           progress=False).run()
    assert [(t.status, t.score) for t in exp.history] == [("ok", 1.0), ("ok", 1.0)]
    assert signal.getsignal(signal.SIGALRM) is not _trial._alarm  # the previous handler is back


def test_an_alarm_landing_while_the_error_or_result_is_converted_does_not_escape(harmless_sigalrm):
    exp = nasnb.Experiment(behaviour_net("slow_message", "slow_item"), late_evaluate, "grid", max_trials=2,
                           timeout=30, progress=False).run()
    assert statuses(exp) == {"slow_message": ("failed", None, "SlowMessageError: slow message"),
                             "slow_item": ("ok", 0.75, None)}
    # every alarm went to the previous handler: the trial's timer was already off (the message is formatted twice,
    # for the error and for the traceback)
    assert len(harmless_sigalrm) >= 2


def test_the_timer_is_off_and_the_handler_restored_after_every_kind_of_end(harmless_sigalrm):
    def boom(_):
        raise RuntimeError("boom")

    previous = signal.getsignal(signal.SIGALRM)
    for fn in (lambda x: x, boom, lambda x: time.sleep(5)):
        _trial.run_evaluate(fn, 1.0, 0.05)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is previous and not harmless_sigalrm
    out = _trial.run_evaluate(lambda x: time.sleep(5), 1.0, 0.05)
    assert out.timed_out and out.error == "TrialTimeout: exceeded the time limit of 0.05 s"


# ------------------------------------------------------------------ workers die with their driver
DRIVER = textwrap.dedent("""
    import os, sys, time
    from torch import nn
    import nasnb
    from nasnb import mutables

    def evaluate(model):
        print("WORKER", os.getpid(), flush=True)
        time.sleep(600)

    if __name__ == "__main__":
        net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="op"))
        nasnb.Experiment(net, evaluate, "grid", max_trials=2, executor=nasnb.executors.ProcessExecutor(sys.argv[1]),
                         concurrency=2, progress=False).run()
""")


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) of a live process, or None (gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else (fields[0], int(fields[1]), fields[19])


def _descendants(pid: int) -> dict[int, str]:
    """Live descendants of ``pid``: their start times by pid."""
    stats = {int(n): st for n in os.listdir("/proc") if n.isdigit() and (st := _stat(int(n))) is not None}
    out: dict[int, str] = {}
    parents = {pid}
    while parents:
        found = {p: st[2] for p, st in stats.items() if st[1] in parents and p not in out}
        out.update(found)
        parents = set(found)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("start_method", ["spawn", "forkserver", "fork"])
def test_workers_and_resource_tracker_die_with_a_killed_driver(tmp_path, start_method):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    driver = subprocess.Popen([sys.executable, str(script), start_method], stdout=subprocess.PIPE, text=True,
                              cwd=tmp_path, env=env, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in driver.stdout], daemon=True)
    reader.start()
    tracked: dict[int, str] = {}
    try:
        workers = set()
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("WORKER"):
                workers.add(int(line.split()[1]))
        # the workers, and with spawn / forkserver the resource tracker and the fork server
        tracked = _descendants(driver.pid)
        assert workers <= set(tracked) and len(tracked) >= (2 if start_method == "fork" else 3), (workers, tracked)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        deadline = time.monotonic() + 5
        left = tracked
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = {pid: t for pid, t in tracked.items() if (st := _stat(pid)) is not None and st[2] == t}
        assert not left, f"still running 5 s after the driver was killed: {sorted(left)} (workers {sorted(workers)})"
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # the whole session: driver, workers, tracker
        except (ProcessLookupError, PermissionError):
            pass
        for pid, start in tracked.items():
            st = _stat(pid)
            if st is not None and st[2] == start:
                os.kill(pid, signal.SIGKILL)
        driver.wait(timeout=10)
        reader.join(timeout=5)  # EOF once every process holding the pipe is gone
        driver.stdout.close()
