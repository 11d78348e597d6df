"""Core overheads against plain PyTorch, measured in the same run.

Run: ``python benchmarks/bench_core.py``. Prints ratios (lower is better):

* seed MNIST net: fixed model / plain and mutable model (current discrete state) / plain,
  batch 1 and 64, forward and forward+backward, CPU;
* ``sample()`` + ``fix()`` of a DARTS-style cell (4 nodes, 14 edges x 8 ops) / building
  the same plain network;
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

import nasnb  # noqa: E402
from _timing import fmt, interleaved  # noqa: E402
from nasnb import mutables, ops  # noqa: E402
from tests.models import PlainSeedNet, SeedNet  # noqa: E402

torch.set_num_threads(1)


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
            def run(model, x=x, mode=mode):
                if mode == "forward":
                    def f():
                        with torch.no_grad():
                            model(x)
                else:
                    def f():
                        model.zero_grad(set_to_none=True)
                        model(x).sum().backward()
                return f
            n = 20 if batch == 1 else 3
            t = interleaved({"plain": run(plain), "fixed": run(fixed), "mutable": run(mutable)}, rounds=7, repeat=10, number=n)
            print(f"  batch {batch:>2} {mode:<17} plain {fmt(t['plain']):>10}  fixed/plain {t['fixed'] / t['plain']:.3f}"
                  f"  mutable/plain {t['mutable'] / t['plain']:.3f}")


DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


class SearchCell(nn.Module):
    """DARTS cell: node j mixes one op per predecessor and keeps 2 edges."""

    def __init__(self, c: int = 16, n_nodes: int = 4):
        super().__init__()
        self.nodes = nn.ModuleList()
        for j in range(n_nodes):
            keys = [f"n{j}_p{i}" for i in range(j + 2)]
            edges = nn.ModuleList(
                mutables.LayerChoice(ops.candidates(DARTS_OPS, c), key=k) for k in keys)
            switch = mutables.InputChoice(choose_from=keys, n_chosen=2, key=f"n{j}_switch")
            self.nodes.append(nn.ModuleDict({"edges": edges, "switch": switch}))

    def forward(self, s0, s1):
        states = [s0, s1]
        for node in self.nodes:
            states.append(node["switch"]([op(states[i]) for i, op in enumerate(node["edges"])]))
        return torch.cat(states[2:], 1)


class PlainCell(nn.Module):
    """The same cell hand-written for one architecture (only chosen edges built)."""

    def __init__(self, arch: dict, c: int = 16, n_nodes: int = 4):
        super().__init__()
        self.inputs = []
        self.ops = nn.ModuleList()
        for j in range(n_nodes):
            chosen = arch[f"n{j}_switch"]
            self.inputs.append([int(k.split("_p")[1]) for k in chosen])
            self.ops.append(nn.ModuleList(ops.create_op(arch[k], c) for k in chosen))

    def forward(self, s0, s1):
        states = [s0, s1]
        for idx, edge_ops in zip(self.inputs, self.ops):
            states.append(sum(op(states[i]) for i, op in zip(idx, edge_ops)))
        return torch.cat(states[2:], 1)


def bench_sample_fix() -> None:
    torch.manual_seed(0)
    space = nasnb.SearchSpace(SearchCell())
    arch = space.sample(seed=0)
    seeds = iter(range(10**9))
    t = interleaved({
        "plain": lambda: PlainCell(space.sample(seed=next(seeds))),
        "nasnb": lambda: space.fix(space.sample(seed=next(seeds))),
    }, rounds=7, repeat=10)
    x = torch.randn(2, 16, 8, 8)
    fixed = space.fix(arch).eval()
    space.apply(arch)
    assert torch.allclose(fixed(x, x), space.model.eval()(x, x))
    print(f"DARTS cell (14 edges x 8 ops, size {space.size:.3e}): build plain {fmt(t['plain'])}, "
          f"sample()+fix() {fmt(t['nasnb'])}, ratio {t['nasnb'] / t['plain']:.2f}")


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


if __name__ == "__main__":
    print(f"torch {torch.__version__}, nasnb {nasnb.__version__}")
    bench_seed_net()
    bench_sample_fix()
    bench_import()
    bench_sample_apply()
