"""DARTS as in its paper (a zero candidate on every edge) and against its collapse onto skips (DARTS-, skip share)."""

from __future__ import annotations

import warnings
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import nasnb
from nasnb import mutables, spaces
from nasnb.oneshot import ArchHistory, DartsTrainer, accuracy
from nasnb.oneshot._live import LiveMonitor
from nasnb.oneshot.callbacks import Callback
from nasnb.spaces.darts import DARTS_OPS

from ._nets import OpNet, digits

COLLAPSE = "collapsing onto skip connections"


def _images(n: int = 4) -> TensorDataset:
    return TensorDataset(torch.zeros(n, 3, 32, 32), torch.zeros(n, dtype=torch.long))


# ------------------------------------------------------------------ zero candidate on every edge
@pytest.mark.parametrize("op_names", [DARTS_OPS, DARTS_OPS[:-1]], ids=["explicit-none", "implicit-zero"])
def test_every_edge_of_a_darts_cell_mixes_eight_ops(op_names):
    """14 edges x 8 ops (7 DARTS ops + none) = 112 weights per cell, node 0's two edges included;
    an explicit ``none`` candidate is the edge's zero, not a second one."""
    t = DartsTrainer(spaces.DARTS.small(op_names=op_names), F.cross_entropy, dataset_train=_images(), progress=False)
    for prefix in ("normal", "reduce"):
        keys = [k for k in t.alphas if k.startswith(f"{prefix}_n")]
        assert len(keys) == 14
        assert {len(t.alphas[k]) for k in keys} == {8}
        assert sum(len(t.alphas[k]) for k in keys) == 112
    assert not any(k.endswith("_switch") for k in t.alphas)  # nodes sum their edges, no weights of their own


