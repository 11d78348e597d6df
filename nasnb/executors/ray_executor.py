"""Run trials as Ray tasks: on a local Ray instance or an existing cluster.

Needs the optional extra: ``pip install 'nasnb[ray]'``. Ray is imported in
:meth:`RayExecutor.start`, never by ``import nasnb``.

Reports (``evaluate(model, trial)``) go through an async Ray actor, the inbox: a
worker's ``trial.report()`` calls ``ray.get(inbox.report.remote(...))``, which waits for
the driver's answer. The driver always holds one pending ``inbox.take()`` (it returns
once reports are waiting) among the refs its :meth:`RayExecutor.wait` waits on, so a
report wakes it at once, without polling; it calls ``on_report`` for each and sends the
answers with ``inbox.answer()``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable
from typing import Any

from .._report import TrialReporter, takes_trial
from .._trial import Outcome, check_timeout, run_evaluate
from ._base import Executor, OnReport

__all__ = ["RayExecutor"]

_MAX_WAIT = 3600.0  # seconds one wait() blocks at most


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ImportError("nasnb's Ray executor needs ray, an optional extra: pip install 'nasnb[ray]'") from err
    return ray


def _ray_trial(evaluate: Callable[..., Any], target: Any, limit: float | None, trial_id: int = -1,
               inbox: Any = None) -> Outcome:
    if inbox is None:
        return run_evaluate(evaluate, target, limit)
    import ray

    def send(step: int, value: float) -> bool:
        return bool(ray.get(inbox.report.remote(trial_id, step, value)))

    return run_evaluate(evaluate, target, limit, TrialReporter(trial_id, send))


class _Inbox:
    """An async Ray actor where workers' reports wait for the driver's answer (see the module docstring)."""

    def __init__(self) -> None:
        self._reports: list[tuple[int, int, float]] = []
        self._answers: dict[tuple[int, int], asyncio.Future[bool]] = {}
        self._arrived = asyncio.Event()

    async def report(self, trial_id: int, step: int, value: float) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._answers[trial_id, step] = answer
        self._reports.append((trial_id, step, value))
        self._arrived.set()
        return await answer

    async def take(self) -> list[tuple[int, int, float]]:
        while not self._reports:
            self._arrived.clear()
            await self._arrived.wait()
        reports, self._reports = self._reports, []
        return reports

    async def answer(self, answers: list[tuple[int, int, bool]]) -> None:
        for trial_id, step, prune in answers:
            future = self._answers.pop((trial_id, step), None)
            if future is not None and not future.done():
                future.set_result(prune)


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Raise ConnectionError naming ``address`` ("host:port") when nothing listens there.

    ``ray.init`` retries an unreachable address for minutes; a TCP connect says it at once.
    "auto", ``ray://`` addresses and None are left to Ray.

    >>> _check_reachable("127.0.0.1:1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ConnectionError: RayExecutor: nothing answers at address '127.0.0.1:1' ...
    """
    match = re.fullmatch(r"\[?([\w.:\-]+?)\]?:(\d+)", address or "")
    if match is None:
        return
    host, port = match.group(1), int(match.group(2))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        raise ConnectionError(f"RayExecutor: nothing answers at address {address!r} ({err}); expected the GCS "
                              f"address of a running Ray head node (the port given to `ray start --head --port`, "
                              f"6379 by default), or address=None for a local instance") from None


