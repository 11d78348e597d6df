"""``nni.nas.pytorch.enas``: ``EnasMutator`` and ``EnasTrainer`` (NNI 1.x arguments).

``EnasMutator`` samples architectures from nasnb's LSTM controller
(:class:`nasnb.oneshot.EnasController`); after ``reset()`` it holds
``sample_log_prob``, ``sample_entropy`` and ``sample_skip_penalty`` as NNI's did.
``EnasTrainer`` is :class:`nasnb.oneshot.EnasTrainer` with NNI's arguments, training the
mutator's controller: 90 % of ``dataset_train`` trains the weights (``child_steps``
batches per epoch), 10 % gives the controller's rewards (``mutator_steps`` updates of
``mutator_steps_aggregate`` sampled architectures each).

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.Identity(), nn.Tanh(), nn.ReLU()], key="act"))
>>> mutator = EnasMutator(net, lstm_size=8)
>>> mutator.reset()
>>> float(mutator.sample_log_prob.detach()) < 0
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from nasnb.mutables import LayerChoice
from nasnb.oneshot import enas as native

from ._driven import StepsLoader, export_nni, indices_of, masks_of, quiet, take_mutator
from .callbacks import native_callbacks, nni_device
from .mutator import Mutator

__all__ = ["EnasMutator", "EnasTrainer"]


class EnasMutator(Mutator):
    """Architectures sampled by an LSTM controller (Pham et al., 2018), as NNI 1.x's EnasMutator.

    Parameters
    ----------
    model : nn.Module
        The model with mutables.
    lstm_size, lstm_num_layers, tanh_constant, skip_target, temperature
        As NNI (see :class:`nasnb.oneshot.EnasController`).
    cell_exit_extra_step : bool
        Not supported (a MutableScope's anchor is the controller state at its exit, without
        an extra LSTM step); True raises NotImplementedError.
    branch_bias : float
        For LayerChoices whose key contains ``"reduce"``, a fixed bias of ``+branch_bias``
        on candidates whose type name contains ``"conv"`` and ``-branch_bias`` on the others.
    entropy_reduction : {"sum"}
        How the entropies of the decisions combine; only NNI's default "sum".
    """

    def __init__(self, model: nn.Module, lstm_size: int = 64, lstm_num_layers: int = 1, tanh_constant: float = 1.5,
                 cell_exit_extra_step: bool = False, skip_target: float = 0.4, temperature: float | None = None,
                 branch_bias: float = 0.25, entropy_reduction: str = "sum"):
        super().__init__(model)
        if cell_exit_extra_step:
            raise NotImplementedError("EnasMutator(cell_exit_extra_step=True) is not supported by nasnb.compat: the "
                                      "controller reads a scope's anchor at its exit without an extra LSTM step")
        if entropy_reduction != "sum":
            raise NotImplementedError(f"EnasMutator(entropy_reduction={entropy_reduction!r}) is not supported by "
                                      f"nasnb.compat; only 'sum' (NNI's default)")
        self.controller = native.EnasController(self.space, lstm_size, lstm_num_layers, tanh_constant, temperature,
                                                skip_target)
        self.branch_bias = branch_bias
        self._add_branch_bias(branch_bias)
        self.sample_log_prob: torch.Tensor | None = None
        self.sample_entropy: torch.Tensor | None = None
        self.sample_skip_penalty: torch.Tensor | None = None

    def _add_branch_bias(self, bias: float) -> None:
        if not bias:
            return
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice) and "reduce" in mutable.key:
                slot = self.controller.slot[mutable.key]
                if slot not in self.controller.heads:
                    continue
                values = [bias if "conv" in type(op).__name__.lower() else -bias for op in mutable]
                head = self.controller.heads[slot]
                head.bias = nn.Parameter(torch.tensor(values), requires_grad=False)

    def _sample(self, greedy: bool) -> dict[str, Any]:
        out = self.controller(1, greedy=greedy)
        self.sample_log_prob = out["log_prob"][0]
        self.sample_entropy = out["entropy"][0]
        self.sample_skip_penalty = out["skip_penalty"][0]
        return masks_of(self.space, self.controller.decode(out["choices"])[0])

    def sample_search(self) -> dict[str, Any]:
        """One architecture sampled from the controller (bool masks)."""
        return self._sample(greedy=False)

    def sample_final(self) -> dict[str, Any]:
        """One sampled architecture, as NNI 1.x did (use EnasTrainer.export for the most likely one)."""
        return self._sample(greedy=False)


class EnasTrainer(native.EnasTrainer):
    """ENAS with NNI 1.x's arguments, training an :class:`EnasMutator`'s controller.

    Parameters follow NNI 1.x: ``reward_function(output, target)``, ``mutator``,
    ``batch_size``, ``workers``, ``device``, ``log_frequency``, ``callbacks``,
    ``entropy_weight``, ``skip_weight``, ``baseline_decay``, ``child_steps``,
    ``mutator_lr``, ``mutator_steps_aggregate``, ``mutator_steps``, ``aux_weight``,
    ``test_arc_step``; further :class:`nasnb.oneshot.EnasTrainer` options go in ``**options``.
    The controller samples the paths of the weight steps itself; a mutator subclass that
    overrides ``sample_search`` is refused (its samples would not be the ones trained).
    ``export()`` returns the controller's most likely architecture (NNI keys and form).
    """

    def __init__(self, model: nn.Module, loss: Any, metrics: Any, reward_function: Callable[[Any, Any], Any],
                 optimizer: Any, num_epochs: int, dataset_train: Any, dataset_valid: Any,
                 mutator: EnasMutator | None = None, batch_size: int = 64, workers: int = 4, device: Any = None,
                 log_frequency: int | None = None, callbacks: Any = None, entropy_weight: float = 0.0001,
                 skip_weight: float = 0.8, baseline_decay: float = 0.999, child_steps: int = 500,
                 mutator_lr: float = 0.00035, mutator_steps_aggregate: int = 20, mutator_steps: int = 50,
                 aux_weight: float = 0.4, test_arc_step: int = 1, **options: Any):
        mutator = take_mutator(mutator, model, "EnasTrainer", EnasMutator, EnasMutator)
        self.mutator: EnasMutator = mutator
        if type(mutator).sample_search is not EnasMutator.sample_search:
            raise NotImplementedError(f"EnasTrainer samples from the mutator's controller; "
                                      f"{type(mutator).__name__}.sample_search would be ignored")
        if test_arc_step != 1:
            warnings.warn(f"EnasTrainer: test_arc_step={test_arc_step} is ignored; validation runs the "
                          f"controller's most likely architecture", stacklevel=2)
        seed = options.get("seed", 0)
        n = len(dataset_train)
        split = n - n // 10
        train = StepsLoader(Subset(dataset_train, range(split)), child_steps, batch_size, workers, seed)
        super().__init__(mutator.space, loss, metrics, optimizer, num_epochs, train, dataset_valid,
                         arch_data=Subset(dataset_train, range(split, n)), reward_function=reward_function,
                         controller_steps=mutator_steps, controller_batch=mutator_steps_aggregate,
                         controller_lr=mutator_lr, entropy_weight=entropy_weight, skip_weight=skip_weight,
                         baseline_decay=baseline_decay, aux_weight=aux_weight, batch_size=batch_size, workers=workers,
                         device=nni_device(device), callbacks=native_callbacks(callbacks, log_frequency), **quiet(options))
        self.child_steps, self.test_arc_step = child_steps, test_arc_step
        self.log_frequency = log_frequency

    def _make_controller(self) -> native.EnasController:
        return self.mutator.controller  # the mutator's own controller is the one trained

    def _set(self, arch: Mapping[str, tuple[int, ...]], checked: bool = True) -> None:
        super()._set(arch, checked)
        self.mutator._cache = masks_of(self.space, arch)

    def export(self, file: Any = None, **kwargs: Any) -> Any:
        """The controller's most likely architecture in NNI's form (``samples=n``: n sampled, nasnb form)."""
        if kwargs:
            return super().export(file, **kwargs)
        return export_nni(self.mutator, file, masks_of(self.space, self._most_likely()))

    def _export_indices(self) -> dict[str, tuple[int, ...]]:
        return indices_of(self.space, self.export())

    def _apply_export(self) -> None:
        pass  # NNI 1.x leaves the model to the mutator after training
