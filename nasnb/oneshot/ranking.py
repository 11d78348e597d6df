"""How well does a trained supernet rank architectures? Correlation of its estimates with ground truth.

One-shot NAS picks the architecture its supernet scores best, so it is only as good as
the supernet's *ranking*. :func:`ranking_quality` scores every architecture of a small
space (or a sample) with the trainer's estimate, compares the order with the true scores
(e.g. a :class:`~nasnb.bench.TabularBenchmark`) and returns a :class:`RankingReport`:

* Kendall's tau (tau-b): the share of architecture pairs the estimate orders like the
  truth, minus the share it orders the other way (1: same order, 0: unrelated, -1:
  reversed). Yu et al. (2020, "Evaluating the search phase of neural architecture
  search", ICLR) used it to show that weight-sharing rankings are often close to random.
* Spearman's rho: the correlation of the two rankings' positions; like tau, 1 is a
  perfect ranking, but it weighs large rank errors more.
* Top-k overlap: ``|top-k by estimate ∩ top-k by truth| / k``, what a search that keeps
  the supernet's best ``k`` actually needs. The true top k includes ties (every
  architecture scoring at least the k-th best, as :meth:`TabularBenchmark.top
  <nasnb.bench.TabularBenchmark.top>`); ties of the estimate go by the order of ``archs``.

The estimate depends on the algorithm (``estimate="auto"``): SPOS and ENAS train weights
meant to be inherited, so each architecture is scored on the validation data with the
supernet's weights (:func:`~nasnb.oneshot._spos_search.inherited_score`, the score of
SPOS's search, BatchNorm recalibrated; minus the validation loss by default, the metric
``acc`` with ``score_by="acc"``); DARTS and ProxylessNAS learn a distribution, so
the estimate is the architecture's log-probability under it (see :func:`arch_log_prob`).
Correlations use the truth oriented so that higher is better (negated for ``mode="min"``).
"""

from __future__ import annotations

import html
import json
import math
import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..exceptions import BenchmarkError, TrainingError
from ._spos_search import calibration_batches, check_score_by, inherited_score

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..bench import TabularBenchmark
    from ._base import OneShotTrainer

__all__ = ["RankingReport", "arch_log_prob", "ranking_quality"]

_ESTIMATES = ("auto", "inherited", "logprob")
_MAX_FULL = 1000  # spaces up to this size are evaluated whole by default
_EPS = 1e-12  # probabilities are clamped to [_EPS, 1 - _EPS] before the log


def _stats() -> Any:
    try:
        from scipy import stats
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("ranking_quality needs scipy for Kendall's tau and Spearman's rho: "
                          "pip install 'nasnb[notebooks]' (or scipy>=1.9)") from err
    return stats