class RayExecutor(Executor):
    """Each trial is a Ray task; ``concurrency`` bounds how many run at once.

    If Ray is not initialised yet, :meth:`start` calls ``ray.init(address, **init_kwargs)``
    (a local instance when ``address`` is None, or e.g. ``"auto"`` / ``"ray://host:10001"``
    for a cluster) and :meth:`shutdown` shuts it down again; an instance the caller
    started is left running. Connecting to a cluster never starts or stops the cluster.

    **An existing cluster.** Start Ray on the head node, then on every other node (these
    are shell commands, not doctests)::

        ray start --head --port=6379                 # on the head node
        ray start --address=<head>:6379              # on each other node

    and from the driver (on a node of the cluster) pass ``address="auto"`` or
    ``address="<head>:6379"``; from outside the cluster, ``address="ray://<head>:10001"``
    connects through Ray Client (needs ``pip install 'ray[client]'`` on both sides). If the
    cluster uses token authentication, the driver needs the same token
    (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``). A ``"host:port"`` where nothing
    listens raises ``ConnectionError`` at once (``ray.init`` alone retries for minutes).

    Every node must have the same versions of Python, torch, Ray and nasnb; the
    ``evaluate`` function must be importable on every node (a module installed there, or
    shipped with ``init_kwargs={"runtime_env": {"working_dir": ...}}``) or picklable by
    value, and the data it reads must be reachable from every node (a shared file system,
    object storage, or downloaded inside ``evaluate``).

    ``num_cpus`` and ``num_gpus`` are what Ray reserves for each trial: a trial starts only
    on a node with that much free, so they also bound how many trials share a node. A trial
    may start several processes itself (e.g. ``torchrun``-style distributed training with
    one process per GPU inside ``evaluate``) when it reserves that many CPUs/GPUs, e.g.
    ``RayExecutor(address="auto", num_cpus=8, num_gpus=4)`` for four ranks on one node;
    Ray does not place or count the processes a trial starts itself.

    A trial's time limit is enforced inside the Ray worker (a timer signal), counted from
    when the task starts; a task that does not return within ``startup_grace`` seconds
    after that (still queued, a worker starting up, an evaluate deaf to signals) is
    cancelled and recorded as timed out.

    Parameters
    ----------
    address : str, optional
        Cluster address for ``ray.init``: ``"auto"``, ``"<head>:6379"`` or
        ``"ray://<head>:10001"``; None starts a local instance (or connects to the cluster
        named by the ``RAY_ADDRESS`` environment variable). A ``"host:port"`` where nothing
        listens raises ``ConnectionError`` naming it at :meth:`start` (Ray itself would
        retry for minutes).
    num_cpus, num_gpus : float
        Resources each trial reserves (including any processes it starts itself).
        Defaults: 1 CPU, 0 GPUs.
    init_kwargs : dict, optional
        More arguments for ``ray.init`` (``num_cpus``, ``runtime_env``, ...).
    startup_grace : float
        Extra seconds before the driver cancels a trial that has a time limit. Default: 120.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
                 init_kwargs: dict[str, Any] | None = None, startup_grace: float = 120.0):
        super().__init__()
        self.startup_grace = startup_grace
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.init_kwargs = dict(init_kwargs or {})
        self._owns_ray = False

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, slots={self.slots})"

    def start(self, evaluate: Callable[..., Any], slots: int, on_report: OnReport | None = None) -> None:
        ray = self._ray = _import_ray()
        if not ray.is_initialized():
            _check_reachable(self.address)
            kwargs = {"include_dashboard": False, "log_to_driver": True, **self.init_kwargs}
            ray.init(address=self.address, **kwargs)
            self._owns_ray = True
        self.slots = max(1, int(slots))
        self._remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)(_ray_trial)
        self._evaluate_ref = ray.put(evaluate)
        self._refs: dict[Any, tuple[int, float, float | None]] = {}
        self._on_report = on_report
        self._inbox: Any = None
        self._take: Any = None  # the pending inbox.take()
        if takes_trial(evaluate):
            self._inbox = ray.remote(num_cpus=0)(_Inbox).remote()
            self._take = self._inbox.take.remote()

    def submit(self, trial_id: int, target: Any, timeout: float | None) -> None:
        timeout = check_timeout(timeout)  # inf: no limit
        ref = self._remote.remote(self._evaluate_ref, target, timeout, trial_id, self._inbox)
        self._refs[ref] = (trial_id, time.perf_counter(), timeout)
        self._running[trial_id] = ref

    def wait(self, timeout: float | None = None) -> list[tuple[int, Outcome]]:
        end = None if timeout is None else time.perf_counter() + timeout
        while True:
            left = None if end is None else max(0.0, end - time.perf_counter())
            done = self._collect(left)
            if done or not self._refs or (end is not None and time.perf_counter() >= end):
                return done

    def _answer_reports(self) -> None:
        reports = self._ray.get(self._take)
        self._take = self._inbox.take.remote()
        on_report = self._on_report
        self._inbox.answer.remote([(trial_id, step, on_report is not None and bool(on_report(trial_id, step, value)))
                                   for trial_id, step, value in reports])

    def _collect(self, timeout: float | None) -> list[tuple[int, Outcome]]:
        """Finished trials (waiting up to ``timeout``); reports that arrive meanwhile are answered."""
        ray = self._ray
        if not self._refs:
            return []
        now = time.perf_counter()
        deadlines = [s + lim + self.startup_grace for _, s, lim in self._refs.values() if lim is not None]
        limit = timeout
        if deadlines:
            until = max(0.0, min(deadlines) - now)
            limit = until if limit is None else min(limit, until)
        if limit is not None:
            limit = min(limit, _MAX_WAIT)  # ray.wait overflows on huge timeouts; callers loop
        ready, _ = ray.wait(list(self._refs) + ([self._take] if self._take is not None else []),
                            num_returns=1, timeout=limit)
        if self._take is not None and self._take in ready:
            self._answer_reports()
            ready = [r for r in ready if r in self._refs]
        ready_set = set(ready)
        if ready:  # collect everything else that is already done too
            more, _ = ray.wait([r for r in self._refs if r not in ready_set], num_returns=len(self._refs) - len(ready),
                               timeout=0)
            ready_set.update(more)
        done = []
        for ref, (trial_id, started, trial_limit) in list(self._refs.items()):
            elapsed = time.perf_counter() - started
            if ref in ready_set:
                try:
                    outcome = ray.get(ref)
                except Exception as err:  # noqa: BLE001 - worker crash, cancelled task
                    outcome = Outcome(error=f"{type(err).__name__}: {err}", duration=elapsed)
            elif trial_limit is not None and elapsed >= trial_limit + self.startup_grace:
                ray.cancel(ref, force=True)
                outcome = Outcome(error=f"TrialTimeout: no result {elapsed:.3g} s after submission "
                                        f"(limit {trial_limit:g} s + startup_grace {self.startup_grace:g} s)",
                                  duration=elapsed, timed_out=True)
            else:
                continue
            del self._refs[ref]
            del self._running[trial_id]
            done.append((trial_id, outcome))
        return done

    def shutdown(self) -> None:
        for ref in list(getattr(self, "_refs", {})):
            self._ray.cancel(ref, force=True)
        self._refs = {}
        self._running.clear()
        if getattr(self, "_inbox", None) is not None:
            self._ray.kill(self._inbox)
            self._inbox = self._take = None
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False
