"""Every nasnb plot of one-shot histories and classic-search trials is readable at its default size.

On realistic data (the DARTS space's 36 keys, a ProxylessNAS-style history whose InputChoice
weights reach 1.4, an experiment of 40 trials with failures) each figure must have: no visible
text below ``MIN_FONTSIZE``, no text outside the figure, no overlapping tick labels, series
told apart by style and named in a legend, whole-number ticks inside the data on trial axes,
and colour bars / value axes whose label fits the range of the numbers.

``python tests/test_plot_readability.py OUT_DIR`` saves every figure as a PNG to look at.
"""

from __future__ import annotations

import io
import math
import random
import re
import sys
from types import SimpleNamespace

import pytest

pytest.importorskip("matplotlib")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from torch import nn  # noqa: E402

import nasnb  # noqa: E402
from nasnb import mutables, spaces, strategy  # noqa: E402
from nasnb._experiment_live import LiveProgress  # noqa: E402
from nasnb.oneshot import ArchHistory  # noqa: E402
from nasnb.oneshot._live import LiveMonitor  # noqa: E402
from nasnb.plot import (  # noqa: E402
    plot_arch_entropy,
    plot_arch_graph,
    plot_arch_heatmap,
    plot_arch_weights,
    plot_best_so_far,
    plot_curves,
    plot_importance,
    plot_parallel,
    plot_trials,
)
from nasnb.plot._history import _live_figure, _scale_data  # noqa: E402
from nasnb.plot._style import MIN_FONTSIZE  # noqa: E402

# ------------------------------------------------------------------ realistic data


def _softmax(xs: list[float]) -> list[float]:
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


_DARTS_SPACE = None


def darts_space() -> nasnb.SearchSpace:
    """The DARTS CNN space: 28 edge keys (8 ops each) and 8 node switches choosing 2 inputs."""
    global _DARTS_SPACE
    if _DARTS_SPACE is None:
        _DARTS_SPACE = nasnb.SearchSpace(spaces.DARTS.small())
    return _DARTS_SPACE


def trained_history(names, kind: str, records: int = 40, seed: int = 0, sharp: float = 3.0) -> ArchHistory:
    """A history that drifts from uniform towards one candidate per key, recorded the way the
    trainers record: softmax per LayerChoice, ``n_chosen x softmax`` per InputChoice choosing
    ``n_chosen`` inputs (DARTS, ProxylessNAS) and a sigmoid per input for ``n_chosen=None``."""
    rng = random.Random(seed)
    h = ArchHistory(names, kind=kind)
    n_chosen = {k: getattr(names[k], "n_chosen", None) for k in h.keys}
    logits = {k: [rng.gauss(0, 1) for _ in h.names[k]] for k in h.keys}
    for k in h.keys:  # every key ends with a clear winner
        best = rng.randrange(len(logits[k]))
        logits[k][best] += 1.5
    for r in range(records):
        t = sharp * r / (records - 1)
        w = {}
        for k in h.keys:
            z = [t * v for v in logits[k]]
            if h.kinds[k] == "input" and n_chosen[k] is None:
                w[k] = [1 / (1 + math.exp(-v)) for v in z]
            elif h.kinds[k] == "input" and n_chosen[k] and n_chosen[k] > 1:
                w[k] = [n_chosen[k] * p for p in _softmax(z)]
            else:
                w[k] = _softmax(z)
        h.append(w, step=25 * r, epoch=r / 8)
    return h


def darts_history(n_keys: int | None = None) -> ArchHistory:
    """DARTS softmax weights of the DARTS space's keys (all 36, or the first ``n_keys``)."""
    space = darts_space()
    keys = list(space)[:n_keys] if n_keys else list(space)
    return trained_history({k: space[k] for k in keys}, "softmax")


