"""What the NNI-style one-shot trainers share: a nasnb trainer driven by an NNI mutator."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

from nasnb._atomic import write_text
from nasnb._reduction import mask_for
from nasnb.compat._errors import nni_errors


class MutatorDriver:
    """Stands in a nasnb trainer's ``mixer`` slot: ``refresh()`` draws the mutator's next decisions.

    The mutator's hooks stay installed on the decisions, so every forward goes through it.
    """

    def __init__(self, mutator: Any):
        self.mutator = mutator

    def refresh(self) -> None:
        self.mutator.reset()


def take_mutator(mutator: Any, model: Any, trainer: str, expected: type[Any], default: Callable[[Any], Any]) -> Any:
    """The trainer's mutator: ``default(model)`` when None; one of another model or kind is refused."""
    if mutator is None:
        return default(model)
    if not isinstance(mutator, expected):
        raise TypeError(f"{trainer}: mutator must be a {expected.__name__} (or a subclass), got "
                        f"{type(mutator).__name__}")
    if mutator.model is not model:
        raise ValueError(f"{trainer}: the mutator was built for another model; pass mutator=None or a mutator "
                         f"built on this model")
    return mutator


def quiet(options: dict[str, Any]) -> dict[str, Any]:
    """nasnb trainer options with NNI's behaviour: no progress bar or live plot unless asked for."""
    return {"progress": False, "live_plot": False, **options}


def export_nni(mutator: Any, file: str | os.PathLike[str] | None, masks: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
    """``mutator.export()`` (or ``masks`` in its form), written to ``file`` as JSON when given."""
    with torch.no_grad():
        arch: dict[str, Any] = mutator.export() if masks is None else mutator._readable(dict(masks))
    if file is not None:
        from .trainer import TorchTensorEncoder

        write_text(file, json.dumps(arch, indent=2, sort_keys=True, cls=TorchTensorEncoder) + "\n")
    return arch


def indices_of(space: Any, arch: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """key -> indices of an exported architecture (RuntimeError for a bad one, as in NNI)."""
    with nni_errors():
        indices: dict[str, tuple[int, ...]] = space._resolve(arch, full=True)
    return indices


def status_weights(mutator: Any, space: Any) -> dict[str, list[float]]:
    """Each key's current mutator decision as floats (the one-shot history's record)."""
    status = mutator.status()
    out: dict[str, list[float]] = {}
    for key in space:
        values = status.get(key)
        n = space[key].n_candidates
        if isinstance(values, list) and len(values) == n:
            out[key] = [float(v) for v in values]
        else:
            chosen = space.decision(key).indices
            out[key] = [1.0 if i in chosen else 0.0 for i in range(n)]
    return out


def masks_of(space: Any, indices: Mapping[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Bool masks (CPU) of ``key -> indices``: what a discrete mutator's cache holds."""
    return {key: mask_for(space[key].n_candidates, chosen, None) for key, chosen in indices.items()}


class StepsLoader:
    """``steps`` shuffled batches of ``data`` per pass, cycling through it (NNI's ``child_steps``)."""

    def __init__(self, data: Any, steps: int, batch_size: int, workers: int, seed: int):
        from torch.utils.data import DataLoader, RandomSampler

        g = torch.Generator().manual_seed(seed)
        self.loader = DataLoader(data, batch_size=batch_size, sampler=RandomSampler(data, generator=g),
                                 num_workers=workers)
        self.steps = steps
        self._iter: Any = None

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Any:
        for _ in range(self.steps):
            try:
                batch = next(self._iter) if self._iter is not None else None
            except StopIteration:
                batch = None
            if batch is None:
                self._iter = iter(self.loader)
                batch = next(self._iter)
            yield batch
