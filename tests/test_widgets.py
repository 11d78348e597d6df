"""nasnb.widgets in Python (no browser): set a control's value, assert the model and the panel."""

from __future__ import annotations

import copy
import json
import pickle
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables

from .models import CellNet, SeedNet

widgets = pytest.importorskip("ipywidgets")
from nasnb.widgets import MAX_TOGGLES, ChoiceControl, ChoiceWidget, Explorer, choice_widget  # noqa: E402

X = torch.zeros(1, 1, 28, 28)


@pytest.fixture
def seed():
    torch.manual_seed(0)
    return SeedNet()


@pytest.fixture
def explorer(seed):
    ex = Explorer(seed, X, repeats=1, seed=0)
    yield ex
    ex.close()


def _params(ex):
    line = next(row for row in ex.summary_text.splitlines() if row.startswith("parameters"))
    return line.split(": ", 1)[1]


# ----------------------------------------------------------------- controls
def test_layer_choice_gets_toggles_or_a_dropdown():
    small = nasnb.SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="a"))["a"]
    many = nasnb.SearchSpace(mutables.LayerChoice([nn.ReLU() for _ in range(MAX_TOGGLES + 1)], key="b"))["b"]
    seen = []
    t = ChoiceControl(small, 0, seen.append)
    d = ChoiceControl(many, 0, seen.append)
    assert isinstance(t.control, widgets.ToggleButtons) and t.control.options == (("0", 0), ("1", 1))
    assert isinstance(d.control, widgets.Dropdown) and len(d.control.options) == MAX_TOGGLES + 1
    t.control.value = 1  # the widget's value is the index; labels are the names
    d.control.value = 6
    assert seen == [1, 6]
    t.set_value(0)  # programmatic: no callback
    assert seen == [1, 6] and t.value == 0


def test_refused_change_reverts_and_shows_message():
    spec = nasnb.SearchSpace(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="a"))["a"]

    def refuse(value):
        raise nasnb.ArchitectureError([nasnb.exceptions.Problem("a", value, "something else")])

    ctl = ChoiceControl(spec, 0, refuse)
    ctl.control.value = 1
    assert ctl.value == 0
    assert "got 1, expected something else" in ctl.message.value


def test_input_choice_checkboxes_enforce_n_chosen():
    spec = nasnb.SearchSpace(mutables.InputChoice(n_candidates=3, n_chosen=2, key="in"))["in"]
    seen = []
    ctl = ChoiceControl(spec, [0, 1], seen.append)
    a, b, c = ctl.checkboxes
    c.value = True  # the oldest checked one (0) makes room
    assert [a.value, b.value, c.value] == [False, True, True] and seen == [[1, 2]]
    b.value = False  # would leave 1 of 2: refused
    assert b.value is True and seen == [[1, 2]]
    assert "exactly 2 input(s) must stay chosen" in ctl.message.value
    a.value = True  # now 1 is the oldest
    assert ctl.value == [0, 2] and seen[-1] == [0, 2]


def test_input_choice_any_subset():
    spec = nasnb.SearchSpace(mutables.InputChoice(n_candidates=2, n_chosen=None, key="in"))["in"]
    seen = []
    ctl = ChoiceControl(spec, [0, 1], seen.append)
    ctl.checkboxes[0].value = False
    ctl.checkboxes[1].value = False
    assert seen == [[1], []] and ctl.value == []


# ---------------------------------------------------- a mutable's own widget
def test_mutable_displays_a_widget_and_one_line_text(seed):
    nasnb.SearchSpace(seed)
    bundle = seed.conv1._repr_mimebundle_()
    assert bundle == {"text/plain": "LayerChoice(key='conv1', candidates=['0', '1'], active=0)"}  # no kernel
    assert seed.skipcon._repr_mimebundle_()["text/plain"] == (
        "InputChoice(key='skipcon', candidates=['0'], n_chosen=None, active=[0])")
    w = choice_widget(seed.conv1)
    assert "application/vnd.jupyter.widget-view+json" in w._repr_mimebundle_()
    assert repr(w) == "ChoiceWidget(LayerChoice(key='conv1', candidates=['0', '1'], active=0))"
    assert "<td>Conv2d 5×5 s3</td><td>832</td>" in w.table.value, "candidates show their settings"