def proxyless_history() -> ArchHistory:
    """ProxylessNAS-style: 12 keys, 'mix' chooses 2 of 3 inputs (2 x softmax, reaching ~1.4)."""

    def layer(*names):
        return SimpleNamespace(names=list(names), kind="layer")

    names = {f"block{i}_op": layer("conv3x3", "conv5x5", "sep_conv_3x3", "skip", "zero") for i in range(6)}
    names.update({f"block{i}_act": layer("relu", "tanh", "gelu") for i in range(3)})
    names["wide"] = layer("dense", "deep")
    names["skip"] = SimpleNamespace(names=["block", "input 1"], kind="input", n_chosen=None)
    names["mix"] = SimpleNamespace(names=["input 0", "input 1", "input 2"], kind="input", n_chosen=2)
    h = trained_history(names, "gate probability", records=55, seed=3)
    mix = [r.weights["mix"] for r in h.records]
    assert max(max(w) for w in mix) > 1.3 and all(abs(sum(w) - 2) < 1e-9 for w in mix)
    return h


def small_darts_cell() -> tuple[nn.Module, torch.Tensor]:
    """Notebook 04's DARTS cell (3 nodes, 9 edges of 4 ops, InputChoices choosing 2)."""
    from collections import OrderedDict

    d = 8

    def ops():
        return OrderedDict(relu=nn.Sequential(nn.Linear(d, d), nn.ReLU()),
                           tanh=nn.Sequential(nn.Linear(d, d), nn.Tanh()),
                           sep_conv_3x3=nn.Linear(d, d), skip=nn.Identity())

    class Cell(mutables.MutableScope):
        def __init__(self, name, nodes=3):
            super().__init__(name)
            self.edges = nn.ModuleList()
            self.nodes = nn.ModuleList()
            for i in range(nodes):
                keys = [f"{name}.n{i}.e{j}" for j in range(2 + i)]
                self.edges.append(nn.ModuleList(mutables.LayerChoice(ops(), key=k) for k in keys))
                self.nodes.append(mutables.InputChoice(choose_from=keys, n_chosen=2, key=f"{name}.n{i}"))

        def forward(self, s0, s1):
            states = [s0, s1]
            for edges, node in zip(self.edges, self.nodes):
                states.append(node([edge(s) for edge, s in zip(edges, states)]))
            return torch.cat(states[2:], dim=1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Linear(16, d), nn.ReLU())
            self.cell = Cell("cell")
            self.head = nn.Linear(3 * d, 10)

        def forward(self, x):
            s = self.stem(x)
            return self.head(self.cell(s, s))

    return Net(), torch.zeros(1, 16)


def experiment(n_trials: int = 40, seed: int = 0, fail: bool = True, run: bool = True) -> nasnb.Experiment:
    """A random search of ``n_trials`` over 64 architectures; a few combinations fail."""
    acts = [nn.Identity, nn.ReLU, nn.Tanh, nn.Sigmoid]
    net = nn.Sequential(*(mutables.LayerChoice([a() for a in acts], key=k) for k in ("a", "b", "c")))

    def evaluate(m):
        kinds = [acts.index(type(layer)) for layer in m]
        if fail and kinds[0] == 3 and kinds[1] >= 2:
            raise RuntimeError("diverged")
        return 0.5 + 0.1 * kinds[0] + 0.05 * kinds[1] - 0.02 * kinds[2]

    exp = nasnb.Experiment(net, evaluate, strategy.Random(seed=seed), max_trials=n_trials, progress=False)
    return exp.run() if run else exp


def darts_experiment(n_trials: int = 40) -> nasnb.Experiment:
    """A random search of the DARTS space (36 keys) whose score depends on a few keys."""

    def evaluate(arch):
        return 0.8 + 0.05 * (arch["normal_n2_p0"] == "sep_conv_3x3") + 0.01 * (len(str(arch["reduce_n3_p1"])) % 3)

    evaluate.takes_arch = True
    return _cached("darts_experiment", lambda: nasnb.Experiment(darts_space(), evaluate, strategy.Random(seed=0),
                                                                max_trials=n_trials, progress=False).run())