@dataclass(repr=False)
class RankingReport:
    """How a supernet ranks architectures against the truth (see :func:`ranking_quality`).

    Attributes
    ----------
    trainer : str
        The trainer's class name.
    estimate : {"inherited", "logprob"}
        What the estimates are.
    score_by : {"loss", "acc"} or None
        What an "inherited" estimate scores (minus the loss, or the metric ``acc``); None
        for "logprob".
    metric, mode : str
        The truth's score name and direction ("max": higher is better).
    archs : list of dict
        The evaluated architectures (readable form), in evaluation order.
    estimates, truths : list of float
        Per architecture: the supernet's estimate (higher is better) and the true score.
    k : int
        The ``k`` of :attr:`top_k_overlap`.
    kendall_tau, spearman_rho : float
        Rank correlations (scipy's tau-b and rho) of the estimates with the truth; NaN if
        either side is constant.
    top_k_overlap : float
        ``|top-k by estimate ∩ top-k by truth| / k`` (the true top k with its ties).
    exported : dict
        The trainer's exported architecture, with ``exported_estimate`` and ``exported_truth``.
    exported_rank : int
        1 + the number of evaluated architectures with a strictly better true score.
    exported_percentile : float
        Percent of the other evaluated architectures whose true score is at most as good
        as the exported one's (100: none is better).
    """

    trainer: str
    estimate: str
    score_by: str | None
    metric: str
    mode: str
    archs: list[dict[str, Any]]
    estimates: list[float]
    truths: list[float]
    k: int
    kendall_tau: float
    spearman_rho: float
    top_k_overlap: float
    exported: dict[str, Any]
    exported_estimate: float
    exported_truth: float
    exported_rank: int
    exported_percentile: float

    def __len__(self) -> int:
        return len(self.archs)

    def _what(self) -> str:
        by = {"loss": " (minus the loss)", "acc": " (acc)", None: ""}[self.score_by]
        return f"{self.estimate}{by} vs {self.metric} ({self.mode})"

    def _lines(self) -> list[str]:
        return [
            f"{self.trainer}, {len(self)} architectures, estimate {self._what()}",
            f"Kendall tau {self.kendall_tau:.3f}, Spearman rho {self.spearman_rho:.3f}, "
            f"top-{self.k} overlap {self.top_k_overlap:.2f}",
            f"exported {json.dumps(self.exported)}: {self.metric} {self.exported_truth:.4g}, true rank "
            f"{self.exported_rank} of {len(self)} ({self.exported_percentile:.1f}th percentile)",
        ]

    def __repr__(self) -> str:
        first, *rest = self._lines()
        return "RankingReport(" + first + ")\n" + "\n".join("  " + line for line in rest)

    def _repr_html_(self) -> str:
        rows = [("trainer", self.trainer), ("architectures", str(len(self))),
                ("estimate", self._what()),
                ("Kendall τ", f"{self.kendall_tau:.3f}"), ("Spearman ρ", f"{self.spearman_rho:.3f}"),
                (f"top-{self.k} overlap", f"{self.top_k_overlap:.2f}"),
                ("exported", json.dumps(self.exported)),
                ("exported: true rank", f"{self.exported_rank} of {len(self)} "
                                        f"({self.exported_percentile:.1f}th percentile)")]
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(a)}</th><td style='text-align:left'>"
                       f"{html.escape(b)}</td></tr>" for a, b in rows)
        return f"<table><caption>RankingReport</caption>{body}</table>"

    def plot(self, ax: Axes | None = None) -> Figure:
        """Estimate against truth, one point per architecture, the exported one ringed (:func:`nasnb.plot.plot_ranking`)."""
        from ..plot import plot_ranking

        return plot_ranking(self, ax=ax)


def arch_log_prob(trainer: OneShotTrainer, indices: Mapping[str, Sequence[int]],
                  weights: Mapping[str, Sequence[float]] | None = None) -> float:
    """Log-probability of an architecture under a trainer's learned architecture weights.

    ``weights`` defaults to ``trainer._arch_weights()`` (what the history records). The
    sum over keys with more than one option, for the chosen candidate indices ``S``:

    * LayerChoice: ``log(w_i / sum(w))`` (for DARTS: the softmax weight, renormalised
      without the implicit *zero* candidate of a cell edge);
    * InputChoice with ``n_chosen=None``: the weights are keep-probabilities ``w_j``:
      ``sum_{j in S} log w_j + sum_{j not in S} log(1 - w_j)``;
    * InputChoice with ``n_chosen=k``: ``sum_{j in S} log(w_j / sum(w))`` (for DARTS a
      cell node's weights are its edges' strengths). This ranks subsets; it is not the
      exact probability of drawing ``S`` without replacement.

    Probabilities are clamped to ``[1e-12, 1 - 1e-12]`` first.

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.oneshot import DartsTrainer
    >>> net = nn.Sequential(mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"),
    ...                     mutables.InputChoice(n_candidates=2, n_chosen=None, key="keep"))
    >>> data = torch.utils.data.TensorDataset(torch.randn(8, 2), torch.randn(8, 2))
    >>> trainer = DartsTrainer(net, nn.functional.mse_loss, dataset_train=data, progress=False)
    >>> weights = {"act": [0.25, 0.75], "keep": [0.9, 0.2]}  # softmax; keep-probabilities
    >>> math.isclose(arch_log_prob(trainer, {"act": (1,), "keep": (0,)}, weights), math.log(0.75 * 0.9 * 0.8))
    True
    """
    w_all = trainer._arch_weights() if weights is None else weights
    total = 0.0
    for key, spec in trainer.space.items():
        if spec.size <= 1:
            continue
        w = [max(float(v), 0.0) for v in w_all[key]]
        chosen = set(indices[key])
        if spec.kind == "input" and spec.n_chosen is None:
            total += sum(_log(v) if j in chosen else _log(1.0 - v) for j, v in enumerate(w))
        else:
            s = sum(w) or 1.0
            total += sum(_log(w[j] / s) for j in chosen)
    return total


