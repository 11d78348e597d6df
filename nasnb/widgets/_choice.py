"""One control per key: toggle buttons, a dropdown or checkboxes bound to a decision.

:class:`ChoiceControl` is the bare control (used by the Explorer, one per key);
:class:`ChoiceWidget` binds one to a mutable and shows its candidates (types, parameter
counts, which one is active). ``choice_widget(mutable)`` returns the mutable's widget,
kept outside the module in a weak dictionary so the module still deep-copies and
pickles; it is what a LayerChoice / InputChoice shows when displayed in a notebook.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .._notebook import in_notebook
from ..architecture import Choice
from ..exceptions import NasnbError

__all__ = ["ChoiceControl", "ChoiceWidget", "SharedLook", "choice_widget", "mimebundle", "one_line"]

#: LayerChoices with more candidates than this get a Dropdown instead of toggle buttons.
MAX_TOGGLES = 6

_WIDGETS: "weakref.WeakKeyDictionary[Any, ChoiceWidget]" = weakref.WeakKeyDictionary()


def one_line(mutable: Any) -> str:
    """One-line text of a choice mutable: key, candidates and what is active.

    >>> import torch
    >>> from nasnb import mutables
    >>> one_line(mutables.LayerChoice([torch.nn.ReLU(), torch.nn.Tanh()], key="act"))
    "LayerChoice(key='act', candidates=['0', '1'], active=0)"
    """
    spec = mutable.spec
    if spec.kind == "layer":
        return f"{type(mutable).__name__}(key={spec.key!r}, candidates={list(spec.names)}, active={mutable.choice!r})"
    names = [n or str(i) for i, n in enumerate(spec.names)]
    return (f"{type(mutable).__name__}(key={spec.key!r}, candidates={names}, n_chosen={spec.n_chosen}, "
            f"active={mutable.choice!r})")


class ChoiceControl:
    """A control for one key, reporting user changes to ``on_change(value)``.

    A LayerChoice gets ``ToggleButtons`` (a ``Dropdown`` beyond :data:`MAX_TOGGLES`
    candidates) labelled with the candidate names, whose widget value is the candidate
    index (no button is down while the choice selects several candidates, none, or
    weights; a click selects one); an InputChoice gets one checkbox per input. With
    ``n_chosen = k``, checking an input unchecks the one checked longest ago, and
    unchecking below ``k`` is refused with a message. If ``on_change`` raises, the
    control returns to its previous value and shows the error.

    Parameters
    ----------
    spec : Choice
        The key's description (``space[key]``).
    value : Any
        Current readable choice.
    on_change : callable(value)
        Called with the new readable choice after a user change.
    tooltips : list of str, optional
        One per candidate (type, parameters).
    message : ipywidgets.HTML, optional
        Where refusals are written (default: an HTML of the control's own, below it).
    shared : SharedLook, optional
        Styles and layouts to share with other controls (fewer widgets for big spaces).
    """

    def __init__(self, spec: Choice, value: Any, on_change: Callable[[Any], None],
                 tooltips: list[str] | None = None, message: widgets.HTML | None = None,
                 shared: "SharedLook | None" = None):
        self.spec = spec
        self.on_change = on_change
        self._silent = False
        self._order: list[int] = []  # checkbox indices in the order they were checked
        self._layer_value: Any = None  # a LayerChoice's readable value (several candidates show no button)
        look = shared if shared is not None else SharedLook()
        self._own_message = message is None
        self.message = widgets.HTML(value="") if message is None else message
        if spec.kind == "layer":  # the widget's value is the candidate index; labels are names
            options = [(name, i) for i, name in enumerate(spec.names)]
            index = self._single(value)
            if len(options) > MAX_TOGGLES:
                self.control = widgets.Dropdown(options=options, value=index, style=look.dropdown,
                                                layout=look.dropdown_layout)
            else:
                self.control = widgets.ToggleButtons(options=options, value=index, tooltips=tooltips or [],
                                                     style=look.toggles, layout=look.toggles_layout)
            self.control.observe(self._on_layer, names="value")
            self.checkboxes: list[widgets.Checkbox] = []
            label = widgets.HTML(_key_html(spec.key), layout=look.key_layout)
            body: widgets.Widget = widgets.HBox([label, self.control], layout=look.row_layout)
        else:
            labels = [n or str(i) for i, n in enumerate(spec.names)]
            chosen = set(spec.parse(value))
            self.checkboxes = [widgets.Checkbox(value=i in chosen, description=lab, indent=False,
                                                layout=look.checkbox_layout, style=look.checkbox)
                               for i, lab in enumerate(labels)]
            self._order = sorted(chosen)
            for i, cb in enumerate(self.checkboxes):
                cb.observe(lambda change, i=i: self._on_check(i, change), names="value")
            how = "any subset" if spec.n_chosen is None else f"choose {spec.n_chosen}"
            label = widgets.HTML(_key_html(spec.key), layout=look.key_layout)
            self.control = widgets.HBox([*self.checkboxes, widgets.HTML(f"<i>({how})</i>", layout=look.label_layout)],
                                        layout=look.row_layout)
            body = widgets.HBox([label, self.control], layout=look.row_layout)
        self.control.add_class("nasnb-choice-control")
        if self._own_message:
            self.message.add_class("nasnb-choice-message")
            self.widget = widgets.VBox([body, self.message])
        else:
            self.widget = body
        self.widget.add_class("nasnb-choice")
        self.widget.add_class(f"nasnb-key-{_css(spec.key)}")

    # ------------------------------------------------------------------ value
    @property
    def value(self) -> Any:
        """The readable choice the control shows."""
        if self.spec.kind == "layer":
            index = self.control.value
            return self._layer_value if index is None else self.spec.encode((index,))
        return self.spec.encode(tuple(i for i, cb in enumerate(self.checkboxes) if cb.value))

    def _single(self, value: Any) -> int | None:
        """The candidate index a LayerChoice ``value`` selects; None (no button down) for several or weights."""
        chosen = self.spec.parse(value)
        self._layer_value = self.spec.encode(chosen)
        return chosen[0] if len(chosen) == 1 and type(chosen) is tuple else None

    def set_value(self, value: Any) -> None:
        """Show ``value`` without calling ``on_change`` (the space changed elsewhere)."""
        self._silent = True
        try:
            if self.spec.kind == "layer":
                self.control.value = self._single(value)
            else:
                chosen = set(self.spec.parse(value))
                for i, cb in enumerate(self.checkboxes):
                    cb.value = i in chosen
                self._order = [i for i in self._order if i in chosen] + sorted(chosen - set(self._order))
        finally:
            self._silent = False

    # --------------------------------------------------------------- handlers
    def _report(self, old: Any, new: Any) -> None:
        if self._own_message:  # a shared message area belongs to its owner (the Explorer)
            self.message.value = ""
        try:
            self.on_change(new)
        except NasnbError as err:  # refused: show why and go back
            self.set_value(old)
            self.message.value = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"

    def _on_layer(self, change: dict[str, Any]) -> None:
        if self._silent or change["new"] is None:
            return
        old = self._layer_value if change["old"] is None else self.spec.encode((change["old"],))
        self._layer_value = self.spec.encode((change["new"],))
        self._report(old, self._layer_value)

    def _on_check(self, i: int, change: dict[str, Any]) -> None:
        if self._silent:
            return
        k = self.spec.n_chosen
        now = [j for j, cb in enumerate(self.checkboxes) if cb.value]
        old_set = set(now) ^ {i}
        old = self.spec.encode(tuple(sorted(old_set)))
        if change["new"]:
            self._order = [j for j in self._order if j != i] + [i]
            if k is not None and len(now) > k:  # keep exactly k: drop the oldest other one
                drop = next(j for j in self._order if j != i and self.checkboxes[j].value)
                self._order.remove(drop)
                self._silent = True
                try:
                    self.checkboxes[drop].value = False
                finally:
                    self._silent = False
        else:
            if k is not None and len(now) < k:
                self._silent = True
                try:
                    self.checkboxes[i].value = True
                finally:
                    self._silent = False
                self.message.value = (f"<span style='color:#b00020'>{html.escape(self.spec.key)}: exactly {k} "
                                      f"input(s) must stay chosen; check another one to replace it</span>")
                return
            self._order = [j for j in self._order if j != i]
        self._report(old, self.value)

    def close(self) -> None:
        """Close every widget (each holds a comm)."""
        own = [self.message] if self._own_message else []
        for w in [self.widget, *self.widget.children, self.control, *own, *self.checkboxes]:
            w.close()


class SharedLook:
    """Styles and layouts shared by many controls (each one is a widget with a comm of its own)."""

    def __init__(self) -> None:
        self.toggles = widgets.ToggleButtonsStyle(button_width="auto")
        from ipywidgets.widgets.widget_bool import CheckboxStyle
        from ipywidgets.widgets.widget_description import DescriptionStyle

        self.dropdown = DescriptionStyle()
        self.checkbox = CheckboxStyle()
        self.toggles_layout = widgets.Layout(width="auto")
        self.dropdown_layout = widgets.Layout(width="max-content")
        self.checkbox_layout = widgets.Layout(width="auto")
        self.label_layout = widgets.Layout(width="auto")
        # rows never shrink (a scrolled column of rows must not squash them on top of each other) and wrap
        # their controls below the key rather than clip it
        self.key_layout = widgets.Layout(min_width="110px", width="auto", margin="0 8px 0 0", flex="0 0 auto")
        self.row_layout = widgets.Layout(align_items="center", flex="0 0 auto", flex_flow="row wrap")


def _key_html(key: str) -> str:
    return f"<b style='white-space:nowrap'>{html.escape(key)}</b>"


def _css(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in key)


def _params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


class _LastInput:
    """Forward pre-hook that remembers, weakly, the tensors the model was last called with.

    Copies and pickles of the model carry an inert hook; nothing keeps a batch alive.
    """

    def __init__(self, active: bool = True):
        self.active = active
        self._refs: list[Any] = []
        self._kwargs: dict[str, Any] = {}

    def __call__(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> None:
        if not self.active:
            return
        self._refs = [weakref.ref(a) if _is_tensor(a) else (lambda a=a: a) for a in args]
        self._kwargs = dict(kwargs or {})

    def get(self) -> tuple[Any, ...] | None:
        """The last positional arguments, or None if one of them is gone (or the model never ran)."""
        if not self._refs:
            return None
        args = tuple(r() for r in self._refs)
        return None if any(a is None for a in args) else args

    def __deepcopy__(self, memo: dict[int, Any]) -> "_LastInput":
        return _LastInput(active=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_LastInput, (False,))


def _is_tensor(x: Any) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


_INPUTS: "weakref.WeakKeyDictionary[Any, _LastInput]" = weakref.WeakKeyDictionary()


def _space_of(mutable: Any) -> Any:
    """The SearchSpace a mutable is bound to, or None."""
    from ..mutables import owner_of

    return owner_of(mutable)


class ChoiceWidget:
    """The widget of one mutable: its control plus a table of candidates.

    Changing the control sets ``mutable.choice`` (so every mutable sharing the key
    follows); a change made elsewhere (``space.apply``, another widget) updates it.
    When the mutable belongs to a bound :class:`~nasnb.SearchSpace`, a change from the
    control is checked by running the model on the input it last saw (kept weakly):
    if that forward fails, the error shows in the widget and the choice goes back.
    Get it with :func:`choice_widget`, or by displaying the mutable in a notebook.
    """

    def __init__(self, mutable: Any):
        self._mutable = weakref.ref(mutable)
        space = _space_of(mutable)
        self._space = weakref.ref(space) if space is not None else None
        if space is not None and space.model not in _INPUTS:
            memo = _INPUTS[space.model] = _LastInput()
            space.model.register_forward_pre_hook(memo, with_kwargs=True)
        self.spec = mutable.spec
        self.key = self.spec.key
        if self.spec.kind == "layer":
            from ..graph import describe

            self._types = [describe(m) for m in mutable]
            self._params = [_params(m) for m in mutable]
            tips = [f"{t}, {p:,} parameters" for t, p in zip(self._types, self._params)]
        else:
            self._types, self._params, tips = [], [], None
        self.control = ChoiceControl(self.spec, mutable.choice, self._set, tooltips=tips)
        self.table = widgets.HTML(value=self._table())
        self.table.add_class("nasnb-candidates")
        self.widget = widgets.VBox([self.control.widget, self.table])
        self.widget.add_class("nasnb-choice-widget")
        self._listener = self._on_decision
        mutable.decision.listeners.append(self._listener)

    def _set(self, value: Any) -> None:
        mutable = self._mutable()
        if mutable is None:
            return
        old = mutable.choice
        mutable.choice = value  # validates; listeners (this one too) follow
        problem = self._check_forward()
        if problem is not None:
            mutable.choice = old
            raise problem

    def _check_forward(self) -> NasnbError | None:
        """Run the model on its last input; the error (as a NasnbError) if that fails, else None."""
        space = self._space() if self._space is not None else None
        if space is None:
            return None
        memo = _INPUTS.get(space.model)
        args = memo.get() if memo is not None else None
        if memo is None or args is None:
            self.control.message.value = ("<span style='color:#777'>forward not checked: call the model once "
                                          "(its last input is kept weakly to check each change)</span>")
            return None
        from .._measure import EvalNoGrad

        model = space.model
        memo.active = False
        try:
            with EvalNoGrad(model):
                model(*args, **memo._kwargs)
        except Exception as err:  # noqa: BLE001 - the user's forward can raise anything: shown, then undone
            return NasnbError(f"{self.key}: the model fails in forward with this choice, so it stays at the "
                              f"last one that ran. {type(err).__name__}: {err}")
        finally:
            memo.active = True
        return None

    def _on_decision(self, decision: Any, old: tuple[int, ...], new: tuple[int, ...]) -> None:
        self.control.set_value(self.spec.encode(new))
        self.table.value = self._table()

    def _table(self) -> str:
        mutable = self._mutable()
        if mutable is None:
            return ""
        chosen = set(mutable.decision.indices)
        rows = []
        if self.spec.kind == "layer":
            head = "<tr><th></th><th>candidate</th><th>type</th><th>parameters</th></tr>"
            for i, (n, t, p) in enumerate(zip(self.spec.names, self._types, self._params)):
                mark = "&#9679;" if i in chosen else ""
                rows.append(f"<tr><td>{mark}</td><td>{html.escape(n)}</td><td>{t}</td><td>{p:,}</td></tr>")
        else:
            head = "<tr><th></th><th>input</th><th>from</th></tr>"
            for i, n in enumerate(self.spec.names):
                mark = "&#9679;" if i in chosen else ""
                rows.append(f"<tr><td>{mark}</td><td>{i}</td><td>{html.escape(n) or '-'}</td></tr>")
        return f"<table style='font-size:90%'>{head}{''.join(rows)}</table>"

    @property
    def value(self) -> Any:
        """The readable choice shown."""
        return self.control.value

    @value.setter
    def value(self, value: Any) -> None:
        self._set(value)

    def __repr__(self) -> str:
        mutable = self._mutable()
        return f"ChoiceWidget({one_line(mutable)})" if mutable is not None else "ChoiceWidget(<gone>)"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        show = self.widget._repr_mimebundle_  # None once the widget is closed
        bundle = (show(**kwargs) or {}) if show is not None else {}
        bundle["text/html"] = (f"<div class='nasnb-choice-static'><b>{html.escape(self.key)}</b> "
                               f"({'LayerChoice' if self.spec.kind == 'layer' else 'InputChoice'}){self._table()}"
                               f"<div style='color:#777'>static preview: run the notebook for the control</div></div>")
        bundle["text/plain"] = repr(self)
        return bundle

    def close(self) -> None:
        """Stop following the decision and close the widgets."""
        mutable = self._mutable()
        if mutable is not None and self._listener in mutable.decision.listeners:
            mutable.decision.listeners.remove(self._listener)
        self.control.close()
        self.table.close()
        self.widget.close()


def choice_widget(mutable: Any) -> ChoiceWidget:
    """The (cached) widget of a LayerChoice / InputChoice.

    Examples
    --------
    >>> import torch
    >>> from nasnb import mutables
    >>> from nasnb.widgets import choice_widget
    >>> lc = mutables.LayerChoice([torch.nn.ReLU(), torch.nn.Tanh()], key="act")
    >>> w = choice_widget(lc)
    >>> w.control.control.value = 1   # what a click on the second candidate does
    >>> lc.choice
    1
    """
    w = _WIDGETS.get(mutable)
    stale = w is not None and (w.spec.key != mutable.spec.key or w._listener not in mutable.decision.listeners)
    if w is None or stale:
        if w is not None:
            w.close()
        w = ChoiceWidget(mutable)
        _WIDGETS[mutable] = w
    return w


def mimebundle(mutable: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """What a LayerChoice / InputChoice shows when displayed: its widget (in a kernel) and :func:`one_line`.

    Examples
    --------
    >>> import torch
    >>> from nasnb import mutables
    >>> mimebundle(mutables.LayerChoice([torch.nn.ReLU(), torch.nn.Tanh()], key="act"))  # no kernel: text only
    {'text/plain': "LayerChoice(key='act', candidates=['0', '1'], active=0)"}
    """
    bundle: dict[str, Any] = {}
    if in_notebook():  # the widget can show
        bundle = choice_widget(mutable)._repr_mimebundle_(include=include, exclude=exclude)
    bundle["text/plain"] = one_line(mutable)
    return bundle