def test_mutable_widget_changes_the_decision_and_follows_it(seed):
    space = nasnb.SearchSpace(seed)
    w = choice_widget(seed.conv1)
    assert choice_widget(seed.conv1) is w  # cached
    w.control.control.value = 1
    assert space.current()["conv1"] == 1
    space.apply({"conv1": 0})
    assert w.value == 0 and w.table.value.index("&#9679;") < w.table.value.index("832")


def test_shared_key_widgets_move_together():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh()), key="act")
            self.b = mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh()), key="act")

        def forward(self, x):
            return self.b(self.a(x))

    net = Net()
    space = nasnb.SearchSpace(net)
    wa, wb = choice_widget(net.a), choice_widget(net.b)
    wa.control.control.value = 1  # "tanh"
    assert wb.value == "tanh" and net.b.choice == "tanh" and space.current() == {"act": "tanh"}
    ex = Explorer(net, torch.zeros(1, 2), repeats=1, graph=False)
    assert list(ex.controls) == ["act"]  # one control for the shared key
    ex.controls["act"].control.value = 0  # "relu"
    assert wa.value == wb.value == "relu"
    ex.close()


def test_widget_stays_out_of_module_state(seed):
    nasnb.SearchSpace(seed)
    choice_widget(seed.conv1)
    clone = copy.deepcopy(seed)
    pickle.loads(pickle.dumps(seed))
    assert not any(isinstance(v, ChoiceWidget) for v in vars(seed.conv1).values())
    assert clone.conv1.decision.listeners == []


# ------------------------------------------------------------------ Explorer
def test_explorer_builds_controls_summary_and_graph(explorer):
    assert repr(explorer) == "Explorer(SeedNet: 2 keys, size=4)"
    assert list(explorer.controls) == ["conv1", "skipcon"]
    assert "search space size <b>4</b>" in explorer.header.value
    text = explorer.summary_text
    assert "output shape: (1, 10)" in text and "parameters (active / total): 1,204,042 / 1,204,874" in text
    assert "FLOPs: 28.7 M" in text and "device: cpu" in text
    assert explorer.image.value[:4] == b"\x89PNG"
    assert explorer.device.options == (("cpu", "cuda") if torch.cuda.is_available() else ("cpu",))
    assert "nasnb-explorer" in explorer.widget._dom_classes
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "Explorer(SeedNet: 2 keys, size=4)"


def test_control_change_updates_decision_and_graph(explorer):
    png = explorer.image.value
    explorer.controls["skipcon"].checkboxes[0].value = False
    assert explorer.space.current() == {"conv1": 0, "skipcon": []}
    assert explorer.graph.nodes["skipcon"]["active"] is False
    assert explorer.image.value != png
    assert explorer.error is None and explorer.error_box.value == ""


def _summary(ex, name):
    return next(row for row in ex.summary_text.splitlines() if row.startswith(name)).split(": ", 1)[1]


def test_control_change_updates_the_summary_by_what_profile_measures():
    from nasnb.profile import format_count, profile

    def conv_net():
        torch.manual_seed(0)
        return nn.Sequential(
            mutables.LayerChoice(OrderedDict(conv3x3=nn.Conv2d(1, 4, 3, padding=1), conv5x5=nn.Conv2d(1, 4, 5, padding=2)),
                                 key="conv"),
            nn.Flatten(), nn.Linear(4 * 8 * 8, 10))

    x = torch.zeros(1, 1, 8, 8)
    measured = {}
    for name in ("conv3x3", "conv5x5"):  # each architecture on its own copy, fixed: the ground truth
        space = nasnb.SearchSpace(conv_net())
        measured[name] = profile(space.fix({"conv": name}), x, latency=False).flops
    assert measured["conv5x5"] != measured["conv3x3"]
    ex = Explorer(conv_net(), x, repeats=1)
    before = ex.profile.flops
    assert before == measured["conv3x3"] and _summary(ex, "FLOPs") == format_count(before)
    png = ex.image.value
    ex.controls["conv"].control.value = 1  # conv5x5
    assert ex.space.current() == {"conv": "conv5x5"}
    assert ex.profile.flops - before == measured["conv5x5"] - measured["conv3x3"]
    assert _summary(ex, "FLOPs") == format_count(measured["conv5x5"]) != format_count(before)
    assert ex.graph.nodes["0.conv5x5"]["active"] and ex.image.value != png
    ex.close()


