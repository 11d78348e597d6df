"""Explorer: one notebook panel to click through a search space and see what changes.

One control per key (grouped by MutableScope / module path), a summary of the active
architecture (output shapes, parameters, FLOPs, latency, GPU memory), a device
selector, the graph with its active path, and buttons to draw a random architecture,
reset, export and load, and a per-candidate cost chart. Every change goes through
``space.apply``; the explorer hears it as an observer, so changes made elsewhere update
the panel too. A change from the panel that fails in forward is shown with its error and
the keys changed last, and the model goes back to the last architecture that worked.

The panel paces itself (:mod:`nasnb.widgets._pacing`): clicks are debounced (a burst
of clicks computes the last state once) and marked busy at once; the graph's structure
is recorded once and each change only re-marks its active path, drawn on a worker
thread; changes made elsewhere (a training loop) refresh the panel only as often as
keeps its cost under ``budget`` of the time. Reading ``profile``, ``graph``, ``error``,
``controls`` or ``summary_text`` first brings the panel up to date, so code always sees
the last state.
"""

from __future__ import annotations

import base64
import html
import json
import os
import random
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import torch
from torch import nn

from ..architecture import Choice, load_arch
from ..exceptions import ForwardError, NasnbError
from ..mutables import LayerChoice
from ..profile import Profile, format_count, model_device, profile
from ..space import SearchSpace
from ._choice import ChoiceControl, SharedLook
from ._pacing import Debouncer, Painter, Throttle, running_loop

__all__ = ["Explorer"]

#: Spaces with more keys than this don't draw their graph unless ``graph=True``.
AUTO_GRAPH_MAX_KEYS = 100
#: How many draws ``random`` tries before giving up on finding an architecture that runs.
RANDOM_TRIES = 20


def _group_of(spec: Choice) -> str:
    if spec.scope is not None:
        return spec.scope
    path = spec.paths[0] if spec.paths else spec.key
    return path.rsplit(".", 1)[0] if "." in path else ""


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join(str(i) for i in shape) + ")"


