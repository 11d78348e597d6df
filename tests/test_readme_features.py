"""README features that had no test of their own: each claim below is checked by what it does.

* one-shot trainers: ``train()`` / ``fit()`` (``fit`` is ``train``, and it trains);
* the Explorer's ``random`` button (clicked, not the method);
* ``nasnb.plot.plot_candidates(..., ax=ax)`` draws into the caller's axes;
* ``fix()`` with zero overhead: a fixed DARTS model holds no mutables, nothing of its dropped
  edges, and exactly the parameters of the chosen ops (plus the fixed stem, preprocessing, head).

The process executor's concurrency is checked in ``test_experiment.py`` (trials that overlap).
"""

from __future__ import annotations

import random
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import nasnb
from nasnb import mutables


def _digits(n: int = 128) -> TensorDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    return TensorDataset(torch.tensor(d.data[:n], dtype=torch.float32) / 16.0, torch.tensor(d.target[:n]))


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 16),
                         mutables.LayerChoice(OrderedDict(relu=nn.ReLU(), tanh=nn.Tanh()), key="act"),
                         nn.Linear(16, 10))


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ one-shot: fit() is train()
def test_fit_is_train_on_every_one_shot_trainer_and_it_trains():
    from nasnb.oneshot import DartsTrainer, EnasTrainer, ProxylessTrainer, SPOSTrainer

    for cls in (DartsTrainer, EnasTrainer, ProxylessTrainer, SPOSTrainer):
        assert cls.fit is cls.train, cls.__name__
    torch.manual_seed(0)
    net = _mlp()
    before = [p.detach().clone() for p in net.parameters()]
    data = _digits()
    trainer = SPOSTrainer(net, F.cross_entropy, optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
                          num_epochs=2, dataset_train=data, batch_size=32, seed=0, progress=False, live_plot=False)
    x, y = data.tensors
    with torch.no_grad():
        loss_before = float(F.cross_entropy(nasnb.SearchSpace(net).fix({"act": "relu"})(x), y))
    history = trainer.fit()
    assert trainer.epoch == 2 and history is trainer.history and len(history) > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters())), "fit() left weights untouched"
    with torch.no_grad():
        loss_after = float(F.cross_entropy(nasnb.SearchSpace(net).fix({"act": "relu"})(x), y))
    assert loss_after < loss_before


# ------------------------------------------------------------------ Explorer: the random button
def test_explorer_random_button_applies_a_drawn_architecture_and_says_so():
    pytest.importorskip("ipywidgets")
    from nasnb.widgets import Explorer

    def net():
        return nn.Sequential(*[
            mutables.LayerChoice(OrderedDict(wide=nn.Linear(4, 4), tanh=nn.Tanh(), skip=nn.Identity()), key=f"l{i}")
            for i in range(3)
        ])

    seed = 1
    expected = nasnb.SearchSpace(net()).sample(seed=random.Random(seed))  # the explorer's first draw
    ex = Explorer(net(), torch.zeros(1, 4), repeats=1, seed=seed)
    defaults = ex.space.current()
    assert expected != defaults
    button = next(b for b in ex.buttons.children if "nasnb-random" in b._dom_classes)
    button.click()
    assert ex.space.current() == expected
    assert {k: ex.controls[k].value for k in expected} == expected  # the controls follow
    changed = sum(expected[k] != defaults[k] for k in expected)
    assert ex.status.value == f"random: {changed} key(s) changed"
    assert ex.error is None and ex.error_box.value == ""
    ex.close()


# ------------------------------------------------------------------ plot_candidates(ax=...)
def test_plot_candidates_draws_into_the_given_axes():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from nasnb.plot import plot_candidates
    from nasnb.profile import profile_candidates

    net = nn.Sequential(mutables.LayerChoice(OrderedDict(big=nn.Linear(4, 8), small=nn.Linear(4, 2),
                                                         none=nn.Identity()), key="op"))
    rows = profile_candidates(net, "op", torch.zeros(1, 4), latency=False)
    fig = Figure()
    left, right = fig.subplots(1, 2)
    out = plot_candidates(rows, metric="params", ax=right)
    assert out is fig and fig.axes == [left, right]  # no new axes, no new figure
    assert not left.patches  # the other axes untouched
    assert [bar.get_width() for bar in right.patches] == [40, 10, 0]  # one bar per candidate: its parameters
    assert right.get_title() == "op: parameters"


# ------------------------------------------------------------------ fix() costs nothing
def test_fixed_darts_model_holds_only_the_chosen_ops():
    from nasnb.fixed import UnusedChoice
    from nasnb.spaces import DARTS

    torch.manual_seed(0)
    net = DARTS.small()
    space = nasnb.SearchSpace(net)
    arch = space.sample(seed=3)
    dropped = set(space.unused(arch, example_input=net.example_input()))
    layer_choices = [m for m in net.modules() if isinstance(m, mutables.LayerChoice)]
    assert dropped and len({lc.key for lc in layer_choices} - dropped) > 0
    # expected: the supernet without any candidate, plus the chosen candidate of every kept edge
    all_candidates = sum(_n_params(c) for lc in layer_choices for c in lc)
    chosen = sum(_n_params(lc[arch[lc.key]]) for lc in layer_choices if lc.key not in dropped)
    expected = _n_params(net) - all_candidates + chosen
    on_dropped = sum(_n_params(lc[arch[lc.key]]) for lc in layer_choices if lc.key in dropped)
    assert on_dropped > 0  # keeping a dropped edge would show in the count

    fixed = space.fix(arch)
    assert not any(isinstance(m, (mutables.Mutable, mutables.LayerChoice, mutables.InputChoice))
                   for m in fixed.modules())
    unused = [m for m in fixed.modules() if isinstance(m, UnusedChoice)]
    assert len(unused) == sum(lc.key in dropped for lc in layer_choices)  # one stand-in per dropped edge
    assert all(not list(m.children()) and _n_params(m) == 0 for m in unused)  # holding nothing
    assert _n_params(fixed) == expected
    net.eval(), fixed.eval()
    x = torch.randn(2, 3, 32, 32)
    space.apply(arch)
    with torch.no_grad():
        torch.testing.assert_close(fixed(x), net(x))  # the same network, weights carried over