def test_summary_follows_parameters():
    net = nn.Sequential(mutables.LayerChoice(OrderedDict(wide=nn.Linear(4, 8), narrow=nn.Linear(4, 2)), key="fc"))
    ex = Explorer(net, torch.zeros(1, 4), repeats=1)
    assert "output shape: (1, 8)" in ex.summary_text and _params(ex) == "40 / 50"
    ex.controls["fc"].control.value = 1  # "narrow"
    assert "output shape: (1, 2)" in ex.summary_text and _params(ex) == "10 / 50"
    assert ex.graph.nodes["0.narrow"]["active"]
    ex.close()


def test_failing_combination_is_shown_and_rolled_back(explorer):
    good_png = explorer.image.value
    explorer.controls["conv1"].control.value = 1  # 5x5 stride 3 breaks fc1's 9216 inputs
    assert explorer.space.current() == {"conv1": 0, "skipcon": [0]}
    assert explorer.controls["conv1"].value == 0
    box = explorer.error_box.value
    assert "mat1 and mat2 shapes cannot be multiplied" in box
    assert "keys changed last: conv1=1" in box and "in module &#x27;fc1&#x27;" in box
    assert "rolled back to the last good architecture" in box
    assert isinstance(explorer.error, nasnb.profile.ForwardError) and explorer.error.keys == ["conv1"]
    assert explorer.image.value == good_png
    explorer.controls["skipcon"].checkboxes[0].value = False  # still usable; the error clears
    assert explorer.space.current()["skipcon"] == [] and explorer.error_box.value == ""


def test_changes_made_elsewhere_update_the_controls(explorer):
    explorer.space.apply({"skipcon": []})  # right after opening: throttled, shown when read
    assert explorer._controls["skipcon"].value == [0], "not yet: the panel follows at most 5% of the time"
    assert explorer.controls["skipcon"].value == []
    assert explorer.graph.nodes["skipcon"]["active"] is False
    explorer.space.apply({"conv1": 1})  # not ours: shown, not undone
    assert explorer.error is not None  # reading brings a throttled panel up to date
    assert explorer.space.current()["conv1"] == 1 and explorer.controls["conv1"].value == 1
    assert "changed outside the explorer" in explorer.error_box.value


def test_random_reset_export_load(explorer, tmp_path):
    draws = __import__("random").Random(0)
    space = nasnb.SearchSpace(SeedNet())
    tried = [space.sample(seed=draws) for _ in range(3)]
    assert [a["conv1"] for a in tried] == [1, 1, 0], "conv1=1 (5x5, stride 3) never fits fc1: the first two fail"
    arch = explorer.random()
    assert arch == tried[2] and explorer.space.current() == tried[2] and explorer.error is None
    assert "skipped 2 that fail in forward" in explorer.status.value
    assert tried[0] in explorer.failing and tried[1] in explorer.failing
    assert "random: drew the current architecture again; skipped 2" in explorer.status.value, "it is the default"
    explorer.reset()
    assert explorer.space.current() == {"conv1": 0, "skipcon": [0]}
    assert "reset: already the defaults" in explorer.status.value
    explorer.space.apply({"skipcon": []})
    explorer.reset()
    assert "reset: 1 key(s) changed" in explorer.status.value
    path = tmp_path / "arch.json"
    explorer.controls["skipcon"].checkboxes[0].value = False
    assert explorer.export(path) == {"conv1": 0, "skipcon": []}
    assert json.loads(path.read_text()) == {"conv1": 0, "skipcon": []}
    assert json.loads(explorer.json.value) == {"conv1": 0, "skipcon": []}
    assert "saved to" in explorer.status.value
    explorer.reset()
    assert explorer.load(str(path)) == {"conv1": 0, "skipcon": []}
    assert explorer.load('{"skipcon": [0]}') == {"conv1": 0, "skipcon": [0]}


