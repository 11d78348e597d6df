"""What does pruning save on a real search, and what does one ``trial.report()`` cost?

    python benchmarks/bench_pruning.py [--trials 20] [--epochs 20] [--reports 5000] [--rounds 5]

(a) A random search (seed 0) over a small MLP space on sklearn's digits, each trial
trained ``--epochs`` epochs and reporting validation accuracy after each; run once
without a pruner and once with ``optuna.pruners.MedianPruner(n_startup_trials=5,
n_warmup_steps=2)``. Training is seeded per trial, so both runs see the same trial list
and the same curves until a trial is pruned. Prints the wall time of each, their ratio
and each run's best validation accuracy.

(b) Microseconds per ``trial.report()`` in an inline experiment: ``--reports`` reports
in one trial, without a journal, with a journal (each report one line, written at once,
not fsynced: :meth:`nasnb.journal.Journal.report`), and with the median pruner too; plus
what an fsync per report would cost on this folder's disk. Median of ``--rounds`` rounds
in rotating order (:func:`_timing.rotations`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import optuna
import torch
from _timing import fmt, rotations
from sklearn.datasets import load_digits
from torch import nn

import nasnb
from nasnb import mutables
from nasnb.journal import Journal


# ------------------------------------------------------------------ (a) a digits search
def make_net() -> nn.Module:
    """24 architectures: an optional 64-wide layer, its activation, and a head of 0, 1 (32 or 128 wide) hidden layers."""
    return nn.Sequential(
        mutables.LayerChoice([nn.Linear(64, 64), nn.Identity()], key="pre"),
        mutables.LayerChoice([nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity()], key="act"),
        mutables.LayerChoice([nn.Linear(64, 10), nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
                              nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))], key="head"),
    )


def make_evaluate(epochs: int):
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:1200], order[1200:]

    def evaluate(model: nn.Module, trial: nasnb.TrialReporter) -> float:
        torch.manual_seed(0)  # same initial weights and batches for the same architecture in both runs
        for layer in model.modules():
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        acc = 0.0
        for _ in range(epochs):
            model.train()
            for batch in torch.randperm(len(train)).split(32):
                idx = train[batch]
                opt.zero_grad()
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                acc = (model(x[val]).argmax(1) == y[val]).float().mean().item()
            trial.report(acc)
            if trial.should_prune():
                raise nasnb.TrialPruned()
        return acc

    return evaluate


def search(trials: int, epochs: int, pruner: object) -> tuple[float, nasnb.Experiment]:
    exp = nasnb.Experiment(make_net(), make_evaluate(epochs), "random", seed=0, max_trials=trials, pruner=pruner,
                           progress=False)
    t0 = time.perf_counter()
    exp.run()
    return time.perf_counter() - t0, exp


# ------------------------------------------------------------------ (b) the cost of a report
def report_cost(n: int, journal: str | None, pruner: object) -> float:
    """Seconds per ``trial.report()`` over ``n`` reports in one inline trial."""
    spent = []

    def evaluate(model: nn.Module, trial: nasnb.TrialReporter) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            trial.report(i / n)
        spent.append(time.perf_counter() - t0)
        return 1.0

    if journal is not None and os.path.exists(journal):
        os.unlink(journal)
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="op"))
    nasnb.Experiment(net, evaluate, "grid", max_trials=1, journal=journal, pruner=pruner, progress=False).run()
    return spent[0] / n


def fsync_cost(folder: str, n: int) -> float:
    """Seconds per report if each were fsynced (the design not chosen)."""
    net = nn.Sequential(mutables.LayerChoice([nn.Identity(), nn.ReLU()], key="op"))
    with Journal(os.path.join(folder, "fsync.jsonl"), nasnb.SearchSpace(net)) as journal:
        journal.open()
        t0 = time.perf_counter()
        for i in range(n):
            journal.report(0, i, i / n)
            os.fsync(journal._fd)  # type: ignore[arg-type]
        return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    print(f"(a) digits, random search (seed 0), {args.trials} trials x {args.epochs} epochs, 1 torch thread")
    plain_s, plain = search(args.trials, args.epochs, None)
    pruned_s, pruned = search(args.trials, args.epochs, optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    same = [t.arch for t in plain.history] == [t.arch for t in pruned.history]
    epochs_run = sum(len(t.intermediate) for t in pruned.history)
    print(f"  no pruner      {fmt(plain_s):>10}   best val acc {plain.best()[0].score:.4f}   {plain}")
    print(f"  MedianPruner   {fmt(pruned_s):>10}   best val acc {pruned.best()[0].score:.4f}   {pruned}")
    print(f"  ratio (pruned / not) {pruned_s / plain_s:.2f}; epochs trained {epochs_run} of "
          f"{args.trials * args.epochs}; same trial list: {same}")

    folder = tempfile.mkdtemp(prefix="nasnb-bench-pruning-")
    path = os.path.join(folder, "reports.jsonl")
    try:
        variants = {
            "no journal": lambda: report_cost(args.reports, None, None),
            "journal (write, no fsync)": lambda: report_cost(args.reports, path, None),
            "journal + MedianPruner": lambda: report_cost(args.reports, path, optuna.pruners.MedianPruner()),
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        for order in rotations(list(variants), args.rounds):
            for name in order:
                times[name].append(variants[name]())
        base = statistics.median(times["no journal"])
        print(f"(b) µs per trial.report(), inline, {args.reports} reports in one trial, median of {args.rounds} rounds, "
              f"folder {folder}")
        for name, samples in times.items():
            sec = statistics.median(samples)
            print(f"  {name:28s} {sec * 1e6:8.1f} µs   x{sec / base:6.1f} vs no journal")
        fsync = statistics.median(fsync_cost(folder, 200) for _ in range(3))
        print(f"  {'journal + fsync per report':28s} {fsync * 1e6:8.1f} µs   (not done: see Journal.report)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
