"""ENAS: an LSTM controller samples architectures; REINFORCE trains it on validation reward.

The controller walks the space in pre-order (MutableScope exits included), one LSTM step
per key, as NNI 1.x's EnasMutator did, but without its limits: each LayerChoice has its
own output head and embedding, so candidate counts may differ, and an InputChoice may
choose any number of inputs (``n_chosen=None``: an independent keep/skip per input, with
the skip penalty) or exactly ``k`` (``k`` draws without replacement by attention over
the inputs' anchors). An input whose ``choose_from`` names a key or scope seen earlier
attends to that key's hidden state; others use a learned anchor. Each epoch trains the
shared weights with one sampled architecture per batch, then the controller with
REINFORCE (entropy bonus, moving-average baseline, skip penalty). :meth:`EnasTrainer.export`
returns the controller's most likely architecture; ``export(samples=n)`` draws ``n``.

Examples
--------
>>> import torch
>>> from torch import nn
>>> from nasnb import mutables
>>> from nasnb.oneshot import EnasTrainer
>>> _ = torch.manual_seed(0)
>>> net = nn.Sequential(nn.Linear(4, 8), mutables.LayerChoice([nn.ReLU(), nn.Tanh()], key="act"), nn.Linear(8, 2))
>>> data = torch.utils.data.TensorDataset(torch.randn(40, 4), torch.randint(0, 2, (40,)))
>>> trainer = EnasTrainer(net, nn.functional.cross_entropy, num_epochs=1, dataset_train=data,
...                       batch_size=8, controller_steps=2, progress=False)
>>> _ = trainer.train()
>>> trainer.export() == trainer.space.current()
True
>>> len(trainer.export(samples=3))
3
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..architecture import Choice, dump_json
from ..exceptions import SearchSpaceError
from ..mutables import InputChoice, LayerChoice, MutableScope
from ..space import SearchSpace
from ._base import OneShotTrainer

__all__ = ["EnasController", "EnasTrainer"]


def _program(space: SearchSpace) -> list[tuple[str, str]]:
    """Pre-order events ``("choice", key)`` (first occurrence) and ``("exit", scope_key)``."""
    events: list[tuple[str, str]] = []
    seen: set[str] = set()
    stack: list[tuple[str, str]] = []
    for path, m in space.model.named_modules():
        while stack and not (stack[-1][0] == "" or path.startswith(stack[-1][0] + ".")):
            events.append(("exit", stack.pop()[1]))
        if isinstance(m, MutableScope):
            stack.append((path, m.key))
        elif isinstance(m, (LayerChoice, InputChoice)) and m.key not in seen:
            seen.add(m.key)
            events.append(("choice", m.key))
    while stack:
        events.append(("exit", stack.pop()[1]))
    return events


class EnasController(nn.Module):
    """The autoregressive policy over a space's keys (batched: ``B`` samples at once).

    Parameters
    ----------
    space : SearchSpace
        The space to sample; its structure (order, scopes, ``choose_from``) is read once.
    lstm_size, lstm_num_layers : int
        Size of the stacked ``LSTMCell``.
    tanh_constant : float or None
        Logits become ``tanh_constant * tanh(logits)`` (NNI default 1.5).
    temperature : float or None
        Logits are divided by it first.
    skip_target : float
        Target keep-probability of an ``n_chosen=None`` input (the skip penalty's KL target).
    """

    def __init__(self, space: SearchSpace, lstm_size: int = 64, lstm_num_layers: int = 1,
                 tanh_constant: float | None = 1.5, temperature: float | None = None, skip_target: float = 0.4):
        super().__init__()
        self.program = _program(space)
        self.specs = {k: space[k] for k in space}
        self.slot = {k: f"k{i}" for i, k in enumerate(self.specs)}
        self.tanh_constant, self.temperature, self.skip_target = tanh_constant, temperature, skip_target
        h = lstm_size
        self.lstm = nn.ModuleList([nn.LSTMCell(h, h, bias=False) for _ in range(lstm_num_layers)])
        self.g_emb = nn.Parameter(torch.randn(1, h) * 0.1)
        self.heads, self.embeds = nn.ModuleDict(), nn.ModuleDict()
        self.anchor_emb = nn.ParameterDict()
        for key, spec in self.specs.items():
            if spec.size <= 1:
                continue
            if spec.kind == "layer":
                self.heads[self.slot[key]] = nn.Linear(h, spec.n_candidates, bias=False)
                self.embeds[self.slot[key]] = nn.Embedding(spec.n_candidates, h)
            else:
                self.anchor_emb[self.slot[key]] = nn.Parameter(torch.randn(spec.n_candidates, h) * 0.1)
        self.attn_anchor = nn.Linear(h, h, bias=False)
        self.attn_query = nn.Linear(h, h, bias=False)
        self.v_attn = nn.Linear(h, 1, bias=False)

    def _shape(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def forward(self, batch: int = 1, greedy: bool = False, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Sample ``batch`` architectures (or the most likely one with ``greedy``).

        Returns a dict with ``choices`` (key -> LongTensor ``B x k`` of sorted indices for
        layers and fixed-count inputs, bool ``B x n`` for any-subset inputs), ``log_prob``,
        ``entropy`` and ``skip_penalty`` (each ``B``), and ``probs`` (key -> ``B x n``
        per-sample probabilities of each candidate).
        """
        run = _Sampling(self, batch, greedy, generator)
        for event, key in self.program:
            if event == "exit":
                run.anchors[key] = run.hs[-1]
                continue
            spec = self.specs[key]
            if spec.size <= 1:
                run.fixed(key, spec)
            elif spec.kind == "layer":
                run.layer(key, spec)
            elif spec.n_chosen is None:
                run.any_subset(key, spec)
            else:
                run.fixed_count(key, spec)
        return {"choices": run.choices, "log_prob": run.log_prob, "entropy": run.entropy,
                "skip_penalty": run.skip_penalty, "probs": run.probs}

    def decode(self, choices: Mapping[str, torch.Tensor]) -> list[dict[str, tuple[int, ...]]]:
        """Per-sample ``key -> sorted index tuple`` from :meth:`forward`'s ``choices``."""
        columns: dict[str, list[tuple[int, ...]]] = {}
        batch = 0
        for key, c in choices.items():
            rows = c.tolist()
            batch = len(rows)
            if c.dtype == torch.bool:
                columns[key] = [tuple(i for i, v in enumerate(r) if v) for r in rows]
            else:
                columns[key] = [tuple(sorted(r)) for r in rows]
        return [{k: col[b] for k, col in columns.items()} for b in range(batch)]


class _Sampling:
    """The state of one batched walk of :class:`EnasController` over the space's keys."""

    def __init__(self, controller: EnasController, batch: int, greedy: bool, generator: torch.Generator | None):
        self.c, self.batch, self.greedy, self.generator = controller, batch, greedy, generator
        self.device = device = controller.g_emb.device
        self.H = H = controller.g_emb.shape[1]
        self.hs = [torch.zeros(batch, H, device=device) for _ in controller.lstm]
        self.cs = [torch.zeros(batch, H, device=device) for _ in controller.lstm]
        self.inputs = controller.g_emb.expand(batch, H)
        self.anchors: dict[str, torch.Tensor] = {}
        self.log_prob = torch.zeros(batch, device=device)
        self.entropy = torch.zeros(batch, device=device)
        self.skip_penalty = torch.zeros(batch, device=device)
        self.choices: dict[str, torch.Tensor] = {}
        self.probs: dict[str, torch.Tensor] = {}

    def lstm_step(self) -> torch.Tensor:
        x = self.inputs
        for i, cell in enumerate(self.c.lstm):
            self.hs[i], self.cs[i] = cell(x, (self.hs[i], self.cs[i]))
            x = self.hs[i]
        return x

    def draw(self, p: torch.Tensor) -> torch.Tensor:
        """One index per row of ``p``: the argmax (greedy) or a sample."""
        if self.greedy:
            return p.argmax(-1)
        return torch.multinomial(p.detach(), 1, generator=self.generator).squeeze(1)

    def fixed(self, key: str, spec: Choice) -> None:
        """A key with a single option: its default, no LSTM step."""
        default = torch.tensor(spec.default, dtype=torch.long, device=self.device)
        self.choices[key] = default.expand(self.batch, len(spec.default))
        self.probs[key] = torch.zeros(self.batch, spec.n_candidates, device=self.device).index_fill(1, default, 1.0)

    def layer(self, key: str, spec: Choice) -> None:
        slot = self.c.slot[key]
        hid = self.lstm_step()
        logits = self.c._shape(self.c.heads[slot](hid))
        p = torch.softmax(logits, -1)
        idx = self.draw(p)
        logp = torch.log_softmax(logits, -1)
        self.log_prob = self.log_prob + logp.gather(1, idx[:, None]).squeeze(1)
        self.entropy = self.entropy - (p * logp).sum(-1)
        self.inputs = self.c.embeds[slot](idx)
        self.choices[key] = idx[:, None]
        self.probs[key] = p
        self.anchors[key] = hid

    def _attention(self, key: str, spec: Choice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(hidden state, anchors B x n x H, attention scores B x n) of an InputChoice."""
        slot = self.c.slot[key]
        hid = self.lstm_step()
        cand = [self.anchors[name] if name in self.anchors else self.c.anchor_emb[slot][i].expand(self.batch, self.H)
                for i, name in enumerate(spec.names)]
        A = torch.stack(cand, 1)  # B x n x H
        c = self.c
        score = c.v_attn(torch.tanh(c.attn_anchor(A) + c.attn_query(hid)[:, None, :])).squeeze(-1)
        return hid, A, c._shape(score)

    def any_subset(self, key: str, spec: Choice) -> None:
        """``n_chosen=None``: an independent keep/skip per input, with the skip penalty."""
        hid, A, score = self._attention(key, spec)
        p_keep = torch.sigmoid(score)
        keep = (p_keep > 0.5) if self.greedy else (
            torch.rand(p_keep.shape, generator=self.generator, device=self.device) < p_keep.detach())
        keep = keep.float()
        self.log_prob = self.log_prob + (keep * F.logsigmoid(score) + (1 - keep) * F.logsigmoid(-score)).sum(-1)
        self.entropy = self.entropy + F.binary_cross_entropy_with_logits(score, p_keep, reduction="none").sum(-1)
        t = torch.tensor(self.c.skip_target, device=self.device)
        kl = p_keep * torch.log(p_keep.clamp_min(1e-8) / t) + (1 - p_keep) * torch.log(
            (1 - p_keep).clamp_min(1e-8) / (1 - t))
        self.skip_penalty = self.skip_penalty + kl.sum(-1)
        self.inputs = (keep[..., None] * A).sum(1) / (1.0 + keep.sum(1, keepdim=True))
        self.choices[key] = keep.bool()
        self.probs[key] = p_keep
        self.anchors[key] = hid

    def fixed_count(self, key: str, spec: Choice) -> None:
        """``n_chosen=k``: ``k`` draws without replacement by attention over the inputs' anchors."""
        hid, A, score = self._attention(key, spec)
        n_chosen = spec.n_chosen or 0
        mask = torch.zeros_like(score, dtype=torch.bool)
        inclusion = torch.zeros_like(score)
        for _ in range(n_chosen):
            logits = score.masked_fill(mask, float("-inf"))
            p = torch.softmax(logits, -1)
            logp = torch.log_softmax(logits, -1)
            idx = self.draw(p)
            self.log_prob = self.log_prob + logp.gather(1, idx[:, None]).squeeze(1)
            self.entropy = self.entropy - (p * logp.masked_fill(mask, 0.0)).sum(-1)
            inclusion = inclusion + p
            mask = mask.scatter(1, idx[:, None], True)
        self.inputs = (mask[..., None].float() * A).sum(1) / n_chosen
        self.choices[key] = mask.nonzero()[:, 1].reshape(self.batch, n_chosen)
        self.probs[key] = inclusion.clamp(max=1.0)
        self.anchors[key] = hid


def _default_reward(output: Any, target: torch.Tensor) -> torch.Tensor:
    if isinstance(output, (tuple, list)):
        output = output[0]
    reward: torch.Tensor = (output.argmax(dim=1) == target).float().mean()
    return reward


class EnasTrainer(OneShotTrainer):
    """Train shared weights with controller-sampled paths and the controller with REINFORCE.

    Parameters
    ----------
    model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid
        As :class:`~nasnb.oneshot.OneShotTrainer`. The last 10% of ``dataset_train``
        (or ``arch_data``) gives the controller's rewards.
    reward_function : callable, optional
        ``reward(output, target) -> float tensor``; default top-1 accuracy.
    controller_steps, controller_batch : int
        Controller updates per epoch, and architectures sampled (one reward batch each) per update.
    controller_lr : float
        Adam learning rate of the controller.
    entropy_weight, skip_weight, baseline_decay : float
        Entropy bonus added to the reward, skip-penalty weight, baseline moving-average decay.
    lstm_size, lstm_num_layers, tanh_constant, temperature, skip_target
        Passed to :class:`EnasController`.
    **kwargs
        Everything else :class:`~nasnb.oneshot.OneShotTrainer` takes.
    """

    kind = "probability"
    arch_lr_arg = "controller_lr"
    arch_split = 0.1
    uses_arch_data = True
    arch_batch_per_step = False  # the controller's rewards come from the architecture data, per epoch

    def __init__(self, model: Any, loss: Any, metrics: Any = None, optimizer: Any = None, num_epochs: int = 1,
                 dataset_train: Any = None, dataset_valid: Any = None, *,
                 reward_function: Callable[[Any, Any], torch.Tensor] | None = None,
                 controller_steps: int = 10, controller_batch: int = 8, controller_lr: float = 3.5e-4,
                 entropy_weight: float = 1e-4, skip_weight: float = 0.8, baseline_decay: float = 0.999,
                 lstm_size: int = 64, lstm_num_layers: int = 1, tanh_constant: float | None = 1.5,
                 temperature: float | None = None, skip_target: float = 0.4, history_samples: int = 64,
                 **kwargs: Any):
        self.reward_function = reward_function or _default_reward
        self.controller_steps, self.controller_batch = controller_steps, controller_batch
        self.controller_lr = controller_lr
        self.entropy_weight, self.skip_weight, self.baseline_decay = entropy_weight, skip_weight, baseline_decay
        self._controller_args: dict[str, Any] = {
            "lstm_size": lstm_size, "lstm_num_layers": lstm_num_layers, "tanh_constant": tanh_constant,
            "temperature": temperature, "skip_target": skip_target}
        self.history_samples = history_samples
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, **kwargs)

    def _check_space(self) -> None:
        """Refuse a model with nothing to search: the controller would have no decision to learn."""
        if any(spec.size > 1 for spec in self.space.values()):
            return
        what = f"{type(self).__name__}: the model ({type(self.model).__name__})"
        if not len(self.space):
            raise SearchSpaceError(
                f"{what} has no LayerChoice or InputChoice to search, so the controller has no decision to learn; "
                f"add mutables to the model, or train it as a plain nn.Module", value=type(self.model).__name__)
        keys = list(self.space.items())
        listed = ", ".join(f"{k!r} ({s.size} option{'s' if s.size != 1 else ''})" for k, s in keys[:8])
        more = f" and {len(keys) - 8} more" if len(keys) > 8 else ""
        raise SearchSpaceError(
            f"{what} has no LayerChoice or InputChoice with two or more options to search; every key has a single "
            f"option: {listed}{more}; give a LayerChoice two or more candidates (or an InputChoice more inputs than "
            f"it chooses)", key=keys[0][0], value=keys[0][1].size)

    def _build(self) -> None:
        torch_state = torch.get_rng_state()
        torch.manual_seed(self.seed)
        self.controller = self._make_controller().to(self.device)
        torch.set_rng_state(torch_state)
        self.controller_optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.controller_lr)
        self.baseline: float | None = None
        self._queue: list[dict[str, tuple[int, ...]]] = []
        self._weights_cache: dict[str, list[float]] | None = None

    def _make_controller(self) -> EnasController:
        """The policy to train (built under the trainer's seed)."""
        return EnasController(self.space, **self._controller_args)

    def _set(self, arch: Mapping[str, tuple[int, ...]], checked: bool = True) -> None:
        """Apply ``key -> indices`` with one batch of observer notifications (the compat trainer extends it).

        ``checked=False`` skips :meth:`SearchSpace.set_indices`'s validation, for the
        per-step path whose indices the controller decoded (valid by construction).
        """
        self.space.set_indices(arch, check=checked)

    # -------------------------------------------------------------- steps
    def _arch_tensors(self) -> list[torch.Tensor]:
        return list(self.controller.parameters())

    def _train_step(self, x: Any, y: Any, arch_batch: Any) -> dict[str, float]:
        if not self._queue:
            with torch.no_grad():
                sample = self.controller(64, generator=self.generator)
            self._queue = self.controller.decode(sample["choices"])[::-1]
        self._set(self._queue.pop(), checked=False)
        _, loss = self._weight_forward_loss(x, y)
        value = self._finite(float(loss.detach()), "training loss")
        self._weight_update(loss)
        return {"loss": value}

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        logs = super()._train_epoch(epoch)
        logs.update(self.train_controller(epoch))
        return logs

    def train_controller(self, epoch: int | None = None) -> dict[str, float]:
        """``controller_steps`` REINFORCE updates of the controller on the architecture data.

        Under ``torch.distributed`` rank 0 trains the controller on its share of the
        architecture data and broadcasts it (with its baseline and the sampling
        generator's state), so every rank samples the same paths afterwards.

        :meth:`train` runs them after each epoch of weight steps; a loop of your own over
        :meth:`step` calls this where it wants the controller trained. Returns the mean
        ``reward`` (empty if ``controller_steps`` is 0).
        """
        self._queue = []
        if self.dist.is_main:
            logs = self._train_controller(self.epoch if epoch is None else epoch)
        else:
            logs = {}
        if self.dist.enabled:  # trained on rank 0; every rank samples the same paths from the same controller
            self.dist.broadcast_(self.controller.parameters())
            logs, self.baseline, state = self.dist.broadcast_object((logs, self.baseline, self.generator.get_state()))
            self.generator.set_state(state)
            self._weights_cache = None
        self._queue = []
        return logs

    def _train_controller(self, epoch: int) -> dict[str, float]:
        batches = self.data.arch_batches(epoch + 7919)
        rewards_seen: list[float] = []
        self.controller.train()
        for _ in range(self.controller_steps):
            sample = self.controller(self.controller_batch, generator=self.generator)
            archs = self.controller.decode(sample["choices"])
            rewards = []
            with torch.no_grad():
                for arch in archs:
                    self._set(arch, checked=False)  # decoded from the controller
                    xa, ya = self.data.to_device(next(batches))
                    out = self.model(xa)
                    r = float(self.reward_function(out, ya))
                    rewards.append(self._finite(r, "controller reward"))
            reward = torch.tensor(rewards, device=self.device) + self.entropy_weight * sample["entropy"].detach()
            mean = float(reward.mean())
            self.baseline = mean if self.baseline is None else (
                self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean)
            loss = -(sample["log_prob"] * (reward - self.baseline)).mean()
            loss = loss + self.skip_weight * sample["skip_penalty"].mean()
            self._finite(float(loss.detach()), "controller loss")
            self.controller_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.controller.parameters(), 5.0)
            self.controller_optimizer.step()
            rewards_seen.extend(rewards)
            self._weights_cache = None
        if not rewards_seen:
            return {}
        return {"reward": sum(rewards_seen) / len(rewards_seen)}

    def _eval_arch(self, batch_index: int) -> None:
        if batch_index == 0:
            self._set(self._most_likely())

    # ------------------------------------------------------------ results
    @torch.no_grad()
    def _most_likely(self) -> dict[str, tuple[int, ...]]:
        return self.controller.decode(self.controller(1, greedy=True)["choices"])[0]

    @torch.no_grad()
    def _arch_weights(self) -> dict[str, list[float]]:
        if self._weights_cache is None:
            g = torch.Generator(device=self.generator.device).manual_seed(self.seed + 1)
            probs = self.controller(self.history_samples, generator=g)["probs"]
            self._weights_cache = {k: p.mean(0).tolist() for k, p in probs.items()}
        return self._weights_cache

    def _export_indices(self) -> dict[str, tuple[int, ...]]:
        return self._most_likely()

    def export(self, file: str | os.PathLike[str] | None = None, *, samples: int | None = None,
               seed: int | None = None) -> Any:
        """The most likely architecture; with ``samples=n``, a list of ``n`` sampled ones.

        ``seed`` makes the samples reproducible (default: the trainer's generator).
        """
        if samples is None:
            return super().export(file)
        if not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be an int >= 1, got {samples!r}")
        g = self.generator
        if seed is not None:
            g = torch.Generator(device=self.generator.device).manual_seed(seed)
        with torch.no_grad():
            archs = self.controller.decode(self.controller(samples, generator=g)["choices"])
        result = [self.space.validate({k: self.space[k].encode(a[k]) for k in self.space}) for a in archs]
        if file is not None:
            dump_json({"samples": result}, file)
        return result

    def _algo_state(self) -> dict[str, Any]:
        return {"controller": self.controller.state_dict(), "controller_optimizer":
                self.controller_optimizer.state_dict(), "baseline": self.baseline}

    def _load_algo_state(self, state: Mapping[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.controller_optimizer.load_state_dict(state["controller_optimizer"])
        self.baseline = state["baseline"]
        self._weights_cache = None