def test_buttons_show_errors_in_the_panel(explorer, tmp_path):
    by_class = {next(c for c in b._dom_classes if c.startswith("nasnb-")): b
                for b in explorer.buttons.children if isinstance(b, widgets.Button)}
    explorer.json.value = '{"conv1": "conv7x7"}'
    by_class["nasnb-load-text"].click()
    assert "ArchitectureError" in explorer.error_box.value and "conv7x7" in explorer.error_box.value
    explorer.json.value = "{oops"
    by_class["nasnb-load-text"].click()
    assert "not valid JSON" in explorer.error_box.value
    explorer.path.value = str(tmp_path / "missing.json")
    by_class["nasnb-load-file"].click()
    assert "no file" in explorer.error_box.value and "missing.json" in explorer.error_box.value
    explorer.path.value = str(tmp_path / "out.json")
    by_class["nasnb-export"].click()
    assert (tmp_path / "out.json").exists()
    by_class["nasnb-reset"].click()
    assert explorer.space.current() == {"conv1": 0, "skipcon": [0]}
    with pytest.raises(nasnb.widgets.LoadError, match="not valid JSON"):
        explorer.load("{oops")


def test_controls_grouped_by_scope():
    ex = Explorer(CellNet(), torch.zeros(1, 1, 8, 8), repeats=1, graph=False)
    titles = [g.children[0].value for g in ex.controls_box.children]
    assert any(">normal<" in t for t in titles)  # the cells' MutableScope key
    assert len(ex.controls) == len(ex.space) == 7
    assert ex.image.layout.display == "none"
    ex.close()


def test_close_unsubscribes(seed):
    ex = Explorer(seed, X, repeats=1, graph=False)
    ex.close()
    ex.space.apply({"skipcon": []})
    assert ex.controls["skipcon"].value == [0]


