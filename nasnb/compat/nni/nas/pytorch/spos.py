"""``nni.nas.pytorch.spos``: SPOS supernet training with NNI 1.x's arguments.

``SPOSSupernetTrainingMutator`` draws a uniform single path on every ``reset()``; given a
``flops_func``, it first picks one of ``flops_bin_num`` FLOPs bins between ``flops_lb``
and ``flops_ub`` uniformly and redraws until the path falls in it (Guo et al., 2020,
sec. 3.4), at most ``flops_sample_timeout`` times. ``SPOSSupernetTrainer`` is
:class:`nasnb.oneshot.SPOSTrainer` taking its paths from that mutator (or a subclass:
its ``sample_search`` is what trains); the evolution is ``trainer.search(...)`` (NNI ran
it as a tuner, ``SPOSEvolution``, which is not provided).

>>> import torch
>>> from torch import nn
>>> from nasnb.mutables import LayerChoice
>>> net = nn.Sequential(LayerChoice([nn.Identity(), nn.Tanh()], key="act"))
>>> mutator = SPOSSupernetTrainingMutator(net, flops_func=lambda c: float(c["act"][1]), flops_lb=0.5,
...                                       flops_ub=1.5, flops_bin_num=1)
>>> mutator.reset()
>>> mutator.status()["act"]
[0.0, 1.0]
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from nasnb.oneshot import spos as native

from ._driven import export_nni, masks_of, quiet, take_mutator
from .callbacks import native_callbacks, nni_device
from .random import RandomMutator

__all__ = ["SPOSEvolution", "SPOSSupernetTrainer", "SPOSSupernetTrainingMutator"]

_logger = logging.getLogger(__name__)


class SPOSSupernetTrainingMutator(RandomMutator):
    """Uniform single paths, optionally uniform over FLOPs bins.

    Parameters
    ----------
    model : nn.Module
        The supernet.
    flops_func : callable, optional
        ``flops_func(candidate) -> float`` for a candidate given as ``key -> mask``.
    flops_lb, flops_ub : float, optional
        Range of FLOPs split into ``flops_bin_num`` equal bins (both needed with ``flops_func``).
    flops_bin_num : int
        Number of bins.
    flops_sample_timeout : int
        Draws per bin before the last draw is taken anyway (with a log message).
    """

    def __init__(self, model: nn.Module, flops_func: Callable[[dict[str, Any]], float] | None = None,
                 flops_lb: float | None = None, flops_ub: float | None = None, flops_bin_num: int = 7,
                 flops_sample_timeout: int = 500):
        super().__init__(model)
        if flops_func is not None and (flops_lb is None or flops_ub is None or not flops_lb < flops_ub):
            raise ValueError(f"SPOSSupernetTrainingMutator: flops_func needs flops_lb < flops_ub, got "
                             f"flops_lb={flops_lb!r}, flops_ub={flops_ub!r}")
        if flops_bin_num < 1 or flops_sample_timeout < 1:
            raise ValueError(f"flops_bin_num and flops_sample_timeout must be >= 1, got {flops_bin_num}, "
                             f"{flops_sample_timeout}")
        self._flops_func = flops_func
        self._flops_lb, self._flops_ub = flops_lb, flops_ub
        self._flops_bin_num, self._flops_sample_timeout = flops_bin_num, flops_sample_timeout

    def sample_search(self) -> dict[str, Any]:
        """A uniform path (in a uniformly chosen FLOPs bin when ``flops_func`` is given)."""
        if self._flops_func is None:
            return super().sample_search()
        lb, ub, n = float(self._flops_lb), float(self._flops_ub), self._flops_bin_num  # type: ignore[arg-type]
        b = int(torch.randint(n, ()))
        low, high = lb + (ub - lb) * b / n, lb + (ub - lb) * (b + 1) / n
        for _ in range(self._flops_sample_timeout):
            candidate = super().sample_search()
            if low <= self._flops_func(candidate) <= high:
                return candidate
        _logger.info("SPOS: no path in the FLOPs bin [%g, %g] after %d draws; taking the last one", low, high,
                     self._flops_sample_timeout)
        return candidate

    def sample_final(self) -> dict[str, Any]:
        """Same as :meth:`sample_search`."""
        return self.sample_search()


class SPOSSupernetTrainer(native.SPOSTrainer):
    """SPOS supernet training with NNI 1.x's arguments; paths come from the mutator.

    Parameters follow NNI 1.x (``train_loader`` / ``valid_loader`` are loaders or datasets);
    further :class:`nasnb.oneshot.SPOSTrainer` options go in ``**options``. After
    ``train()``, ``search(...)`` runs the constrained evolution and ``export()`` returns its
    best architecture in NNI's form.
    """

    def __init__(self, model: nn.Module, loss: Any, metrics: Any, optimizer: Any, num_epochs: int,
                 train_loader: Any, valid_loader: Any, mutator: RandomMutator | None = None, batch_size: int = 64,
                 workers: int = 4, device: Any = None, log_frequency: int | None = None, callbacks: Any = None,
                 **options: Any):
        self.mutator = mutator = take_mutator(mutator, model, "SPOSSupernetTrainer", RandomMutator,
                                              SPOSSupernetTrainingMutator)
        super().__init__(mutator.space, loss, metrics, optimizer, num_epochs, train_loader, valid_loader,
                         batch_size=batch_size, workers=workers, device=nni_device(device),
                         callbacks=native_callbacks(callbacks, log_frequency), **quiet(options))
        self.log_frequency = log_frequency

    def sample(self, rng: _random.Random | None = None) -> dict[str, tuple[int, ...]]:
        """The mutator's next path (``mutator.reset()``), applied; returns key -> indices."""
        masks = self.mutator.sample_search()
        indices = {key: self.space[key].parse(torch.as_tensor(m).tolist()) for key, m in masks.items()}
        self._set(indices)
        return indices

    def _set(self, indices: Mapping[str, tuple[int, ...]], checked: bool = True) -> None:
        super()._set(indices, checked)
        self.mutator._cache = masks_of(self.space, indices)

    def export(self, file: Any = None) -> dict[str, Any]:
        """The best architecture of ``search()`` in NNI's form (written to ``file`` when given)."""
        return export_nni(self.mutator, file, masks_of(self.space, self._export_indices()))

    def _apply_export(self) -> None:
        pass  # NNI 1.x leaves the model to the mutator after training


class SPOSEvolution:
    """NNI 1.x ran SPOS's evolution as a tuner; here it is ``SPOSSupernetTrainer.search``."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("SPOSEvolution (an NNI tuner) is not provided by nasnb.compat; after "
                                  "trainer.train(), call trainer.search(population=..., generations=..., "
                                  "flops=(low, high)) or run a nasnb.Experiment with strategy='evolution'")


