"""Live progress of an Experiment: a tqdm bar and a throttled score plot in notebooks,
plain text lines in scripts, and the HTML results table.

Nothing here is imported by ``import nasnb``; tqdm, IPython and matplotlib load when a
run with progress starts.
"""

from __future__ import annotations

import html
import io
import sys
import time
from typing import TYPE_CHECKING, Any

from ._notebook import in_notebook

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._trial import Trial
    from .experiment import Experiment

__all__ = ["LiveProgress", "make_progress", "results_html"]

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
    """``failed`` always, ``rejected`` (by the constraint) once there are some."""
    counts = {"failed": experiment.n_failed}
    if experiment.n_rejected:
        counts["rejected"] = experiment.n_rejected
    return counts


def _counts_text(experiment: Experiment) -> str:
    """``2 failed`` or ``2 failed, 5 rejected``."""
    return ", ".join(f"{n} {what}" for what, n in _counts(experiment).items())


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


class LiveProgress:
    """Shows an experiment's trials as they finish.

    In a notebook: a ``tqdm.auto`` bar (postfix: last and best score) and a score plot
    (score per trial, best-so-far line) redrawn at most every ``plot_every`` seconds and
    once at the end. In a script: one text line per trial, at most every ``print_every``
    seconds, plus a final line.
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
        done = experiment.n_done
        if notebook:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=experiment.max_trials, initial=done, desc=type(experiment.strategy).__name__,
                            unit="trial")
            self._plot(force=True)
        else:
            self.bar = None
            self._say(f"{type(experiment.strategy).__name__}: {done}/{experiment.max_trials} trials done")

    def _say(self, text: str) -> None:
        print(text, flush=True)

    def _best(self) -> float | None:
        best = self.experiment.best(1)
        return best[0].score if best else None

    def update(self, trial: Trial) -> None:
        """Report one finished (or rejected) trial."""
        exp = self.experiment
        best = self._best()
        now = time.monotonic()
        if self.bar is not None:
            if trial.status != "rejected":
                self.bar.update(1)
            self.bar.set_postfix(score=_fmt(trial.score), best=_fmt(best), **_counts(exp), refresh=False)
            self._dirty = True
            self._plot()
        elif now - self._last_print >= self.print_every:
            self._last_print = now
            what = _fmt(trial.score) if trial.ok else f"{trial.status} ({trial.error})"
            self._say(f"trial {trial.number}: {what} | {exp.n_done}/{exp.max_trials} done, best {_fmt(best)}, "
                      f"{_counts_text(exp)}")

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
        """The live plot: :func:`nasnb.plot.plot_trials` at its default (readable) size, over
        all ``max_trials`` trials, titled with the strategy, the trials done and the best score."""
        from .plot._style import MIN_FONTSIZE
        from .plot._trials import plot_trials

        exp = self.experiment
        fig = plot_trials(exp)
        ax = fig.axes[0]
        ax.set_xlim(0.5, max(ax.get_xlim()[1], exp.max_trials + 0.5))  # the whole run, trials to come included
        ax.set_title(f"{type(exp.strategy).__name__}: {exp.n_done}/{exp.max_trials} trials, "
                              f"best {_fmt(self._best())}", fontsize=MIN_FONTSIZE + 2)
        return fig

    def close(self) -> None:
        """Final redraw / summary line."""
        exp = self.experiment
        if self.bar is not None:
            self.bar.set_postfix(best=_fmt(self._best()), **_counts(exp), refresh=False)
            self.bar.close()
            self._dirty = True
            self._plot(force=True)
        else:
            self._say(f"done: {exp.n_done}/{exp.max_trials} trials, best {_fmt(self._best())}, "
                      f"{_counts_text(exp)}")


def results_html(experiment: Experiment, k: int = 5) -> str:
    """A small HTML table: the ``k`` best trials (architecture, score, metrics)."""
    best = experiment.best(k)
    head = html.escape(repr(experiment))
    if not best:
        return f"<p><code>{head}</code></p>"
    keys = list(experiment.space)
    # a float result is stored as metric "score": the score column already shows it
    metrics = sorted({m for t in best for m in t.metrics
                      if not (m == "score" and all(u.metrics.get(m) == u.score for u in best))})
    cols = ["#", "score", *metrics, *keys]
    rows = []
    for t in best:
        cells = [t.number, _fmt(t.score), *(_fmt(t.metrics.get(m)) for m in metrics), *(t.arch[k] for k in keys)]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
    return f"<p><code>{head}</code></p><table>{header}{''.join(rows)}</table>"
