"""How views pace themselves (DESIGN rule 11): debounce clicks, throttle observers, paint off-thread.

The core tells listeners synchronously. A view that recomputes on every change would
make six quick clicks cost six recomputes and slow a training loop to a crawl, so:

- :class:`Debouncer` runs a job once, ``delay`` seconds after the *last* request, on the
  running asyncio loop (a Jupyter kernel's); with no running loop (a script, a test) it
  runs at once, so code that calls the view directly stays synchronous.
- :class:`Throttle` lets a job run only when the time since the last run is long enough
  for the job's own cost to stay under ``budget`` of the wall time.
- :class:`Painter` renders figures to PNG on a worker thread, keeping only the newest
  request, and hands the bytes to a callback; drawing never blocks the kernel.

>>> calls = []
>>> d = Debouncer(lambda: calls.append(1), delay=0.01)
>>> d.request(); d.request()          # no running loop: runs at once, each time
>>> len(calls)
2
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Debouncer", "Painter", "Throttle", "running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running this code (a Jupyter kernel's), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Debouncer:
    """Run ``job`` once after the last of a burst of requests (at once without a running loop)."""

    def __init__(self, job: Callable[[], None], delay: float = 0.05):
        self.job = job
        self.delay = delay
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        """A run is scheduled and has not happened yet."""
        return self._handle is not None

    def request(self) -> None:
        """Ask for a run; a burst of requests gives one run, after the last one."""
        loop = running_loop()
        if loop is None:
            self.cancel()
            self.job()
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = loop.call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.job()

    def flush(self) -> None:
        """Run a scheduled job now (nothing if none is pending)."""
        if self._handle is not None:
            self._handle.cancel()
            self._fire()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Throttle:
    """Decide when a job of measured cost may run again so that it takes at most ``budget`` of the time.

    >>> t = Throttle(budget=0.05)
    >>> t.ready()
    True
    >>> t.ran(cost=0.1)          # a 0.1 s job: the next may start 2 s later (0.1 / 0.05)
    >>> t.ready(), round(t.wait(), 1)
    (False, 1.9)
    """

    def __init__(self, budget: float = 0.05, clock: Callable[[], float] = time.monotonic):
        self.budget = budget
        self.clock = clock
        self._next = 0.0

    def ready(self) -> bool:
        return self.clock() >= self._next

    def wait(self) -> float:
        """Seconds until the job may run again."""
        return max(0.0, self._next - self.clock())

    def ran(self, cost: float) -> None:
        """Record a run that took ``cost`` seconds and just finished."""
        self._next = self.clock() + cost / self.budget - cost


class Painter:
    """Render matplotlib figures to PNG on a worker thread; only the newest request is drawn.

    ``make_figure()`` runs on the worker (build a ``matplotlib.figure.Figure``, never
    pyplot); ``done(png_bytes)`` receives the result there too (setting a widget value
    from a thread is safe in ipykernel); ``failed(exc)`` gets drawing errors.
    """

    def __init__(self, done: Callable[[bytes], None], failed: Callable[[BaseException], None], dpi: int = 72):
        self.done = done
        self.failed = failed
        self.dpi = dpi
        self._lock = threading.Lock()
        self._job: Callable[[], Any] | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def submit(self, make_figure: Callable[[], Any]) -> None:
        """Draw ``make_figure()`` soon, replacing any request not started yet."""
        with self._lock:
            self._job = make_figure
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="nasnb-painter", daemon=True)
                self._thread.start()

    def request(self, make_figure: Callable[[], Any]) -> None:
        """Draw on the worker when an asyncio loop runs (a kernel), else now in this thread."""
        if running_loop() is None:
            self.draw_now(make_figure)
        else:
            self.submit(make_figure)

    def draw_now(self, make_figure: Callable[[], Any]) -> None:
        """Draw in the calling thread (used when no loop runs, e.g. in scripts and tests)."""
        self.wait()
        self._render(make_figure)

    def _render(self, make_figure: Callable[[], Any]) -> None:
        try:
            fig = make_figure()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self.dpi)
        except Exception as err:  # noqa: BLE001 - reported in the panel, never lost in a thread
            self.failed(err)
            return
        self.done(buf.getvalue())

    def _work(self) -> None:
        while True:
            with self._lock:
                job, self._job = self._job, None
                if job is None:
                    self._thread = None
                    self._idle.set()
                    return
            self._render(job)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted drawing is done; False on timeout."""
        return self._idle.wait(timeout)
