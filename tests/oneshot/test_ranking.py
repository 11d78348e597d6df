"""ranking_quality: the supernet's ranking against known truth, for all four trainers; the plot; bad input."""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasnb import mutables
from nasnb.bench import load_digits_benchmark
from nasnb.exceptions import BenchmarkError, TrainingError
from nasnb.oneshot import (
    DartsTrainer,
    EnasTrainer,
    ProxylessTrainer,
    SPOSTrainer,
    accuracy,
    arch_log_prob,
    ranking_quality,
)

from ._nets import Zero, digits

stats = pytest.importorskip("scipy.stats")


class Small(nn.Module):
    """3 ops x any subset of 2 skip inputs = 12 architectures."""

    def __init__(self, bn: bool = False):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16) if bn else nn.Identity(), nn.ReLU())
        self.op = mutables.LayerChoice(OrderedDict(
            relu=nn.Sequential(nn.Linear(16, 16), nn.ReLU()), tanh=nn.Sequential(nn.Linear(16, 16), nn.Tanh()),
            zero=Zero()), key="op")
        self.skip = mutables.InputChoice(n_candidates=2, n_chosen=None, key="skip")
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        h = self.stem(x)
        out = self.op(h)
        extra = self.skip([h, out])
        return self.head(out if extra is None else out + extra)


class One(nn.Module):
    """A single LayerChoice of 4 candidates: 4 architectures, log-probabilities set by hand."""

    def __init__(self):
        super().__init__()
        self.op = mutables.LayerChoice([nn.Linear(64, 10) for _ in range(4)], key="op")

    def forward(self, x):
        return self.op(x)


TRAINERS = {
    "spos": (SPOSTrainer, {}),
    "enas": (EnasTrainer, {"controller_steps": 2}),
    "darts": (DartsTrainer, {"arc_learning_rate": 3e-3}),
    "proxyless": (ProxylessTrainer, {"arch_lr": 3e-3}),
}


def _trained(name: str, net: nn.Module | None = None):
    cls, kw = TRAINERS[name]
    train, valid = digits()
    t = cls(net or Small(), F.cross_entropy, accuracy, None, 1, train, valid, batch_size=64, progress=False, **kw)
    t.train(validate=False)
    if name == "spos":
        t.search(population=4, generations=2, seed=0)
    return t


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    return {name: _trained(name) for name in TRAINERS}


def _by_json(report, values) -> dict[str, float]:
    return {json.dumps(a): v for a, v in zip(report.archs, values)}


@pytest.mark.parametrize("name", list(TRAINERS))
def test_each_trainer_gives_a_full_report_whose_correlations_are_scipys(trained, name):
    t = trained[name]
    truth = lambda arch: {"relu": 0.9, "tanh": 0.8, "zero": 0.1}[arch["op"]] + 0.01 * len(arch["skip"])
    report = ranking_quality(t, truth, k=3)
    assert len(report) == t.space.size == 12
    assert report.estimate == ("logprob" if name in ("darts", "proxyless") else "inherited")
    assert -1.0 <= report.kendall_tau <= 1.0
    assert report.kendall_tau == pytest.approx(stats.kendalltau(report.estimates, report.truths).statistic)
    assert report.spearman_rho == pytest.approx(stats.spearmanr(report.estimates, report.truths).statistic)
    assert report.truths == [truth(a) for a in report.archs]
    assert report.exported == t.space.validate(t.export())
    assert report.exported_truth == truth(report.exported)


@pytest.mark.parametrize("name", list(TRAINERS))
def test_truth_equal_to_the_estimate_gives_tau_one_and_reversed_minus_one(trained, name):
    t = trained[name]
    first = ranking_quality(t, lambda arch: 0.0 if arch["op"] == "zero" else 1.0)
    same = _by_json(first, first.estimates)
    assert ranking_quality(t, same).kendall_tau == pytest.approx(1.0)
    assert ranking_quality(t, same).spearman_rho == pytest.approx(1.0)
    assert ranking_quality(t, same, mode="min").kendall_tau == pytest.approx(-1.0)
    assert ranking_quality(t, _by_json(first, [-e for e in first.estimates])).kendall_tau == pytest.approx(-1.0)


def test_inherited_estimate_of_darts_and_proxyless_scores_single_paths(trained):
    t = trained["darts"]
    report = ranking_quality(t, lambda arch: 1.0 if arch["op"] == "relu" else 0.0, estimate="inherited",
                             score_by="acc")
    assert (report.estimate, report.score_by) == ("inherited", "acc")
    assert all(0.0 <= e <= 1.0 for e in report.estimates)  # accuracies of single paths, not log-probabilities
    assert len(set(report.estimates)) > 1


