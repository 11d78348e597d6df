"""DARTS against DARTS- (``DartsTrainer(aux_skip=1.0)``): retrained accuracy on digits, and the cost per step.

Uses the digits cell of ``bench_darts_retrain.py`` (3 nodes keeping 2 edges each; every edge a
dense op: ReLU, tanh, sigmoid, a 2-unit bottleneck, and in the "with skip" space a parameter-free
skip, which DARTS is known to collapse onto). For each space and each method, ``--seeds`` searches
(seed s searches and retrains the exported architecture once from scratch with seed s) give the
median retrained validation accuracy and its range; ``--random`` random architectures of the same
space, retrained once each, give the bar (their mean). Seed noise is the standard deviation of
retraining one architecture (plain DARTS's of seed 0) with ``--seeds`` seeds. The goal (issue 14):
DARTS- above the random mean by more than the seed noise on the space with the skip; on the space
without it, DARTS- must not hurt (this decides ``aux_skip``'s default). Last, the added cost of a
DARTS- training step: the median time of ``trainer.step`` with and without the auxiliary skip,
interleaved (``_timing.interleaved``), as a ratio.

Run: ``python benchmarks/bench_darts_collapse.py`` (about two minutes on one core; ``--quick``:
a smoke run of a few seconds).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import bench_darts_retrain as cell  # noqa: E402
from _timing import fmt, interleaved  # noqa: E402

from nasnb.oneshot import DartsTrainer, accuracy  # noqa: E402

METHODS = {"DARTS": None, "DARTS-": 1.0}  # name -> aux_skip


def trainer(aux_skip: float | None, seed: int, args: argparse.Namespace, train, valid) -> DartsTrainer:
    """A first-order DARTS trainer on a fresh cell supernet (the space is ``cell.WITH_SKIP``'s)."""
    torch.manual_seed(seed)
    net = cell.Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
    return DartsTrainer(net, F.cross_entropy, accuracy, opt, args.search_epochs, train, valid, batch_size=64,
                        arc_learning_rate=args.arc_lr, aux_skip=aux_skip, seed=seed, progress=False, live_plot=False)


def search(aux_skip: float | None, seed: int, args: argparse.Namespace, train, valid) -> tuple[dict, float]:
    """Search with ``seed``; return the exported architecture and its final skip share."""
    t = trainer(aux_skip, seed, args, train, valid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the collapse warning is what this benchmark measures
        t.train(validate=False)
    return t.export(), t.history.scalar("skip_share")[-1][2] if cell.WITH_SKIP else 0.0


def kept_skips(arch: dict) -> str:
    kept = [edge for v in arch.values() if isinstance(v, list) for edge in v]
    return f"{sum(arch[e] == 'skip' for e in kept)}/{len(kept)}"


def run_space(with_skip: bool, args: argparse.Namespace, train, valid) -> dict:
    cell.WITH_SKIP = with_skip
    t0 = time.perf_counter()
    out: dict = {"skip": with_skip}
    first_arch = None
    for name, aux in METHODS.items():
        accs, shares, skips = [], [], []
        for seed in range(args.seeds):
            arch, share = search(aux, seed, args, train, valid)
            first_arch = first_arch or arch
            accs.append(cell.retrain(arch, seed, train, valid, args.retrain_epochs))
            shares.append(share)
            skips.append(kept_skips(arch))
        out[name] = accs
        print(f"  {name:7} retrained acc per seed {[round(a, 4) for a in accs]}; median {statistics.median(accs):.4f}"
              + (f"; final skip share {[round(s, 2) for s in shares]}; kept edges = skip {skips}" if with_skip else ""))
    space = trainer(None, 0, args, train, valid).space
    rng = random.Random(0)
    randoms = [cell.retrain(space.sample(rng), 100 + i, train, valid, args.retrain_epochs) for i in range(args.random)]
    noise = [cell.retrain(first_arch, 1000 + s, train, valid, args.retrain_epochs) for s in range(args.seeds)]
    out["random"], out["noise"] = randoms, statistics.stdev(noise)
    print(f"  random  {args.random} architectures: mean {statistics.mean(randoms):.4f} "
          f"(sd {statistics.stdev(randoms):.4f}, min {min(randoms):.4f}, max {max(randoms):.4f})")
    print(f"  seed noise (sd of retraining DARTS's seed-0 architecture, {args.seeds} seeds): {out['noise']:.4f}")
    print(f"  ({time.perf_counter() - t0:.1f} s)")
    return out


def step_cost(args: argparse.Namespace, train, valid) -> dict[str, float]:
    """Median seconds of one ``trainer.step`` (architecture + weight update) per method, interleaved."""
    cell.WITH_SKIP = True
    x, y = train.tensors
    batch, arch_batch = (x[:64], y[:64]), (x[64:128], y[64:128])
    fns = {}
    for name, aux in METHODS.items():
        t = trainer(aux, 0, args, train, valid)
        fns[name] = lambda t=t: t.step(batch, arch_batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the collapse warning may fire in these steps too
        return interleaved(fns, rounds=args.rounds, repeat=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-epochs", type=int, default=None, help="default 20 (3 with --quick)")
    parser.add_argument("--retrain-epochs", type=int, default=None, help="default 15 (3 with --quick)")
    parser.add_argument("--seeds", type=int, default=None, help="searches per method and space, default 5 (2 with --quick)")
    parser.add_argument("--random", type=int, default=None, help="random architectures, default 10 (3 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds, default 11 (2 with --quick)")
    parser.add_argument("--arc-lr", type=float, default=3e-3)
    parser.add_argument("--quick", action="store_true", help="fewer epochs, seeds and architectures")
    args = parser.parse_args()
    for name, full, quick in (("search_epochs", 20, 3), ("retrain_epochs", 15, 3), ("seeds", 5, 2), ("random", 10, 3),
                              ("rounds", 11, 2)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    torch.set_num_threads(1)
    train, valid = cell.data()
    t0 = time.perf_counter()
    results = []
    for with_skip in (True, False):
        print(f"=== {'with' if with_skip else 'without'} the skip candidate ({args.search_epochs} search epochs, "
              f"retrain {args.retrain_epochs} epochs)")
        results.append(run_space(with_skip, args, train, valid))
    print("=== summary: median retrained validation accuracy over seeds [min, max]; bar = random mean")
    print(f"  {'space':13} {'method':8} {'median':>7} {'range':>17} {'random mean':>12} {'- mean':>8} "
          f"{'seed noise':>11}  verdict")
    for r in results:
        mean = statistics.mean(r["random"])
        for name in METHODS:
            med = statistics.median(r[name])
            gap = med - mean
            verdict = "above by more than the noise" if gap > r["noise"] else ("above, within the noise" if gap > 0
                                                                               else "not above")
            print(f"  {'with skip' if r['skip'] else 'without skip':13} {name:8} {med:7.4f} "
                  f"[{min(r[name]):.4f}, {max(r[name]):.4f}] {mean:12.4f} {gap:+8.4f} {r['noise']:11.4f}  {verdict}")
    no_skip = next(r for r in results if not r["skip"])
    diff = statistics.median(no_skip["DARTS-"]) - statistics.median(no_skip["DARTS"])
    print(f"  without skip, DARTS- - DARTS = {diff:+.4f} (seed noise {no_skip['noise']:.4f})")
    cost = step_cost(args, train, valid)
    print(f"=== cost of a training step (with-skip supernet, batch 64, interleaved medians): DARTS {fmt(cost['DARTS'])}, "
          f"DARTS- {fmt(cost['DARTS-'])}, ratio {cost['DARTS-'] / cost['DARTS']:.3f}")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