def curves_experiment(n_trials: int = 40) -> nasnb.Experiment:
    """A random search whose trials report 20 epochs of a saturating curve; the median pruner stops the weak ones."""
    acts = [nn.Identity, nn.ReLU, nn.Tanh, nn.Sigmoid]
    net = nn.Sequential(*(mutables.LayerChoice([a() for a in acts], key=k) for k in ("a", "b", "c")))

    def evaluate(m, trial):
        kinds = [acts.index(type(layer)) for layer in m]
        top = 0.5 + 0.1 * kinds[0] + 0.05 * kinds[1] - 0.02 * kinds[2]
        for epoch in range(20):
            trial.report(top * (1 - math.exp(-(epoch + 1) / 4)))
            if trial.should_prune():
                raise nasnb.TrialPruned()
        return top

    return nasnb.Experiment(net, evaluate, strategy.Random(seed=0), max_trials=n_trials, pruner="median",
                            progress=False).run()


def _live_trainer_figure(history: ArchHistory):
    monitor = LiveMonitor(SimpleNamespace(history=history, num_epochs=1), bar=False, text=False, plot=True)
    return monitor.figure()


def _live_experiment_figure(exp):
    return LiveProgress(exp, notebook=False).figure()


_CACHE: dict = {}


def _cached(name, make):
    if name not in _CACHE:
        _CACHE[name] = make()
    return _CACHE[name]


def _runs() -> dict:
    return _cached("runs", lambda: {name: [experiment(40, seed=10 * i + s, fail=False) for s in range(2)]
                                    for i, name in enumerate(["random", "evolution", "tpe", "policy gradient"])})


def _graph():
    def make():
        from nasnb.graph import build_graph

        net, x = small_darts_cell()
        space = nasnb.SearchSpace(net)
        return build_graph(net, x), trained_history({k: space[k] for k in space}, "softmax")

    return _cached("graph", make)


#: name -> (make the figure, what to check). "trials:n": the x axis counts trials 1..n;
#: "steps": whole-number step ticks; "colorbar": a colour bar over the history's weights.
FIGURES = {
    "heatmap_darts_all": (lambda: plot_arch_heatmap(darts_history()), {"steps", "colorbar"}),
    "heatmap_proxyless_all": (lambda: plot_arch_heatmap(proxyless_history()), {"steps", "colorbar"}),
    "heatmap_proxyless_mix": (lambda: plot_arch_heatmap(proxyless_history(), "mix"), {"steps", "colorbar"}),
    "heatmap_darts_one": (lambda: plot_arch_heatmap(darts_history(), "normal_n3_p1"), {"steps", "colorbar"}),
    "weights_darts": (lambda: plot_arch_weights(darts_history()), {"values"}),
    "weights_proxyless": (lambda: plot_arch_weights(proxyless_history()), {"values"}),
    "entropy_darts30": (lambda: plot_arch_entropy(darts_history(30)), {"steps", "series"}),
    "entropy_darts36": (lambda: plot_arch_entropy(darts_history()), {"steps", "series"}),
    "entropy_proxyless": (lambda: plot_arch_entropy(proxyless_history()), {"steps", "series"}),
    "graph_darts_cell": (lambda: plot_arch_graph(*_graph()), set()),
    "live_oneshot_darts": (lambda: _live_trainer_figure(darts_history()), {"steps", "series", "values"}),
    "live_oneshot_proxyless": (lambda: _live_trainer_figure(proxyless_history()), {"steps", "series", "values"}),
    "live_oneshot_small": (lambda: _live_trainer_figure(trained_history(
        {"op": ["conv", "pool", "skip"], "act": ["relu", "tanh"]}, "softmax", records=3)), {"steps", "series"}),
    "trials_40": (lambda: plot_trials(experiment(40)), {"trials:40"}),
    "trials_3": (lambda: plot_trials(experiment(3, fail=False)), {"trials:3"}),
    "best_so_far": (lambda: plot_best_so_far(_runs(), reference=0.85), {"trials:40", "series"}),
    "best_so_far_12": (lambda: plot_best_so_far({f"run {i}": experiment(40, seed=i, fail=False) for i in range(12)}),
                       {"trials:40", "series"}),
    "live_experiment_40": (lambda: _live_experiment_figure(experiment(40)), {"trials:40"}),
    "live_experiment_start": (lambda: _live_experiment_figure(experiment(40, run=False)), {"trials:40"}),
    "curves_40": (lambda: plot_curves(curves_experiment(40)), {"steps", "series"}),
    "importance_40": (lambda: plot_importance(experiment(40)), {"values"}),
    "importance_darts": (lambda: plot_importance(darts_experiment()), {"values"}),
    "parallel_40": (lambda: plot_parallel(experiment(40)), set()),
    "parallel_darts": (lambda: plot_parallel(darts_experiment()), set()),
}


