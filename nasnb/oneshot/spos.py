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
>>> best = trainer.search(population=2, generations=1, seed=0)
>>> sorted(best) == sorted(trainer.export())
True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..exceptions import NasnbError
from ..mutables import LayerChoice
from ._base import OneShotTrainer, TrainingError
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
    """

    kind = "frequency"

    def _build(self) -> None:
        self._decisions = [(k, self.space.decision(k)) for k in self.space]
        self._samplers = [(k, d, self.space[k].draw) for k, d in self._decisions]
        self._counts = {k: [0] * self.space[k].n_candidates for k in self.space}
        self._n_samples = 0
        self._scoring = False
        self.best: dict[str, Any] | None = None
        self.search_results: list[tuple[dict[str, Any], float]] = []
        self.search_history = ArchHistory({k: self.space[k] for k in self.space}, kind="population frequency")

    def sample(self, rng: random.Random | None = None) -> Indices:
        """Draw and apply a uniform architecture (returns key -> indices); used per training step."""
        rng = rng or self.rng
        arch = {key: draw(rng) for key, _, draw in self._samplers}
        with self.space.batch():  # observers hear one batched change
            for key, decision, _ in self._samplers:
                decision.set(arch[key])
        return arch

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
        if self.best is None:
            raise NasnbError("SPOSTrainer has no searched architecture yet; call trainer.search(...) after "
                             "trainer.train() (SPOS exports the best architecture the evolution found)")
        return {k: self.space[k].parse(v) for k, v in self.best.items()}

    def _apply_export(self) -> None:
        if self.best is not None:
            super()._apply_export()

    # ------------------------------------------------------------ search
    def arch_params(self, arch: Mapping[str, Any]) -> int:
        """Parameters of the fixed model for ``arch`` (without building it)."""
        indices = {k: self.space[k].parse(v) for k, v in self.space.validate(arch).items()}
        return self._params_of(indices)

    def _params_of(self, indices: Indices) -> int:
        if not hasattr(self, "_param_table"):
            inside: set[int] = set()
            table: dict[str, list[list[int]]] = {}
            for key in self.space:
                for m in self.space.mutables(key):
                    if isinstance(m, LayerChoice):
                        per = []
                        for cand in m:
                            ids = {id(p): p.numel() for p in cand.parameters()}
                            inside.update(ids)
                            per.append(sum(ids.values()))
                        table.setdefault(key, []).append(per)
            base = sum(p.numel() for p in self.model.parameters() if id(p) not in inside)
            self._param_table = (base, table)
        base, table = self._param_table
        unused = self.space.unused_of(indices)  # edges the architecture drops are not in the fixed model
        return base + sum(per[indices[k][0]] for k, rows in table.items() if k not in unused for per in rows)

    def _flops_of(self, indices: Indices, example: Any) -> float:
        from torch.utils.flop_counter import FlopCounterMode

        self._set(indices)
        was = self.model.training
        self.model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            self.model(example)
        self.model.train(was)
        return float(counter.get_total_flops())

    def _set(self, indices: Indices) -> None:
        with self.space.batch():
            for key, decision in self._decisions:
                decision.set(indices[key])

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

        Raises
        ------
        NasnbError
            No architecture satisfies the constraints within ``max_tries`` samples.
        """
        data = self.dataset_valid if data is None else data
        if data is None:
            raise TrainingError("SPOSTrainer.search needs data to score on: pass data= or dataset_valid")
        if population < 2 or generations < 1:
            raise ValueError(f"population must be >= 2 and generations >= 1, got {population} and {generations}")
        rng = random.Random(self.seed if seed is None else seed)
        top_k = top_k or max(1, population // 2)
        calib = []
        if bn_batches:
            for i, batch in enumerate(self._loader(self.dataset_train, True, 99991)):
                if i >= bn_batches:
                    break
                calib.append(self._to_device(batch))
        example = calib[0][0][:1] if calib else next(iter(self._loader(data, False, 0)))[0][:1].to(self.device)
        current = {k: d.indices for k, d in self._decisions}
        cache: dict[tuple[tuple[int, ...], ...], float] = {}
        keys = list(self.space)

        flops_cache: dict[tuple[tuple[int, ...], ...], float] = {}

        def legal(ind: Indices) -> bool:
            if params is not None and not _within(self._params_of(ind), params):
                return False
            if flops is not None:
                sig = signature(ind)
                if sig not in flops_cache:
                    flops_cache[sig] = self._flops_of(ind, example)
                if not _within(flops_cache[sig], flops):
                    return False
            return constraint is None or bool(constraint(self._readable(ind)))

        def random_legal() -> Indices:
            for _ in range(max_tries):
                ind = {k: draw(rng) for k, _, draw in self._samplers}
                if legal(ind):
                    return ind
            raise NasnbError(f"no architecture satisfied the constraints (params={params}, flops={flops}, "
                             f"constraint={constraint}) in {max_tries} random samples; loosen them")

        def signature(ind: Indices) -> tuple[tuple[int, ...], ...]:
            return tuple(ind[k] for k in keys)

        samplers = {k: draw for k, _, draw in self._samplers}
        was_training = self.model.training
        pop: list[Indices] = []
        try:
            while len(pop) < population:
                pop.append(random_legal())
            for gen in range(generations):
                scored = []
                for ind in pop:
                    sig = signature(ind)
                    if sig not in cache:
                        cache[sig] = self._score(ind, calib, data)
                    scored.append((cache[sig], ind))
                scored.sort(key=lambda t: -t[0])
                self._record_population([ind for _, ind in scored], gen)
                if gen == generations - 1:
                    break
                parents = [ind for _, ind in scored[:top_k]]
                children: list[Indices] = list(parents)
                seen = {signature(c) for c in children}
                tries = 0
                while len(children) < population and tries < max_tries:
                    tries += 1
                    if rng.random() < 0.5:
                        p = rng.choice(parents)
                        child = {k: (samplers[k](rng) if rng.random() < mutation_prob else p[k]) for k in keys}
                    else:
                        a, b = rng.choice(parents), rng.choice(parents)
                        child = {k: (a[k] if rng.random() < 0.5 else b[k]) for k in keys}
                    if signature(child) in seen or not legal(child):
                        continue
                    seen.add(signature(child))
                    children.append(child)
                while len(children) < population:
                    children.append(random_legal())
                pop = children
        finally:
            self._set(current)
            self.model.train(was_training)
        results = sorted(((score, sig) for sig, score in cache.items()), key=lambda t: -t[0])
        self.search_results = [(self._readable(dict(zip(keys, sig))), score) for score, sig in results]
        self.best = self.search_results[0][0]
        self._set({k: self.space[k].parse(v) for k, v in self.best.items()})
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


def _within(value: float, bounds: tuple[float | None, float | None]) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)