def test_bad_graph_option():
    with pytest.raises(ValueError, match=r"graph='yes' is not one of True, False, 'auto'"):
        Explorer(nn.Sequential(mutables.LayerChoice([nn.ReLU()], key="a")), torch.zeros(1), graph="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_selector_runs_on_gpu(explorer):
    explorer.device.value = "cuda"
    assert "device: cuda" in explorer.summary_text and "peak GPU memory: -" not in explorer.summary_text
    explorer.device.value = "cpu"
    assert "device: cpu" in explorer.summary_text


# ------------------------------------------------------------------ pacing
def _count_profiles(monkeypatch):
    import nasnb.widgets._explorer as mod

    calls = []
    real = mod.profile

    def counting(space, *args, **kwargs):
        calls.append(space.current())
        return real(space, *args, **kwargs)

    monkeypatch.setattr(mod, "profile", counting)
    return calls


def test_a_burst_of_clicks_in_a_notebook_computes_the_last_state_once(seed, monkeypatch):
    import asyncio

    calls = _count_profiles(monkeypatch)

    async def notebook():  # a kernel: widget messages arrive while an asyncio loop runs
        ex = Explorer(seed, X, repeats=1, delay=0.05)
        before_png = ex.image.value
        calls.clear()
        box = ex.controls["skipcon"].checkboxes[0]
        for i in range(6):
            box.value = i % 2 == 0  # six quick clicks: off, on, off, on, off, on... ends unchecked
        busy_right_after = ex.busy.value
        assert calls == [], "nothing is computed while clicks keep coming"
        await asyncio.sleep(0.3)
        assert ex._painter.wait(10)
        return ex, busy_right_after, before_png

    ex, busy, before_png = asyncio.run(notebook())
    assert "updating" in busy, "the panel shows at once that work is pending"
    assert calls == [{"conv1": 0, "skipcon": []}], "one computation, of the last state"
    assert ex.busy.value == "" and ex.space.current()["skipcon"] == []
    assert ex.image.value != before_png, "the graph was redrawn (on the worker thread)"
    ex.close()


def test_changes_from_a_training_loop_are_throttled(seed, monkeypatch):
    calls = _count_profiles(monkeypatch)
    ex = Explorer(seed, X, repeats=1, budget=0.05)
    calls.clear()
    for step in range(40):  # e.g. SPOS resampling the space every step
        ex.space.apply({"skipcon": [0] if step % 2 else []})
    assert len(calls) <= 2, f"{len(calls)} refreshes for 40 quick changes (each costs ~20x the change)"
    assert ex.profile is not None and calls[-1] == ex.space.current() == {"conv1": 0, "skipcon": [0]}, \
        "reading the panel brings it to the last state"
    ex.close()


def test_static_preview_and_candidate_chart(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    static = bundle["text/html"]
    assert "search space size" in static and "parameters" in static and "data:image/png;base64," in static
    rows = explorer.candidate_costs("conv1")
    assert [r.candidate for r in rows] == ["0", "1"]
    assert explorer.cost_image.value[:4] == b"\x89PNG" and explorer.cost_image.layout.display is None
    assert "candidates of <b>conv1</b>" in explorer.status.value


def test_standalone_choice_widget_refuses_a_choice_that_breaks_forward():
    torch.manual_seed(0)
    net = SeedNet()
    space = nasnb.SearchSpace(net)
    w = choice_widget(net.conv1)
    w.control.control.value = 1  # the model never ran: nothing to check with
    assert net.conv1.choice == 1 and "forward not checked" in w.control.message.value
    w.control.control.value = 0
    x = torch.zeros(2, 1, 28, 28)
    net(x)  # the widget now checks changes on this input (kept weakly)
    w.control.control.value = 1  # 5x5 stride 3: fc1 no longer fits
    assert net.conv1.choice == 0 and w.control.control.value == 0, "the model stays in its last good state"
    assert "fails in forward" in w.control.message.value and "conv1" in w.control.message.value
    assert space.current()["conv1"] == 0
    static = w._repr_mimebundle_()["text/html"]
    assert "conv1" in static and "Conv2d" in static
    clone = copy.deepcopy(net)  # the remembering hook is inert in copies and pickles
    pickle.loads(pickle.dumps(net))(x)
    assert clone(x).shape == (2, 10)


def test_explorer_draws_cells_for_a_cell_space_and_the_graph_otherwise(seed):
    from nasnb import spaces

    darts = Explorer(spaces.DARTS.small(), torch.zeros(1, 3, 32, 32), repeats=1)
    assert darts.view == "cell" and darts.image.value[:4] == b"\x89PNG"
    png = darts.image.value
    darts.controls["normal_n2_p0"].control.value = 3  # sep_conv_3x3 on a kept edge: the label changes
    assert darts.wait() and darts.image.value != png
    darts.close()
    plain = Explorer(seed, X, repeats=1)
    assert plain.view == "graph"
    plain.close()
    with pytest.raises(ValueError, match="view='cells' is not one of"):
        Explorer(seed, X, view="cells")


class _TwoOfThree(nn.Module):
    def __init__(self):
        super().__init__()
        self.ops = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))
        self.pick = mutables.InputChoice(n_candidates=3, n_chosen=2, key="pick")

    def forward(self, x):
        return self.pick([op(x) for op in self.ops])


def test_a_refusal_outlives_the_settle_of_the_clicks_before_it():
    """The refusal message is not wiped when the debounced update of earlier clicks lands after it."""
    import asyncio

    async def notebook():
        ex = Explorer(_TwoOfThree(), torch.zeros(1, 4), repeats=1, delay=0.05)
        boxes = ex.controls["pick"].checkboxes
        boxes[2].value = True  # accepted (0 makes room): an update is scheduled
        boxes[1].value = False  # refused at once, before that update ran
        refused = ex.error_box.value
        await asyncio.sleep(0.3)  # the scheduled update runs and succeeds
        after_settle = ex.error_box.value
        boxes[0].value = True  # the next good click clears the message
        await asyncio.sleep(0.3)
        return ex, refused, after_settle

    ex, refused, after_settle = asyncio.run(notebook())
    assert "pick: exactly 2 input(s) must stay chosen" in refused
    assert after_settle == refused
    assert ex.error_box.value == "" and ex.space.current()["pick"] == [0, 2]
    ex.close()
