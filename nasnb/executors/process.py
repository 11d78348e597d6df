"""Run trials in local worker processes, several at once.

Each worker is a fresh process (``spawn`` by default) that receives ``evaluate`` once
and then one fixed model per trial. ``evaluate`` and the models are serialised with
cloudpickle when it is installed (so functions defined in a notebook work), otherwise
with pickle. A trial over its time limit, or a worker that dies, costs only that worker:
it is killed and replaced, and the trial is recorded as timed out / failed.
"""

from __future__ import annotations

import multiprocessing
import pickle
import time
from multiprocessing.connection import wait as wait_connections
from typing import Any, Callable

from .._trial import Outcome, run_evaluate
from ._base import Executor

__all__ = ["ProcessExecutor"]


def _dumps(obj: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(obj)
    return cloudpickle.dumps(obj)


def _worker_main(conn: Any, threads: int | None) -> None:
    """Worker loop: receive evaluate, then targets; send back outcomes."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        evaluate = pickle.loads(conn.recv_bytes())
        broken = None
    except Exception as err:  # noqa: BLE001 - reported with every trial instead
        evaluate, broken = None, f"{type(err).__name__} while unpickling evaluate in the worker: {err}"
    while True:
        try:
            payload = conn.recv_bytes()
        except EOFError:
            return
        if not payload:
            return
        try:
            target, limit = pickle.loads(payload)
        except Exception as err:  # noqa: BLE001
            outcome = Outcome(error=f"{type(err).__name__} while unpickling the trial: {err}")
        else:
            if broken is not None:
                conn.send_bytes(pickle.dumps(Outcome(error=broken)))
                continue
            conn.send_bytes(_STARTED)  # the time limit counts from here, not from worker start-up
            outcome = run_evaluate(evaluate, target, limit)
        try:
            data = pickle.dumps(outcome)
        except Exception as err:  # noqa: BLE001 - unpicklable result
            data = pickle.dumps(Outcome(error=f"evaluate returned an unpicklable result: {err}",
                                        duration=outcome.duration))
        conn.send_bytes(data)


_STARTED = b"S"
_DIED_HINT = (" (with start_method 'spawn'/'forkserver' a script must start the experiment under "
              "`if __name__ == '__main__':`; see the worker's traceback on stderr)")


class _Worker:
    def __init__(self, ctx: Any, evaluate_bytes: bytes, threads: int | None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads), daemon=True)
        self.proc.start()
        child.close()
        self.evaluate_bytes = evaluate_bytes
        self.task: list | None = None  # [trial id, start (None until the worker starts it), limit]

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

    def start(self, evaluate: Callable[[Any], Any], slots: int) -> None:
        self.slots = max(1, int(slots))
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
        w = self._idle_worker()
        w.conn.send_bytes(_dumps((target, timeout)))
        w.task = [trial_id, None, timeout]
        self._running[trial_id] = w

    def wait(self, timeout: float | None = None) -> list[tuple[int, Outcome]]:
        end = None if timeout is None else time.perf_counter() + timeout
        while True:
            left = None if end is None else max(0.0, end - time.perf_counter())
            done = self._poll(left)
            if done or not self._running or (end is not None and time.perf_counter() >= end):
                return done

    def _poll(self, timeout: float | None) -> list[tuple[int, Outcome]]:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        now = time.perf_counter()
        deadlines = [w.task[1] + w.task[2] for w in busy if w.task[1] is not None and w.task[2] is not None]
        limit = timeout
        if deadlines:
            until = max(0.0, min(deadlines) - now)
            limit = until if limit is None else min(limit, until)
        ready = wait_connections([w.conn for w in busy], timeout=limit)
        done: list[tuple[int, Outcome]] = []
        for w in busy:
            trial_id, started, trial_limit = w.task
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
                        w.task[1] = started = time.perf_counter()
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
