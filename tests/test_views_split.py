"""What moved to the views and what the core no longer does as a side effect.

The display of a mutable is built by ``nasnb.widgets.mimebundle``; the Explorer's text
summary comes from its Profile, not from its HTML; ``Experiment.draw_best`` leaves the
model's architecture alone; reading ``mutable.spec`` changes nothing; reprs show the
fields of each selector.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables

from .models import SeedNet

X = torch.zeros(1, 1, 28, 28)


# ------------------------------------------------------------------ display
def test_a_mutable_displays_what_the_views_build(monkeypatch):
    pytest.importorskip("ipywidgets")
    import nasnb.widgets._choice as choice_module
    from nasnb.widgets import mimebundle

    lc = mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")
    text = "LayerChoice(key='act', candidates=['0', '1'], active=0)"
    assert lc._repr_mimebundle_() == mimebundle(lc) == {"text/plain": text}  # no kernel: text only
    monkeypatch.setattr(choice_module, "in_notebook", lambda: True)
    bundle = lc._repr_mimebundle_()
    assert bundle["text/plain"] == text
    assert "application/vnd.jupyter.widget-view+json" in bundle  # in a kernel: the candidates' widget


def test_mutables_module_holds_no_display_logic():
    source = (nasnb.mutables.__file__ and open(nasnb.mutables.__file__).read()) or ""
    assert "in_notebook" not in source and "choice_widget" not in source


# ------------------------------------------------------------ explorer text
def _text_from_html(summary_html: str) -> str:
    """How summary_text was computed before: parse the table the panel shows."""
    cells = re.findall(r"<td>(.*?)</td><td><b>(.*?)</b></td>", summary_html)
    return "\n".join(f"{k}: {html.unescape(v)}" for k, v in cells)


def test_summary_text_is_built_from_the_profile_and_matches_the_table():
    pytest.importorskip("ipywidgets")
    from nasnb.widgets import Explorer

    torch.manual_seed(0)
    ex = Explorer(SeedNet(), X, repeats=1, graph=False)
    try:
        first = ex.summary_text
        assert first == _text_from_html(ex.summary.value)
        assert first.splitlines()[:2] == ["output shape: (1, 10)", "parameters (active / total): 1,204,042 / 1,204,874"]
        ex.summary.value = "<table></table>"  # the text no longer reads the HTML
        assert ex.summary_text == first
        ex.select("skipcon", [])
        assert ex.summary_text == _text_from_html(ex.summary.value) != first
        good = ex.summary_text
        ex.select("conv1", 1)  # fails in forward: rolled back, the summary stays the last good one
        assert ex.error is not None and ex.summary_text == good
    finally:
        ex.close()


# ------------------------------------------------------------------ draw_best
def test_draw_best_leaves_the_model_and_its_observers_alone():
    pytest.importorskip("matplotlib")
    net = nn.Sequential(mutables.LayerChoice(OrderedDict(small=nn.Linear(4, 2), big=nn.Linear(4, 8)), key="op"))
    exp = nasnb.Experiment(net, lambda m: sum(p.numel() for p in m.parameters()), "grid", max_trials=2,
                           progress=False).run()
    heard = []
    exp.space.observe(heard.append)
    fig = exp.draw_best(example_input=torch.zeros(1, 4))
    assert exp.best(1)[0].arch == {"op": "big"}
    assert exp.space.current() == {"op": "small"} and heard == []
    labels = [t.get_text() for t in fig.axes[0].texts]
    active = [t.get_text() for t in fig.axes[0].texts if t.get_color() == "white"]
    assert any("big" in label for label in active), labels  # the best is what is drawn active


def test_draw_best_restores_even_when_drawing_fails():
    pytest.importorskip("matplotlib")
    net = nn.Sequential(mutables.LayerChoice(OrderedDict(small=nn.Linear(4, 2), big=nn.Linear(4, 8)), key="op"))
    exp = nasnb.Experiment(net, lambda m: sum(p.numel() for p in m.parameters()), "grid", progress=False).run()
    with pytest.raises(nasnb.profile.ForwardError):
        exp.draw_best(example_input=torch.zeros(1, 5))  # a wrong input: the forward fails
    assert exp.space.current() == {"op": "small"}


# --------------------------------------------------------------- spec getter
def test_reading_spec_changes_nothing():
    lc = mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act")
    assert lc.decision.spec is None
    assert lc.spec.names == ("0", "1") and lc.choice == 0
    assert lc.decision.spec is None, "reading spec (or choice) must not store it on the decision"
    space = nasnb.SearchSpace(lc)
    assert lc.spec is space["act"] is lc.decision.spec  # bound: the space's description


# ---------------------------------------------------------------------- reprs
def test_input_choice_repr_shows_its_configuration():
    ic = mutables.InputChoice(n_candidates=3, n_chosen=2, reduction="mean", key="mix")
    assert repr(ic) == "InputChoice(key='mix', n_candidates=3, n_chosen=2, reduction='mean', choice=[0, 1])"
    named = mutables.InputChoice(choose_from=["a", "b"], n_chosen=None, key="skip")
    assert repr(named) == "InputChoice(key='skip', n_candidates=2, n_chosen=None, reduction='sum', choice=['a', 'b'])"
    assert "key='act', choice=0" in repr(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))  # unchanged
