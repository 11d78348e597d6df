"""Ground truth for DARTS: its exported architecture, retrained from scratch, against random ones.

Searches a DARTS-style cell (3 nodes, each keeping 2 of its incoming edges; every edge one of
four dense ops: ReLU, tanh, sigmoid, a 2-unit bottleneck; ``--with-skip`` adds a skip
connection) on scikit-learn's digits with first-order DARTS, then retrains the exported
architecture from scratch (fresh weights, ``--seeds`` runs) and 10 random architectures of the
same space (one run each) with the same plain-PyTorch loop, and prints validation accuracies.
The bar (issue 4): DARTS >= the mean of the random architectures.

By default both spaces run, without and with the skip candidate, and a table puts them side by
side: DARTS is known to collapse onto parameter-free skips, so a result on the space without
them alone would flatter it. ``--space no-skip`` / ``--space skip`` runs one of them.

Run: ``python benchmarks/bench_darts_retrain.py`` (about two minutes on one CPU core;
``--quick``: fewer epochs, seeds and random architectures, a smoke run of a few seconds).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nasnb
from nasnb import mutables
from nasnb.oneshot import DartsTrainer, accuracy

D = 32


WITH_SKIP = False


def ops() -> OrderedDict:
    candidates = OrderedDict(
        relu=nn.Sequential(nn.Linear(D, D), nn.ReLU()),
        tanh=nn.Sequential(nn.Linear(D, D), nn.Tanh()),
        sigmoid=nn.Sequential(nn.Linear(D, D), nn.Sigmoid()),
        bottleneck=nn.Sequential(nn.Linear(D, 2), nn.ReLU(), nn.Linear(2, D)),
    )
    if WITH_SKIP:
        candidates["skip"] = nn.Identity()
    return candidates


class Cell(mutables.MutableScope):
    def __init__(self, name: str, nodes: int = 3):
        super().__init__(name)
        self.edges = nn.ModuleList()
        self.nodes = nn.ModuleList()
        for i in range(nodes):
            keys = [f"{name}.n{i}.e{j}" for j in range(2 + i)]
            self.edges.append(nn.ModuleList(mutables.LayerChoice(ops(), key=k) for k in keys))
            self.nodes.append(mutables.InputChoice(choose_from=keys, n_chosen=2, key=f"{name}.n{i}"))

    def forward(self, s0, s1):
        states = [s0, s1]
        for edges, node in zip(self.edges, self.nodes):
            states.append(node([edge(s) for edge, s in zip(edges, states)]))
        return torch.cat(states[2:], dim=1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(64, D), nn.ReLU())
        self.cell = Cell("cell")
        self.head = nn.Linear(3 * D, 10)

    def forward(self, x):
        s = self.stem(x)
        return self.head(self.cell(s, s))


def data():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32) / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return TensorDataset(x[:1400], y[:1400]), TensorDataset(x[1400:], y[1400:])


def retrain(arch: dict, seed: int, train: TensorDataset, valid: TensorDataset, epochs: int) -> float:
    """Train the fixed architecture from scratch (fresh weights) and return validation accuracy."""
    torch.manual_seed(seed)
    model = nasnb.SearchSpace(Net()).fix(arch, example_input=torch.zeros(1, 64))  # dropped edges left out
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed))
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        x, y = valid.tensors
        return float((model(x).argmax(1) == y).float().mean())


def run_space(args: argparse.Namespace, with_skip: bool, train: TensorDataset, valid: TensorDataset) -> dict:
    """Search one space with DARTS, retrain its architecture and random ones; print and return the numbers."""
    global WITH_SKIP
    WITH_SKIP = with_skip
    t0 = time.perf_counter()
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
    trainer = DartsTrainer(net, F.cross_entropy, accuracy, opt, args.search_epochs, train, valid, batch_size=64,
                           arc_learning_rate=args.arc_lr, warmup_epochs=args.warmup, unrolled=args.unrolled,
                           seed=0, progress=False, live_plot=False)
    trainer.train()
    darts_arch = trainer.export()
    supernet = trainer.validate()["acc"]
    search_s = time.perf_counter() - t0
    print(f"space: {len(trainer.space)} keys, size {trainer.space.size}, skip candidate: {with_skip}")
    print(f"DARTS search: {args.search_epochs} epochs in {search_s:.1f} s, supernet val acc {supernet:.3f}")
    print("DARTS architecture:", darts_arch)

    darts = [retrain(darts_arch, s, train, valid, args.retrain_epochs) for s in range(args.seeds)]
    rng = random.Random(0)
    space = trainer.space
    randoms = [retrain(space.sample(rng), 100 + i, train, valid, args.retrain_epochs) for i in range(args.random)]
    dm, rm = statistics.mean(darts), statistics.mean(randoms)
    kept = [edge for v in darts_arch.values() if isinstance(v, list) for edge in v]  # the edges the nodes keep
    n_skip = sum(darts_arch[edge] == "skip" for edge in kept)
    print(f"retrained from scratch ({args.retrain_epochs} epochs, Adam 3e-3), validation accuracy:")
    print(f"  DARTS architecture: mean {dm:.4f} over {args.seeds} seeds {[round(a, 4) for a in darts]}")
    print(f"  {args.random} random architectures: mean {rm:.4f}, min {min(randoms):.4f}, max {max(randoms):.4f}")
    print(f"  DARTS - random mean = {dm - rm:+.4f} ({'meets' if dm >= rm else 'misses'} the bar DARTS >= random mean)")
    print(f"  ({time.perf_counter() - t0:.1f} s)")
    return {"skip": with_skip, "darts": dm, "random": rm, "random_max": max(randoms), "skips_kept": n_skip, "kept": len(kept),
            "supernet": supernet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-epochs", type=int, default=None, help="default 20 (3 with --quick)")
    parser.add_argument("--retrain-epochs", type=int, default=None, help="default 15 (3 with --quick)")
    parser.add_argument("--seeds", type=int, default=None, help="default 5 (2 with --quick)")
    parser.add_argument("--random", type=int, default=None, help="default 10 (3 with --quick)")
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--unrolled", action="store_true")
    parser.add_argument("--arc-lr", type=float, default=3e-3)
    parser.add_argument("--space", choices=["both", "no-skip", "skip"], default="both",
                        help="which space: both side by side (default), without or with the skip candidate")
    parser.add_argument("--with-skip", action="store_true", help="same as --space skip (kept for old commands)")
    parser.add_argument("--quick", action="store_true", help="fewer epochs, seeds and random architectures")
    args = parser.parse_args()
    for name, full, quick in (("search_epochs", 20, 3), ("retrain_epochs", 15, 3), ("seeds", 5, 2), ("random", 10, 3)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.with_skip:
        args.space = "skip"
    torch.set_num_threads(1)
    train, valid = data()
    t0 = time.perf_counter()
    spaces = {"both": [False, True], "no-skip": [False], "skip": [True]}[args.space]
    results = []
    for with_skip in spaces:
        print(f"=== {'with' if with_skip else 'without'} the skip candidate")
        results.append(run_space(args, with_skip, train, valid))
    if len(results) > 1:
        print("=== side by side (validation accuracy after retraining from scratch)")
        print(f"  {'space':14} {'DARTS':>7} {'random mean':>12} {'random max':>11} {'DARTS - mean':>13} "
              f"{'kept edges = skip':>18}")
        for r in results:
            label = "with skip" if r["skip"] else "without skip"
            print(f"  {label:14} {r['darts']:7.4f} {r['random']:12.4f} {r['random_max']:11.4f} "
                  f"{r['darts'] - r['random']:+13.4f} {r['skips_kept']:>14d} / {r['kept']}")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
