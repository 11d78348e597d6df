"""SPOS: single-path one-shot — uniform (or cost-binned) path sampling, then evolution over the supernet.

:meth:`SPOSTrainer.train` trains the shared weights with one uniformly sampled
architecture per batch (every key of any kind: a LayerChoice candidate, a fixed-size or
any-size input subset), as in Guo et al. (2020). With ``sampling="flops"`` or
``"params"`` it draws a cost bin uniformly first, then a uniform path within that bin,
so that cheap, middle and expensive architectures get the same share of the training
(uniform paths mostly land in the middle of the cost range). :meth:`SPOSTrainer.search`
then evolves architectures that satisfy parameter / FLOPs bounds (and any
``constraint``), scoring each with the shared weights (minus the validation loss by
default) after recalibrating BatchNorm statistics on training batches. Works on CPU and
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

import bisect
import itertools
import random
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from .._device import to_device
from .._measure import EvalNoGrad, ParamTable, candidate_costs, count_flops
from ._base import OneShotTrainer
from ._spos_search import EvolutionSearch
from .history import ArchHistory

__all__ = ["SPOSTrainer"]

Indices = dict[str, tuple[int, ...]]
_SAMPLINGS = ("uniform", "flops", "params")


class SPOSTrainer(OneShotTrainer):
    """Uniform (or cost-binned) single-path supernet training followed by a constrained evolution search.

    Parameters
    ----------
    model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid
        As :class:`~nasnb.oneshot.OneShotTrainer`. Validation scores one path per batch,
        drawn as in training (the supernet's average quality).
    sampling : {"uniform", "flops", "params"}
        How each step draws its path. "uniform" (the paper's): every architecture is
        equally likely. "flops" / "params": one of the cost bins is drawn uniformly,
        then an architecture uniformly within it: straight from the bin's list when
        the whole space was costed, else by redrawing uniform paths until one falls in
        the bin (``bin_tries`` draws at most, then one of the bin's ``cost_samples``
        pooled architectures is taken). The cost of an architecture
        is its parameter count (:class:`~nasnb._measure.ParamTable`, exact) or the sum
        of its chosen LayerChoice candidates' FLOPs, each measured once on the input it
        gets from ``example_input`` (edges the architecture drops count 0; FLOPs outside
        the LayerChoices are the same for every path and do not move the bins).
    bins : int
        Number of cost bins (>= 1): equal-width ranges between the least and greatest
        cost of the whole space when it has at most ``cost_samples`` architectures,
        else of ``cost_samples`` uniform draws seeded by ``seed``. A range holding no
        architecture is merged into the next, so there may be fewer (see :attr:`bin_edges`).
    example_input : tensor, optional
        Input of the FLOPs measurement (default: the first sample of the first batch
        that :meth:`step` trains on; of ``dataset_train`` when the bins are needed before).
    **kwargs
        Everything else :class:`~nasnb.oneshot.OneShotTrainer` takes.

    Raises
    ------
    ValueError
        ``sampling`` or ``bins`` is not one of the values above.

    Notes
    -----
    SPOS (Guo et al., 2020) trains the supernet with uniform path sampling. Drawing a
    FLOPs bin first is the practice of NNI 1.x's SPOS supernet-training mutator
    (``flops_bin_num`` equal-width bins between bounds you give, reproduced in
    :mod:`nasnb.compat`); here the bounds are the space's own least and greatest cost,
    empty ranges are merged, and parameters may replace FLOPs. (Quantile bins would
    not help: under uniform sampling each quantile bin already gets an equal share.) That the
    sampling distribution biases which paths the shared weights favour is the point
    of FairNAS (Chu et al., 2021); its strict per-layer fairness is another scheme,
    not this one. A checkpoint resumes only with the ``sampling`` (and ``bins``) that
    wrote it.

    :meth:`export` returns the best architecture of :meth:`search`. When no search has
    run, ``export()`` runs ``search()`` with its defaults (``population=20,
    generations=5, mutation_prob=0.1``, no parameter/FLOPs bounds, scored on
    ``dataset_valid``) and warns with a ``UserWarning`` saying so; call
    ``search(...)`` first to choose others. ``train()`` alone leaves the model on the
    last sampled path.
    """

    kind = "frequency"
    #: Uniform architectures whose costs place the bin edges (the whole space when it has at most this many).
    cost_samples = 10_000
    #: Uniform draws per step before binned sampling (on a space larger than ``cost_samples``) takes a pooled one.
    bin_tries = 100

    def __init__(self, model: Any, loss: Any, metrics: Any = None, optimizer: Any = None, num_epochs: int = 1,
                 dataset_train: Any = None, dataset_valid: Any = None, *, sampling: str = "uniform", bins: int = 5,
                 example_input: Any = None, **kwargs: Any):
        if sampling not in _SAMPLINGS:
            raise ValueError(f"SPOSTrainer: sampling must be 'uniform', 'flops' or 'params', got {sampling!r}")
        if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
            raise ValueError(f"SPOSTrainer: bins must be an int >= 1 (the number of cost bins), got {bins!r}")
        self.sampling, self.bins, self.example_input = sampling, bins, example_input
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, **kwargs)

    def _build(self) -> None:
        self._samplers = [(k, self.space[k].draw) for k in self.space]
        self._bins: _CostBins | None = None  # placed on first use
        self._param_table: ParamTable | None = None
        self._counts = {k: [0] * self.space[k].n_candidates for k in self.space}
        self._n_samples = 0
        self.best: dict[str, Any] | None = None
        self.search_results: list[tuple[dict[str, Any], float]] = []
        self.search_history = ArchHistory({k: self.space[k] for k in self.space}, kind="population frequency")

    def sample(self, rng: random.Random | None = None) -> Indices:
        """Draw (as ``sampling`` says) and apply an architecture; returns key -> indices. Used per training step."""
        rng = rng or self.rng
        if self.sampling == "uniform":
            arch = self._draw_uniform(rng)
        else:
            arch = (self._bins or self._place_bins(None)).draw(rng, self._draw_uniform, self.bin_tries)
        self._set(arch, checked=False)  # drawn valid
        return arch

    @property
    def bin_edges(self) -> list[float]:
        """Edges of the cost bins of ``sampling="flops"``/``"params"``, placed on first use.

        Bin ``i`` holds the architectures whose cost is in ``[edges[i], edges[i + 1])``
        (the last bin includes its upper edge); the first and last edges are the least
        and greatest cost seen (see ``bins``).

        Raises
        ------
        ValueError
            The trainer samples uniformly (it has no costs).

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(*(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key=k) for k in "ab"))
        >>> data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randn(8, 4))
        >>> trainer = SPOSTrainer(net, nn.functional.mse_loss, dataset_train=data, sampling="params", bins=2,
        ...                       progress=False)
        >>> trainer.bin_edges  # costs 0, 20, 20, 40: bin 0 holds one architecture, bin 1 three
        [0.0, 20.0, 40.0]
        >>> trainer.bin_of({"a": 1, "b": 1}), trainer.bin_of({"a": 0, "b": 1})
        (0, 1)
        """
        return list((self._bins or self._place_bins(None)).edges)

    def arch_cost(self, arch: Mapping[str, Any]) -> float:
        """The sampling cost (parameters or FLOPs, see ``sampling``) of the readable architecture ``arch``."""
        cost = (self._bins or self._place_bins(None)).cost
        return cost({k: self.space[k].parse(v) for k, v in self.space.validate(arch).items()})

    def bin_of(self, arch: Mapping[str, Any]) -> int:
        """The cost bin (0 = cheapest) of the readable architecture ``arch``; see :attr:`bin_edges`."""
        cost = self.arch_cost(arch)
        return bisect.bisect_right((self._bins or self._place_bins(None)).inner, cost)

    def _cost_function(self, x: Any) -> Callable[[Indices], float]:
        if self.sampling == "params":
            return self.params_table.of
        example = self.example_input
        if example is None:
            if x is None:
                x = next(iter(self.data.loader(self.dataset_train, False, 0)))[0]
            example = x[:1] if torch.is_tensor(x) else x
        example = to_device(example, self.device)
        costs = candidate_costs(self.space, lambda: self._forward_eval(example), _flops)
        unused_of = self.space.unused_of
        items = list(costs.items())

        def flops(arch: Indices) -> float:
            unused = unused_of(arch)
            return sum(c[i] for k, c in items if k not in unused for i in arch[k])

        return flops

    def _forward_eval(self, example: Any) -> None:
        with EvalNoGrad(self.model):
            self.model(example)

    def _draw_uniform(self, rng: random.Random) -> Indices:
        return {key: draw(rng) for key, draw in self._samplers}

    def _place_bins(self, x: Any) -> _CostBins:
        """Measure the costs (FLOPs on ``x``'s first sample unless ``example_input``) and place the bins."""
        if self.sampling == "uniform":
            raise ValueError("SPOSTrainer: this trainer samples uniformly (sampling='uniform'), so it has no cost "
                             "bins; expected sampling='flops' or 'params'")
        cost = self._cost_function(x)
        exact = self.space.size <= self.cost_samples
        if exact:
            keys = list(self.space)
            pool = [dict(zip(keys, combo)) for combo in itertools.product(
                *(list(self.space[k].all_indices()) for k in keys))]
        else:
            rng = random.Random(self.seed)
            pool = [self._draw_uniform(rng) for _ in range(self.cost_samples)]
        self._bins = _CostBins(cost, pool, self.bins, exact)
        return self._bins

    def _set(self, indices: Mapping[str, tuple[int, ...]], checked: bool = True) -> None:
        """Apply ``key -> indices`` with one batch of observer notifications (the compat trainer extends it).

        ``checked=False`` skips :meth:`SearchSpace.set_indices`'s validation, for the
        per-step path whose indices are valid by construction (``Choice.draw``).
        """
        self.space.set_indices(indices, check=checked)

    def _train_step(self, x: Any, y: Any, arch_batch: Any) -> dict[str, float]:
        if self._bins is None and self.sampling != "uniform":
            self._place_bins(x)  # FLOPs measured on this batch's first sample
        arch = self.sample()
        for key, idx in arch.items():
            c = self._counts[key]
            for i in idx:
                c[i] += 1
        self._n_samples += 1
        _, loss = self._weight_forward_loss(x, y)
        value = self._finite(float(loss.detach()), "training loss")
        self._weight_update(loss)
        return {"loss": value}

    def _eval_arch(self, batch_index: int) -> None:
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

    def search(self, population: int = 20, generations: int = 5, *, top_k: int | None = None,
               mutation_prob: float = 0.1, params: tuple[float | None, float | None] | None = None,
               flops: tuple[float | None, float | None] | None = None,
               constraint: Callable[[dict[str, Any]], bool] | None = None, data: Any = None,
               bn_batches: int = 5, seed: int | None = None, max_tries: int = 1000,
               score_by: str = "loss") -> dict[str, Any]:
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
            Scored on (default ``dataset_valid``).
        score_by : {"loss", "acc"}
            The score: minus the mean validation loss (default) or the metric ``acc``.
            The loss ranks better: on the digits table Kendall's tau of the inherited
            scores with the truth is 0.54 by loss against 0.37 by accuracy (median of 5
            seeds, ``benchmarks/bench_ranking.py``), as accuracy on a small validation
            set ties and saturates.
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
            No data to score on (neither ``data`` nor ``dataset_valid``), or
            ``score_by="acc"`` while ``metrics`` give no ``acc``.
        ValueError
            ``score_by`` not "loss" or "acc".
        """
        run = EvolutionSearch(self, population=population, generations=generations, top_k=top_k,
                              mutation_prob=mutation_prob, params=params, flops=flops, constraint=constraint,
                              data=data, bn_batches=bn_batches, seed=seed, max_tries=max_tries,
                              score_by=score_by)
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

    def _sampling_setting(self) -> dict[str, Any]:
        return {"sampling": "uniform"} if self.sampling == "uniform" else {"sampling": self.sampling, "bins": self.bins}

    def _algo_state(self) -> dict[str, Any]:
        return {"counts": self._counts, "n_samples": self._n_samples, "best": self.best,
                "sampling": self._sampling_setting()}

    def _algo_problems(self, saved: Any, add: Callable[[str, str], None]) -> None:
        """Also refuse a checkpoint written with another ``sampling``/``bins`` (older files sampled uniformly)."""
        if isinstance(saved, Mapping):
            mine = self._sampling_setting()
            theirs = saved.get("sampling", {"sampling": "uniform"})
            if theirs != mine:
                add("algorithm['sampling']", f"written with {_setting(theirs)}, this trainer has {_setting(mine)}; "
                                             f"resume with the sampling (and bins) that wrote the checkpoint")
            saved = {**saved, "sampling": mine}  # reported above, not again by structure
        super()._algo_problems(saved, add)

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        self._counts = {k: list(v) for k, v in state["counts"].items()}
        self._n_samples = int(state["n_samples"])
        self.best = state["best"]


class _CostBins:
    """``bins`` cost ranges of equal width between the least and greatest cost of ``pool``.

    A range holding no architecture of ``pool`` is merged into the next, so every bin
    holds some. ``exact``: ``pool`` is the whole space, and a bin's architectures are
    drawn straight from it; else by rejection from uniform draws (``tries`` at most),
    falling back to a pooled architecture of the bin.
    """

    def __init__(self, cost: Callable[[Indices], float], pool: list[Indices], bins: int, exact: bool):
        self.cost, self.exact = cost, exact
        costs = [float(cost(a)) for a in pool]
        ordered = sorted(costs)
        lo, hi = ordered[0], ordered[-1]
        #: The edges between bins (bin i is [inner[i - 1], inner[i]), the last includes the greatest cost).
        self.inner: list[float] = []
        for j in range(1, bins):
            edge = lo + (hi - lo) * j / bins
            below = self.inner[-1] if self.inner else lo
            if bisect.bisect_left(ordered, edge) > bisect.bisect_left(ordered, below):  # some cost in [below, edge)
                self.inner.append(edge)
        self.edges = [lo, *self.inner, hi]
        self.members: list[list[Indices]] = [[] for _ in range(len(self.inner) + 1)]
        for arch, c in zip(pool, costs):
            self.members[bisect.bisect_right(self.inner, c)].append(arch)

    def draw(self, rng: random.Random, uniform: Callable[[random.Random], Indices], tries: int) -> Indices:
        """A bin uniformly, then an architecture uniformly within it."""
        b = int(rng.random() * len(self.members))
        if not self.exact:
            inner, cost = self.inner, self.cost
            for _ in range(tries):
                arch = uniform(rng)
                if bisect.bisect_right(inner, cost(arch)) == b:
                    return arch
        members = self.members[b]
        return dict(members[int(rng.random() * len(members))])


def _setting(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in value.items())
    return repr(value)


def _flops(run: Callable[[], Any]) -> float:
    with torch.no_grad():
        return float(count_flops(run)[0])