def build_all() -> dict:
    return {name: make() for name, (make, _) in FIGURES.items()}


# ------------------------------------------------------------------ checks


def _renderer(fig):
    """Draw ``fig`` as savefig does (Agg, its own dpi) and return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
        fig.canvas.draw()
    return fig.canvas.get_renderer()


def _hidden_tick_labels(fig) -> set[int]:
    """Labels of ticks outside their axis' view: matplotlib keeps them but never draws them."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return hidden


def _texts(fig) -> list[Text]:
    """Every text a reader sees: visible, not empty, of a visible axes, of a tick in view."""
    _renderer(fig)
    hidden = _hidden_tick_labels(fig)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden
            and (t.axes is None or t.axes.get_visible())]


def _check_fonts(fig) -> None:
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < MIN_FONTSIZE]
    assert not small, f"text below {MIN_FONTSIZE} pt: {small[:5]}"


def _check_inside(fig) -> None:
    renderer = _renderer(fig)
    w, h = fig.bbox.width, fig.bbox.height
    out = []
    for t in _texts(fig):
        b = t.get_window_extent(renderer)
        if b.x0 < -1 or b.y0 < -1 or b.x1 > w + 1 or b.y1 > h + 1:
            out.append(t.get_text())
    assert not out, f"text cut off at the figure's edge: {out[:5]}"


def _visible_ticks(axis) -> list:
    lo, hi = sorted(axis.get_view_interval())
    return [t for t in axis.get_major_ticks() if t.label1.get_visible() and t.label1.get_text()
            and lo - 1e-9 <= t.get_loc() <= hi + 1e-9]


def _check_no_overlap(fig) -> None:
    renderer = _renderer(fig)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = sorted((t.label1.get_window_extent(renderer) for t in _visible_ticks(axis)),
                           key=lambda b: (b.x0, b.y0))
            for a, b in zip(boxes, boxes[1:]):
                assert not a.overlaps(b), f"overlapping tick labels on {ax.get_title(loc='left') or ax}: {a} {b}"


def _check_labels_apart(fig) -> None:
    """Free-standing texts (graph nodes, annotations) do not overlap one another."""
    renderer = _renderer(fig)
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts
             if t.get_visible() and t.get_text().strip()]
    clashes = [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]
    assert not clashes, f"overlapping labels: {clashes[:3]}"


def _series_lines(ax) -> list:
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_") and len(ln.get_xdata()) > 1]


def _legend_texts(fig) -> set[str]:
    legends = [lg for ax in fig.axes for lg in [ax.get_legend()] if lg is not None] + list(fig.legends)
    return {t.get_text() for lg in legends for t in lg.get_texts()}


def _check_series(fig) -> None:
    legend = _legend_texts(fig)
    for ax in fig.axes:
        lines = _series_lines(ax)
        if len(lines) < 2:
            continue
        styles = [(matplotlib.colors.to_hex(ln.get_color()), str(ln.get_linestyle()), ln.get_marker(),
                   ln.get_linewidth()) for ln in lines]
        assert len(set(styles)) == len(styles), "two series share colour, line style, marker and width"
        missing = [ln.get_label() for ln in lines if ln.get_label() not in legend]
        assert not missing, f"series missing from the legend: {missing[:5]}"


def _check_integer_ticks(ax, lo_data: float, hi_data: float) -> None:
    ticks = [t.get_loc() for t in _visible_ticks(ax.xaxis)]
    assert ticks, "no tick on the x axis"
    assert all(float(t).is_integer() for t in ticks), f"fractional ticks {ticks}"
    assert all(lo_data <= t <= hi_data for t in ticks), f"ticks {ticks} outside the data {lo_data}..{hi_data}"
    assert all("." not in t.label1.get_text() for t in _visible_ticks(ax.xaxis))


