"""Live progress of an Experiment: a Stop button, a tqdm bar and a throttled score plot in
notebooks, plain text lines in scripts, and the HTML results table.

While a cell runs, the kernel's main thread is busy and handles no widget message, so a
plain button callback would only run after the search. The Stop button is heard anyway on
ipykernel 7, which receives every shell message on its shell-channel thread and asks the
message's comm there where to route it: the button's comm answers that question as usual
and, for a click, also calls :meth:`Experiment.stop` (it only sets a flag), so the click
counts at once, even during a trial. The main thread shows "Stopping…" at its next
:meth:`LiveProgress.poll` (after each round of finished trials). A kernel without that
thread gets no button (interrupting the kernel stays the way to stop).

Nothing here is imported by ``import nasnb``; tqdm, IPython, ipywidgets and matplotlib load
when a run with progress starts.
"""

from __future__ import annotations

import html
import io
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._notebook import in_notebook

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._trial import Trial
    from .experiment import Experiment

__all__ = ["LiveProgress", "StopButton", "make_progress", "results_html"]

#: Resolution of the live images (100 dpi: a 9 pt label is 12.5 px high, not 9 px at 72 dpi).
LIVE_DPI = 100


def make_progress(experiment: Experiment, progress: bool | str) -> LiveProgress | None:
    """The progress display for ``progress`` ("auto" = on in notebooks and terminals)."""
    if progress is False:
        return None
    notebook = in_notebook()
    if progress == "auto" and not notebook and not sys.stdout.isatty():
        return None
    return LiveProgress(experiment, notebook=notebook)


def _counts(experiment: Experiment) -> dict[str, int]:
    """``failed`` always; ``rejected`` (by the constraint) and ``pruned`` once there are some."""
    counts = {"failed": experiment.n_failed}
    if experiment.n_rejected:
        counts["rejected"] = experiment.n_rejected
    if experiment.n_pruned:
        counts["pruned"] = experiment.n_pruned
    return counts


def _counts_text(experiment: Experiment) -> str:
    """``2 failed`` or ``2 failed, 5 rejected``."""
    return ", ".join(f"{n} {what}" for what, n in _counts(experiment).items())


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _is_click(data: Any) -> bool:
    """Whether a comm message's ``data`` is an ipywidgets Button click."""
    content = data.get("content") if isinstance(data, dict) and data.get("method") == "custom" else None
    return isinstance(content, dict) and content.get("event") == "click"


def hear_while_busy(comm: Any, on_click: Callable[[], None]) -> bool:
    """Make ``on_click()`` run on ipykernel's shell-channel thread when ``comm`` receives a click.

    ipykernel 7 calls ``comm._reply_subshell_for(data, default)`` on that thread for each
    message to the comm, before the busy main thread could see it; the wrapper keeps its
    answer and the message (the button's own ``on_click`` still runs later on the main
    thread). Returns False, changing nothing, for a comm without that method (no kernel,
    an older ipykernel): then only the main thread would hear the click.

    >>> class Comm:
    ...     def _reply_subshell_for(self, data, default):
    ...         return default
    >>> comm, clicks = Comm(), []
    >>> hear_while_busy(comm, lambda: clicks.append(1))
    True
    >>> comm._reply_subshell_for({"method": "custom", "content": {"event": "click"}}, None), clicks
    (None, [1])
    >>> hear_while_busy(object(), print)
    False
    """
    route = getattr(comm, "_reply_subshell_for", None)
    if route is None:
        return False

    def routed(data: Any, default: Any) -> Any:
        if _is_click(data):
            on_click()
        return route(data, default)

    comm._reply_subshell_for = routed
    return True