def test_inherited_estimate_is_the_single_paths_validation_score():
    t = _one_darts([0.4, 0.3, 0.2, 0.1])
    _, valid = digits()
    x, y = valid.tensors
    acc = ranking_quality(t, lambda arch: float(arch["op"]), estimate="inherited", score_by="acc")
    loss = ranking_quality(t, lambda arch: float(arch["op"]), estimate="inherited")  # default: minus the mean loss
    assert loss.score_by == "loss" and "minus the loss" in repr(loss)
    with torch.no_grad():
        for i, arch in enumerate(acc.archs):
            out = t.model.op[arch["op"]](x)
            assert acc.estimates[i] == pytest.approx(float((out.argmax(1) == y).float().mean()))
            assert loss.estimates[i] == pytest.approx(-float(F.cross_entropy(out, y)), rel=1e-5)


def test_log_prob_follows_the_learned_weights(trained):
    t = trained["darts"]
    w = t._arch_weights()
    arch = {"op": (1,), "skip": (0,)}
    expected = math.log(w["op"][1] / sum(w["op"])) + math.log(w["skip"][0]) + math.log(1 - w["skip"][1])
    assert arch_log_prob(t, arch) == pytest.approx(expected)


def _one_darts(probs):
    train, valid = digits()
    t = DartsTrainer(One(), F.cross_entropy, accuracy, dataset_train=train, dataset_valid=valid, progress=False)
    with torch.no_grad():
        t.alphas["op"].copy_(torch.tensor(probs).log())
    return t


def test_top_k_overlap_tau_and_exported_rank_by_hand():
    t = _one_darts([0.4, 0.3, 0.2, 0.1])  # estimate order 0 > 1 > 2 > 3; export() = candidate 0
    truth = {json.dumps({"op": i}): v for i, v in enumerate([1.0, 4.0, 3.0, 2.0])}  # truth order 1 > 2 > 3 > 0
    report = ranking_quality(t, truth, k=2)
    assert report.top_k_overlap == 0.5  # {0, 1} & {1, 2}
    assert report.kendall_tau == pytest.approx(0.0)  # pairs with 0: 3 discordant; the other 3: concordant
    assert report.exported == {"op": 0}
    assert (report.exported_rank, report.exported_percentile) == (4, 0.0)  # the truly worst
    assert ranking_quality(t, truth, k=1).top_k_overlap == 0.0
    assert ranking_quality(t, truth, k=4).top_k_overlap == 1.0
    best = ranking_quality(t, {json.dumps({"op": i}): v for i, v in enumerate([4.0, 1.0, 3.0, 2.0])}, k=2)
    assert (best.exported_rank, best.exported_percentile, best.top_k_overlap) == (1, 100.0, 0.5)



def test_top_k_overlap_counts_ties_of_the_truth():
    t = _one_darts([0.1, 0.2, 0.3, 0.4])  # estimate order 3 > 2 > 1 > 0
    truth = {json.dumps({"op": i}): v for i, v in enumerate([3.0, 3.0, 4.0, 3.0])}  # 2nd best: 0, 1 and 3 tie
    assert ranking_quality(t, truth, k=2).top_k_overlap == 1.0  # {3, 2} are both in the true top 2 with ties
    assert ranking_quality(t, truth, k=1).top_k_overlap == 0.0  # 3 is not the best
    fig = ranking_quality(t, truth, k=2).plot()
    assert any(text.get_text() == "true top 2 (4 with ties)" for text in fig.axes[0].get_legend().get_texts())


def test_table_truth_uses_its_metric_and_a_seeded_sample():
    torch.manual_seed(0)
    bench = load_digits_benchmark()
    t = _trained("spos", bench.space.model)
    report = ranking_quality(t, bench, sample=30, seed=3)
    assert len(report) == 30 and len({json.dumps(a) for a in report.archs}) == 30
    assert report.metric == "val_acc" and report.truths == [bench.score(a) for a in report.archs]
    assert ranking_quality(t, bench, sample=30, seed=3).archs == report.archs
    assert ranking_quality(t, bench, sample=30, seed=4).archs != report.archs
    assert "Kendall tau" in repr(report) and f"{report.kendall_tau:.3f}" in repr(report)
    assert f"{report.spearman_rho:.3f}" in report._repr_html_()