def _check_trial_axis(fig, last: int) -> None:
    """Whole-number ticks, none before trial 1 or after trial ``last``."""
    ax = fig.axes[0]
    xs = [x for ln in ax.get_lines() if len(ln.get_xdata()) > 2 for x in ln.get_xdata()]
    xs += [p[0] for c in ax.collections for p in c.get_offsets()]
    assert max(xs, default=1) <= last
    _check_integer_ticks(ax, 1, last)
    assert ax.get_xlabel() == "trial"


def _check_step_axes(fig) -> None:
    """Training steps are whole numbers: no fractional tick (the range may extend past the data)."""
    checked = 0
    for ax in fig.axes:
        if ax.get_xlabel() == "step":
            _check_integer_ticks(ax, *sorted(ax.get_xlim()))
            checked += 1
    assert checked, "no step axis"


def _colorbars(fig) -> list:
    return [im.colorbar for ax in fig.axes for im in ax.images if im.colorbar is not None]


def _check_colorbar(fig) -> None:
    bars = _colorbars(fig)
    assert bars, "no colour bar"
    for cb in bars:
        data = [v for im in cb.mappable.axes.figure.findobj(matplotlib.image.AxesImage) for row in im.get_array()
                for v in row]
        label = cb.ax.get_ylabel() or cb.ax.get_xlabel()
        assert label, "colour bar without a label"
        assert cb.norm.vmin <= min(data) and max(data) <= cb.norm.vmax, "colours clipped: the range misses data"
        _check_value_label(label, cb.norm.vmax)


def _check_value_label(label: str, top: float) -> None:
    if top > 1 + 1e-9:  # not a probability (nor a softmax, nor a frequency) any more
        assert re.search(r"(n_chosen|\d+) ×|not normalised", label), f"label {label!r} for values up to {top}"


def _check_value_axes(fig) -> None:
    for ax in fig.axes:
        if ax.patches and ax.get_xlabel():
            top = max(p.get_width() for p in ax.patches)
            assert ax.get_xlim()[1] >= top
            _check_value_label(ax.get_xlabel(), top)


@pytest.mark.parametrize("name", list(FIGURES))
def test_readable(name):
    make, checks = FIGURES[name]
    fig = make()
    _check_fonts(fig)
    _check_inside(fig)
    _check_no_overlap(fig)
    if "series" in checks:
        _check_series(fig)
    for check in checks:
        if check.startswith("trials"):
            _check_trial_axis(fig, int(check.split(":")[1]))
    if "steps" in checks:
        _check_step_axes(fig)
    if "colorbar" in checks:
        _check_colorbar(fig)
    if "values" in checks:
        _check_value_axes(fig)


# -------------------------------------------------------- the checks can fail


def _bad_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.add_subplot()
    for i in range(12):
        ax.plot([0, 1], [i, i + 1], label=f"k{i}")  # the default cycle: 10 colours, 12 lines
    ax.set_xlim(0, 1)
    ax.set_xlabel("trial")
    ax.legend(fontsize=7)
    return fig, ax


def test_the_checks_catch_what_the_users_reported():
    fig, ax = _bad_figure()
    with pytest.raises(AssertionError, match="text below 9.0 pt"):
        _check_fonts(fig)
    with pytest.raises(AssertionError, match="share colour"):
        _check_series(fig)
    with pytest.raises(AssertionError, match="fractional ticks"):
        _check_integer_ticks(ax, 0, 1)
    with pytest.raises(AssertionError, match="for values up to 1.4"):
        _check_value_label("gate probability", 1.4)
    ax.set_xlim(-3, 40)
    ax.xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(10))
    fig.canvas.draw()
    with pytest.raises(AssertionError, match="outside the data"):
        _check_integer_ticks(ax, 1, 40)
    ax.set_xlabel("a label far too long to fit into the width of this small figure at all, at any size")
    fig.canvas.draw()
    with pytest.raises(AssertionError, match="cut off"):
        _check_inside(fig)


