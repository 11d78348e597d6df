"""Run trials in local worker processes, several at once.

Each worker is a fresh process (``spawn`` by default) that receives ``evaluate`` once
and then one fixed model per trial. ``evaluate`` and the models are serialised with
cloudpickle when it is installed (so functions defined in a notebook work), otherwise
with pickle. A trial over its time limit, or a worker that dies, costs only that worker:
it is killed and replaced, and the trial is recorded as timed out / failed.

An ``evaluate(model, trial)`` reports over the worker's pipe: each ``trial.report()``
sends ``b"R"`` + the step and value (distinct from the ``b"S"`` start byte and the
pickled outcome) and blocks until the driver, which answers while it waits for results,
sends back one byte: ``b"P"`` (prune) or ``b"C"`` (continue).

Workers die with their driver, even one killed with ``kill -9``: on Linux the kernel
kills a worker when the driver thread that started it ends (``PR_SET_PDEATHSIG``), and
on every POSIX system each worker also watches its parent process (and, under
``forkserver``, the driver) and exits when it is gone. So a hung trial cannot outlive
its search, and neither can the multiprocessing resource tracker (it exits once the
driver and the workers have closed its pipe). Hence use a ``ProcessExecutor`` from one
thread, which outlives its workers (as ``Experiment.run`` does: it starts and shuts
them down itself).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_connections
from typing import Any

from .._report import TrialReporter, takes_trial
from .._trial import Outcome, check_timeout, run_evaluate
from ._base import Executor, OnReport

__all__ = ["ProcessExecutor"]

_MAX_WAIT = 3600.0  # seconds one wait on the workers' pipes lasts at most (poll() overflows near 2e6 s)
_WATCH_INTERVAL = 0.2  # seconds between a worker's checks that its parent is alive
_PR_SET_PDEATHSIG = 1


def _dumps(obj: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(obj)
    data: bytes = cloudpickle.dumps(obj)
    return data


@dataclass
class _Task:
    """The trial a worker runs."""

    trial_id: int
    started: float | None  # None until the worker starts it
    limit: float | None


def _die_with_parent(driver_pid: int, start_method: str) -> None:
    """End this worker as soon as the driver that started it is gone (kill -9 included).

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, the kernel kills us when our parent
    ends. Everywhere (POSIX): a daemon thread watches the parent (``os.getppid()``
    changes when it dies and we are re-parented) and, under ``forkserver`` (where the
    parent is the fork server, which outlives the driver while any worker lives), the
    driver itself; it then ends the process, whatever the main thread is doing (a hung
    ``evaluate`` included).
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc / no prctl: the watcher below still works
            pass
    parent = os.getppid()
    # the parent is the driver (spawn, fork) or the fork server; if it is not the driver any
    # more, the driver died before the death signal and the watcher were in place
    if start_method != "forkserver" and parent != driver_pid:
        os._exit(1)
    if os.name != "posix":
        return
    driver_fd = None
    if start_method == "forkserver" and hasattr(os, "pidfd_open"):
        try:
            driver_fd = os.pidfd_open(driver_pid)  # readable once the driver has exited
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # an old kernel: poll the pid instead
            pass

    def driver_gone() -> bool:
        if start_method != "forkserver":
            return False
        if driver_fd is not None:
            return bool(select.select([driver_fd], [], [], 0)[0])
        try:
            os.kill(driver_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # the pid now belongs to another user's process
            return True
        return False

    def watch() -> None:
        while os.getppid() == parent and not driver_gone():
            time.sleep(_WATCH_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="nasnb-watch-driver", daemon=True).start()


def _worker_main(conn: Any, threads: int | None, driver_pid: int | None = None,
                 start_method: str = "spawn") -> None:
    """Worker loop: receive evaluate, then targets; send back outcomes."""
    if driver_pid is not None:
        _die_with_parent(driver_pid, start_method)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        evaluate = pickle.loads(conn.recv_bytes())
        broken = None
    except Exception as err:  # noqa: BLE001 - reported with every trial instead
        evaluate, broken = None, f"{type(err).__name__} while unpickling evaluate in the worker: {err}"
    reports = broken is None and takes_trial(evaluate)

    def send(step: int, value: float) -> bool:
        conn.send_bytes(_REPORT + _STEP_VALUE.pack(step, value))
        return bool(conn.recv_bytes() == _PRUNE)

    while True:
        try:
            payload = conn.recv_bytes()
        except EOFError:
            return
        if not payload:
            return
        if payload in (_PRUNE, _CONTINUE):
            continue  # the answer to a report that the trial's time limit interrupted
        try:
            target, limit, trial_id = pickle.loads(payload)
        except Exception as err:  # noqa: BLE001
            outcome = Outcome(error=f"{type(err).__name__} while unpickling the trial: {err}")
        else:
            if broken is not None:
                conn.send_bytes(pickle.dumps(Outcome(error=broken)))
                continue
            conn.send_bytes(_STARTED)  # the time limit counts from here, not from worker start-up
            outcome = run_evaluate(evaluate, target, limit, TrialReporter(trial_id, send) if reports else None)
        try:
            data = pickle.dumps(outcome)
        except Exception as err:  # noqa: BLE001 - unpicklable result
            data = pickle.dumps(Outcome(error=f"evaluate returned an unpicklable result: {err}",
                                        duration=outcome.duration))
        conn.send_bytes(data)


_STARTED = b"S"
_REPORT = b"R"  # + _STEP_VALUE: a report from trial.report()
_STEP_VALUE = struct.Struct("<qd")
_PRUNE, _CONTINUE = b"P", b"C"  # the driver's answer to a report
_DIED_HINT = (" (with start_method 'spawn'/'forkserver' a script must start the experiment under "
              "`if __name__ == '__main__':`; see the worker's traceback on stderr)")


class _Worker:
    def __init__(self, ctx: Any, evaluate_bytes: bytes, threads: int | None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, os.getpid(), ctx.get_start_method()),
                                daemon=True)
        self.proc.start()
        child.close()
        self.evaluate_bytes = evaluate_bytes
        self.task: _Task | None = None  # None while idle

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class ProcessExecutor(Executor):
    """A pool of local worker processes, one trial per worker at a time.

    Parameters
    ----------
    start_method : {"spawn", "forkserver", "fork"}
        How workers start. ``spawn`` (default) is safe everywhere; ``fork`` starts
        faster on Linux but is unsafe with threads or CUDA in the parent.
    threads_per_worker : int or None
        ``torch.set_num_threads`` in each worker (default 1, so N workers use N cores;
        None leaves torch's default).

    Examples
    --------
    >>> import operator
    >>> from functools import partial
    >>> from nasnb.executors import ProcessExecutor
    >>> ex = ProcessExecutor(start_method="fork", threads_per_worker=None)
    >>> ex.start(partial(operator.mul, 2), slots=1)
    >>> ex.submit(7, 21, timeout=60)
    >>> [(i, out.result) for i, out in ex.wait()]
    [(7, 42.0)]
    >>> ex.shutdown()
    """

    name = "process"

    def __init__(self, start_method: str = "spawn", threads_per_worker: int | None = 1):
        super().__init__()
        if start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(
                f"start_method {start_method!r} is not available here; "
                f"expected one of {multiprocessing.get_all_start_methods()}"
            )
        self.start_method = start_method
        self.threads_per_worker = threads_per_worker
        self._workers: list[_Worker] = []

    def __repr__(self) -> str:
        return f"ProcessExecutor(start_method={self.start_method!r}, slots={self.slots})"

    def start(self, evaluate: Callable[..., Any], slots: int, on_report: OnReport | None = None) -> None:
        self.slots = max(1, int(slots))
        self._on_report = on_report
        self._ctx = multiprocessing.get_context(self.start_method)
        self._evaluate_bytes = _dumps(evaluate)
        # start every worker first, then hand each evaluate: start-ups overlap even when a large
        # evaluate (a closure over data) fills the pipe and blocks until the worker reads it
        self._workers = [_Worker(self._ctx, self._evaluate_bytes, self.threads_per_worker) for _ in range(self.slots)]
        for w in self._workers:
            w.conn.send_bytes(w.evaluate_bytes)

    def _idle_worker(self) -> _Worker:
        for w in self._workers:
            if w.task is None:
                return w
        w = _Worker(self._ctx, self._evaluate_bytes, self.threads_per_worker)
        w.conn.send_bytes(w.evaluate_bytes)
        self._workers.append(w)
        return w

    def submit(self, trial_id: int, target: Any, timeout: float | None) -> None:
        timeout = check_timeout(timeout)  # inf: no limit
        w = self._idle_worker()
        w.conn.send_bytes(_dumps((target, timeout, trial_id)))
        w.task = _Task(trial_id, None, timeout)
        self._running[trial_id] = w

    def wait(self, timeout: float | None = None) -> list[tuple[int, Outcome]]:
        end = None if timeout is None else time.perf_counter() + timeout
        while True:
            left = None if end is None else max(0.0, end - time.perf_counter())
            done = self._poll(left)
            if done or not self._running or (end is not None and time.perf_counter() >= end):
                return done

    def _poll(self, timeout: float | None) -> list[tuple[int, Outcome]]:
        busy = [(w, w.task) for w in self._workers if w.task is not None]
        if not busy:
            return []
        now = time.perf_counter()
        deadlines = [t.started + t.limit for _, t in busy if t.started is not None and t.limit is not None]
        limit = timeout
        if deadlines:
            until = max(0.0, min(deadlines) - now)
            limit = until if limit is None else min(limit, until)
        if limit is not None:
            limit = min(limit, _MAX_WAIT)  # wait() loops until a trial ends or its own timeout
        ready = wait_connections([w.conn for w, _ in busy], timeout=limit)
        done: list[tuple[int, Outcome]] = []
        for w, task in busy:
            trial_id, started, trial_limit = task.trial_id, task.started, task.limit
            outcome = None
            if w.conn in ready:
                try:
                    data = w.conn.recv_bytes()
                except (EOFError, OSError):
                    w.proc.join(timeout=1)
                    hint = _DIED_HINT if self.start_method != "fork" and started is None else ""
                    outcome = Outcome(error=f"WorkerDied: the worker process exited (exit code {w.proc.exitcode}) "
                                            f"during the trial{hint}",
                                      duration=0.0 if started is None else time.perf_counter() - started)
                    self._replace(w)
                else:
                    if data == _STARTED:
                        task.started = started = time.perf_counter()
                    elif data[:1] == _REPORT and len(data) == 1 + _STEP_VALUE.size:
                        step, value = _STEP_VALUE.unpack(data[1:])
                        prune = self._on_report is not None and self._on_report(trial_id, step, value)
                        try:
                            w.conn.send_bytes(_PRUNE if prune else _CONTINUE)
                        except OSError:  # the worker died meanwhile: its pipe's end says so next time
                            pass
                    else:
                        outcome = pickle.loads(data)
                        w.task = None
            if outcome is None and started is not None and trial_limit is not None:
                elapsed = time.perf_counter() - started
                if elapsed >= trial_limit:
                    outcome = Outcome(error=f"TrialTimeout: exceeded the time limit of {trial_limit:g} s",
                                      duration=elapsed, timed_out=True)
                    self._replace(w)
            if outcome is not None:
                del self._running[trial_id]
                done.append((trial_id, outcome))
        return done

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._workers.remove(w)

    def shutdown(self) -> None:
        for w in self._workers:
            try:
                if w.task is None:
                    w.conn.send_bytes(b"")
            except OSError:
                pass
        for w in self._workers:
            if w.task is not None:
                w.kill()
            else:
                w.proc.join(timeout=5)
                if w.proc.is_alive():
                    w.kill()
                w.conn.close()
        self._workers = []
        self._running.clear()
