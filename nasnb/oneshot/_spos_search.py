"""SPOS's constrained evolution over a trained supernet, built on :mod:`nasnb.strategy.evolution`.

Round 0 is random; each later round keeps the ``top_k`` best as parents and fills the
population with children, half from :func:`~nasnb.strategy.evolution.resample_keys`
(each key redrawn with ``mutation_prob``) and half from
:func:`~nasnb.strategy.evolution.crossover`. Only architectures within the parameter /
FLOPs bounds and accepted by ``constraint`` are scored; every score is cached by
architecture, so a survivor is never scored twice.

:func:`inherited_score` scores one architecture with the supernet's inherited weights
(BatchNorm recalibrated first, :func:`recalibrate_bn`); the evolution and
:func:`nasnb.oneshot.ranking_quality` both use it, for any one-shot trainer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..exceptions import NasnbError, TrainingError
from ..strategy._base import Indices
from ..strategy.evolution import crossover, resample_keys, select_top

if TYPE_CHECKING:
    from ._base import OneShotTrainer
    from .spos import SPOSTrainer

__all__ = ["SCORE_BY", "EvolutionSearch", "calibration_batches", "check_score_by", "inherited_score", "recalibrate_bn"]

Bounds = tuple[float | None, float | None]


def _within(value: float, bounds: Bounds) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def calibration_batches(trainer: OneShotTrainer, n: int) -> list[Any]:
    """``n`` shuffled training batches of ``trainer`` on its device (fixed order), to recalibrate BatchNorm on."""
    calib = []
    if n:
        for i, batch in enumerate(trainer.data.loader(trainer.dataset_train, True, 99991)):
            if i >= n:
                break
            calib.append(trainer.data.to_device(batch))
    return calib


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Sequence[Any]) -> None:
    """Reset every BatchNorm's running statistics to their plain average over ``batches`` (forwards in train mode).

    Shared weights were trained under ever-changing paths, so the running statistics fit
    no single path; recomputing them for the path about to be scored is SPOS's fix (Guo
    et al., 2020). Momentum is restored afterwards; nothing happens without BatchNorm.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or not batches:
        return
    saved = [(m, m.momentum) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    for x, _ in batches:
        model(x)
    for m, momentum in saved:
        m.momentum = momentum


SCORE_BY = ("loss", "acc")


def check_score_by(score_by: str) -> str:
    """``score_by`` if it is one of :data:`SCORE_BY`, else a ValueError that lists them."""
    if score_by not in SCORE_BY:
        raise ValueError(f"score_by must be one of {list(SCORE_BY)} (minus the validation loss, or the metric "
                         f"'acc'), got {score_by!r}")
    return score_by


@torch.no_grad()
def inherited_score(trainer: OneShotTrainer, indices: Mapping[str, tuple[int, ...]], calib: Sequence[Any],
                    data: Any, score_by: str = "loss") -> float:
    """Score of the architecture ``indices`` with the supernet's inherited weights (higher is better).

    Applies the path (``trainer._set`` where the trainer has one, else
    :meth:`SearchSpace.set_indices`), recalibrates BatchNorm on ``calib``
    (:func:`recalibrate_bn`), then runs that single path in eval mode over ``data``.
    ``score_by="loss"``: minus the sample-weighted mean loss; ``"acc"``: the mean of the
    metric ``acc`` that the trainer's ``metrics`` must give. The trainer must not be in
    its supernet mode (no mixer installed); the caller restores the model's decisions and
    train mode.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from nasnb import mutables
    >>> from nasnb.oneshot import SPOSTrainer, accuracy
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="op"), nn.Linear(8, 2))
    >>> data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
    >>> trainer = SPOSTrainer(net, nn.functional.cross_entropy, accuracy, dataset_train=data, progress=False)
    >>> 0.0 <= inherited_score(trainer, {"op": (1,)}, [], data, score_by="acc") <= 1.0, trainer.space.current()
    (True, {'op': 1})
    """
    set_path = getattr(trainer, "_set", trainer.space.set_indices)
    set_path(indices)
    recalibrate_bn(trainer.model, calib)
    trainer.model.eval()
    stats = trainer._mean_stats(data, "the scoring data")
    if score_by == "acc" and "acc" not in stats:
        raise TrainingError(f"score_by='acc' needs the metric 'acc' from the trainer's metrics, which give "
                            f"{sorted(k for k in stats if k != 'loss')}; pass metrics=nasnb.oneshot.accuracy or "
                            f"use score_by='loss'")
    score = stats["acc"] if score_by == "acc" else -stats["loss"]
    return trainer._finite(float(score), "search score")


class EvolutionSearch:
    """One run of SPOS's evolution (see :meth:`SPOSTrainer.search` for the arguments).

    Architectures are index tuples in space order (the strategies' ``Indices``).
    """

    def __init__(self, trainer: SPOSTrainer, *, population: int, generations: int, top_k: int | None,
                 mutation_prob: float, params: Bounds | None, flops: Bounds | None,
                 constraint: Callable[[dict[str, Any]], bool] | None, data: Any, bn_batches: int,
                 seed: int | None, max_tries: int, score_by: str = "loss"):
        self.score_by = check_score_by(score_by)
        data = trainer.dataset_valid if data is None else data
        if data is None:
            raise TrainingError("SPOSTrainer.search needs data to score on: pass data= or dataset_valid")
        if population < 2 or generations < 1:
            raise ValueError(f"population must be >= 2 and generations >= 1, got {population} and {generations}")
        self.trainer, self.data = trainer, data
        self.population, self.generations = population, generations
        self.top_k = top_k or max(1, population // 2)
        self.mutation_prob, self.max_tries = mutation_prob, max_tries
        self.params, self.flops, self.constraint = params, flops, constraint
        self.rng = random.Random(trainer.seed if seed is None else seed)
        self.keys = list(trainer.space)
        self.specs = [trainer.space[k] for k in self.keys]
        trainer.data.check("validation data", data)
        self.calib = calibration_batches(trainer, bn_batches)
        self.scores: dict[Indices, float] = {}
        self._flops: dict[Indices, float] = {}
        self._example: Any = None

    def as_dict(self, ind: Indices) -> dict[str, tuple[int, ...]]:
        return dict(zip(self.keys, ind))

    def example(self) -> Any:
        """One input sample (for FLOPs), from the calibration batches or the scoring data."""
        if self._example is None:
            t = self.trainer
            batch = self.calib[0] if self.calib else t.data.to_device(next(iter(t.data.loader(self.data, False, 0))))
            self._example = batch[0][:1]
        return self._example

    def legal(self, ind: Indices) -> bool:
        """Within the bounds and accepted by the constraint."""
        t = self.trainer
        if self.params is not None and not _within(t.params_table.of(self.as_dict(ind)), self.params):
            return False
        if self.flops is not None:
            if ind not in self._flops:
                self._flops[ind] = t._flops_of(self.as_dict(ind), self.example())
            if not _within(self._flops[ind], self.flops):
                return False
        return self.constraint is None or bool(self.constraint(t._readable(self.as_dict(ind))))

    def random_legal(self) -> Indices:
        for _ in range(self.max_tries):
            ind = tuple(spec.draw(self.rng) for spec in self.specs)
            if self.legal(ind):
                return ind
        raise NasnbError(f"no architecture satisfied the constraints (params={self.params}, flops={self.flops}, "
                         f"constraint={self.constraint}) in {self.max_tries} random samples; loosen them")

    def children(self, parents: list[Indices]) -> list[Indices]:
        """``parents`` followed by new legal children (random legal ones if breeding stalls)."""
        rng = self.rng
        out, seen = list(parents), set(parents)
        tries = 0
        while len(out) < self.population and tries < self.max_tries:
            tries += 1
            if rng.random() < 0.5:
                child = resample_keys(self.specs, rng.choice(parents), rng, self.mutation_prob)
            else:
                child = crossover(rng.choice(parents), rng.choice(parents), rng)
            if child in seen or not self.legal(child):
                continue
            seen.add(child)
            out.append(child)
        while len(out) < self.population:
            out.append(self.random_legal())
        return out

    def score(self, pop: list[Indices]) -> list[tuple[float, Indices]]:
        scored = []
        for ind in pop:
            if ind not in self.scores:
                self.scores[ind] = inherited_score(self.trainer, self.as_dict(ind), self.calib, self.data, self.score_by)
            scored.append((self.scores[ind], ind))
        return scored

    def run(self) -> list[tuple[dict[str, tuple[int, ...]], float]]:
        """Evolve; every scored architecture with its score, best first."""
        pop = [self.random_legal() for _ in range(self.population)]
        for gen in range(self.generations):
            scored = self.score(pop)
            self.trainer._record_population([self.as_dict(i) for i in select_top(scored, len(scored))], gen)
            if gen < self.generations - 1:
                pop = self.children(select_top(scored, self.top_k))
        ranked = sorted(((score, ind) for ind, score in self.scores.items()), key=lambda t: -t[0])
        return [(self.as_dict(ind), score) for score, ind in ranked]