def test_scale_data_says_what_the_numbers_are():
    s = _scale_data(proxyless_history())
    assert s["multiples"] == {"mix": 2} and s["chosen"] == {"mix": 2}
    assert s["vmin"] == 0.0 and s["vmax"] == pytest.approx(s["max"]) and 1.3 < s["max"] <= 2.0
    assert s["label"] == "gate probability; n_chosen × gate probability for InputChoice keys"
    h = proxyless_history()
    assert _scale_data(h, ["block0_op", "skip"]) == {"vmin": 0.0, "vmax": 1.0, "max": pytest.approx(
        max(max(r.weights[k]) for r in h.records for k in ("block0_op", "skip"))), "label": "gate probability",
        "chosen": {}, "multiples": {}}
    # ENAS / SPOS: inclusion probabilities of 2 chosen inputs sum to 2 but stay <= 1
    enas = ArchHistory({"node": SimpleNamespace(names=["a", "b", "c"], kind="input")}, kind="probability")
    enas.append({"node": [0.9, 0.8, 0.3]}, step=0, epoch=0)
    assert _scale_data(enas) == {"vmin": 0.0, "vmax": 1.0, "max": 0.9, "label": "probability",
                                 "chosen": {"node": 2}, "multiples": {}}
    odd = ArchHistory({"op": ["a", "b"]}, kind="weights")
    odd.append({"op": [3.0, 0.5]}, step=0, epoch=0)
    assert _scale_data(odd)["label"] == "weights (not normalised: up to 3)" and _scale_data(odd)["vmax"] == 3.0


def test_heatmap_labels_the_multiples():
    fig = plot_arch_heatmap(proxyless_history())
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.images]
    assert "mix  (InputChoice, 2 chosen: 2 × gate probability)" in titles and "block0_op" in titles
    (cb,) = _colorbars(fig)
    assert cb.norm.vmax > 1.3
    assert cb.ax.get_xlabel() == "gate probability; n_chosen × gate probability for InputChoice keys"
    (cb,) = _colorbars(plot_arch_heatmap(proxyless_history(), "mix"))
    assert cb.norm.vmax > 1.3 and cb.ax.get_xlabel() == "2 × gate probability"
    (cb,) = _colorbars(plot_arch_heatmap(proxyless_history(), "wide"))
    assert cb.norm.vmax == 1.0 and cb.ax.get_xlabel() == "gate probability"


def test_figures_grow_with_the_keys():
    small = trained_history({"op": ["conv", "pool", "skip"], "act": ["relu", "tanh"]}, "softmax", records=3)
    big = darts_history()
    for plot in (plot_arch_heatmap, plot_arch_weights, _live_figure):
        w0, h0 = plot(small).get_size_inches()
        w1, h1 = plot(big).get_size_inches()
        rows = sum(len(v) for v in big.names.values())
        assert h1 > h0 and h1 / rows >= 0.2 - 1e-9  # >= 0.2 in per candidate row
    w, h = plot_trials(experiment(3)).get_size_inches()
    assert (w, h) == (7, 4)


def _capture_display(monkeypatch) -> list:
    shown = []
    handle = SimpleNamespace(update=shown.append)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda image, display_id=None: shown.append(image) or handle)
    return shown


def _png_size(image) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(image.data)).size


def test_live_images_are_drawn_at_100_dpi(monkeypatch):
    pytest.importorskip("IPython")
    shown = _capture_display(monkeypatch)
    exp = experiment(40)
    live = LiveProgress(exp, notebook=False)
    live._plot(force=True)
    assert _png_size(shown[-1]) == (700, 400)  # was 440 x 195
    monitor = LiveMonitor(SimpleNamespace(history=darts_history(12), num_epochs=1), bar=False, text=False, plot=True)
    monitor._draw()
    w, h = _png_size(shown[-1])
    assert w == 1050 and h >= 100 * (0.2 * sum(len(v) for v in darts_history(12).names.values()))


if __name__ == "__main__":  # save every figure, to look at
    import os

    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/plots"
    os.makedirs(out, exist_ok=True)
    for name, fig in build_all().items():
        fig.savefig(os.path.join(out, f"{name}.png"))
        print(name, tuple(fig.get_size_inches()))