def test_the_model_is_left_as_it_was():
    torch.manual_seed(0)
    t = _trained("spos", Small(bn=True))
    t.space.set_indices({"op": (2,), "skip": ()})
    t.model.train()
    bn = t.model.stem[1]
    mean = bn.running_mean.clone()
    ranking_quality(t, lambda arch: float(arch["op"] == "relu"))
    assert t.space.indices() == {"op": (2,), "skip": ()} and t.model.training
    assert torch.equal(bn.running_mean, mean)


def test_plot_rings_and_labels_the_exported_architecture():
    from tests.test_plot_readability import _check_fonts, _check_inside, _check_labels_apart, _check_no_overlap

    t = _one_darts([0.4, 0.3, 0.2, 0.1])
    report = ranking_quality(t, {json.dumps({"op": i}): v for i, v in enumerate([1.0, 4.0, 3.0, 2.0])}, k=2)
    fig = report.plot()
    ax = fig.axes[0]
    rings = [c for c in ax.collections if len(c.get_facecolors()) == 0]  # hollow markers
    assert len(rings) == 1
    assert rings[0].get_offsets().tolist() == [[report.exported_estimate, report.exported_truth]]
    assert report.exported_estimate == pytest.approx(math.log(0.4))
    assert any(text.get_text() == "exported" for text in ax.texts)
    assert any("true rank 4" in text.get_text() for text in ax.get_legend().get_texts())
    assert "0.00" in ax.get_title(loc="left")  # tau
    for check in (_check_fonts, _check_inside, _check_no_overlap, _check_labels_apart):
        check(fig)


def test_errors_name_the_problem(trained):
    t = trained["spos"]
    missing = r"no score for architecture \{\"op\": \"relu\", \"skip\": \[0, 1\]\} \(the dict scores 1 of"
    with pytest.raises(BenchmarkError, match=missing):
        ranking_quality(t, {json.dumps({"op": "tanh", "skip": []}): 1.0})
    with pytest.raises(BenchmarkError, match="differs from the table's"):
        ranking_quality(t, load_digits_benchmark())
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        ranking_quality(t, lambda arch: 0.0, k=0)
    assert ranking_quality(t, lambda arch: 0.0, k=13).k == 12  # lowered to the number ranked
    with pytest.raises(ValueError, match="not both"):
        ranking_quality(t, lambda arch: 0.0, archs=[{"op": 0, "skip": []}], sample=2)
    with pytest.raises(ValueError, match="sample must be an int in 2..12"):
        ranking_quality(t, lambda arch: 0.0, sample=13)
    with pytest.raises(ValueError, match="SPOSTrainer learns no architecture distribution"):
        ranking_quality(t, lambda arch: 0.0, estimate="logprob")
    with pytest.raises(ValueError, match="estimate must be one of"):
        ranking_quality(t, lambda arch: 0.0, estimate="oracle")
    with pytest.raises(BenchmarkError, match="expected a number"):
        ranking_quality(t, lambda arch: "good")
    with pytest.raises(ValueError, match="twice"):
        ranking_quality(t, lambda arch: 0.0, archs=[{"op": 0, "skip": []}, {"op": "relu", "skip": []}])


def test_inherited_scoring_refuses_a_trainer_in_supernet_mode_or_without_data():
    train, _ = digits()
    t = DartsTrainer(Small(), F.cross_entropy, accuracy, dataset_train=train, dataset_valid=train, progress=False)
    t.step(next(iter(torch.utils.data.DataLoader(train, batch_size=32))))
    with pytest.raises(TrainingError, match=r"supernet mode .* call trainer.finish\(\)"):
        ranking_quality(t, lambda arch: 0.0, estimate="inherited")
    assert len(ranking_quality(t, lambda arch: 0.0)) == 12  # log-probabilities need no single path
    t.finish()
    t.dataset_valid = None
    with pytest.raises(TrainingError, match="needs data to score on"):
        ranking_quality(t, lambda arch: 0.0, estimate="inherited")


def test_score_by_acc_without_an_acc_metric_and_an_unknown_score_by_are_refused():
    t = _one_darts([0.4, 0.3, 0.2, 0.1])
    t.metrics = None
    with pytest.raises(TrainingError, match=r"score_by='acc' needs the metric 'acc'.*score_by='loss'"):
        ranking_quality(t, lambda arch: float(arch["op"]), estimate="inherited", score_by="acc")
    with pytest.raises(ValueError, match=r"score_by must be one of \['loss', 'acc'\].*'top1'"):
        ranking_quality(t, lambda arch: float(arch["op"]), estimate="inherited", score_by="top1")
