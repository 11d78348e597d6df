"""DARTS: differentiable architecture search with softmax-weighted candidates.

Every key gets one architecture-parameter vector (mutables sharing a key share it). A
LayerChoice runs all candidates and sums them weighted by ``softmax(alpha)``. An
InputChoice whose ``choose_from`` names only LayerChoice keys is a cell node, as in the
paper: all incoming edges are summed, each of those LayerChoices mixes a *zero*
candidate too (an implicit one, unless a candidate already is :class:`nasnb.ops.Zero`, the
``none`` op), and export keeps the ``n_chosen`` edges whose best non-zero op is strongest
and never picks zero. This holds for a node that keeps all its edges too (node 0 of a DARTS
cell: 2 of 2), so every edge of a DARTS cell mixes the paper's 8 ops: 14 x 8 = 112 weights
per cell. Any other InputChoice gets its own weights (``n_chosen`` * softmax for a fixed
count, independent sigmoid gates for ``n_chosen=None``) and export keeps the top ones (or
the gates above 0.5).

DARTS collapses onto parameter-free skip connections when it searches long enough (the
skip eases gradient flow in the supernet, so the architecture gradient over-rewards it).
``aux_skip=beta0`` adds DARTS- (Chu et al., "DARTS-: Robustly Stepping out of Performance
Collapse Without Indicators", ICLR 2021): every mixed LayerChoice whose single input has
the shape of its output gets an auxiliary skip, ``out = sum_k w_k op_k(x) + beta x``, with
``beta = beta0 * (1 - epoch / num_epochs)`` decaying linearly to 0 (see
:meth:`DartsTrainer.aux_beta`). It is not a candidate: export and ``fix`` never see it.
Every record of the history also logs ``skip_share`` (the fraction of edges with a
parameter-free skip candidate, ``nn.Identity`` as ``nasnb.ops``' ``skip_connect`` builds it,
whose strongest non-zero op is that skip) and ``skip_weight`` (their mean skip weight), the
live plot draws the share, and a UserWarning says once when the share passes
``skip_warn_share`` while the skip weight rises.

Second order (``unrolled=True``) follows Liu et al. (2019), eq. 7-8: a virtual SGD step
``w' = w - xi * grad_w L_train`` (with the optimizer's momentum and weight decay) that
really moves the weights, the validation gradient at ``w'``, and the finite-difference
Hessian-vector product ``(grad_a L_train(w+) - grad_a L_train(w-)) / (2 eps)`` with
``w+- = w +- eps * grad_w' L_val``, ``eps = 0.01 / ||grad_w' L_val||``.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.oneshot import DartsTrainer
>>> _ = torch.manual_seed(0)
>>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"), nn.Linear(8, 2))
>>> data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
>>> trainer = DartsTrainer(net, nn.functional.cross_entropy, num_epochs=1, dataset_train=data,
...                        batch_size=8, arc_learning_rate=3e-2, progress=False)
>>> history = trainer.train()
>>> w = history.final()["act"]  # softmax(alpha) of the key's two candidates
>>> len(w), round(sum(w), 6)
(2, 1.0)
>>> trainer.export() == {"act": max(range(2), key=w.__getitem__)}  # the strongest candidate
True
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .._reduction import reduce_outputs
from ..exceptions import SearchSpaceError
from ..mutables import LayerChoice
from ..ops import Zero
from ._base import OneShotTrainer, TrainingError

__all__ = ["DartsTrainer"]


def _weighted_sum(key: str, outputs: Any, weights: torch.Tensor) -> torch.Tensor:
    total: torch.Tensor | None = None
    try:
        for i, out in enumerate(outputs):
            total = out * weights[i] if total is None else total + out * weights[i]
    except RuntimeError as err:
        raise SearchSpaceError(
            f"DARTS cannot mix the candidates of key {key!r}: their outputs differ in shape ({err}); "
            f"every candidate of a mixed choice must return tensors of one shape",
            key=key,
        ) from err
    if total is None:
        raise SearchSpaceError(f"DARTS cannot mix the candidates of key {key!r}: there are none", key=key)
    return total


def _device_of(values: Any) -> torch.device | None:
    for v in values:
        if torch.is_tensor(v):
            return v.device
    return None


class _DartsMixer:
    """Weighted forward for every key; ``refresh()`` recomputes the weights from the alphas and
    the auxiliary skip's ``beta`` from the trainer's epoch."""

    def __init__(self, trainer: DartsTrainer):
        self.trainer = trainer
        self.weights: dict[str, torch.Tensor] = {}
        self.beta = 0.0

    def refresh(self) -> None:
        self.weights = self.trainer._weights()
        self.beta = self.trainer.aux_beta()

    def forward_layer_choice(self, mutable: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        w = self.weights[mutable.key]
        out = _weighted_sum(mutable.key, (op(*args, **kwargs) for op in mutable), w)
        if self.beta and len(args) == 1 and not kwargs and torch.is_tensor(args[0]) and args[0].shape == out.shape:
            out = out + self.beta * args[0]  # DARTS-: the auxiliary skip, not a candidate
        return ([out] if mutable.reduction == "none" else out), w

    def forward_input_choice(self, mutable: Any, inputs: list[Any]) -> tuple[Any, Any]:
        key = mutable.key
        mode = self.trainer._input_mode[key]
        if mode == "fixed":
            chosen = mutable.decision.indices
            mask = torch.zeros(len(inputs), dtype=torch.bool, device=_device_of(inputs))
            mask[list(chosen)] = True
            return reduce_outputs(mutable.reduction, [inputs[i] for i in chosen]), mask
        if mode == "edges":
            return reduce_outputs(mutable.reduction, list(inputs)), torch.ones(len(inputs), device=_device_of(inputs))
        w = self.weights[key]
        out = _weighted_sum(key, inputs, w)
        if mutable.reduction == "mean":
            out = out / (mutable.n_chosen if mutable.n_chosen else w.sum().clamp_min(1e-6))
        return out, w


class DartsTrainer(OneShotTrainer):
    """Train a DARTS supernet: weights on one half of the training data, alphas on the other.

    Parameters
    ----------
    model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid
        As :class:`~nasnb.oneshot.OneShotTrainer` (NNI 1.x order). ``dataset_train`` is
        split by index into a weight half and an architecture half unless ``arch_data``
        is given.
    arc_learning_rate : float
        Learning rate of the architecture optimizer, ``Adam(betas=(0.5, 0.999),
        weight_decay=arc_weight_decay)``.
    unrolled : bool
        Second-order DARTS (see the module docstring); reads ``lr``, ``momentum`` and
        ``weight_decay`` of the weight optimizer's first parameter group.
    warmup_epochs : int
        Epochs that train the weights only (the mixture stays uniform), which delays the
        usual collapse onto parameter-free candidates such as skip connections.
    aux_skip : float or None
        ``beta0`` of DARTS- (Chu et al., ICLR 2021): an auxiliary skip ``beta * x`` on every
        mixed LayerChoice whose input and output shapes match, ``beta`` decaying linearly
        from ``beta0`` to 0 (:meth:`aux_beta`), so the skip candidate no longer wins for
        easing gradient flow. None or 0: off (plain DARTS, the default: see the module
        docstring and ``benchmarks/bench_darts_collapse.py`` for the measurement).
    **kwargs
        Everything else :class:`~nasnb.oneshot.OneShotTrainer` takes (``batch_size``,
        ``device``, ``callbacks``, ``seed``, ``progress``, ``live_plot``, ...).

    Raises
    ------
    SearchSpaceError
        An InputChoice choosing some of its inputs with ``reduction`` "concat" or "none":
        a weighted mixture cannot have the shape of every choice.
    ValueError
        ``aux_skip`` negative or not a number.

    Warns
    -----
    UserWarning
        Once, when more than ``skip_warn_share`` of the edges with a parameter-free skip
        candidate have it as their strongest op while its mean weight has risen since the
        first record: the search is collapsing onto skips; the message names ``aux_skip``.
    """

    kind = "softmax"
    arch_lr_arg = "arc_learning_rate"
    arch_split = 0.5
    uses_arch_data = True
        #: The skip share (see the module docstring) above which the collapse warning fires.
    skip_warn_share = 0.5

    def __init__(self, model: Any, loss: Any, metrics: Any = None, optimizer: Any = None, num_epochs: int = 1,
                 dataset_train: Any = None, dataset_valid: Any = None, *, arc_learning_rate: float = 3e-4,
                 arc_weight_decay: float = 1e-3, unrolled: bool = False, warmup_epochs: int = 0,
                 aux_skip: float | None = None, **kwargs: Any):
        if aux_skip is not None and (isinstance(aux_skip, bool) or not isinstance(aux_skip, (int, float))
                                     or not aux_skip >= 0):
            raise ValueError(f"aux_skip must be None or a number >= 0 (beta0 of DARTS-, e.g. 1.0), got {aux_skip!r}")
        self.aux_skip = float(aux_skip or 0.0)
        self._skip_warned = False
        self._zero_index: dict[str, int] = {}  # filled by _check_space (a subclass may replace it)
        self._skip_index: dict[str, list[int]] = {}
        self.arc_learning_rate = arc_learning_rate
        self.warmup_epochs = warmup_epochs
        self.arc_weight_decay = arc_weight_decay
        self.unrolled = unrolled
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, **kwargs)

    # ------------------------------------------------------------- setup
    def _check_space(self) -> None:
        self._input_mode: dict[str, str] = {}
        self._zero_keys: set[str] = set()
        for key, spec in self.space.items():
            if spec.kind != "input":
                continue
            edges = spec.n_chosen is not None and all(
                name in self.space and self.space[name].kind == "layer" for name in spec.names
            )
            if spec.size == 1 and not edges:
                self._input_mode[key] = "fixed"
                continue
            if spec.size > 1 and spec.reduction in ("concat", "none"):
                raise SearchSpaceError(
                    f"DARTS cannot search InputChoice {key!r}: it chooses "
                    f"{spec.n_chosen if spec.n_chosen is not None else 'any number'} "
                    f"of {spec.n_candidates} inputs with reduction {spec.reduction!r}, so each choice has a different "
                    f"shape and no weighted mixture fits all; use reduction 'sum' or 'mean' (or SPOS/ENAS)",
                    key=key, value=spec.reduction,
                )
            self._input_mode[key] = "edges" if edges else "weights"
            if edges:
                self._zero_keys.update(self.space[name].key for name in spec.names)
        # per edge key, the index of its zero: a nasnb.ops.Zero candidate ("none"), else an implicit one after the last
        self._zero_index = {}
        for k in self._zero_keys:
            explicit = self._candidates_where(k, lambda op: isinstance(op, Zero))
            n = self.space[k].n_candidates
            self._zero_index[k] = explicit[0] if explicit and n > 1 else n
        # per LayerChoice key, its parameter-free skip candidates (what DARTS collapses onto)
        self._skip_index = {k: found for k, spec in self.space.items() if spec.kind == "layer"
                            and (found := self._candidates_where(k, lambda op: isinstance(op, nn.Identity)))}

    def _candidates_where(self, key: str, test: Any) -> list[int]:
        """Indices of the candidates of LayerChoice ``key`` that pass ``test`` in every mutable sharing the key."""
        choices = [m for m in self.space.mutables(key) if isinstance(m, LayerChoice)]
        return [i for i in range(self.space[key].n_candidates) if choices and all(test(m[i]) for m in choices)]

    def _build(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self.alphas: dict[str, nn.Parameter] = {}
        for key, spec in self.space.items():
            if spec.kind == "layer":
                n = spec.n_candidates + (1 if self._zero_index.get(key) == spec.n_candidates else 0)
            elif self._input_mode[key] == "weights":
                n = spec.n_candidates
            else:
                continue
            self.alphas[key] = nn.Parameter((1e-3 * torch.randn(n, generator=g)).to(self.device))
        self.arch_optimizer = torch.optim.Adam(
            list(self.alphas.values()), lr=self.arc_learning_rate, betas=(0.5, 0.999),
            weight_decay=self.arc_weight_decay,
        ) if self.alphas else None
        self.mixer = _DartsMixer(self)

    def _weights(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for key, alpha in self.alphas.items():
            spec = self.space[key]
            if spec.kind == "layer":
                out[key] = torch.softmax(alpha, -1)[: spec.n_candidates]
            elif spec.n_chosen is None:
                out[key] = torch.sigmoid(alpha)
            else:
                out[key] = spec.n_chosen * torch.softmax(alpha, -1)
        return out

    def _arch_tensors(self) -> list[torch.Tensor]:
        return list(self.alphas.values())

    def _ddp_find_unused(self, x: Any, y: Any) -> bool:
        """Whether a weight step leaves weights without gradients (e.g. an auxiliary head with ``aux_weight=0``):
        every step of DARTS uses the same weights, so one dry run on the first batch tells (in eval mode, so
        that BatchNorm statistics stay as they are)."""
        self.mixer.refresh()
        self.model.eval()
        try:
            _, loss = self._forward_loss(x, y)
        finally:
            self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        return any(g is None for g in torch.autograd.grad(loss, params, allow_unused=True))

    def aux_beta(self, epoch: float | None = None) -> float:
        """DARTS-'s ``beta`` in ``epoch`` (default the current ``trainer.epoch``): ``aux_skip * (1 - epoch / num_epochs)``.

        Linear decay as in Chu et al. (2021): ``aux_skip`` in the first epoch, 0 once
        training is done (so validation afterwards, export and ``fix`` see plain DARTS); 0
        when ``aux_skip`` is off. Every forward of the supernet reads it from
        ``trainer.epoch``: :meth:`train` sets that, a hand-written loop over :meth:`step`
        sets ``trainer.epoch = e`` at the start of each epoch ``e`` (and ``num_epochs`` to
        its number of epochs).

        Examples
        --------
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key="op"))
        >>> data = [(torch.randn(8, 4), torch.randn(8, 4))]
        >>> trainer = DartsTrainer(net, nn.functional.mse_loss, num_epochs=4, dataset_train=data, aux_skip=1.0,
        ...                        arch_data=data, progress=False)
        >>> [trainer.aux_beta(e) for e in range(5)]
        [1.0, 0.75, 0.5, 0.25, 0.0]
        """
        e = self.epoch if epoch is None else epoch
        if not self.aux_skip or self.num_epochs <= 0:
            return 0.0
        return self.aux_skip * max(0.0, 1.0 - e / self.num_epochs)

    @torch.no_grad()
    def skip_stats(self) -> dict[str, float]:
        """How far the search leans on parameter-free skips: ``skip_share`` and ``skip_weight``.

        Over the LayerChoice keys with a skip candidate (``nn.Identity``): the fraction
        whose strongest non-zero candidate is a skip, and the mean weight of the skips
        relative to the key's non-zero candidates. Empty when no key has a skip candidate.
        Every history record logs both (``history.scalar("skip_share")``).

        Examples
        --------
        >>> from torch import nn
        >>> from nasnb import mutables
        >>> net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, 4), nn.Identity()], key="op"))
        >>> data = [(torch.randn(8, 4), torch.randn(8, 4))]
        >>> trainer = DartsTrainer(net, nn.functional.mse_loss, dataset_train=data, arch_data=data, progress=False)
        >>> _ = trainer.alphas["op"].data.copy_(torch.tensor([0.0, 1.0]))
        >>> {k: round(v, 3) for k, v in trainer.skip_stats().items()}
        {'skip_share': 1.0, 'skip_weight': 0.731}
        """
        if not self._skip_index:
            return {}
        weights = self._weights()
        won, share = 0, 0.0
        for key, skips in self._skip_index.items():
            w = self._nonzero(key, weights[key])
            won += int(w.argmax()) in skips
            share += float(w[skips].sum() / w[w > float("-inf")].sum())
        n = len(self._skip_index)
        return {"skip_share": won / n, "skip_weight": share / n}

    def _record(self, epoch: float | None = None) -> None:
        stats = self.skip_stats()
        for name, value in stats.items():
            self.history.add_scalar(name, value, step=self.global_step,
                                    epoch=float(self.epoch if epoch is None else epoch))
        super()._record(epoch)
        if stats and epoch is None and not self._skip_warned:
            self._warn_if_collapsing(stats)

    def _warn_if_collapsing(self, stats: Mapping[str, float]) -> None:
        """Warn once when most skip-capable edges pick the skip and its weight rose since the first record."""
        first = self.history.scalar("skip_weight")[0][2]
        if stats["skip_share"] <= self.skip_warn_share or stats["skip_weight"] <= first + 1e-3:
            return
        self._skip_warned = True
        n = len(self._skip_index)
        remedy = (f"aux_skip is on ({self.aux_skip:g}); try a lower arc_learning_rate (now {self.arc_learning_rate:g}) "
                  f"or more warmup_epochs" if self.aux_skip else
                  "use aux_skip=1.0 (DARTS-, Chu et al. 2021), warmup_epochs or a lower arc_learning_rate "
                  f"(now {self.arc_learning_rate:g})")
        warnings.warn(f"{type(self).__name__}: at epoch {self.epoch}, {round(stats['skip_share'] * n)} of {n} edges with "
                      f"a parameter-free skip candidate have the skip as their strongest op (skip share "
                      f"{stats['skip_share']:.2f} > {self.skip_warn_share:g}) and the mean skip weight rose from "
                      f"{first:.2f} to {stats['skip_weight']:.2f}: the search may be collapsing onto skip connections "
                      f"(DARTS' known failure: a shallow exported cell that retrains poorly); {remedy}.", stacklevel=4)

    def _enter(self) -> None:
        self.space.set_mixer(self.mixer)
        self.mixer.refresh()

    def _exit(self) -> None:
        self.space.clear_mixer()

    def _eval_arch(self, batch_index: int) -> None:
        if batch_index == 0:
            self.mixer.refresh()

    # -------------------------------------------------------------- steps
    def _train_step(self, x: Any, y: Any, arch_batch: Any) -> dict[str, float]:
        stats: dict[str, float] = {}
        if self.arch_optimizer is not None and self.epoch >= self.warmup_epochs:
            xa, ya = arch_batch
            self.arch_optimizer.zero_grad(set_to_none=True)
            if self.unrolled:
                arch_loss = self._unrolled_backward(x, y, xa, ya)
            else:
                self.mixer.refresh()
                _, loss_a = self._forward_loss(xa, ya)
                arch_loss = self._finite(float(loss_a.detach()), "architecture (validation) loss")
                loss_a.backward()  # type: ignore[no-untyped-call]  # torch stubs leave Tensor.backward unannotated
            self._sync_arch_grads(self.alphas.values())  # every rank holds the same alphas
            self.arch_optimizer.step()
            stats["arch_loss"] = arch_loss
        self.mixer.refresh()
        _, loss = self._weight_forward_loss(x, y)
        stats["loss"] = self._finite(float(loss.detach()), "training loss")
        self._weight_update(loss)
        return stats

    def _weight_optimizer(self) -> torch.optim.Optimizer:
        """The weight optimizer, which the unrolled (second-order) update reads."""
        if self.optimizer is None:
            raise TrainingError("unrolled DARTS needs the weight optimizer, but the supernet has no trainable "
                                "weights (so there is none); use unrolled=False")
        return self.optimizer

    def _weight_params(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def _virtual_step(self, x: Any, y: Any) -> list[torch.Tensor]:
        """Move the weights to ``w' = w - xi * (momentum * buf + grad + wd * w)``; return the backup of ``w``."""
        params = self._weight_params()
        optimizer = self._weight_optimizer()
        group = optimizer.param_groups[0]
        lr, momentum, wd = group["lr"], group.get("momentum", 0.0), group.get("weight_decay", 0.0)
        self.mixer.refresh()
        _, loss = self._forward_loss(x, y)
        grads = list(torch.autograd.grad(loss, params, allow_unused=True))
        self.dist.mean_(g for g in grads if g is not None)  # the virtual step of all ranks' batches together
        backup = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, g in zip(params, grads):
                d = torch.zeros_like(p) if g is None else g.clone()
                if wd:
                    d.add_(p, alpha=wd)
                buf = optimizer.state.get(p, {}).get("momentum_buffer") if momentum else None
                if buf is not None:
                    d.add_(buf, alpha=momentum)
                p.sub_(d, alpha=lr)
        return backup

    def _unrolled_backward(self, x: Any, y: Any, xa: Any, ya: Any) -> float:
        """Set the alphas' ``.grad`` to the second-order DARTS gradient; return the validation loss."""
        params = self._weight_params()
        alphas = list(self.alphas.values())
        lr = self._weight_optimizer().param_groups[0]["lr"]
        backup = self._virtual_step(x, y)
        try:
            self.mixer.refresh()
            _, loss_v = self._forward_loss(xa, ya)
            value = self._finite(float(loss_v.detach()), "architecture (validation) loss")
            grads = torch.autograd.grad(loss_v, alphas + params, allow_unused=True)
        finally:
            with torch.no_grad():
                for p, b in zip(params, backup):
                    p.copy_(b)
        d_alpha = [torch.zeros_like(a) if g is None else g for a, g in zip(alphas, grads[: len(alphas)])]
        d_w = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[len(alphas):])]
        self.dist.mean_(d_w)  # the Hessian term is linear in the training loss: local batch, global vector
        hessian = self._hessian_vector_product(d_w, x, y)
        for a, da, h in zip(alphas, d_alpha, hessian):
            a.grad = da - lr * h
        return value

    def _hessian_vector_product(self, vector: list[torch.Tensor], x: Any, y: Any) -> list[torch.Tensor]:
        """``d/d alpha (d L_train / d w) . vector`` by central differences at the current weights."""
        params = self._weight_params()
        alphas = list(self.alphas.values())
        norm = torch.cat([v.reshape(-1) for v in vector]).norm()
        eps = 0.01 / norm.clamp_min(1e-12)

        def alpha_grad(sign: float) -> list[torch.Tensor]:
            with torch.no_grad():
                for p, v in zip(params, vector):
                    p.add_(v, alpha=float(sign * eps))
            self.mixer.refresh()
            _, loss = self._forward_loss(x, y)
            g = torch.autograd.grad(loss, alphas, allow_unused=True)
            return [torch.zeros_like(a) if gi is None else gi for a, gi in zip(alphas, g)]

        backup = [p.detach().clone() for p in params]
        try:
            plus = alpha_grad(1.0)
            minus = alpha_grad(-2.0)
        finally:
            with torch.no_grad():
                for p, b in zip(params, backup):
                    p.copy_(b)
        return [(p - n) / (2 * eps) for p, n in zip(plus, minus)]

    # ------------------------------------------------------------ results
    def _nonzero(self, key: str, w: torch.Tensor) -> torch.Tensor:
        """``w`` with the explicit zero candidate of edge ``key`` (if any) at -inf: export never picks it."""
        zero = self._zero_index.get(key, len(w))
        return w if zero >= len(w) else w.index_fill(0, torch.tensor([zero], device=w.device), float("-inf"))

    @torch.no_grad()
    def _arch_weights(self) -> dict[str, list[float]]:
        w = self._weights()
        strength = {k: float(self._nonzero(k, w[k]).max()) for k, s in self.space.items() if s.kind == "layer"}
        out: dict[str, list[float]] = {}
        for key, spec in self.space.items():
            mode = "layer" if spec.kind == "layer" else self._input_mode[key]
            if mode in ("layer", "weights"):
                out[key] = w[key].tolist()
            elif mode == "edges":
                out[key] = [strength[self.space[name].key] for name in spec.names]
            else:
                chosen = self.space.decision(key).indices
                out[key] = [1.0 if i in chosen else 0.0 for i in range(spec.n_candidates)]
        return out

    @torch.no_grad()
    def _export_indices(self) -> dict[str, tuple[int, ...]]:
        weights = self._arch_weights()
        result: dict[str, tuple[int, ...]] = {}
        for key, spec in self.space.items():
            w = torch.tensor(weights[key])
            if spec.kind == "layer":
                result[key] = (int(self._nonzero(key, w).argmax()),)
            elif self._input_mode[key] == "fixed":
                result[key] = self.space.decision(key).indices
            elif spec.n_chosen is None:
                result[key] = tuple(i for i, v in enumerate(weights[key]) if v > 0.5)
            else:
                result[key] = tuple(sorted(int(i) for i in w.topk(spec.n_chosen).indices))
        return result

    def _algo_state(self) -> dict[str, Any]:
        return {
            "alphas": {k: a.detach().clone() for k, a in self.alphas.items()},
            "arch_optimizer": self.arch_optimizer.state_dict() if self.arch_optimizer else None,
        }

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            for k, a in self.alphas.items():
                a.copy_(state["alphas"][k])
        if self.arch_optimizer is not None:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])
