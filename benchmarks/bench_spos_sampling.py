"""What does SPOS's cost-binned sampling cost per training step, and how does it spread the steps?

    python benchmarks/bench_spos_sampling.py [--steps 2000] [--rounds 7] [--batch 64]

On the digits space (``nasnb.bench.digits_model()``, 512 architectures, one CPU thread),
times ``trainer.step(batch)`` (and ``trainer.sample()`` alone) of ``SPOSTrainer`` with ``sampling="uniform"``,
``"flops"`` and ``"params"`` (5 bins), and ``"flops"`` forced onto the large-space path
(``cost_samples=100`` < 512: bins from 100 seeded draws, paths by rejection), in rotating
rounds (:func:`_timing.interleaved`); prints each median and its ratio to uniform. The
one-time cost measurement and bin placement is timed apart. Then runs ``--steps`` steps
of each and prints the share of steps per cost bin, uniform sampling's under the same bins.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import torch
import torch.nn.functional as F
from _timing import fmt, interleaved
from torch.utils.data import TensorDataset

from nasnb.bench import digits_model, load_digits_split
from nasnb.oneshot import SPOSTrainer


def make(data: TensorDataset, batch: int, **kw: object) -> SPOSTrainer:
    torch.manual_seed(0)
    net = digits_model()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return SPOSTrainer(net, F.cross_entropy, None, opt, 1, data, batch_size=batch, progress=False, seed=0, **kw)


def shares(trainer: SPOSTrainer, binned: SPOSTrainer, batches: list, steps: int) -> list[float]:
    """Share of ``steps`` steps of ``trainer`` in each of ``binned``'s cost bins."""
    counts: Counter[int] = Counter()
    for i in range(steps):
        trainer.step(batches[i % len(batches)])
        counts[binned.bin_of(trainer.space.current())] += 1
    trainer.finish(apply=False)
    return [counts[b] / steps for b in range(len(binned.bin_edges) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = load_digits_split()["train"]
    data = TensorDataset(x, y)
    batches = [(x[i:i + args.batch], y[i:i + args.batch]) for i in range(0, len(x) - args.batch + 1, args.batch)]

    from torch.utils.flop_counter import FlopCounterMode  # noqa: F401 - imported once per process, not timed

    first = make(data, args.batch, sampling="flops")
    t0 = time.perf_counter()
    first.bin_edges  # noqa: B018 - measures the FLOPs and places the bins
    print(f"one-time FLOPs measurement + bin placement (512 architectures): {fmt(time.perf_counter() - t0)}")

    trainers = {"uniform": make(data, args.batch), "flops": make(data, args.batch, sampling="flops"),
                "params": make(data, args.batch, sampling="params")}
    rejection = make(data, args.batch, sampling="flops")
    rejection.cost_samples = 100
    trainers["flops, rejection path"] = rejection
    for t in trainers.values():
        t.step(batches[0])  # places the bins outside the timing

    def stepper(t: SPOSTrainer):
        it = iter(range(10**9))
        return lambda: t.step(batches[next(it) % len(batches)])

    times = interleaved({name: stepper(t) for name, t in trainers.items()}, rounds=args.rounds, repeat=50)
    print(f"\nper training step (batch {args.batch}, median of {args.rounds} rotating rounds of 50 steps):")
    for name, sec in times.items():
        extra = sec - times["uniform"]
        print(f"  {name:24s} {fmt(sec):>10s}   ratio to uniform {sec / times['uniform']:.3f}   "
              f"({extra * 1e6:+.1f} µs)")

    draws = interleaved({name: t.sample for name, t in trainers.items()}, rounds=args.rounds, repeat=200)
    print("\ndrawing and applying the path alone (trainer.sample()):")
    for name, sec in draws.items():
        print(f"  {name:24s} {fmt(sec):>10s}   ratio to uniform {sec / draws['uniform']:.3f}")
    print("(binned steps also run another mix of architectures: more of the cheap ones)")

    print(f"\nshare of {args.steps} steps per cost bin (bin 0 = cheapest):")
    for cost in ("flops", "params"):
        binned = make(data, args.batch, sampling=cost)
        edges = binned.bin_edges
        print(f"  {cost} bins, edges {[round(e, 1) for e in edges]}")
        for name, t in (("uniform", make(data, args.batch)), (cost, binned)):
            row = shares(t, binned, batches, args.steps)
            print(f"    {name:8s} " + "  ".join(f"{s:.3f}" for s in row))


if __name__ == "__main__":
    main()