class StopButton:
    """The live view's Stop button: a click asks the experiment to stop (:meth:`Experiment.stop`).

    It reads "Stop", then "Stopping…" (disabled) once clicked, and "Stopped" when the run
    ended early; after a run that was not stopped it is hidden. :meth:`create` gives one
    only where the click can be heard while the cell runs (see the module docstring);
    the constructor always builds one (tests, other front ends).

    >>> from types import SimpleNamespace
    >>> exp = SimpleNamespace(stop=lambda: setattr(exp, "asked", True), asked=False)
    >>> stop = StopButton(exp)
    >>> stop.button.click()
    >>> exp.asked, stop.button.description, stop.button.disabled
    (True, 'Stopping…', True)
    """

    def __init__(self, experiment: Any):
        import ipywidgets as widgets

        self.experiment = experiment
        self.button = widgets.Button(description="Stop", icon="stop", button_style="warning",
                                     tooltip="Finish the running trials, record them, then stop (run() again goes on)")
        self.button.add_class("nasnb-stop")
        self.button.on_click(lambda _button: self.clicked())
        self._heard = False  # a click heard on the shell-channel thread, not shown yet
        self._closed = False

    @classmethod
    def create(cls, experiment: Any) -> StopButton | None:
        """A button whose click is heard during the run, or None where that is impossible
        (no kernel with a shell-channel thread, a comm that cannot route messages there)."""
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if getattr(kernel, "shell_channel_thread", None) is None:
            return None
        stop = cls(experiment)
        if not hear_while_busy(getattr(stop.button, "comm", None), stop._heard_click):
            stop.button.close()
            return None
        return stop

    def _heard_click(self) -> None:
        """On the shell-channel thread: only set flags; widgets change on the main thread."""
        if not self._closed:
            self.experiment.stop()
            self._heard = True

    def clicked(self) -> None:
        """Ask the experiment to stop and say so (a click; on the main thread)."""
        if self._closed:  # the queued click of a finished run
            return
        self.experiment.stop()
        self.button.description, self.button.disabled = "Stopping…", True

    def poll(self) -> None:
        """Show a click heard while the main thread was busy."""
        if self._heard and not self.button.disabled:
            self.button.description, self.button.disabled = "Stopping…", True

    def close(self, stopped: bool) -> None:
        """At the end of the run: "Stopped", or hidden when the run was not stopped."""
        self._closed = True
        if stopped:
            self.button.description, self.button.disabled = "Stopped", True
        else:
            self.button.layout.display = "none"


