"""ParetoView: pick an architecture on the Pareto front of a multi-objective search.

The front is listed (trial number and each objective's value) beside the Pareto plot;
picking a row rings that point on the plot and shows its architecture, with buttons to
apply it to the model, or export it as JSON. :meth:`ParetoView.fix` gives the plain
``nn.Module`` of the picked architecture.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from torch import nn
>>> import nasnb
>>> from nasnb import mutables
>>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in (1, 2, 3)], key="op"))
>>> exp = nasnb.Experiment(net, lambda m: {"acc": m[0].out_features / 4}, "grid",
...                        objectives={"acc": "max", "params": "min"}, progress=False).run()
>>> view = exp.pareto_view()
>>> view.picked.number, view.select(0).picked.metrics["acc"]  # the most accurate first
(2, 0.25)
>>> view.fix()
Sequential(
  (0): Linear(in_features=4, out_features=1, bias=True)
)
"""

from __future__ import annotations

import html
import io
import json
import os
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from .._atomic import atomic_file

if TYPE_CHECKING:
    from torch import nn

    from .._trial import Trial
    from ..experiment import Experiment

__all__ = ["ParetoView"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


class ParetoView:
    """The Pareto front of ``experiment`` as a list to pick from, its plot, and what to do with the pick.

    Parameters
    ----------
    experiment : Experiment
        A finished (or running) search with at least two ``objectives``.
    x, y : str, optional
        The objectives on the plot's axes (see :func:`nasnb.plot.plot_pareto`).

    Raises
    ------
    ValueError
        If the experiment has fewer than two objectives, or no successful trial yet.
    """

    def __init__(self, experiment: Experiment, x: str | None = None, y: str | None = None):
        objectives = experiment.objectives or {}
        if len(objectives) < 2:
            raise ValueError(f"ParetoView needs an experiment with at least two objectives, got objectives={objectives!r}")
        self.experiment, self.x, self.y = experiment, x, y
        self.front: list[Trial] = experiment.pareto_front()
        if not self.front:
            raise ValueError("ParetoView: no successful trial yet, so no Pareto front")
        labels = [(self._label(t), t.number) for t in self.front]
        self.list = W.Select(options=labels, value=self.front[0].number, rows=min(10, len(labels)),
                             description="front", layout=W.Layout(width="auto"))
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.arch = W.HTML()
        self.apply_button = W.Button(description="Apply to model", tooltip="exp.space.apply(the picked architecture)")
        self.path = W.Text(value="architecture.json", description="file")
        self.export_button = W.Button(description="Export JSON")
        self.status = W.HTML()
        self.apply_button.on_click(lambda _: self._do(self.apply))
        self.export_button.on_click(lambda _: self._do(lambda: self.export(self.path.value)))
        self.list.observe(lambda change: self._show(), names="value")
        side = W.VBox([self.list, self.arch, W.HBox([self.apply_button]), W.HBox([self.path, self.export_button]),
                       self.status])
        self.widget = W.VBox([W.HBox([self.image, side])])
        self._show()

    def __repr__(self) -> str:
        return f"ParetoView({len(self.front)} trials on the front, picked #{self.picked.number})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def _label(self, trial: Trial) -> str:
        values = ", ".join(f"{name}={_fmt(trial.metrics.get(name))}" for name in self.experiment.objectives or {})
        return f"#{trial.number}: {values}"

    @property
    def picked(self) -> Trial:
        """The trial picked in the list."""
        return next(t for t in self.front if t.number == self.list.value)

    def select(self, number: int) -> ParetoView:
        """Pick trial ``number`` (ValueError if it is not on the front); return ``self``."""
        numbers = [t.number for t in self.front]
        if number not in numbers:
            raise ValueError(f"ParetoView: trial {number!r} is not on the Pareto front; expected one of {numbers}")
        self.list.value = number
        return self

    def fix(self) -> nn.Module:
        """The picked architecture as a plain module (``space.fix``), weights shared with the model."""
        return self.experiment.space.fix(self.picked.arch)

    def apply(self) -> None:
        """Apply the picked architecture to the experiment's model."""
        self.experiment.space.apply(self.picked.arch)
        self.status.value = f"applied trial #{self.picked.number} to the model"

    def export(self, path: str | os.PathLike[str]) -> None:
        """Write the picked architecture as JSON (the format ``SearchSpace.load`` reads)."""
        with atomic_file(path) as f:
            json.dump(dict(self.picked.arch), f, indent=2)
            f.write("\n")
        self.status.value = f"wrote trial #{self.picked.number} to {html.escape(os.fspath(path))}"

    def _do(self, action: Any) -> None:
        try:
            action()
        except Exception as err:  # noqa: BLE001 - shown in the widget, the model keeps its architecture
            self.status.value = f"<span style='color:#b00020'>{html.escape(type(err).__name__)}: {html.escape(str(err))}</span>"

    def _show(self) -> None:
        from ..plot import plot_pareto

        trial = self.picked
        fig = plot_pareto(self.experiment, self.x, self.y, highlight=trial.number)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        self.image.value = buf.getvalue()
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in trial.arch.items())
        self.arch.value = f"<b>trial #{trial.number}</b><table>{rows}</table>"
        self.status.value = ""
