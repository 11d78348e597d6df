"""The NNI 1.x layer's cost against nasnb itself and plain PyTorch, measured in the same run.

Run: ``python benchmarks/bench_compat.py``. Prints ratios (lower is better) on the DARTS
space (``nasnb.spaces.DARTS``, C=8, 5 cells, batch 8, CPU, 1 thread):

* a discrete architecture, forward and forward+backward: the supernet driven by NNI's
  ``RandomMutator`` hooks, and by nasnb's own decisions, each / the plain fixed network
  (``space.fix(arch)``, the reference); NNI's ``apply_fixed_architecture`` in place / plain;
* one DARTS epoch (24 batches): ``nni.nas.pytorch.darts.DartsTrainer`` (DartsMutator hooks)
  / ``nasnb.oneshot.DartsTrainer`` (nasnb's mixer), and nasnb's epoch / 24 plain
  forward+backward steps of the fixed network (what a supernet costs at all).
"""

from __future__ import annotations

import os
import sys
import time

import torch
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _timing import fmt, interleaved  # noqa: E402
from bench_core import step  # noqa: E402

import nasnb  # noqa: E402
import nasnb.compat  # noqa: E402
from nasnb.mutables import _reset_global_mutable_counting  # noqa: E402
from nasnb.spaces import DARTS  # noqa: E402

torch.set_num_threads(1)
nasnb.compat.install_nni()
from nni.nas.pytorch.darts import DartsTrainer as NNIDartsTrainer  # noqa: E402
from nni.nas.pytorch.fixed import apply_fixed_architecture  # noqa: E402
from nni.nas.pytorch.random import RandomMutator  # noqa: E402

CONFIG = dict(C=8, layers=5, num_classes=10)


def build() -> nn.Module:
    _reset_global_mutable_counting()
    torch.manual_seed(0)
    return DARTS(**CONFIG)


def bench_discrete() -> None:
    x = torch.randn(8, 3, 32, 32)
    hooked = build()
    mutator = RandomMutator(hooked)
    torch.manual_seed(1)
    mutator.reset()
    arch = mutator.export()
    native = build()
    space = nasnb.SearchSpace(native, keys="nni")
    space.apply(arch)
    native(x)  # the first call learns which edges are dropped
    plain = space.fix(arch)
    in_place = build()
    apply_fixed_architecture(in_place, arch)
    for m in (hooked, native, plain, in_place):
        m.eval()
    for mode in ("forward", "forward+backward"):
        t = interleaved({name: step(m, x, mode) for name, m in
                         (("hooks", hooked), ("native", native), ("plain", plain), ("in_place", in_place))},
                        rounds=5, repeat=9)
        print(f"discrete {mode:17s} plain {fmt(t['plain'])}:  RandomMutator hooks / plain {t['hooks'] / t['plain']:.2f}"
              f"   nasnb decisions / plain {t['native'] / t['plain']:.2f}"
              f"   apply_fixed_architecture / plain {t['in_place'] / t['plain']:.2f}")


def bench_darts_epoch() -> None:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(384, 3, 32, 32, generator=g), torch.randint(0, 10, (384,), generator=g))
    loss = nn.CrossEntropyLoss()

    def nni_epoch() -> float:
        model = build()
        t = NNIDartsTrainer(model, loss, None, torch.optim.SGD(model.parameters(), lr=0.01), 1, data, None,
                            batch_size=8, workers=0, device="cpu")
        t0 = time.perf_counter()
        t.train(validate=False)
        return time.perf_counter() - t0

    def native_epoch() -> float:
        model = build()
        t = nasnb.oneshot.DartsTrainer(model, loss, None, torch.optim.SGD(model.parameters(), lr=0.01), 1, data,
                                       batch_size=8, progress=False, live_plot=False)
        t0 = time.perf_counter()
        t.train(validate=False)
        return time.perf_counter() - t0

    def plain_steps() -> float:
        space = nasnb.SearchSpace(build())
        plain = space.fix(space.sample(seed=0), example_input=torch.randn(1, 3, 32, 32))
        opt = torch.optim.SGD(plain.parameters(), lr=0.01)
        x, y = data.tensors
        t0 = time.perf_counter()
        for i in range(0, 192, 8):  # as many weight steps as the DARTS epoch (half the data trains the weights)
            opt.zero_grad()
            loss(plain(x[i:i + 8]), y[i:i + 8]).backward()
            opt.step()
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {"nni": [], "native": [], "plain": []}
    for _ in range(3):  # interleaved rounds
        times["nni"].append(nni_epoch())
        times["native"].append(native_epoch())
        times["plain"].append(plain_steps())
    med = {k: sorted(v)[1] for k, v in times.items()}
    print(f"DARTS epoch (24 weight + 24 architecture steps): nasnb {fmt(med['native'])}, "
          f"NNI-layer DartsTrainer / nasnb DartsTrainer {med['nni'] / med['native']:.2f}, "
          f"nasnb epoch / 24 plain steps of the fixed network {med['native'] / med['plain']:.1f}")


if __name__ == "__main__":
    bench_discrete()
    bench_darts_epoch()
