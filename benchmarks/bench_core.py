"""Core overheads against plain PyTorch, measured in the same run.

Run: ``python benchmarks/bench_core.py``. Prints ratios (lower is better):

* seed MNIST net: fixed model / plain and mutable model (current discrete state) / plain,
  batch 1 and 64, forward and forward+backward, CPU;
* DARTS space (C=16, 8 cells): the fixed network / the DARTS repository's evaluation
  network hand-written for the same genotype, forward and forward+backward, parameters
  side by side; ``sample()`` + ``fix()`` / building that plain network; build time of
  every space in ``nasnb.spaces``;
* ``import nasnb`` on top of ``import torch`` (seconds and MiB);
* ``sample()`` + ``apply()`` architectures per second on a 50-key space.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _timing import fmt, interleaved  # noqa: E402

import nasnb  # noqa: E402
from nasnb import mutables, ops  # noqa: E402
from tests.models import PlainSeedNet, SeedNet  # noqa: E402

torch.set_num_threads(1)


def step(model: nn.Module, x: torch.Tensor, mode: str):
    """One timed call: a forward without gradients, or a forward+backward."""
    if mode == "forward":
        def f():
            with torch.no_grad():
                model(x)
    else:
        def f():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
    return f


def bench_seed_net() -> None:
    torch.manual_seed(0)
    mutable = SeedNet().eval()
    space = nasnb.SearchSpace(mutable)
    space.apply({"conv1": "0", "skipcon": [0]})
    fixed = space.fix().eval()
    plain = PlainSeedNet().eval()
    plain.load_state_dict(fixed.state_dict(), strict=False)
    print("seed MNIST net (CPU, 1 thread): ratio to hand-written plain model")
    for batch in (1, 64):
        x = torch.randn(batch, 1, 28, 28)
        for mode in ("forward", "forward+backward"):
            n = 20 if batch == 1 else 3
            t = interleaved({"plain": step(plain, x, mode), "fixed": step(fixed, x, mode),
                             "mutable": step(mutable, x, mode)}, rounds=7, repeat=10, number=n)
            print(f"  batch {batch:>2} {mode:<17} plain {fmt(t['plain']):>10}  fixed/plain {t['fixed'] / t['plain']:.3f}"
                  f"  mutable/plain {t['mutable'] / t['plain']:.3f}")


class PlainDARTS(nn.Module):
    """The DARTS repository's evaluation network (``NetworkCIFAR``), hand-written for one genotype.

    Built from the same nasnb.ops modules, so only the code around the ops differs.
    """

    def __init__(self, genotype, C: int, layers: int, num_classes: int = 10):
        super().__init__()
        c_curr = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(PlainCell(genotype, c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, 4 * c_curr
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.pool(s1).flatten(1))


class PlainCell(nn.Module):
    """DARTS repository ``Cell``: preprocess, then two chosen edges per node, summed; concat of the nodes."""

    def __init__(self, genotype, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.preprocess0 = ops.FactorizedReduce(c_pp, c) if reduction_prev else ops.ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ops.ReLUConvBN(c_p, c, 1, 1, 0)
        edges = genotype.reduce if reduction else genotype.normal
        self.indices = [i for _, i in edges]
        self.ops = nn.ModuleList(ops.create_op(name, c, 2 if reduction and i < 2 else 1) for name, i in edges)

    def forward(self, s0, s1):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(0, len(self.ops), 2):
            states.append(self.ops[k](states[self.indices[k]]) + self.ops[k + 1](states[self.indices[k + 1]]))
        return torch.cat(states[2:], dim=1)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bench_darts() -> None:
    """Fixed DARTS network / the hand-written network of the same chosen edges; sample+fix / build plain."""
    from nasnb import spaces

    torch.manual_seed(0)
    C, layers = 16, 8
    space = nasnb.SearchSpace(spaces.DARTS(C, layers, 10))
    print(f"DARTS space C={C}, {layers} cells ({len(space)} keys, size {space.size:.2e}); CPU, 1 thread")
    for name, genotype in (("DARTS_V2", spaces.DARTS_V2), ("P-DARTS", spaces.PDARTS), ("random", None)):
        arch = spaces.darts_arch(genotype) if genotype else space.sample(seed=1)
        genotype = genotype or spaces.to_genotype(arch)
        fixed = space.fix(arch).eval()
        plain = PlainDARTS(genotype, C, layers).eval()
        print(f"  {name:<8} parameters: fixed {n_params(fixed):,}  hand-written {n_params(plain):,}  "
              f"mutable supernet {n_params(space.model):,}")
        for batch in (1, 32):
            x = torch.randn(batch, 3, 32, 32)
            for mode in ("forward", "forward+backward"):
                t = interleaved({"plain": step(plain, x, mode), "fixed": step(fixed, x, mode)},
                                rounds=7, repeat=5, number=2)
                print(f"    batch {batch:>2} {mode:<17} plain {fmt(t['plain']):>10}  fixed/plain "
                      f"{t['fixed'] / t['plain']:.3f}")
    seeds = iter(range(10**9))

    def build_plain():
        PlainDARTS(spaces.to_genotype(space.sample(seed=next(seeds))), C, layers)

    t = interleaved({"plain": build_plain, "nasnb": lambda: space.fix(space.sample(seed=next(seeds)))},
                    rounds=5, repeat=3)
    print(f"  sample()+fix() {fmt(t['nasnb'])} / build the plain network {fmt(t['plain'])}: "
          f"ratio {t['nasnb'] / t['plain']:.2f}")
    for name, build in (("DARTS(36, 20) eval size", lambda: spaces.DARTS(36, 20, 10)),
                        ("NB201(16, 5)", lambda: spaces.NB201()),
                        ("ENASMicro()", lambda: spaces.ENASMicro()), ("ENASMacro()", lambda: spaces.ENASMacro()),
                        ("ProxylessNAS()", lambda: spaces.ProxylessNAS()), ("SPOS()", lambda: spaces.SPOS())):
        t = interleaved({"build": build}, rounds=3, repeat=1)
        print(f"  build {name:<24} {fmt(t['build'])}")


def bench_import() -> None:
    probe = ("import resource, time, sys; t0 = time.perf_counter(); import torch; t1 = time.perf_counter(); "
             "r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; {extra} "
             "t2 = time.perf_counter(); r2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
             "print(t1 - t0, t2 - t1, r1, r2)")
    torch_only, with_nasnb = [], []
    for _ in range(5):
        for extra, sink in (("", torch_only), ("import nasnb; from nasnb import mutables;", with_nasnb)):
            out = subprocess.run([sys.executable, "-c", probe.format(extra=extra)], capture_output=True, text=True,
                                 check=True, cwd=os.path.join(os.path.dirname(__file__), "..")).stdout.split()
            sink.append([float(v) for v in out])
    torch_s = statistics.median(r[0] for r in with_nasnb)
    added_s = statistics.median(r[1] for r in with_nasnb) - statistics.median(r[1] for r in torch_only)
    added_mib = (statistics.median(r[3] - r[2] for r in with_nasnb) - statistics.median(r[3] - r[2] for r in torch_only)) / 1024
    print(f"import: torch {torch_s:.2f} s; nasnb adds {added_s * 1e3:.1f} ms and {added_mib:.1f} MiB "
          f"(ratio {(torch_s + added_s) / torch_s:.3f})")


def bench_sample_apply() -> None:
    blocks = nn.ModuleList()
    for i in range(50):
        if i % 5 == 4:
            blocks.append(mutables.InputChoice(n_candidates=4, n_chosen=2 if i % 10 else None, key=f"in{i}"))
        else:
            blocks.append(mutables.LayerChoice([nn.Identity() for _ in range(2 + i % 4)], key=f"op{i}"))
    space = nasnb.SearchSpace(blocks)
    import random as _random
    rng = _random.Random(0)
    t = interleaved({"sample+apply": lambda: space.apply(space.sample(rng))}, rounds=5, repeat=20, number=20)
    print(f"sample()+apply() on a 50-key space: {1 / t['sample+apply']:.0f} architectures/s "
          f"({fmt(t['sample+apply'])} each)")


def bench_rebind(n: int = 3000) -> None:
    """sample()+apply() before and after binding the same model ``n`` times (re-running a notebook cell)."""
    import gc
    import random as _random

    from tests.models import CellNet

    net = CellNet()
    space = nasnb.SearchSpace(net)
    rng = _random.Random(0)
    before = interleaved({"apply": lambda: space.apply(space.sample(rng))}, rounds=5, repeat=20, number=20)["apply"]
    for _ in range(n):
        space = nasnb.SearchSpace(net)
    gc.collect()
    after = interleaved({"apply": lambda: space.apply(space.sample(rng))}, rounds=5, repeat=20, number=20)["apply"]
    listeners = len(space.decision("normal_n0_p0").listeners)
    print(f"sample()+apply() on CellNet: {fmt(before)} before, {fmt(after)} after {n} re-binds "
          f"(ratio {after / before:.2f}); listeners on a decision: {listeners}")


if __name__ == "__main__":
    print(f"torch {torch.__version__}, nasnb {nasnb.__version__}")
    bench_seed_net()
    bench_darts()
    bench_import()
    bench_sample_apply()
    bench_rebind()
