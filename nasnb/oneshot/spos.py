"""SPOS: single-path one-shot — uniform path sampling, then evolution over the supernet.

:meth:`SPOSTrainer.train` trains the shared weights with one uniformly sampled
architecture per batch (every key of any kind: a LayerChoice candidate, a fixed-size or
any-size input subset). :meth:`SPOSTrainer.search` then evolves architectures that
satisfy parameter / FLOPs bounds (and any ``constraint``), scoring each with the shared
weights after recalibrating BatchNorm statistics on training batches. Works on CPU and
CUDA with datasets or ordinary loaders (NNI 1.x required CUDA and DALI loaders).

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.oneshot import SPOSTrainer, accuracy
>>> _ = torch.manual_seed(0)
>>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"), nn.Linear(8, 2))
>>> data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
>>> trainer = SPOSTrainer(net, nn.functional.cross_entropy, accuracy, num_epochs=1, dataset_train=data,
...                       dataset_valid=data, batch_size=8, progress=False)
>>> _ = trainer.train()
>>> best = trainer.search(population=2, generations=2, seed=0)
>>> [arch for arch, _ in trainer.search_results]  # both architectures of the space, best score first
[{'act': 1}, {'act': 0}]
>>> trainer.search_results[0][1] >= trainer.search_results[1][1], trainer.export() == best
(True, True)
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .._measure import EvalNoGrad, ParamTable, count_flops
from ._base import OneShotTrainer
from ._spos_search import EvolutionSearch
from .history import ArchHistory

__all__ = ["SPOSTrainer"]

Indices = dict[str, tuple[int, ...]]


class SPOSTrainer(OneShotTrainer):
    """Uniform single-path supernet training followed by a constrained evolution search.

    Parameters
    ----------
    model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid
        As :class:`~nasnb.oneshot.OneShotTrainer`. Validation scores one uniformly
        sampled path per batch (the supernet's average quality).
    **kwargs
        Everything else :class:`~nasnb.oneshot.OneShotTrainer` takes.

    Notes
    -----
    :meth:`export` returns the best architecture of :meth:`search`. When no search has
    run, ``export()`` runs ``search()`` with its defaults (``population=20,
    generations=5, mutation_prob=0.1``, no parameter/FLOPs bounds, scored on
    ``dataset_valid``) and warns with a ``UserWarning`` saying so; call
    ``search(...)`` first to choose others. ``train()`` alone leaves the model on the
    last sampled path.
    """

    kind = "frequency"

    def _build(self) -> None:
        self._samplers = [(k, self.space[k].draw) for k in self.space]
        self._param_table: ParamTable | None = None
        self._counts = {k: [0] * self.space[k].n_candidates for k in self.space}
        self._n_samples = 0
        self._scoring = False
        self.best: dict[str, Any] | None = None
        self.search_results: list[tuple[dict[str, Any], float]] = []
        self.search_history = ArchHistory({k: self.space[k] for k in self.space}, kind="population frequency")

    def sample(self, rng: random.Random | None = None) -> Indices:
        """Draw and apply a uniform architecture (returns key -> indices); used per training step."""
        rng = rng or self.rng
        arch = {key: draw(rng) for key, draw in self._samplers}
        self._set(arch, checked=False)  # drawn valid
        return arch

    def _set(self, indices: Mapping[str, tuple[int, ...]], checked: bool = True) -> None:
        """Apply ``key -> indices`` with one batch of observer notifications (the compat trainer extends it).

        ``checked=False`` skips :meth:`SearchSpace.set_indices`'s validation, for the
        per-step path whose indices are valid by construction (``Choice.draw``).
        """
        self.space.set_indices(indices, check=checked)

    def _train_step(self, x: Any, y: Any, arch_batch: Any) -> dict[str, float]:
        arch = self.sample()
        for key, idx in arch.items():
            c = self._counts[key]
            for i in idx:
                c[i] += 1
        self._n_samples += 1
        _, loss = self._forward_loss(x, y)
        value = self._finite(float(loss.detach()), "training loss")
        self._weight_update(loss)
        return {"loss": value}

    def _eval_arch(self, batch_index: int) -> None:
        if not self._scoring:
            self.sample(random.Random(self.seed * 7919 + batch_index))

    def _arch_weights(self) -> dict[str, list[float]]:
        if self._n_samples == 0:  # the sampling distribution itself
            out = {}
            for k, s in self.space.items():
                n = s.n_candidates
                p = 1.0 / n if s.kind == "layer" else 0.5 if s.n_chosen is None else s.n_chosen / n
                out[k] = [p] * n
            return out
        return {k: [c / self._n_samples for c in counts] for k, counts in self._counts.items()}

    def _export_indices(self) -> Indices:
        best = self.best
        if best is None:
            warnings.warn(f"{type(self).__name__}.export(): no search has run yet, so it runs search() with its "
                          f"defaults (population=20, generations=5, mutation_prob=0.1, no params/flops bounds, "
                          f"scored on dataset_valid); call trainer.search(population=..., generations=..., "
                          f"params=..., flops=...) before export() to choose others", UserWarning, stacklevel=3)
            best = self.search()
        return {k: self.space[k].parse(v) for k, v in best.items()}

    def _apply_export(self) -> None:
        if self.best is not None:
            super()._apply_export()

    # ------------------------------------------------------------ search
    @property
    def params_table(self) -> ParamTable:
        """Parameter counts of every candidate (read once): ``params_table.of(indices)``."""
        if self._param_table is None:
            self._param_table = ParamTable(self.space)
        return self._param_table

    def arch_params(self, arch: Mapping[str, Any]) -> int:
        """Parameters of the fixed model for ``arch`` (without building it)."""
        indices = {k: self.space[k].parse(v) for k, v in self.space.validate(arch).items()}
        return self.params_table.of(indices)

    def _flops_of(self, indices: Indices, example: Any) -> float:
        self._set(indices)
        with EvalNoGrad(self.model):
            return float(count_flops(lambda: self.model(example))[0])

    @torch.no_grad()
    def _recalibrate_bn(self, batches: Sequence[Any]) -> None:
        bns = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not bns or not batches:
            return
        saved = [(m, m.momentum) for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        self.model.train()
        for x, _ in batches:
            self.model(x)
        for m, momentum in saved:
            m.momentum = momentum

    def _score(self, indices: Indices, bn_batches: Sequence[Any], data: Any) -> float:
        self._set(indices)
        self._recalibrate_bn(bn_batches)
        self._scoring = True  # validate() keeps this architecture instead of sampling paths
        try:
            stats = self.validate(data)
        finally:
            self._scoring = False
        score = stats.get("acc", -stats["loss"])
        return self._finite(float(score), "search score")

    def search(self, population: int = 20, generations: int = 5, *, top_k: int | None = None,
               mutation_prob: float = 0.1, params: tuple[float | None, float | None] | None = None,
               flops: tuple[float | None, float | None] | None = None,
               constraint: Callable[[dict[str, Any]], bool] | None = None, data: Any = None,
               bn_batches: int = 5, seed: int | None = None, max_tries: int = 1000) -> dict[str, Any]:
        """Evolve architectures over the trained supernet; return (and remember) the best.

        The evolution's mutation, crossover and selection are those of
        :mod:`nasnb.strategy.evolution` (see :class:`~nasnb.oneshot._spos_search.EvolutionSearch`).
        Every scored architecture is kept in ``search_results`` (best first) and each
        generation's make-up in ``search_history``.

        Parameters
        ----------
        population, generations : int
            Population size and number of evolution rounds (round 0 is random).
        top_k : int, optional
            Parents kept per round (default ``population // 2``); children come half from
            mutation (each key resampled with ``mutation_prob``) and half from crossover.
        params, flops : (low, high), optional
            Bounds (either may be None) on the fixed model's parameters / FLOPs per sample.
        constraint : callable, optional
            ``constraint(arch) -> bool``; architectures returning False are never scored.
        data : dataset or loader, optional
            Scored on (default ``dataset_valid``): metric ``acc`` if ``metrics`` gives one, else -loss.
        bn_batches : int
            Training batches used to recalibrate BatchNorm statistics before each score.
        seed : int, optional
            Seeds the evolution (default: the trainer's seed).
        max_tries : int
            Random draws (and breeding attempts per round) before giving up on the constraints.

        Raises
        ------
        NasnbError
            No architecture satisfies the constraints within ``max_tries`` samples.
        TrainingError
            No data to score on (neither ``data`` nor ``dataset_valid``).
        """
        run = EvolutionSearch(self, population=population, generations=generations, top_k=top_k,
                              mutation_prob=mutation_prob, params=params, flops=flops, constraint=constraint,
                              data=data, bn_batches=bn_batches, seed=seed, max_tries=max_tries)
        current = self.space.indices()
        was_training = self.model.training
        try:
            results = run.run()
        finally:
            self._set(current)
            self.model.train(was_training)
        self.search_results = [(self._readable(ind), score) for ind, score in results]
        self.best = self.search_results[0][0]
        self._set(results[0][0])
        return dict(self.best)

    def _readable(self, ind: Indices) -> dict[str, Any]:
        return {k: self.space[k].encode(ind[k]) for k in self.space}

    def _record_population(self, pop: list[Indices], generation: int) -> None:
        weights = {k: [0.0] * self.space[k].n_candidates for k in self.space}
        for ind in pop:
            for k, idx in ind.items():
                for i in idx:
                    weights[k][i] += 1.0 / len(pop)
        self.search_history.append(weights, step=generation, epoch=float(generation))

    def _algo_state(self) -> dict[str, Any]:
        return {"counts": self._counts, "n_samples": self._n_samples, "best": self.best}

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        self._counts = {k: list(v) for k, v in state["counts"].items()}
        self._n_samples = int(state["n_samples"])
        self.best = state["best"]

