"""Explorer: one notebook panel to click through a search space and see what changes.

One control per key (grouped by MutableScope / module path), a summary of the active
architecture (output shapes, parameters, FLOPs, latency, GPU memory), a device
selector, the graph with its active path, and buttons to draw a random architecture,
reset, export and load. Every change goes through ``space.apply``; the explorer hears
it as an observer, so changes made elsewhere update the panel too. A change from the
panel that fails in forward is shown with its error and the keys changed last, and the
model goes back to the last architecture that worked.
"""

from __future__ import annotations

import html
import io
import json
import os
import random
from typing import Any, Mapping

import ipywidgets as widgets
import torch
from torch import nn

from ..exceptions import NasnbError
from ..profile import ForwardError, Profile, format_count, model_device, profile
from ..space import SearchSpace
from ._choice import ChoiceControl, SharedLook

__all__ = ["Explorer"]

#: Spaces with more keys than this don't draw their graph unless ``graph=True``.
AUTO_GRAPH_MAX_KEYS = 100


def _group_of(spec: Any) -> str:
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
    depth : int, optional
        Fold submodules deeper than this in the graph (see :func:`nasnb.graph.build_graph`).
    repeats : int
        Timed forward runs per change (the latency is their median).
    seed : int, optional
        Seed of the "random" button's generator.

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
        depth: int | None = None,
        repeats: int = 5,
        seed: int | None = None,
    ):
        self.space = model if isinstance(model, SearchSpace) else SearchSpace(model)
        self.model = self.space.model
        self.example_input = example_input
        if device is not None:
            self.model.to(device)
        if graph not in (True, False, "auto"):
            raise ValueError(f"Explorer: graph={graph!r} is not one of True, False, 'auto'")
        self.show_graph = graph is True or (graph == "auto" and len(self.space) <= AUTO_GRAPH_MAX_KEYS)
        self.depth = depth
        self.repeats = repeats
        self._rng = random.Random(seed)
        self.profile: Profile | None = None
        self.graph: Any = None
        self.error: BaseException | None = None
        self._last_good: dict[str, Any] | None = None
        self._own = False  # a change started by this panel is being applied
        self._restoring = False
        self._build()
        self._unsubscribe = self.space.observe(self._on_space_change)
        self.refresh()

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
        self.controls: dict[str, ChoiceControl] = {}
        groups: dict[str, list[W.Widget]] = {}
        current = space.current()
        look = SharedLook()
        for key, spec in space.items():
            tips = None
            if spec.kind == "layer":
                mod = space.mutables(key)[0]
                tips = [f"{type(c).__name__}, {sum(p.numel() for p in c.parameters()):,} parameters" for c in mod]
            ctl = ChoiceControl(spec, current[key], lambda v, k=key: self.select(k, v), tooltips=tips,
                                message=self.error_box, shared=look)
            self.controls[key] = ctl
            groups.setdefault(_group_of(spec), []).append(ctl.widget)
        boxes = []
        for name, children in groups.items():
            title = W.HTML(f"<span style='color:#555'>{html.escape(name) if name else '(model)'}</span>")
            box = W.VBox([title, *children], layout=W.Layout(margin="0 0 6px 0"))
            box.add_class("nasnb-group")
            boxes.append(box)
        self.controls_box = W.VBox(boxes, layout=W.Layout(max_height="420px", overflow="auto"))
        self.controls_box.add_class("nasnb-controls")

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

        def button(label: str, css: str, fn: Any, tip: str) -> W.Button:
            b = W.Button(description=label, tooltip=tip, layout=W.Layout(width="auto"))
            b.add_class(css)
            b.on_click(lambda _b: self._guard(fn))
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
        right = W.VBox([W.HBox([self.device]), self.summary, self.error_box], layout=W.Layout(width="45%"))
        left = W.VBox([self.controls_box], layout=W.Layout(width="55%"))
        self.widget = W.VBox([self.header, W.HBox([left, right]), self.buttons, self.json, self.status, self.image])
        self.widget.add_class("nasnb-explorer")

    # ------------------------------------------------------------ user verbs
    def select(self, key: str, value: Any) -> None:
        """Set one key from the panel (what clicking a control does)."""
        self._apply({key: value})

    def random(self) -> dict[str, Any]:
        """Apply a random architecture (from the explorer's seeded generator); return it."""
        arch = self.space.sample(seed=self._rng)
        self._apply(arch)
        return arch

    def reset(self) -> dict[str, Any]:
        """Apply the default architecture (first candidate / first inputs); return it."""
        arch = {k: spec.encode(spec.default) for k, spec in self.space.items()}
        self._apply(arch)
        return arch

    def export(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Show the current architecture as JSON in the panel and save it to ``path`` if given."""
        arch = self.space.current()
        self.json.value = json.dumps(arch, indent=2)
        if path:
            self.space.save(path, arch)
            self.status.value = f"saved to <code>{html.escape(os.fspath(path))}</code>"
        else:
            self.status.value = "exported (no file name given, not saved)"
        return arch

    def load(self, source: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
        """Apply an architecture: a mapping, JSON text, or the path of a JSON file."""
        if isinstance(source, Mapping):
            arch: Any = dict(source)
        elif isinstance(source, str) and source.lstrip().startswith("{"):
            try:
                arch = json.loads(source)
            except json.JSONDecodeError as err:
                raise LoadError(f"load: the text is not valid JSON ({err.msg} at line {err.lineno}, "
                                f"column {err.colno}); expected an object key -> choice", value=source) from None
        elif not str(source).strip():
            raise LoadError("load: got an empty text / file name; expected JSON text or the path of a JSON file",
                            value=source)
        else:
            if not os.path.exists(source):
                raise LoadError(f"load: no file {os.fspath(source)!r}; expected JSON text or the path of a JSON "
                                f"file (relative to {os.getcwd()!r})", value=source)
            from ..architecture import load_json

            arch = load_json(source)
        self._apply(arch)
        self.status.value = "loaded"
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

    def _on_device(self, change: dict) -> None:
        if not self._device_silent:
            self.set_device(change["new"])

    def refresh(self, keys: list[str] | None = None) -> bool:
        """Re-run forward, profile and graph for the current architecture; False if it failed."""
        try:
            prof = profile(self.space, self.example_input, repeats=self.repeats, keys=keys)
            graph = self._graph() if self.show_graph else None
        except ForwardError as err:
            self._show_error(err, keys or [])
            return False
        self.profile, self.graph, self.error = prof, graph, None
        self._last_good = self.space.current()
        self.summary.value = self._summary_html(prof)
        self.error_box.value = ""
        if graph is not None:
            self.image.value = self._png(graph)
        return True

    def close(self) -> None:
        """Stop following the space and close the widgets."""
        self._unsubscribe()
        for ctl in self.controls.values():
            ctl.close()
        self.widget.close()

    # ------------------------------------------------------------- internals
    def _guard(self, fn: Any) -> None:
        """Run a button's action; user errors go to the panel, not to a lost traceback."""
        try:
            fn()
        except (NasnbError, OSError) as err:
            self._show_error(err, getattr(err, "keys", []))

    def _apply(self, arch: Mapping[str, Any] | Any) -> None:
        self._own = True
        try:
            self.space.apply(arch)
        finally:
            self._own = False

    def _on_space_change(self, changes: dict[str, tuple[Any, Any]]) -> None:
        for key, (_, new) in changes.items():
            if key in self.controls:
                self.controls[key].set_value(new)
        if self._restoring:
            return
        keys = list(changes)
        if self.refresh(keys):
            return
        if self._own and self._last_good is not None:
            self._restoring = True
            try:
                self.space.apply(self._last_good)
            finally:
                self._restoring = False
            note = f"rolled back to the last good architecture: <code>{html.escape(json.dumps(self._last_good))}</code>"
        else:
            note = ("changed outside the explorer: the model keeps this architecture; "
                    "the summary and graph show the last good one")
        if self.error is not None:
            self._show_error(self.error, keys, note)

    def _show_error(self, err: BaseException, keys: list[str], note: str = "") -> None:
        self.error = err
        keys_html = ""
        if keys and not isinstance(err, ForwardError):
            keys_html = f"<div>keys changed last: <b>{html.escape(', '.join(map(str, keys)))}</b></div>"
        note_html = f"<div style='word-break:break-word'>{note}</div>" if note else ""
        self.error_box.value = (
            "<div style='border-left:4px solid #b00020;padding:4px 8px;background:#fdecea;overflow-wrap:anywhere'>"
            f"<b>{html.escape(type(err).__name__)}</b>{keys_html}"
            f"<pre style='white-space:pre-wrap;margin:4px 0'>{html.escape(str(err))}</pre>{note_html}</div>")

    def _graph(self) -> Any:
        from ..graph import build_graph

        return build_graph(self.space, self.example_input, depth=self.depth)

    def _png(self, graph: Any) -> bytes:
        from ..plot._space import draw_space

        fig = draw_space(graph)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=72)
        return buf.getvalue()

    @staticmethod
    def _summary_html(p: Profile) -> str:
        rows = [
            ("output shape", _shape_text(p.output_shape)),
            ("parameters (active / total)", f"{p.params_active:,} / {p.params_total:,}"),
            ("FLOPs", format_count(p.flops)),
            ("latency (median)", "-" if p.latency_ms is None else f"{p.latency_ms:.3g} ms"),
            ("peak GPU memory", "-" if p.peak_memory is None else format_count(p.peak_memory, "B")),
            ("device", p.device),
        ]
        body = "".join(f"<tr><td>{k}</td><td><b>{html.escape(v)}</b></td></tr>" for k, v in rows)
        return f"<table class='nasnb-summary-table'>{body}</table>"

    @property
    def summary_text(self) -> str:
        """The summary as plain text (``name: value`` lines)."""
        import re

        cells = re.findall(r"<td>(.*?)</td><td><b>(.*?)</b></td>", self.summary.value)
        return "\n".join(f"{k}: {html.unescape(v)}" for k, v in cells)

    def __repr__(self) -> str:
        n = len(self.space)
        return f"Explorer({type(self.model).__name__}: {n} key{'s' if n != 1 else ''}, size={self.space.size})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        show = self.widget._repr_mimebundle_  # None once the widget is closed
        bundle = (show(**kwargs) or {}) if show is not None else {}
        bundle["text/plain"] = repr(self)
        return bundle


class LoadError(NasnbError, ValueError):
    """An architecture to load is neither valid JSON text nor an existing file."""

    def __init__(self, message: str, value: Any = None):
        super().__init__(message)
        self.value = value