@pytest.mark.parametrize("op_names", [DARTS_OPS, DARTS_OPS[:-1]], ids=["explicit-none", "implicit-zero"])
def test_export_never_picks_zero_and_fix_still_works(op_names):
    t = DartsTrainer(spaces.DARTS.small(op_names=op_names), F.cross_entropy, dataset_train=_images(), progress=False)
    zero = len(op_names) - 1 if "none" in op_names else len(op_names)  # index of the edge's zero candidate
    with torch.no_grad():
        for a in t.alphas.values():
            a.zero_()
            a[zero] = 5.0  # zero is the strongest candidate everywhere
            a[3] = 1.0  # sep_conv_3x3 the strongest non-zero one
    arch = t.export()
    ops = {v for k, v in arch.items() if not k.endswith("_switch")}
    assert ops == {"sep_conv_3x3"}
    assert arch["normal_n2_switch"] == ["normal_n2_p0", "normal_n2_p1"]  # node 0 keeps both of its edges
    assert all(len(v) == 2 for k, v in arch.items() if k.endswith("_switch"))
    fixed = t.space.fix(arch)
    assert fixed(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


class _AllEdges(nn.Module):
    """A node keeping all (both) of its edges: size-1 InputChoice whose choose_from names LayerChoice keys."""

    def __init__(self):
        super().__init__()
        self.a = mutables.LayerChoice(OrderedDict(lin=nn.Linear(4, 4), tanh=nn.Tanh()), key="a")
        self.b = mutables.LayerChoice(OrderedDict(lin=nn.Linear(4, 4), relu=nn.ReLU()), key="b")
        self.node = mutables.InputChoice(choose_from=["a", "b"], n_chosen=2, key="node")

    def forward(self, x):
        return self.node([self.a(x), self.b(x)])


def test_a_node_keeping_all_edges_still_gives_them_the_zero_candidate():
    data = [(torch.randn(8, 4), torch.randn(8, 4))]
    t = DartsTrainer(_AllEdges(), F.mse_loss, dataset_train=data, arch_data=data, progress=False)
    assert t._zero_keys == {"a", "b"} and len(t.alphas["a"]) == len(t.alphas["b"]) == 3
    with torch.no_grad():
        t.alphas["a"].copy_(torch.tensor([0.0, 1.0, 9.0]))
    assert sum(t._arch_weights()["a"]) < 0.01  # the hidden zero takes almost everything
    arch = t.export()
    assert arch["a"] == "tanh" and arch["node"] == ["a", "b"]


# ------------------------------------------------------------------ DARTS-: the auxiliary skip
class _Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.same = mutables.LayerChoice(OrderedDict(lin=nn.Linear(4, 4), tanh=nn.Tanh()), key="same")
        self.down = mutables.LayerChoice(OrderedDict(lin=nn.Linear(4, 3), lin2=nn.Linear(4, 3)), key="down")

    def forward(self, x):
        return self.down(self.same(x))


def _mixed_trainer(**kw):
    torch.manual_seed(0)
    data = [(torch.randn(8, 4), torch.randn(8, 3))]
    return DartsTrainer(_Mixed(), F.mse_loss, num_epochs=4, dataset_train=data, arch_data=data, progress=False, **kw)


def _plain(t, x):
    """The plain DARTS mixture of both keys, computed by hand from the alphas."""
    w = {k: torch.softmax(a.detach(), -1) for k, a in t.alphas.items()}
    same = sum(w["same"][i] * op(x) for i, op in enumerate(t.model.same))
    return sum(w["down"][i] * op(same) for i, op in enumerate(t.model.down)), same


def test_the_aux_skip_is_added_where_shapes_match_while_beta_is_positive():
    t = _mixed_trainer(aux_skip=1.0)
    x = torch.randn(5, 4)
    with torch.no_grad():
        for epoch, beta in ((0, 1.0), (2, 0.5), (4, 0.0)):
            t.epoch = epoch
            t._enter()
            try:
                out = t.model(x)
            finally:
                t._exit()
            _, same = _plain(t, x)
            same_aux = same + beta * x  # "same" keeps its shape: it gets the skip; "down" does not
            w = torch.softmax(t.alphas["down"], -1)
            want = sum(w[i] * op(same_aux) for i, op in enumerate(t.model.down))
            assert torch.allclose(out, want, atol=1e-6)
            if beta:
                assert not torch.allclose(out, _plain(t, x)[0], atol=1e-4)
            else:
                assert torch.equal(out, want) and torch.allclose(out, _plain(t, x)[0], atol=1e-6)


def test_aux_skip_off_is_plain_darts():
    for off in (None, 0, 0.0):
        t = _mixed_trainer(aux_skip=off)
        assert t.aux_beta(0) == 0.0
        x = torch.randn(5, 4)
        with torch.no_grad():
            t._enter()
            try:
                out = t.model(x)
            finally:
                t._exit()
            assert torch.allclose(out, _plain(t, x)[0], atol=1e-6)


@pytest.mark.parametrize("bad", [-1.0, "1", True, float("nan")])
def test_aux_skip_must_be_a_non_negative_number(bad):
    with pytest.raises(ValueError, match="aux_skip must be None or a number >= 0"):
        _mixed_trainer(aux_skip=bad)


class _Betas(Callback):
    def __init__(self):
        super().__init__()
        self.betas: dict[int, set[float]] = {}
        self.epoch = 0

    def on_epoch_begin(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        self.betas.setdefault(self.epoch, set()).add(self.trainer.mixer.beta)


def test_beta_decays_linearly_per_epoch_in_train_and_vanishes_from_export_and_fix():
    betas = _Betas()
    train, valid = digits(n_train=256)
    torch.manual_seed(0)
    t = DartsTrainer(OpNet(), F.cross_entropy, accuracy, num_epochs=4, dataset_train=train, dataset_valid=valid,
                     batch_size=64, arc_learning_rate=3e-2, aux_skip=2.0, callbacks=[betas], progress=False)
    t.train()
    assert betas.betas == {0: {2.0}, 1: {1.5}, 2: {1.0}, 3: {0.5}}
    assert t.aux_beta() == 0.0 and [t.aux_beta(e) for e in (0, 1, 4, 5)] == [2.0, 1.5, 0.0, 0.0]
    arch = t.export()
    assert set(arch) == {"op"}  # the auxiliary skip is no key and no candidate
    fixed = t.space.fix(arch)
    x = valid.tensors[0][:8]
    t.model.eval()
    with torch.no_grad():  # the model runs the exported op, without the skip
        assert torch.equal(fixed.eval()(x), t.model(x))


def test_a_hand_written_step_loop_follows_trainer_epoch():
    t = _mixed_trainer(aux_skip=1.0)
    batch = (torch.randn(8, 4), torch.randn(8, 3))
    seen = []
    for epoch in range(4):
        t.epoch = epoch
        t.step(batch, batch)
        seen.append(t.mixer.beta)
    t.finish()
    assert seen == [1.0, 0.75, 0.5, 0.25]


# ------------------------------------------------------------------ skip share and the collapse warning
class _Noise(nn.Module):
    """Noise the shape of the input: it carries nothing, so the skip beside it is clearly better."""

    def forward(self, x):
        return torch.randn_like(x)


class _SkipWins(nn.Module):
    def __init__(self, dim=32, edges=4):
        super().__init__()
        self.stem = nn.Linear(64, dim)
        self.edges = nn.ModuleList(
            mutables.LayerChoice(OrderedDict(noise=_Noise(), skip=nn.Identity()), key=f"e{i}")
            for i in range(edges)
        )
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for e in self.edges:
            h = e(h)
        return self.head(h)


def _search(make, epochs=3, **kw):
    train, valid = digits(n_train=256)
    torch.manual_seed(0)
    return DartsTrainer(make(), F.cross_entropy, accuracy, num_epochs=epochs, dataset_train=train, dataset_valid=valid,
                        batch_size=64, progress=False, **kw)


def test_skip_share_is_recorded_and_the_collapse_warning_fires_once():
    t = _search(_SkipWins, arc_learning_rate=0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.train()
    collapse = [w for w in caught if COLLAPSE in str(w.message)]
    assert len(collapse) == 1 and collapse[0].category is UserWarning
    assert "aux_skip=1.0" in str(collapse[0].message)
    share = t.history.scalar("skip_share")
    assert len(share) == len(t.history) and share[-1][2] == 1.0  # every record, and every edge picks the skip
    weight = t.history.scalar("skip_weight")
    assert weight[-1][2] > weight[0][2] + 0.1
    assert [s for s, _, _ in share] == t.history.steps
    assert t.skip_stats() == {"skip_share": share[-1][2], "skip_weight": pytest.approx(weight[-1][2])}


def test_no_skip_candidate_no_share_no_warning():
    t = _search(OpNet, arc_learning_rate=0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.train()
    assert not [w for w in caught if COLLAPSE in str(w.message)]
    assert t.skip_stats() == {} and t.history.scalar("skip_share") == []


def test_the_warning_with_aux_skip_on_names_other_remedies():
    t = _search(_SkipWins, epochs=8, arc_learning_rate=0.3, aux_skip=1.0)  # the skip wins later with DARTS-
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.train()
    messages = [str(w.message) for w in caught if COLLAPSE in str(w.message)]
    assert len(messages) == 1 and "aux_skip is on (1)" in messages[0] and "aux_skip=1.0" not in messages[0]


def test_history_round_trips_the_scalars(tmp_path):
    h = ArchHistory({"op": ["a", "skip"]}, kind="softmax")
    h.append({"op": [0.5, 0.5]}, step=1, epoch=0.5)
    h.add_scalar("skip_share", 0.0, step=1, epoch=0.5)
    h.add_scalar("skip_share", 1.0, step=2, epoch=1.0)
    h.save(tmp_path / "h.json")
    back = ArchHistory.load(tmp_path / "h.json")
    assert back.scalar("skip_share") == [(1, 0.5, 0.0), (2, 1.0, 1.0)]
    assert ArchHistory.from_dict({k: v for k, v in h.to_dict().items() if k != "scalars"}).scalars == {}


def test_the_live_plot_draws_the_skip_share():
    pytest.importorskip("matplotlib")
    t = _search(_SkipWins, epochs=1, arc_learning_rate=0.3)
    t.train()
    fig = LiveMonitor(t, bar=False, text=False, plot=True).figure()
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert any(label.startswith("skip share (now ") for label in labels)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    own = [lg for lg in legends if any(t.get_text().startswith("skip share") for t in lg.get_texts())]
    assert len(own) == 1 and len(own[0].get_texts()) == 1  # its own legend: the keys are not listed twice


def test_checkpoint_round_trip_with_aux_skip(tmp_path):
    t = _search(_SkipWins, epochs=2, arc_learning_rate=0.3, aux_skip=1.0)
    t.num_epochs = 1
    t.train(apply=False)
    t.save_checkpoint(tmp_path / "c.pt")
    fresh = _search(_SkipWins, epochs=2, arc_learning_rate=0.3, aux_skip=1.0)
    fresh.load_checkpoint(tmp_path / "c.pt")
    assert fresh.epoch == 1 and fresh.aux_beta() == 0.5
    assert fresh.history.scalar("skip_share") == t.history.scalar("skip_share")
    for k in t.alphas:
        assert torch.equal(t.alphas[k], fresh.alphas[k])
    fresh.train()  # resumes the second epoch with beta 0.5 and ends at beta 0
    assert fresh.epoch == 2 and fresh.aux_beta() == 0.0
    assert nasnb.SearchSpace(_SkipWins()).validate(fresh.export()) == fresh.export()