def _log(p: float) -> float:
    return math.log(min(max(p, _EPS), 1.0 - _EPS))


TruthFn = Callable[[dict[str, Any]], float]


def _truth_fn(trainer: OneShotTrainer, truth: Any, mode: str | None) -> tuple[TruthFn, str, str]:
    """(arch -> true score, metric name, mode) for a table, a mapping or a callable."""
    from .._fingerprint import space_fingerprint
    from ..bench import TabularBenchmark

    if isinstance(truth, TabularBenchmark):
        mine, theirs = space_fingerprint(trainer.space), space_fingerprint(truth.space)
        if mine != theirs:
            only_t = sorted(set(trainer.space) - set(truth.space))
            only_b = sorted(set(truth.space) - set(trainer.space))
            raise BenchmarkError(
                f"the trainer's search space differs from the table's (fingerprint {mine} vs {theirs}; keys only in "
                f"the trainer's: {only_t}, only in the table's: {only_b}); rank against a table of the trainer's space",
                value=theirs)
        return truth.score, truth.metric, mode or truth.mode
    if mode not in (None, "max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if isinstance(truth, Mapping):
        table = {}
        for text, score in truth.items():
            if not isinstance(text, str):
                raise TypeError(f"a truth dict is keyed by architectures as JSON strings (json.dumps(arch)), "
                                f"got the key {text!r}")
            try:
                arch = json.loads(text)
            except ValueError as err:
                raise BenchmarkError(f"truth dict key {text!r} is not an architecture as JSON ({err})",
                                     value=text) from None
            table[_key(trainer, arch)] = float(score)

        def lookup(arch: dict[str, Any]) -> float:
            try:
                return table[_key(trainer, arch)]
            except KeyError:
                raise BenchmarkError(f"truth has no score for architecture {json.dumps(arch)} (the dict scores "
                                     f"{len(table)} of the space's {trainer.space.size})", value=arch) from None

        return lookup, "truth", mode or "max"
    if callable(truth):
        def call(arch: dict[str, Any]) -> float:
            try:
                value = truth(arch)
            except KeyError as err:
                raise BenchmarkError(f"truth has no score for architecture {json.dumps(arch)} ({err!r})",
                                     value=arch) from err
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BenchmarkError(f"truth returned {value!r} for architecture {json.dumps(arch)}; expected a number",
                                     value=value)
            return float(value)

        name = getattr(truth, "__name__", "truth")
        return call, "truth" if name.startswith("<") else name, mode or "max"
    raise TypeError(f"truth must be a TabularBenchmark, a dict or a callable arch -> score, got {type(truth).__name__}")


def _key(trainer: OneShotTrainer, arch: Mapping[str, Any]) -> tuple[tuple[int, ...], ...]:
    indices = _indices(trainer, arch)
    return tuple(indices[k] for k in trainer.space)


def _indices(trainer: OneShotTrainer, arch: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    readable = trainer.space.validate(arch)
    return {k: trainer.space[k].parse(v) for k, v in readable.items()}


def _archs(trainer: OneShotTrainer, archs: Sequence[Mapping[str, Any]] | None, sample: int | None,
           seed: int) -> list[dict[str, Any]]:
    space = trainer.space
    if archs is not None and sample is not None:
        raise ValueError("pass archs= or sample=, not both")
    if archs is not None:
        out, seen = [], set()
        for arch in archs:
            readable = space.validate(arch)
            key = _key(trainer, readable)
            if key in seen:
                raise ValueError(f"archs lists {json.dumps(readable)} twice")
            seen.add(key)
            out.append(readable)
        return out
    if sample is None:
        if space.size > _MAX_FULL:
            raise ValueError(f"the space has {space.size} architectures (more than {_MAX_FULL}); pass sample=n "
                             f"(a random sample) or archs=[...]")
        return list(space.grid())
    if not isinstance(sample, int) or isinstance(sample, bool) or not 2 <= sample <= space.size:
        raise ValueError(f"sample must be an int in 2..{space.size} (the space's size), got {sample!r}")
    rng = random.Random(seed)
    if space.size <= _MAX_FULL:
        return [space.validate(a) for a in rng.sample(list(space.grid()), sample)]
    drawn: dict[tuple[tuple[int, ...], ...], dict[str, Any]] = {}
    while len(drawn) < sample:
        arch = space.validate(space.sample(rng))
        drawn.setdefault(_key(trainer, arch), arch)
    return list(drawn.values())


def _top_k_overlap(estimates: Sequence[float], oriented: Sequence[float], k: int) -> float:
    """Share of the ``k`` best estimates (ties: the earlier first) whose truth is at least the k-th best truth."""
    picked = sorted(range(len(estimates)), key=lambda i: (-estimates[i], i))[:k]
    kth = sorted(oriented, reverse=True)[k - 1]
    return sum(oriented[i] >= kth for i in picked) / k


def _estimator(trainer: OneShotTrainer, estimate: str, data: Any, bn_batches: int,
               score_by: str) -> Callable[[dict[str, Any]], float]:
    if estimate == "logprob":
        if trainer.arch_lr_arg is None:
            raise ValueError(f"{type(trainer).__name__} learns no architecture distribution (it samples paths "
                             f"uniformly), so it has no log-probability to rank by; use estimate='inherited'")
        weights = trainer._arch_weights()
        return lambda arch: arch_log_prob(trainer, _indices(trainer, arch), weights)
    data = trainer.dataset_valid if data is None else data
    if data is None:
        raise TrainingError("the inherited-weights estimate needs data to score on: pass data= or give the trainer "
                            "dataset_valid")
    trainer.data.check("validation data", data)
    if any(trainer.space.decision(k).mixer is not None for k in trainer.space):
        raise TrainingError(f"{type(trainer).__name__} is in its supernet mode (a loop over step() without "
                            f"finish()); call trainer.finish() before scoring single architectures")
    calib = calibration_batches(trainer, bn_batches)
    return lambda arch: inherited_score(trainer, _indices(trainer, arch), calib, data, score_by)


def ranking_quality(trainer: OneShotTrainer, truth: TabularBenchmark | Mapping[str, float] | Callable[[Any], float], *,
                    archs: Sequence[Mapping[str, Any]] | None = None, sample: int | None = None, seed: int = 0,
                    k: int = 10, estimate: str = "auto", score_by: str = "loss", mode: str | None = None,
                    data: Any = None, bn_batches: int = 5) -> RankingReport:
    """Compare a trained supernet's ranking of architectures with the true ranking.

    Parameters
    ----------
    trainer : OneShotTrainer
        A trained SPOS, ENAS, DARTS or ProxylessNAS trainer; its model is left as it was
        (decisions, train mode and BatchNorm statistics are restored).
    truth : TabularBenchmark, dict or callable
        The true scores: a table of the trainer's space (its ``metric`` and ``mode``), a
        dict ``{json.dumps(arch): score}`` (any encoding of the architecture), or
        ``truth(arch) -> float`` (``arch`` in readable form).
    archs : list of dict, optional
        The architectures to rank. Default: every architecture of a space of at most
        1000, else ``sample`` is needed.
    sample, seed : int
        Rank ``sample`` distinct architectures drawn at random with ``seed`` instead.
    k : int
        Size of the top sets compared by ``top_k_overlap`` (lowered to the number ranked).
    estimate : {"auto", "inherited", "logprob"}
        The supernet's score of an architecture. "inherited": the validation score
        (``score_by``) of that single path with the supernet's weights, BatchNorm
        recalibrated on ``bn_batches`` training batches, as SPOS's search scores.
        "logprob": :func:`arch_log_prob` under the learned weights (trainers that learn a
        distribution). "auto": "logprob" for DARTS and ProxylessNAS, "inherited" otherwise.
    score_by : {"loss", "acc"}
        What "inherited" scores: minus the mean validation loss (default; it ties less
        than accuracy on a small validation set and ranks better) or the metric ``acc``.
    mode : {"max", "min"}, optional
        Direction of a dict's or callable's scores (default "max"; a table has its own).
    data : dataset or loader, optional
        What "inherited" scores on (default the trainer's ``dataset_valid``).
    bn_batches : int
        Training batches that recalibrate BatchNorm before each inherited score.

    Returns
    -------
    RankingReport
        Kendall's tau, Spearman's rho, the top-k overlap, per-architecture estimates and
        truths, the exported architecture's true rank and percentile; ``report.plot()``.

    Raises
    ------
    ~nasnb.exceptions.BenchmarkError
        A table of another space, or truth without a score for an architecture (named).
    ValueError
        ``k < 1``, both ``archs`` and ``sample``, a space too large to rank whole, fewer
        than 2 architectures, an unknown ``estimate`` or ``score_by``.
    TrainingError
        "inherited" without data, ``score_by="acc"`` without an ``acc`` metric, or a
        trainer still in its supernet mode.
    ImportError
        Without scipy (the ``test`` and ``notebooks`` extras have it).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.oneshot import SPOSTrainer, accuracy, ranking_quality
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Identity()], key="act"),
    ...                     nn.Linear(8, 2))
    >>> data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
    >>> trainer = SPOSTrainer(net, nn.functional.cross_entropy, accuracy, num_epochs=1, dataset_train=data,
    ...                       dataset_valid=data, batch_size=8, progress=False)
    >>> _ = trainer.train()
    >>> _ = trainer.search(population=3, generations=1)
    >>> report = ranking_quality(trainer, lambda arch: [0.9, 0.8, 0.1][arch["act"]], k=1)
    >>> len(report), -1.0 <= report.kendall_tau <= 1.0, report.estimate
    (3, True, 'inherited')
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if estimate not in _ESTIMATES:
        raise ValueError(f"estimate must be one of {list(_ESTIMATES)}, got {estimate!r}")
    check_score_by(score_by)
    stats = _stats()
    true_score, metric, mode = _truth_fn(trainer, truth, mode)
    chosen = _archs(trainer, archs, sample, seed)
    if len(chosen) < 2:
        raise ValueError(f"ranking needs at least 2 architectures, got {len(chosen)}")
    k = min(k, len(chosen))
    truths = [true_score(a) for a in chosen]  # before any scoring: a missing truth fails fast
    if estimate == "auto":
        from .darts import DartsTrainer
        from .proxyless import ProxylessTrainer

        estimate = "logprob" if isinstance(trainer, (DartsTrainer, ProxylessTrainer)) else "inherited"
    exported = trainer.space.validate(trainer.export())
    exported_truth = true_score(exported)
    model = trainer.model
    decisions, was_training, bn_state = trainer.space.indices(), model.training, _bn_state(model)
    try:
        score = _estimator(trainer, estimate, data, bn_batches, score_by)
        estimates = [score(a) for a in chosen]
        keys = [_key(trainer, a) for a in chosen]
        at = keys.index(_key(trainer, exported)) if _key(trainer, exported) in keys else None
        exported_estimate = estimates[at] if at is not None else score(exported)
    finally:
        getattr(trainer, "_set", trainer.space.set_indices)(decisions)
        _restore_bn(bn_state)
        model.train(was_training)
    sign = 1.0 if mode == "max" else -1.0
    oriented = [sign * t for t in truths]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)  # constant side: NaN, documented
        tau = float(stats.kendalltau(estimates, oriented).statistic)
        rho = float(stats.spearmanr(estimates, oriented).statistic)
    overlap = _top_k_overlap(estimates, oriented, k)
    mine = sign * exported_truth
    others = [t for i, t in enumerate(oriented) if i != at]
    return RankingReport(
        trainer=type(trainer).__name__, estimate=estimate, score_by=score_by if estimate == "inherited" else None,
        metric=metric, mode=mode, archs=chosen,
        estimates=estimates, truths=truths, k=k, kendall_tau=tau, spearman_rho=rho, top_k_overlap=overlap,
        exported=exported, exported_estimate=exported_estimate, exported_truth=exported_truth,
        exported_rank=1 + sum(t > mine for t in oriented),
        exported_percentile=100.0 * sum(t <= mine for t in others) / len(others))


def _bn_state(model: nn.Module) -> list[tuple[nn.Module, dict[str, torch.Tensor]]]:
    """Copies of every BatchNorm's buffers (inherited scoring recalibrates them)."""
    return [(m, {n: b.detach().clone() for n, b in m.named_buffers(recurse=False)})
            for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def _restore_bn(state: list[tuple[nn.Module, dict[str, torch.Tensor]]]) -> None:
    for m, buffers in state:
        for n, b in buffers.items():
            getattr(m, n).copy_(b)
