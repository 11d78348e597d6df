"""Live feedback while a one-shot trainer runs: a progress bar and a throttled plot.

In a Jupyter kernel: tqdm's notebook bar and a figure of the architecture weights that
is redrawn in place, only while the time spent drawing stays within ``budget`` (5%) of
the training time (the final state is always drawn). In a script: one text line per
epoch, nothing drawn. tqdm, matplotlib and IPython load only when used.
"""

from __future__ import annotations

import io
import time
from typing import Any

from .._notebook import in_notebook

__all__ = ["LiveMonitor", "Monitor", "make_monitor"]

#: Resolution of the live images (100 dpi: a 9 pt label is 12.5 px high, not 9 px at 72 dpi).
LIVE_DPI = 100


class Monitor:
    """Does nothing (``progress=False, live_plot=False``)."""

    def epoch_begin(self, epoch: int, n_batches: int | None) -> None: ...
    def step(self, stats: dict[str, float]) -> None: ...
    def record(self) -> None: ...
    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...
    def close(self) -> None: ...


class LiveMonitor(Monitor):
    """Progress bar / text log / throttled live plot of ``trainer.history``."""

    def __init__(self, trainer: Any, bar: bool, text: bool, plot: bool, budget: float = 0.05):
        self.trainer = trainer
        self.use_bar, self.text, self.plot = bar, text, plot
        self.budget = budget
        self.bar: Any = None
        self.start = time.perf_counter()
        self.draw_time = 0.0
        self.last_cost = 0.0
        self.draws = 0
        self.handle: Any = None
        self.dirty = False

    # ----------------------------------------------------------- progress
    def epoch_begin(self, epoch: int, n_batches: int | None) -> None:
        if not self.use_bar:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            t = self.trainer
            total = (t.num_epochs - epoch) * n_batches if n_batches else None
            self.bar = tqdm(total=total, desc=type(t).__name__, leave=True)
        self.bar.set_description(f"{type(self.trainer).__name__} epoch {epoch + 1}/{self.trainer.num_epochs}")

    def step(self, stats: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if "loss" in stats:
                self.bar.set_postfix(loss=f"{stats['loss']:.4f}", refresh=False)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        line = f"epoch {epoch + 1}/{self.trainer.num_epochs}: " + " ".join(f"{k}={v:.4f}" for k, v in logs.items())
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=True)
        elif self.text:
            print(line, flush=True)

    # --------------------------------------------------------------- plot
    def record(self) -> None:
        if not self.plot:
            return
        self.dirty = True
        elapsed = time.perf_counter() - self.start
        if self.draws == 0 or self.draw_time + self.last_cost <= self.budget * elapsed:
            self._draw()

    def _draw(self) -> None:
        t0 = time.perf_counter()
        from IPython.display import Image, display

        fig = self.figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=LIVE_DPI)
        image = Image(data=buf.getvalue(), format="png")  # type: ignore[no-untyped-call]  # IPython.display is unannotated
        if self.handle is None:
            self.handle = display(image, display_id=True)  # type: ignore[no-untyped-call]  # IPython.display is unannotated
        else:
            self.handle.update(image)
        self.last_cost = time.perf_counter() - t0
        self.draw_time += self.last_cost
        self.draws += 1
        self.dirty = False

    def figure(self) -> Any:
        """The live plot (a matplotlib Figure): :func:`nasnb.plot._history._live_figure` of the
        trainer's history: weights now, entropy so far, every label at least MIN_FONTSIZE; with
        the history's ``skip_share`` series (DARTS) drawn over the entropy as a dashed black line,
        the collapse indicator (above 0.5: most edges pick a parameter-free skip)."""
        from ..plot._history import _live_figure
        from ..plot._style import MIN_FONTSIZE

        history = self.trainer.history
        fig = _live_figure(history)
        share = history.scalar("skip_share")
        if share:
            ax = fig.axes[1]  # the entropy axes: steps against [0, 1]
            line, = ax.plot([e[0] for e in share], [e[2] for e in share], "k--", linewidth=2.2,
                            label=f"skip share (now {share[-1][2]:.2f})")
            ax.legend(handles=[line], loc="lower left", fontsize=MIN_FONTSIZE)  # the keys have their own legend
        return fig

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.plot and self.dirty and len(self.trainer.history):
            self._draw()


def make_monitor(trainer: Any, progress: bool | str, live_plot: bool | str) -> Monitor:
    """Pick the feedback for this run (``"auto"``: bar and plot in notebooks, text in scripts)."""
    notebook = in_notebook()
    for name, value in (("progress", progress), ("live_plot", live_plot)):
        if value not in (True, False, "auto"):
            raise ValueError(f"{name} must be True, False or 'auto', got {value!r}")
    bar = progress is True or (progress == "auto" and notebook)
    text = progress == "auto" and not notebook
    plot = (live_plot is True or live_plot == "auto") and notebook
    if not (bar or text or plot):
        return Monitor()
    return LiveMonitor(trainer, bar=bar, text=text, plot=plot)