class Explorer:
    """Explore a search space live: click a candidate, see the network and its costs change.

    Parameters
    ----------
    model : nn.Module or SearchSpace
        The model with mutables (bound to a SearchSpace unless one is given).
    example_input : Tensor or tuple
        Positional argument(s) of ``forward``, used for every summary and the graph.
    device : str or torch.device, optional
        Move the model there first (default: stay where its parameters are). The device
        selector moves the model too.
    graph : bool or "auto"
        Draw the graph ("auto": only for spaces of at most 100 keys).
    view : {"auto", "cell", "graph"}
        What the drawing shows: the cells as NAS papers draw them
        (:func:`nasnb.plot.draw_cell`, one per cell type, chosen ops on the kept edges) or
        the whole recorded graph (:func:`nasnb.plot.draw_space`). "auto": the cell view
        when the space has cells with at least two intermediate nodes.
    depth : int, optional
        Fold submodules deeper than this in the graph (see :func:`nasnb.graph.build_graph`).
    repeats : int
        Timed forward runs per change (the latency is their median).
    seed : int, optional
        Seed of the "random" button's generator.
    delay : float
        Debounce of clicks in a notebook: the panel computes once, ``delay`` seconds after
        the last of a burst of clicks.
    budget : float
        Largest share of the time spent following changes made elsewhere (e.g. a training
        loop changing decisions): after a refresh that took ``t`` seconds, the next one
        waits ``t / budget``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> import nasnb
    >>> from nasnb import mutables
    >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Linear(4, 2)], key="fc"))
    >>> ex = nasnb.Explorer(net, torch.zeros(1, 4), graph=False, repeats=1)
    >>> ex
    Explorer(Sequential: 1 key, size=2)
    >>> ex.controls["fc"].control.value = 1   # what a click on the second candidate does
    >>> ex.space.current(), ex.profile.output_shape
    ({'fc': 1}, (1, 2))
    """

    def __init__(
        self,
        model: nn.Module | SearchSpace,
        example_input: Any,
        device: str | torch.device | None = None,
        *,
        graph: bool | str = "auto",
        view: str = "auto",
        depth: int | None = None,
        repeats: int = 5,
        seed: int | None = None,
        delay: float = 0.05,
        budget: float = 0.05,
    ):
        self.space = model if isinstance(model, SearchSpace) else SearchSpace(model)
        self.model = self.space.model
        self.example_input = example_input
        if device is not None:
            self.model.to(device)
        if graph not in (True, False, "auto"):
            raise ValueError(f"Explorer: graph={graph!r} is not one of True, False, 'auto'")
        self.show_graph = graph is True or (graph == "auto" and len(self.space) <= AUTO_GRAPH_MAX_KEYS)
        if view not in ("auto", "cell", "graph"):
            raise ValueError(f"Explorer: view={view!r} is not one of 'auto', 'cell', 'graph'")
        self.view = view
        self.depth = depth
        self.repeats = repeats
        self._rng = random.Random(seed)
        self._profile: Profile | None = None
        self._graph_state: Any = None  # the recorded graph; each change only re-marks its active path
        self._graph_device: Any = None
        self._error: BaseException | None = None
        self._last_good: dict[str, Any] | None = None
        self._own = False  # a change started by this panel is being applied
        self._ui = False  # ... and it comes from a click (debounced)
        self._restoring = False
        self._pending_keys: list[str] = []
        self._pending_own = False
        self.failing: list[dict[str, Any]] = []  # architectures seen failing in forward (random avoids them)
        self._settler = Debouncer(self._settle, delay)
        self._throttle = Throttle(budget)
        self._painter = Painter(self._on_png, self._on_draw_error)
        self._cost_painter = Painter(self._on_cost_png, self._on_draw_error)
        self._build()
        self._unsubscribe = self.space.observe(self._on_space_change)
        start = time.monotonic()
        self.refresh()
        self._throttle.ran(time.monotonic() - start)

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        W = widgets
        space = self.space
        n = len(space)
        self.header = W.HTML(
            f"<b>{html.escape(type(self.model).__name__)}</b>: {n} key{'s' if n != 1 else ''}, "
            f"search space size <b>{space.size:,}</b>")
        self.header.add_class("nasnb-header")
        self.error_box = W.HTML("")
        self.error_box.add_class("nasnb-error")
        self.controls_box = self._build_controls()

        self.summary = W.HTML("")
        self.summary.add_class("nasnb-summary")
        self.status = W.HTML("")
        self.status.add_class("nasnb-status")
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        self.device = W.Dropdown(options=devices, value=model_device(self.model).type, description="device",
                                 layout=W.Layout(width="180px"))
        self.device.add_class("nasnb-device")
        self._device_silent = False
        self.device.observe(self._on_device, names="value")

        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.image.add_class("nasnb-graph")
        if not self.show_graph:
            self.image.layout.display = "none"

        self.busy = W.HTML("")
        self.busy.add_class("nasnb-busy")
        costs = self._build_actions()
        right = W.VBox([W.HBox([self.device, self.busy]), self.summary, self.error_box],
                       layout=W.Layout(width="45%"))
        left = W.VBox([self.controls_box], layout=W.Layout(width="55%"))
        self.widget = W.VBox([self.header, W.HBox([left, right]), self.buttons, self.json, self.status, self.image,
                              costs, self.cost_image])
        self.widget.add_class("nasnb-explorer")

    def _build_controls(self) -> widgets.VBox:
        """One control per key, grouped by MutableScope / module path."""
        W = widgets
        space = self.space
        self._controls: dict[str, ChoiceControl] = {}
        groups: dict[str, list[widgets.Widget]] = {}
        current = space.current()
        look = SharedLook()
        for key, spec in space.items():
            tips = None
            if spec.kind == "layer":
                from ..graph import describe

                mod = space.mutables(key)[0]
                assert isinstance(mod, LayerChoice)  # the mutables of a "layer" key
                tips = [f"{describe(c)}, {sum(p.numel() for p in c.parameters()):,} parameters" for c in mod]

            def on_change(v: Any, k: str = key) -> None:
                self.error_box.value = ""  # a new change from the panel replaces the last message
                self._click(self.select, k, v)

            ctl = ChoiceControl(spec, current[key], on_change, tooltips=tips, message=self.error_box, shared=look)
            self._controls[key] = ctl
            groups.setdefault(_group_of(spec), []).append(ctl.widget)
        boxes = []
        for name, children in groups.items():
            title = W.HTML(f"<span style='color:#555'>{html.escape(name) if name else '(model)'}</span>")
            box = W.VBox([title, *children], layout=W.Layout(margin="0 0 6px 0", flex="0 0 auto"))
            box.add_class("nasnb-group")
            boxes.append(box)
        box = W.VBox(boxes, layout=W.Layout(max_height="420px", overflow="auto"))
        box.add_class("nasnb-controls")
        return box

    def _build_actions(self) -> widgets.HBox:
        """The buttons (random, reset, export, load), the file and JSON fields, and the cost chart's row."""
        W = widgets
        space = self.space

        def button(label: str, css: str, fn: Any, tip: str) -> widgets.Button:
            b = W.Button(description=label, tooltip=tip, layout=W.Layout(width="auto"))
            b.add_class(css)
            b.on_click(lambda _b: self._guard(label, fn))
            return b

        self.path = W.Text(value="architecture.json", description="file", layout=W.Layout(width="300px"))
        self.path.add_class("nasnb-path")
        self.json = W.Textarea(value="", placeholder="architecture JSON", layout=W.Layout(width="100%", height="90px"))
        self.json.add_class("nasnb-json")
        self.buttons = W.HBox([
            button("random", "nasnb-random", self.random, "apply a random architecture"),
            button("reset", "nasnb-reset", self.reset, "apply the defaults (first candidates)"),
            button("export", "nasnb-export", lambda: self.export(self.path.value.strip() or None),
                   "show the JSON and save it to the file"),
            button("load JSON", "nasnb-load-text", lambda: self.load(self.json.value),
                   "apply the architecture in the text box"),
            button("load file", "nasnb-load-file", lambda: self.load(self.path.value.strip()),
                   "apply the architecture in the file"),
            self.path,
        ])
        layer_keys = [k for k, spec in space.items() if spec.kind == "layer"]
        self.cost_key = W.Dropdown(options=layer_keys, value=layer_keys[0] if layer_keys else None,
                                   description="candidates of", layout=W.Layout(width="auto"),
                                   style={"description_width": "initial"})
        self.cost_key.add_class("nasnb-cost-key")
        self.cost_image = W.Image(format="png", layout=W.Layout(max_width="100%", display="none"))
        self.cost_image.add_class("nasnb-cost-chart")
        costs = W.HBox([self.cost_key, button("measure", "nasnb-measure", lambda: self.candidate_costs(),
                                              "parameters, FLOPs and latency of every candidate of this key")])
        if not layer_keys:
            costs.layout.display = "none"
        return costs

    # ------------------------------------------------------------ user verbs
    def select(self, key: str, value: Any) -> None:
        """Set one key from the panel (what clicking a control does)."""
        self._apply({key: value})

    def random(self) -> dict[str, Any]:
        """Apply a random architecture that runs (from the explorer's seeded generator); return it.

        Draws that are known to fail in forward are skipped, and a draw that fails is
        rolled back and remembered; after :data:`RANDOM_TRIES` draws it gives up with an
        error. The status line says how many were skipped.
        """
        skipped = 0
        ui, self._ui = self._ui, False  # each try is checked at once, even from a click
        try:
            for _ in range(RANDOM_TRIES):
                arch = self.space.sample(seed=self._rng)
                if arch in self.failing:
                    skipped += 1
                    continue
                changed = self._apply(arch)
                self._flush()
                if self.space.current() == arch == self._last_good:  # it ran (a failure rolls back)
                    self._error = None
                    self.error_box.value = ""
                    note = f"; skipped {skipped} that fail in forward" if skipped else ""
                    what = f"{changed} key(s) changed" if changed else "drew the current architecture again"
                    self.status.value = f"random: {what}{note}"
                    return arch
                skipped += 1
        finally:
            self._ui = ui
        raise NasnbError(f"random: {RANDOM_TRIES} random architectures all fail in forward; "
                         f"the model keeps {self.space.current()}")

    def reset(self) -> dict[str, Any]:
        """Apply the default architecture (first candidate / first inputs); return it."""
        arch = {k: spec.encode(spec.default) for k, spec in self.space.items()}
        changed = self._apply(arch)
        self.status.value = f"reset: {changed} key(s) changed" if changed else "reset: already the defaults"
        return arch

    def export(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Show the current architecture as JSON in the panel and save it to ``path`` if given."""
        arch = self.space.current()
        self.json.value = json.dumps(arch, indent=2)
        if path:
            self.space.save(path, arch)
            self.status.value = f"saved to <code>{html.escape(os.fspath(path))}</code>"
        else:
            self.status.value = "exported (no file name given, not saved)"
        return arch

    def load(self, source: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
        """Apply an architecture: a mapping, JSON text, or the path of a JSON file; return the current one.

        What the "load JSON" and "load file" buttons do (see :func:`~nasnb.architecture.load_arch`).

        >>> import torch
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Linear(4, 2)], key="fc"))
        >>> ex = Explorer(net, torch.zeros(1, 4), graph=False, repeats=1)
        >>> ex.load('{"fc": 1}'), ex.status.value, ex.profile.output_shape
        ({'fc': 1}, 'loaded: 1 key(s) changed', (1, 2))
        >>> ex.export()  # shown in the panel's text box; saved when given a path
        {'fc': 1}
        """
        arch = load_arch(source)
        changed = self._apply(arch)
        self.status.value = f"loaded: {changed} key(s) changed" if changed else "loaded: nothing to change"
        return self.space.current()

    def set_device(self, device: str | torch.device) -> None:
        """Move the model to ``device`` and measure there (goes back if that fails)."""
        before = model_device(self.model)
        if self.device.value != torch.device(device).type:
            self._set_device_control(torch.device(device).type)
        try:
            self.model.to(device)
            ok = self.refresh()
        except Exception as err:  # noqa: BLE001 - e.g. CUDA out of memory: shown, then undone
            ok = False
            self._show_error(err, [])
        if not ok:
            self.model.to(before)
            self._set_device_control(model_device(self.model).type)

    def _set_device_control(self, value: str) -> None:
        self._device_silent = True
        try:
            self.device.value = value
        finally:
            self._device_silent = False

    def _on_device(self, change: dict[str, Any]) -> None:
        if not self._device_silent:
            self.set_device(change["new"])

    def refresh(self, keys: list[str] | None = None) -> bool:
        """Re-run forward and profile, re-mark and redraw the graph, now; False if it failed."""
        try:
            prof = profile(self.space, self.example_input, repeats=self.repeats, keys=keys)
            graph = self._marked_graph() if self.show_graph else None
        except ForwardError as err:
            self._show_error(err, keys or [])
            return False
        if self._error is not None:  # the error shown is fixed; a control's refusal stays until the next click
            self.error_box.value = ""
        self._profile, self._graph_state, self._error = prof, graph if graph is not None else self._graph_state, None
        self._last_good = self.space.current()
        self.summary.value = self._summary_html(prof)
        if graph is not None:
            self._draw(graph)
        return True

    def candidate_costs(self, key: str | None = None) -> list[Any]:
        """Measure every candidate of LayerChoice ``key`` (default: the one selected) and chart it in the panel."""
        from ..plot import plot_candidates
        from ..profile import profile_candidates

        key = key or self.cost_key.value
        rows = profile_candidates(self.space, key, self.example_input, repeats=max(1, self.repeats))
        self.cost_image.layout.display = None
        self._cost_painter.request(lambda: plot_candidates(rows))
        self.status.value = f"candidates of <b>{html.escape(key)}</b>: measured {len(rows)}"
        return rows

    # --------------------------------------------------- up-to-date reads
    @property
    def profile(self) -> Profile | None:
        """Profile of the last architecture that ran (brought up to date first)."""
        self._flush()
        return self._profile

    @property
    def graph(self) -> Any:
        """The recorded graph with the current active path (brought up to date first)."""
        self._flush()
        return self._graph_state

    @property
    def controls(self) -> dict[str, ChoiceControl]:
        """One control per key (brought up to date first)."""
        self._flush()
        return self._controls

    @property
    def error(self) -> BaseException | None:
        """The error shown in the panel, if any (brought up to date first)."""
        self._flush()
        return self._error

    def _flush(self) -> None:
        if self._pending_keys or self._settler.pending:
            self._settler.cancel()
            self._settle()

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Bring the summary up to date and wait for the graph drawing; False on timeout."""
        self._flush()
        return self._painter.wait(timeout)

    def close(self) -> None:
        """Stop following the space and close the widgets."""
        self._settler.cancel()
        self._unsubscribe()
        for ctl in self._controls.values():
            ctl.close()
        self.widget.close()

    # ------------------------------------------------------------- internals
    def _guard(self, name: str, fn: Any) -> None:
        """Run a button's action: clear the last error, give feedback, show user errors in the panel."""
        self.error_box.value = ""
        self.status.value = f"{html.escape(name)}: working..."
        try:
            self._click(fn)
        except (NasnbError, OSError) as err:
            self.status.value = f"{html.escape(name)}: failed (see the message)"
            self._show_error(err, getattr(err, "keys", []))

    def _click(self, fn: Any, *args: Any) -> Any:
        """Run ``fn`` as a click of the panel: its changes are debounced in a notebook."""
        ui, self._ui = self._ui, True
        try:
            return fn(*args)
        finally:
            self._ui = ui

    def _apply(self, arch: Mapping[str, Any] | Any) -> int:
        before = self.space.current()
        self._own = True
        try:
            self.space.apply(arch)
        finally:
            self._own = False
        after = self.space.current()
        return sum(before[k] != after[k] for k in after)

    def _on_space_change(self, changes: dict[str, tuple[Any, Any]]) -> None:
        if self._restoring or self._own or self._throttle.ready():
            self._show_values(changes)
        if self._restoring:
            return
        self._pending_keys.extend(k for k in changes if k not in self._pending_keys)
        if self._own:
            self._pending_own = True
            if self._ui and running_loop() is not None:  # a click in a notebook: debounce
                self._set_busy("updating...")
                self._settler.request()
            else:
                self._flush()
        elif self._throttle.ready():
            self._flush()
        else:  # a training loop or another view changes the space quickly: follow it at most `budget` of the time
            self._set_busy("following changes (throttled)...")
            if running_loop() is not None:
                self._settler.cancel()
                self._settler.delay, delay = self._throttle.wait(), self._settler.delay
                self._settler.request()
                self._settler.delay = delay

    def _show_values(self, changes: Mapping[str, Any]) -> None:
        current = None
        for key in changes:
            if key in self._controls:
                if current is None:
                    current = self.space.current()
                self._controls[key].set_value(current[key])

    def _settle(self) -> None:
        """Compute the panel for the current state: the last of every change since the previous settle."""
        keys, own = self._pending_keys, self._pending_own
        self._pending_keys, self._pending_own = [], False
        start = time.monotonic()
        self._show_values(dict.fromkeys(keys))  # controls skipped while throttled catch up
        try:
            if self.refresh(keys):
                return
            failed = self.space.current()
            if failed not in self.failing:
                self.failing.append(failed)
                del self.failing[:-1000]
            if own and self._last_good is not None:
                self._restoring = True
                try:
                    self.space.apply(self._last_good)
                finally:
                    self._restoring = False
                note = ("rolled back to the last good architecture: "
                        f"<code>{html.escape(json.dumps(self._last_good))}</code>")
            else:
                note = ("changed outside the explorer: the model keeps this architecture; "
                        "the summary and graph show the last good one")
            if self._error is not None:
                self._show_error(self._error, keys, note)
        finally:
            self._throttle.ran(time.monotonic() - start)
            self._set_busy("drawing the graph..." if self._painter.busy else "")

    def _set_busy(self, text: str) -> None:
        self.busy.value = (f"<span style='color:#8a6d00'>&#9679; {html.escape(text)}</span>" if text else "")

    def _show_error(self, err: BaseException, keys: list[str], note: str = "") -> None:
        self._error = err
        keys_html = ""
        if keys and not isinstance(err, ForwardError):
            keys_html = f"<div>keys changed last: <b>{html.escape(', '.join(map(str, keys)))}</b></div>"
        note_html = f"<div style='word-break:break-word'>{note}</div>" if note else ""
        self.error_box.value = (
            "<div style='border-left:4px solid #b00020;padding:4px 8px;background:#fdecea;overflow-wrap:anywhere'>"
            f"<b>{html.escape(type(err).__name__)}</b>{keys_html}"
            f"<pre style='white-space:pre-wrap;margin:4px 0'>{html.escape(str(err))}</pre>{note_html}</div>")

    def _marked_graph(self) -> Any:
        """The graph recorded once (again after a device change), marked for the current architecture."""
        from ..graph import build_graph, mark_active

        device = model_device(self.model)
        if self._graph_state is None or self._graph_device != device:
            self._graph_state = build_graph(self.space, self.example_input, depth=self.depth)
            self._graph_device = device
            if self.view == "auto":
                self.view = "cell" if self._has_cells(self._graph_state) else "graph"
            return self._graph_state
        return mark_active(self._graph_state, self.space.current(), space=self.space)

    def _has_cells(self, graph: Any) -> bool:
        from ..plot._cell import _cell_info

        try:
            cells = _cell_info(self.space, graph)
        except ValueError:
            return False
        return any(sum(s["role"] == "node" for s in c["states"]) >= 2 for c in cells)

    def _draw(self, graph: Any) -> None:
        from ..plot import draw_cell, draw_space

        snapshot = graph.copy()  # the worker draws this state, whatever the next click does
        if self.view == "cell":
            arch = self.space.current()

            def figure() -> Any:
                return draw_cell(self.space, graph=snapshot, arch=arch)
        else:
            def figure() -> Any:
                return draw_space(snapshot)
        self._painter.request(figure)

    def _on_cost_png(self, png: bytes) -> None:
        self.cost_image.value = png

    def _on_png(self, png: bytes) -> None:
        self.image.value = png
        if not self._settler.pending and not self._pending_keys:
            self._set_busy("")

    def _on_draw_error(self, err: BaseException) -> None:
        self.status.value = f"graph not drawn: {html.escape(type(err).__name__)}: {html.escape(str(err))}"

    @staticmethod
    def _summary_rows(p: Profile) -> list[tuple[str, str]]:
        """The summary of a profile as ``(name, value)`` rows (shown as a table, read as text)."""
        return [
            ("output shape", _shape_text(p.output_shape)),
            ("parameters (active / total)", f"{p.params_active:,} / {p.params_total:,}"),
            ("FLOPs", format_count(p.flops)),
            ("latency (median)", "-" if p.latency_ms is None else f"{p.latency_ms:.3g} ms"),
            ("peak GPU memory", "-" if p.peak_memory is None else format_count(p.peak_memory, "B")),
            ("device", p.device),
        ]

    @classmethod
    def _summary_html(cls, p: Profile) -> str:
        body = "".join(f"<tr><td>{k}</td><td><b>{html.escape(v)}</b></td></tr>" for k, v in cls._summary_rows(p))
        return f"<table class='nasnb-summary-table'>{body}</table>"

    @property
    def summary_text(self) -> str:
        """The summary as plain text (``name: value`` lines), brought up to date first."""
        self._flush()
        if self._profile is None:  # nothing has run yet
            return ""
        return "\n".join(f"{k}: {v}" for k, v in self._summary_rows(self._profile))

    def __repr__(self) -> str:
        n = len(self.space)
        return f"Explorer({type(self.model).__name__}: {n} key{'s' if n != 1 else ''}, size={self.space.size})"

    def static_html(self) -> str:
        """A static snapshot of the panel (header, summary, graph image) for saved notebooks."""
        self._flush()
        img = self.image.value
        graph = (f"<img alt='graph of the active architecture' src='data:image/png;base64,"
                 f"{base64.b64encode(img).decode()}' style='max-width:100%'/>" if img else "")
        arch = html.escape(json.dumps(self.space.current()))
        return (f"<div class='nasnb-explorer-static'><div>{self.header.value}</div>{self.summary.value}"
                f"<details><summary>architecture</summary><code>{arch}</code></details>{graph}"
                f"<div style='color:#777'>static preview: run the notebook for the live explorer</div></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        show = self.widget._repr_mimebundle_  # None once the widget is closed
        bundle = (show(**kwargs) or {}) if show is not None else {}
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = repr(self)
        return bundle


