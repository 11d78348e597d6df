"""``nni.nas.pytorch.proxylessnas``: ProxylessNAS with NNI 1.x's arguments.

``ProxylessNasTrainer`` is :class:`nasnb.oneshot.ProxylessTrainer` (binary gates, one
path per step, gradient estimates through the gates) with NNI's arguments: the model is
trained on ``train_loader`` with ``model_optim`` and a cosine learning-rate schedule from
``init_lr`` (one step per batch, as NNI), and the architecture on ``valid_loader`` every
``grad_update_arch_param_every`` batches; ``warmup_epochs`` of weight-only training come
first when ``warmup``. ``export(file)`` writes the chosen architecture under NNI keys.
``ProxylessNasMutator`` is provided for code that builds one: a mutator sampling binary
gates from its own ``softmax(alpha)`` per LayerChoice (``get_architecture_parameters()``).

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.Identity(), nn.Tanh()], key="act"))
>>> mutator = ProxylessNasMutator(net)
>>> mutator.reset()
>>> sum(mutator.status()["act"])
1.0
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasnb.mutables import InputChoice, LayerChoice
from nasnb.oneshot import accuracy
from nasnb.oneshot import callbacks as native_cb
from nasnb.oneshot import proxyless as native
from nasnb.space import SearchSpace

from ._driven import quiet
from .mutator import Mutator

__all__ = ["ProxylessNasMutator", "ProxylessNasTrainer"]


class ProxylessNasMutator(Mutator):
    """Binary gates: one candidate per LayerChoice drawn from ``softmax(alpha)``; inputs as chosen now."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.choices = nn.ParameterDict()
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                self.choices[mutable.key] = nn.Parameter(torch.zeros(len(mutable)))

    def get_architecture_parameters(self) -> list[nn.Parameter]:
        """The alphas (one vector per LayerChoice key)."""
        return list(self.choices.values())

    def _gates(self, greedy: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                p = F.softmax(self.choices[mutable.key].detach(), -1)
                index = int(p.argmax()) if greedy else int(torch.multinomial(p, 1))
                mask = torch.zeros(len(mutable), dtype=torch.bool)
                mask[index] = True
                result[mutable.key] = mask
            elif isinstance(mutable, InputChoice):
                chosen = self.space.decision(mutable.key).indices
                result[mutable.key] = torch.tensor([i in chosen for i in range(mutable.n_candidates)])
        return result

    def sample_search(self) -> dict[str, Any]:
        """One gate per LayerChoice, drawn from its softmax."""
        return self._gates(greedy=False)

    def sample_final(self) -> dict[str, Any]:
        """The most likely candidate per LayerChoice."""
        return self._gates(greedy=True)


class _CosineLR(native_cb.Callback):
    """NNI's ProxylessNAS schedule: ``lr = init_lr * (1 + cos(pi * t / T)) / 2`` per batch."""

    def __init__(self, init_lr: float, batches_per_epoch: int, epochs: int):
        super().__init__()
        self.init_lr, self.total = init_lr, max(1, batches_per_epoch * epochs)
        self.batches = batches_per_epoch

    def on_batch_begin(self, batch: int) -> None:
        t = self.trainer.epoch * self.batches + batch
        lr = 0.5 * self.init_lr * (1 + math.cos(math.pi * min(t, self.total) / self.total))
        for group in self.trainer.optimizer.param_groups:
            group["lr"] = lr


class ProxylessNasTrainer(native.ProxylessTrainer):
    """ProxylessNAS with NNI 1.x's arguments (see the module docstring).

    ``binary_mode`` must be NNI's default ``"full_v2"`` (the gate gradient nasnb
    implements); ``grad_update_steps`` must be 1; ``load_ckpt`` / ``ckpt_path`` read a
    nasnb checkpoint (``trainer.save_checkpoint``); ``arch_path`` receives the export at
    the end of ``train()``.
    """

    def __init__(self, model: nn.Module, model_optim: torch.optim.Optimizer, device: Any, train_loader: Any,
                 valid_loader: Any, label_smoothing: float = 0.1, n_epochs: int = 120, init_lr: float = 0.025,
                 binary_mode: str = "full_v2", arch_init_type: str = "normal", arch_init_ratio: float = 1e-3,
                 arch_optim_lr: float = 1e-3, arch_weight_decay: float = 0, grad_update_arch_param_every: int = 5,
                 grad_update_steps: int = 1, warmup: bool = True, warmup_epochs: int = 25,
                 arch_valid_frequency: int = 1, load_ckpt: bool = False, ckpt_path: str | None = None,
                 arch_path: str | None = None, **options: Any):
        if binary_mode != "full_v2":
            raise NotImplementedError(f"ProxylessNasTrainer: binary_mode={binary_mode!r} is not supported; nasnb "
                                      f"implements NNI's default 'full_v2'")
        if grad_update_steps != 1:
            raise NotImplementedError(f"ProxylessNasTrainer: grad_update_steps={grad_update_steps} is not supported "
                                      f"(one architecture step per update)")
        if arch_init_type not in ("normal", "uniform"):
            raise NotImplementedError(f"arch_init_type must be 'normal' or 'uniform', got {arch_init_type!r}")
        if load_ckpt and ckpt_path is None:
            raise ValueError("ProxylessNasTrainer: load_ckpt=True needs ckpt_path")
        if arch_weight_decay:
            warnings.warn("ProxylessNasTrainer: arch_weight_decay is not applied (nasnb's architecture optimizer "
                          "has none)", stacklevel=2)
        self.arch_init_type, self.arch_init_ratio = arch_init_type, arch_init_ratio
        self.arch_path, self.arch_valid_frequency = arch_path, arch_valid_frequency
        self.n_epochs, self.init_lr, self.label_smoothing = n_epochs, init_lr, label_smoothing
        warm = warmup_epochs if warmup else 0
        epochs = n_epochs + warm
        callbacks = list(options.pop("callbacks", None) or [])
        callbacks.append(_CosineLR(init_lr, len(train_loader), epochs))
        space = SearchSpace(model, keys="nni")
        super().__init__(space, nn.CrossEntropyLoss(label_smoothing=label_smoothing), accuracy, model_optim,
                         epochs, train_loader, valid_loader, arch_data=valid_loader, arch_lr=arch_optim_lr,
                         arch_update_every=grad_update_arch_param_every, warmup_epochs=warm,
                         device=torch.device(device) if device is not None else None, callbacks=callbacks, **quiet(options))
        self.model_optim = model_optim
        if load_ckpt:
            self.load_checkpoint(ckpt_path)  # type: ignore[arg-type]

    def _build(self) -> None:
        super()._build()
        with torch.no_grad():
            for a in self.alphas.values():
                if self.arch_init_type == "normal":
                    a.normal_(0, self.arch_init_ratio)
                else:
                    a.uniform_(-self.arch_init_ratio, self.arch_init_ratio)
        self._refresh_probs()

    def train(self, validate: bool = True, apply: bool = True) -> Any:
        """Warm up, search, and write ``arch_path`` if given."""
        history = super().train(validate, apply)
        if self.arch_path is not None:
            self.export(self.arch_path)
        return history
