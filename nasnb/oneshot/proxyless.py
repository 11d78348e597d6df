"""ProxylessNAS: binary gates, one active path per step, BinaryConnect architecture gradients.

Each key has architecture parameters ``alpha`` (one per candidate, shared by mutables with
the same key). A weight step samples one active candidate per LayerChoice from
``softmax(alpha)`` (and a subset per InputChoice: ``k`` inputs without replacement for
``n_chosen=k``, an independent ``sigmoid(alpha_i)`` gate per input for ``n_chosen=None``)
and runs only that path. An architecture step puts binary gates ``g`` on the sampled
paths, gets ``dL/dg_j = <dL/dout, out_j>`` for every candidate (inactive ones computed
without autograd), and sets ``dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i)`` (the
BinaryConnect rule of Cai et al., 2019; ``dL/dg_i p_i (1 - p_i)`` for sigmoid gates).

An optional cost penalty adds ``cost_weight * E[cost] / E_uniform[cost]`` to the
architecture loss, where ``E[cost] = sum_key sum_i p_i * cost_i`` is differentiable in
``alpha``; the per-candidate cost is the parameter count, the FLOPs
(``torch.utils.flop_counter``) or the measured latency of each LayerChoice candidate
on the inputs it receives, or a table you give.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.oneshot import ProxylessTrainer
>>> _ = torch.manual_seed(0)
>>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.Linear(8, 8), nn.Identity()], key="op"),
...                     nn.Linear(8, 2))
>>> data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
>>> trainer = ProxylessTrainer(net, nn.functional.cross_entropy, num_epochs=1, dataset_train=data,
...                            batch_size=8, cost="params", cost_weight=1.0, progress=False)
>>> trainer.costs["op"]  # measured on first use
[72.0, 0.0]
>>> _ = trainer.train()
>>> trainer.export() == trainer.space.current()
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .._device import to_device
from .._measure import EvalNoGrad, ParamTable, candidate_costs, count_flops, latency_ms
from .._reduction import reduce_outputs
from ..exceptions import SearchSpaceError
from ._base import OneShotTrainer

__all__ = ["ProxylessTrainer"]


class _ProxylessMixer:
    """Runs the sampled path; in "arch" mode also exposes binary gates for the gradient."""

    def __init__(self, trainer: ProxylessTrainer):
        self.trainer = trainer
        self.active: dict[str, tuple[int, ...]] = {}
        self.gates: dict[str, torch.Tensor] = {}
        self.arch_mode = False

    def forward_layer_choice(self, mutable: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        key = mutable.key
        index = self.active[key][0]
        if self.arch_mode and key in self.gates:
            gate = self.gates[key]
            out = None
            for j, op in enumerate(mutable):
                if j == index:
                    o = op(*args, **kwargs)
                else:
                    with torch.no_grad():
                        o = op(*args, **kwargs)
                term = o * gate[j]
                try:
                    out = term if out is None else out + term
                except RuntimeError as err:
                    raise SearchSpaceError(
                        f"ProxylessNAS needs every candidate of key {key!r} to return one shape "
                        f"(for the gate gradient): {err}", key=key) from err
        else:
            out = mutable[index](*args, **kwargs)
        mask = torch.zeros(len(mutable), dtype=torch.bool, device=out.device if torch.is_tensor(out) else None)
        mask[index] = True
        return ([out] if mutable.reduction == "none" else out), mask

    def forward_input_choice(self, mutable: Any, inputs: list[Any]) -> tuple[Any, Any]:
        key = mutable.key
        chosen = self.active[key]
        device = next((x.device for x in inputs if torch.is_tensor(x)), None)
        mask = torch.zeros(len(inputs), dtype=torch.bool, device=device)
        mask[list(chosen)] = True
        if self.arch_mode and key in self.gates:
            gate = self.gates[key]
            out: torch.Tensor | None = None
            for j, x in enumerate(inputs):
                term = x * gate[j]
                out = term if out is None else out + term
            if mutable.reduction == "mean":
                if out is None:
                    raise ValueError(f"InputChoice {key!r} got no inputs to average")
                out = out / max(len(chosen), 1)
            return out, mask
        return reduce_outputs(mutable.reduction, [inputs[i] for i in chosen]), mask


class ProxylessTrainer(OneShotTrainer):
    """ProxylessNAS with binary gates, LayerChoice and InputChoice support, optional cost penalty.

    Parameters
    ----------
    model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid
        As :class:`~nasnb.oneshot.OneShotTrainer`. Half of ``dataset_train`` (or
        ``arch_data``) drives the architecture steps. Validation runs the current most
        likely architecture.
    arch_lr : float
        Learning rate of ``Adam(betas=(0, 0.999))`` on the alphas.
    arch_update_every : int
        One architecture step every this many weight steps.
    warmup_epochs : int
        Epochs that train weights only (uniform path sampling).
    cost : {"params", "flops", "latency"} or Mapping[str, Sequence[float]], optional
        Per-candidate cost of each LayerChoice key; a mapping may also give InputChoice keys.
    cost_weight : float
        Weight of the normalised expected cost in the architecture loss.
    example_input : tensor, optional
        Input used to measure FLOPs/latency (default: one sample of ``dataset_train``).
    **kwargs
        Everything else :class:`~nasnb.oneshot.OneShotTrainer` takes.

    Raises
    ------
    SearchSpaceError
        An InputChoice choosing some inputs with ``reduction`` "concat" or "none" (the
        gates need one output shape), or a ``cost`` table with a wrong key or length.
    """

    kind = "gate probability"
    arch_lr_arg = "arch_lr"
    arch_split = 0.5
    uses_arch_data = True

    def __init__(self, model: Any, loss: Any, metrics: Any = None, optimizer: Any = None, num_epochs: int = 1,
                 dataset_train: Any = None, dataset_valid: Any = None, *, arch_lr: float = 1e-3,
                 arch_update_every: int = 1, warmup_epochs: int = 0,
                 cost: str | Mapping[str, Sequence[float]] | None = None, cost_weight: float = 0.0,
                 example_input: Any = None, **kwargs: Any):
        self.arch_lr, self.arch_update_every, self.warmup_epochs = arch_lr, arch_update_every, warmup_epochs
        self.cost, self.cost_weight, self.example_input = cost, cost_weight, example_input
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, **kwargs)

    def _check_space(self) -> None:
        for key, spec in self.space.items():
            if spec.kind == "input" and spec.size > 1 and spec.reduction in ("concat", "none"):
                raise SearchSpaceError(
                    f"ProxylessNAS cannot gate InputChoice {key!r}: reduction {spec.reduction!r} gives each "
                    f"choice of inputs a different shape, so binary gates cannot be summed; use 'sum' or 'mean' "
                    f"(or SPOS/ENAS)", key=key, value=spec.reduction)
        if self.cost is not None and not isinstance(self.cost, (str, Mapping)):
            raise TypeError(f"cost must be 'params', 'flops', 'latency' or a mapping key -> costs, got {self.cost!r}")
        if isinstance(self.cost, str) and self.cost not in ("params", "flops", "latency"):
            raise ValueError(f"cost must be 'params', 'flops', 'latency' or a mapping, got {self.cost!r}")
        if isinstance(self.cost, Mapping):
            for key, values in self.cost.items():
                if key not in self.space:
                    raise SearchSpaceError(f"cost table names key {key!r}, which is not in the space; "
                                           f"keys are {list(self.space)}", key=key)
                if len(values) != self.space[key].n_candidates:
                    raise SearchSpaceError(
                        f"cost table for key {key!r} has {len(values)} values, expected "
                        f"{self.space[key].n_candidates} (one per candidate)", key=key, value=list(values))

    def _build(self) -> None:
        self.searched = [k for k, s in self.space.items() if s.size > 1]
        self.alphas = {k: nn.Parameter(torch.zeros(self.space[k].n_candidates, device=self.device))
                       for k in self.searched}
        self.arch_optimizer = torch.optim.Adam(list(self.alphas.values()), lr=self.arch_lr, betas=(0.0, 0.999),
                                               eps=1e-8) if self.alphas else None
        self.mixer = _ProxylessMixer(self)
        self._probs: dict[str, list[float]] = {}
        self._refresh_probs()
        self.mixer.active = {k: self.space[k].default for k in self.space}
        self._costs: dict[str, list[float]] | None = None  # measured on first use (see costs)

    # ------------------------------------------------------------ probs
    def _probabilities(self) -> dict[str, torch.Tensor]:
        out = {}
        for key, a in self.alphas.items():
            spec = self.space[key]
            out[key] = torch.sigmoid(a) if spec.kind == "input" and spec.n_chosen is None else torch.softmax(a, -1)
        return out

    def _refresh_probs(self) -> None:
        with torch.no_grad():
            self._probs = {k: p.tolist() for k, p in self._probabilities().items()}

    def _sample_active(self, uniform: bool = False) -> None:
        rng = self.rng
        active = self.mixer.active
        for key in self.searched:
            spec = self.space[key]
            p = self._probs[key]
            n = len(p)
            if uniform:
                p = [0.5] * n if spec.kind == "input" and spec.n_chosen is None else [1.0 / n] * n
            if spec.kind == "layer":
                active[key] = (_draw(p, rng.random()),)
            elif spec.n_chosen is None:
                active[key] = tuple(i for i in range(n) if rng.random() < p[i])
            else:
                weights = list(p)
                chosen = []
                for _ in range(spec.n_chosen):
                    total = sum(weights)
                    i = _draw([w / total for w in weights], rng.random())
                    chosen.append(i)
                    weights[i] = 0.0
                active[key] = tuple(sorted(chosen))

    def _argmax(self) -> dict[str, tuple[int, ...]]:
        result = {k: self.space[k].default for k in self.space}
        for key in self.searched:
            spec, p = self.space[key], self._probs[key]
            order = sorted(range(len(p)), key=lambda i: -p[i])
            if spec.kind == "layer":
                result[key] = (order[0],)
            elif spec.n_chosen is None:
                result[key] = tuple(i for i in range(len(p)) if p[i] > 0.5)
            else:
                result[key] = tuple(sorted(order[: spec.n_chosen]))
        return result

    # ------------------------------------------------------------- cost
    @property
    def costs(self) -> dict[str, list[float]]:
        """Per-candidate cost of each key (``cost``), measured on first use, not in the constructor.

        "params" reads the parameter counts; "flops" and "latency" run one forward of
        ``example_input`` to capture each candidate's input, then measure every candidate
        on it (shared keys count once per mutable).
        """
        if self._costs is None:
            self._costs = self._measure_costs() if self.cost is not None else {}
        return self._costs

    @costs.setter
    def costs(self, value: Mapping[str, Sequence[float]]) -> None:
        self._costs = {k: [float(v) for v in vals] for k, vals in value.items()}

    def _measure_costs(self) -> dict[str, list[float]]:
        if isinstance(self.cost, Mapping):
            return {k: [float(v) for v in vals] for k, vals in self.cost.items()}
        if self.cost == "params":
            table = ParamTable(self.space)
            return {key: [float(n) for n in table.candidates(key)]
                    for key, spec in self.space.items() if spec.kind == "layer"}
        return candidate_costs(self.space, self._example_forward, self._candidate_cost)

    def _example_forward(self) -> None:
        """One no-grad forward of the example input on the mixer's path (what the candidates' inputs come from)."""
        example = self.example_input
        if example is None:
            example = next(iter(self.data.loader(self.dataset_train, False, 0)))[0][:1]
        example = to_device(example, self.device)
        entered = self._depth > 0
        if not entered:
            self.space.set_mixer(self.mixer)
        try:
            with EvalNoGrad(self.model):
                self.model(example)
        finally:
            if not entered:
                self.space.clear_mixer()

    def _candidate_cost(self, run: Callable[[], Any]) -> float:
        with torch.no_grad():
            if self.cost == "flops":
                return float(count_flops(run)[0])
            return latency_ms(run, self.device, repeats=7) * 1e3  # microseconds

    def expected_cost(self) -> torch.Tensor:
        """``sum_key sum_i p_i * cost_i`` under the current alphas (differentiable)."""
        probs = self._probabilities()
        total = torch.zeros((), device=self.device)
        for key, c in self.costs.items():
            if key in probs:
                total = total + (probs[key] * torch.tensor(c, device=self.device, dtype=probs[key].dtype)).sum()
        return total

    def _uniform_cost(self) -> float:
        total = 0.0
        for key, c in self.costs.items():
            spec = self.space[key]
            if key in self.alphas:
                share = 0.5 if spec.kind == "input" and spec.n_chosen is None else 1.0 / len(c)
                total += share * sum(c)
        return total or 1.0

    # -------------------------------------------------------------- steps
    def _enter(self) -> None:
        if self.cost is not None and self._costs is None:
            self._costs = self._measure_costs()  # before the mixer samples paths
        self.space.set_mixer(self.mixer)

    def _exit(self) -> None:
        self.space.clear_mixer()

    def _arch_tensors(self) -> list[torch.Tensor]:
        return list(self.alphas.values())

    def _join_ranks(self, x: Any, y: Any) -> None:
        super()._join_ranks(x, y)
        if self.cost is not None:  # measured latencies differ between processes: rank 0's for all
            self._costs = self.dist.broadcast_object(self.costs)

    def _train_step(self, x: Any, y: Any, arch_batch: Any) -> dict[str, float]:
        stats: dict[str, float] = {}
        warm = self.epoch < self.warmup_epochs
        if not warm and self.arch_optimizer is not None and self.global_step % self.arch_update_every == 0:
            stats.update(self._arch_step(*arch_batch))
        self._sample_active(uniform=warm)
        _, loss = self._weight_forward_loss(x, y)
        stats["loss"] = self._finite(float(loss.detach()), "training loss")
        self._weight_update(loss)
        return stats

    def _arch_step(self, xa: Any, ya: Any) -> dict[str, float]:
        arch_optimizer = self.arch_optimizer
        if arch_optimizer is None:  # _train_step calls this only when there are architecture parameters
            raise RuntimeError("ProxylessTrainer: no searched key, so no architecture parameters to update")
        self._sample_active()
        mixer = self.mixer
        mixer.gates = {}
        for key in self.searched:
            g = torch.zeros(self.space[key].n_candidates, device=self.device)
            g[list(mixer.active[key])] = 1.0
            mixer.gates[key] = g.requires_grad_()
        mixer.arch_mode = True
        try:
            _, loss = self._forward_loss(xa, ya)
        finally:
            mixer.arch_mode = False
        value = self._finite(float(loss.detach()), "architecture (validation) loss")
        keys = list(mixer.gates)
        grads = torch.autograd.grad(loss, [mixer.gates[k] for k in keys], allow_unused=True)
        mixer.gates = {}
        probs = self._probabilities()
        arch_optimizer.zero_grad(set_to_none=True)
        for key, G in zip(keys, grads):
            if G is None:
                continue
            p = probs[key].detach()
            spec = self.space[key]
            if spec.kind == "input" and spec.n_chosen is None:
                grad = G * p * (1 - p)
            else:
                grad = p * (G - (G * p).sum())
            self.alphas[key].grad = grad
        stats = {"arch_loss": value}
        if self.costs and self.cost_weight:
            penalty = self.cost_weight * self.expected_cost() / self._uniform_cost()
            cost_grads = torch.autograd.grad(penalty, [self.alphas[k] for k in keys], allow_unused=True)
            for key, cg in zip(keys, cost_grads):
                if cg is not None:
                    a = self.alphas[key]
                    a.grad = cg if a.grad is None else a.grad + cg
            stats["cost_penalty"] = float(penalty.detach())
        self._sync_arch_grads(self.alphas.values())  # every rank holds the same architecture parameters
        arch_optimizer.step()
        self._refresh_probs()
        return stats

    def _eval_arch(self, batch_index: int) -> None:
        if batch_index == 0:
            self.mixer.active.update(self._argmax())

    # ------------------------------------------------------------ results
    def _arch_weights(self) -> dict[str, list[float]]:
        out = {}
        for key, spec in self.space.items():
            if key in self._probs:
                p = self._probs[key]
                out[key] = [spec.n_chosen * v for v in p] if spec.kind == "input" and spec.n_chosen else list(p)
            else:
                out[key] = [1.0 if i in spec.default else 0.0 for i in range(spec.n_candidates)]
        return out

    def _export_indices(self) -> dict[str, tuple[int, ...]]:
        return self._argmax()

    def _algo_state(self) -> dict[str, Any]:
        return {"alphas": {k: a.detach().clone() for k, a in self.alphas.items()},
                "arch_optimizer": self.arch_optimizer.state_dict() if self.arch_optimizer else None}

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            for k, a in self.alphas.items():
                a.copy_(state["alphas"][k])
        if self.arch_optimizer is not None:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self._refresh_probs()


def _draw(p: Sequence[float], u: float) -> int:
    acc = 0.0
    for i, v in enumerate(p):
        acc += v
        if u < acc:
            return i
    return len(p) - 1
