"""``nni.nas.pytorch.darts``: ``DartsMutator`` and ``DartsTrainer`` (NNI 1.x arguments).

``DartsMutator`` holds one weight vector per LayerChoice (``choices``, with an extra
*zero* entry: when it wins, the edge is dropped and exported as ``[]``) and mixes every
candidate by softmax; InputChoices keep all inputs during search and, on export, the
``n_chosen`` inputs whose LayerChoice has the strongest candidate. ``DartsTrainer`` is
:class:`nasnb.oneshot.DartsTrainer` driven by that mutator (or a subclass of it: its
``sample_search`` / ``sample_final`` / hooks are what the trainer runs), with NNI's
arguments; ``export()`` returns ``mutator.export()`` and ``train()`` leaves the model as
the mutator drives it.

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.Identity(), nn.Tanh()], key="act"))
>>> mutator = DartsMutator(net)
>>> mutator.choices["act"].shape
torch.Size([3])
>>> mutator.reset()
>>> sorted(mutator.export())
['act']
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasnb.mutables import InputChoice, LayerChoice
from nasnb.oneshot import darts as native

from ._driven import MutatorDriver, export_nni, indices_of, quiet, status_weights, take_mutator
from .callbacks import native_callbacks, nni_device
from .mutator import Mutator

__all__ = ["DartsMutator", "DartsTrainer"]

_logger = logging.getLogger(__name__)


class DartsMutator(Mutator):
    """Softmax-weighted candidates (plus a zero op) for every LayerChoice; all inputs while searching.

    Attributes
    ----------
    choices : nn.ParameterDict
        Key -> ``len(candidates) + 1`` logits; the last one is the zero op. Setting an entry
        to ``-inf`` cuts that candidate.
    """

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.choices = nn.ParameterDict()
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                self.choices[mutable.key] = nn.Parameter(1.0e-3 * torch.randn(len(mutable) + 1))

    def device(self) -> torch.device | None:
        """Where the weights live."""
        for v in self.choices.values():
            device: torch.device = v.device
            return device
        return None

    def sample_search(self) -> dict[str, Any]:
        """Softmax weights without the zero op for LayerChoices; every input for InputChoices."""
        result: dict[str, Any] = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                result[mutable.key] = F.softmax(self.choices[mutable.key], dim=-1)[:-1]
            elif isinstance(mutable, InputChoice):
                result[mutable.key] = torch.ones(mutable.n_candidates, dtype=torch.bool, device=self.device())
        return result

    def sample_final(self) -> dict[str, Any]:
        """The strongest candidate per LayerChoice; per InputChoice the ``n_chosen`` strongest edges.

        An edge no InputChoice keeps gets an all-False mask (its LayerChoice is dropped).
        Inputs that are not LayerChoice keys (``NO_KEY``, scopes) weigh 0 in that contest.
        """
        result: dict[str, Any] = {}
        strongest: dict[str, torch.Tensor] = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                weights = F.softmax(self.choices[mutable.key], dim=-1)[:-1]
                value, index = torch.max(weights, 0)
                strongest[mutable.key] = value.detach()
                mask = torch.zeros(len(mutable), dtype=torch.bool, device=weights.device)
                mask[index] = True
                result[mutable.key] = mask
        for mutable in self.mutables:
            if not isinstance(mutable, InputChoice):
                continue
            if mutable.n_chosen is None:
                result[mutable.key] = torch.ones(mutable.n_candidates, dtype=torch.bool, device=self.device())
                continue
            if any(src not in strongest for src in mutable.choose_from):
                _logger.warning("InputChoice %r: inputs that are not LayerChoices weigh 0 when selecting inputs",
                                mutable.key)
            weights = torch.tensor([float(strongest[src]) if src in strongest else 0.0
                                    for src in mutable.choose_from])
            top = set(torch.topk(weights, mutable.n_chosen).indices.tolist())
            for i, src in enumerate(mutable.choose_from):
                if i not in top and src in result:
                    result[src] = torch.zeros_like(result[src])  # an edge never taken: no op runs on it
            result[mutable.key] = torch.tensor([i in top for i in range(mutable.n_candidates)], dtype=torch.bool,
                                               device=self.device())
        return result


class DartsTrainer(native.DartsTrainer):
    """DARTS with NNI 1.x's arguments, driven by a :class:`DartsMutator`.

    Parameters
    ----------
    model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid
        As NNI 1.x: ``dataset_train`` is split in halves (weights / architecture),
        ``metrics(output, target) -> dict``.
    mutator : DartsMutator, optional
        Default ``DartsMutator(model)``. A subclass is honoured (its sampling and hooks run).
    batch_size, workers, device, log_frequency, callbacks
        As NNI 1.x (``device`` None: CUDA when available; ``log_frequency``: log every n
        steps; NNI or nasnb callbacks).
    arc_learning_rate, unrolled
        Adam learning rate of the architecture weights; second-order DARTS.
    **options
        Further :class:`nasnb.oneshot.DartsTrainer` options (``seed``, ``progress``, ...).
    """

    def __init__(self, model: nn.Module, loss: Any, metrics: Any, optimizer: Any, num_epochs: int,
                 dataset_train: Any, dataset_valid: Any, mutator: DartsMutator | None = None, batch_size: int = 64,
                 workers: int = 4, device: Any = None, log_frequency: int | None = None, callbacks: Any = None,
                 arc_learning_rate: float = 3.0e-4, unrolled: bool = False, **options: Any):
        self.mutator = mutator = take_mutator(mutator, model, "DartsTrainer", Mutator, DartsMutator)
        super().__init__(mutator.space, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid,
                         arc_learning_rate=arc_learning_rate, unrolled=unrolled, batch_size=batch_size,
                         workers=workers, device=nni_device(device),
                         callbacks=native_callbacks(callbacks, log_frequency), **quiet(options))
        self.log_frequency = log_frequency

    def _check_space(self) -> None:
        """The mutator decides how each key is mixed; nothing to refuse here."""
        self._input_mode = {}

    def _build(self) -> None:
        self.mutator.to(self.device)
        self.alphas = dict(self.mutator.named_parameters())
        params = list(self.alphas.values())
        self.arch_optimizer = torch.optim.Adam(params, lr=self.arc_learning_rate, betas=(0.5, 0.999),
                                               weight_decay=self.arc_weight_decay) if params else None
        if self.arch_optimizer is None:
            warnings.warn(f"DartsTrainer: the mutator ({type(self.mutator).__name__}) has no parameters, so only "
                          f"the weights are trained", stacklevel=4)
        self.mixer = MutatorDriver(self.mutator)  # type: ignore[assignment]  # the base's mixer slot; only refresh() is called

    def _enter(self) -> None:
        self.mixer.refresh()

    def _exit(self) -> None:
        pass  # the mutator keeps driving the model, as in NNI

    @torch.no_grad()
    def _arch_weights(self) -> dict[str, list[float]]:
        return status_weights(self.mutator, self.space)

    def _export_indices(self) -> dict[str, tuple[int, ...]]:
        return indices_of(self.space, self.mutator.export())

    def export(self, file: Any = None) -> dict[str, Any]:
        """``mutator.export()`` (NNI keys and form), written to ``file`` as JSON when given."""
        return export_nni(self.mutator, file)

    def _apply_export(self) -> None:
        pass  # NNI 1.x leaves the model to the mutator after training