class LiveProgress:
    """Shows an experiment's trials as they finish.

    In a notebook: a Stop button (:class:`StopButton`), a ``tqdm.auto`` bar (postfix: last
    and best score) and a score plot (score per trial, best-so-far line) redrawn at most
    every ``plot_every`` seconds and once at the end. In a script: one text line per trial,
    at most every ``print_every`` seconds, plus a final line. The plot's title and the final
    line say "stopped" when :meth:`Experiment.stop` ended the run early.
    """

    def __init__(self, experiment: Experiment, notebook: bool, plot_every: float = 1.0, print_every: float = 2.0):
        self.experiment = experiment
        self.notebook = notebook
        self.plot_every = plot_every
        self.print_every = print_every
        self._last_plot = 0.0
        self._last_print = 0.0
        self._handle: Any = None
        self._dirty = False
        self.stop_button: StopButton | None = None
        done = experiment.n_done
        if notebook:
            from IPython.display import display
            from tqdm.auto import tqdm

            self.stop_button = StopButton.create(experiment)
            if self.stop_button is not None:
                display(self.stop_button.button)  # type: ignore[no-untyped-call]  # IPython.display is unannotated

            self.bar = tqdm(total=experiment.max_trials, initial=done, desc=type(experiment.strategy).__name__,
                            unit="trial")
            self._plot(force=True)
        else:
            self.bar = None
            self._say(f"{type(experiment.strategy).__name__}: {done}/{experiment.max_trials} trials done")

    def _say(self, text: str) -> None:
        print(text, flush=True)

    def _best(self) -> dict[str, str]:
        """``{"best": score}``, or ``{"front": size}`` with several objectives (there is no single best)."""
        exp = self.experiment
        if exp.multi_objective:
            return {"front": str(len(exp.pareto_front()))}
        best = exp.best(1)
        return {"best": _fmt(best[0].score if best else None)}

    def _best_text(self) -> str:
        return ", ".join(f"{'Pareto front' if k == 'front' else k} {v}" for k, v in self._best().items())

    def update(self, trial: Trial) -> None:
        """Report one finished (or rejected) trial."""
        exp = self.experiment
        best = self._best()
        now = time.monotonic()
        if self.bar is not None:
            if trial.status != "rejected":
                self.bar.update(1)
            self.bar.set_postfix(score=_fmt(trial.score), **best, **_counts(exp), refresh=False)
            self._dirty = True
            self._plot()
        elif now - self._last_print >= self.print_every:
            self._last_print = now
            what = _fmt(trial.score) if trial.ok else f"{trial.status} ({trial.error})"
            self._say(f"trial {trial.number}: {what} | {exp.n_done}/{exp.max_trials} done, {self._best_text()}, "
                      f"{_counts_text(exp)}")

    def report(self) -> None:
        """A running trial reported a value: redraw (throttled) so its curve grows live."""
        if self.bar is not None:
            self._dirty = True
            self._plot()

    def poll(self) -> None:
        """Between rounds of trials: show a Stop click heard meanwhile."""
        if self.stop_button is not None:
            self.stop_button.poll()

    def _plot(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_plot < self.plot_every):
            return
        self._last_plot = now
        self._dirty = False
        try:
            from IPython.display import Image, display
        except ImportError:  # pragma: no cover
            return
        fig = self.figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=LIVE_DPI)
        image = Image(data=buf.getvalue(), format="png")  # type: ignore[no-untyped-call]  # IPython.display is unannotated
        if self._handle is None:
            self._handle = display(image, display_id=True)  # type: ignore[no-untyped-call]  # IPython.display is unannotated
        else:
            self._handle.update(image)

    def figure(self) -> Figure:
        """The live plot at a readable size, titled with the strategy, the trials done and the best score.

        :func:`nasnb.plot.plot_trials` over all ``max_trials`` trials, or with several
        objectives :func:`nasnb.plot.plot_pareto`; beside it :func:`nasnb.plot.plot_curves`
        once trials report intermediate values, with the curves of running trials dashed.
        """
        from matplotlib.figure import Figure

        from .plot import plot_curves, plot_pareto, plot_trials
        from .plot._style import MIN_FONTSIZE

        exp = self.experiment
        finished = {t.number for t in exp.history}
        running = {n: c for n, c in exp._curves.items() if n not in finished and c}
        curves = bool(running) or any(t.intermediate for t in exp.history)
        fig = Figure(figsize=(12, 4.2) if curves else (7, 4), layout="constrained")
        axes = fig.subplots(1, 2) if curves else [fig.add_subplot()]
        ax = axes[0]
        if exp.multi_objective:
            plot_pareto(exp, ax=ax)
        else:
            plot_trials(exp, ax=ax)
            ax.set_xlim(0.5, max(ax.get_xlim()[1], exp.max_trials + 0.5))  # the whole run, trials to come included
        if curves:
            plot_curves(exp, ax=axes[1])
            for i, (_, curve) in enumerate(sorted(running.items())):
                axes[1].plot([s for s, _ in curve], [v for _, v in curve], color="black", linestyle="--", linewidth=1.4,
                             label="running" if i == 0 else None)
            if running:
                axes[1].legend(loc="best", fontsize=MIN_FONTSIZE)
        stopped = " (stopped)" if exp.stopped else ""
        ax.set_title(f"{type(exp.strategy).__name__}: {exp.n_done}/{exp.max_trials} trials{stopped}, "
                     f"{self._best_text()}", fontsize=MIN_FONTSIZE + 2)
        return fig

    def close(self) -> None:
        """Final redraw / summary line."""
        exp = self.experiment
        if self.stop_button is not None:
            self.stop_button.close(stopped=exp._stop_requested)
        if self.bar is not None:
            if exp.stopped:
                self.bar.set_description(f"{type(exp.strategy).__name__} (stopped)", refresh=False)
            self.bar.set_postfix(**self._best(), **_counts(exp), refresh=False)
            self.bar.close()
            self._dirty = True
            self._plot(force=True)
        else:
            self._say(f"{'stopped' if exp.stopped else 'done'}: {exp.n_done}/{exp.max_trials} trials, "
                      f"{self._best_text()}, {_counts_text(exp)}")


def results_html(experiment: Experiment, k: int = 5) -> str:
    """A small HTML table: the ``k`` best trials (architecture, score, metrics); the Pareto front
    (up to ``2 * k`` trials) with several objectives."""
    best = experiment.pareto_front()[: 2 * k] if experiment.multi_objective else experiment.best(k)
    head = html.escape(repr(experiment))
    if not best:
        return f"<p><code>{head}</code></p>"
    keys = list(experiment.space)
    # a float result is stored as metric "score": the score column already shows it
    metrics = sorted({m for t in best for m in t.metrics
                      if not (m == "score" and all(u.metrics.get(m) == u.score for u in best))})
    if experiment.multi_objective:  # the objectives first, in their order
        metrics = [*(experiment.objectives or {}), *(m for m in metrics if m not in (experiment.objectives or {}))]
    score = [] if experiment.multi_objective else ["score"]
    cols = ["#", *score, *metrics, *keys]
    rows = []
    for t in best:
        cells = [t.number, *(_fmt(t.score) for _ in score), *(_fmt(t.metrics.get(m)) for m in metrics),
                 *(t.arch[k] for k in keys)]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
    return f"<p><code>{head}</code></p><table>{header}{''.join(rows)}</table>"
