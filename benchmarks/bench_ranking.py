"""How well does each one-shot supernet rank the digits table's 512 architectures?

    python benchmarks/bench_ranking.py [--seeds 5] [--epochs 10] [--trainers spos,enas,darts,proxyless]

Per seed and trainer: trains a supernet on ``nasnb.bench.digits_model()`` with the table's
training split (1000 digits, Adam lr 3e-3, batch 50, as the table's models were trained)
for ``--epochs`` epochs, then ranks all 512 architectures with
:func:`nasnb.oneshot.ranking_quality` against the shipped table (``val_acc``, on the same
397 validation digits the inherited scores use). Every trainer is ranked by inherited
weights twice: scored by validation accuracy (``inherited:acc``) and by minus the
validation loss (``inherited:loss``, the default ``score_by``); SPOS's search runs with
the same ``score_by`` first, so the exported architecture is the one that score picks.
DARTS and ProxylessNAS are also ranked by the architectures' log-probability (``logprob``,
their default estimate). Prints, per row, the median over seeds of
Kendall's tau (with min and max), Spearman's rho, the top-10 overlap and the exported
architecture's true percentile, and the seconds per run (training, search, rankings).
The digits MLP has no BatchNorm, so recalibration does not apply. Longer training
lowers tau here (the supernet's accuracies saturate): try ``--epochs 5`` or ``30``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from nasnb.bench import digits_model, load_digits_benchmark, load_digits_split
from nasnb.oneshot import DartsTrainer, EnasTrainer, ProxylessTrainer, SPOSTrainer, accuracy, ranking_quality

TRAINERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "spos": (SPOSTrainer, {}),
    "enas": (EnasTrainer, {"controller_lr": 3e-3}),
    "darts": (DartsTrainer, {"arc_learning_rate": 3e-3}),
    "proxyless": (ProxylessTrainer, {"arch_lr": 3e-3}),
}
LOGPROB = ("darts", "proxyless")  # learn a distribution: also ranked by log-probability


def run(name: str, seed: int, epochs: int, bench: Any) -> dict[str, Any]:
    """Train one supernet; its reports (one per estimate) and the seconds it took."""
    cls, kwargs = TRAINERS[name]
    data = load_digits_split()
    torch.manual_seed(seed)
    model = digits_model()
    train = TensorDataset(*data["train"])
    valid = DataLoader(TensorDataset(*data["val"]), batch_size=len(data["val"][1]))  # one batch: fast scoring
    start = time.perf_counter()
    trainer = cls(model, F.cross_entropy, accuracy, torch.optim.Adam(model.parameters(), lr=3e-3), epochs, train,
                  valid, batch_size=50, seed=seed, progress=False, live_plot=False, **kwargs)
    trainer.train(validate=False)
    reports = {"logprob": ranking_quality(trainer, bench, estimate="logprob")} if name in LOGPROB else {}
    for by in ("acc", "loss"):
        if name == "spos":
            trainer.search(seed=seed, score_by=by)  # population 20, 5 generations: what export() returns
        reports[f"inherited:{by}"] = ranking_quality(trainer, bench, estimate="inherited", score_by=by)
    return {"reports": reports, "seconds": time.perf_counter() - start}


def main() -> dict[tuple[str, str], list[Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--trainers", default=",".join(TRAINERS))
    args = parser.parse_args()
    torch.set_num_threads(1)  # a 32-wide MLP: more threads only add overhead
    warnings.filterwarnings("ignore", message=r"\w+Trainer", category=UserWarning)  # the trainers' per-epoch advice
    bench = load_digits_benchmark()
    names = args.trainers.split(",")
    print(f"{bench}; {args.seeds} seeds x {args.epochs} epochs over the 1000 training digits (batch 50; DARTS and "
          f"ProxylessNAS train weights on half, ENAS on 90 %); torch threads {torch.get_num_threads()}; "
          f"the trainers' UserWarnings are silenced")
    rows: dict[tuple[str, str], list[Any]] = {}
    seconds: dict[str, list[float]] = {}
    start = time.perf_counter()
    for seed in range(args.seeds):
        for name in names:
            result = run(name, seed, args.epochs, bench)
            seconds.setdefault(name, []).append(result["seconds"])
            for estimate, report in result["reports"].items():
                rows.setdefault((name, estimate), []).append(report)
    print(f"{'trainer':<11}{'estimate':<17}{'tau med':>8}{'[min, max]':>15}{'rho med':>9}{'top-10':>8}"
          f"{'export pct':>12}{'s/run':>7}")
    for (name, estimate), reports in rows.items():
        taus = [r.kendall_tau for r in reports]
        spread = f"[{min(taus):.2f}, {max(taus):.2f}]"
        print(f"{name:<11}{estimate:<17}{statistics.median(taus):>8.3f}{spread:>15}"
              f"{statistics.median(r.spearman_rho for r in reports):>9.3f}"
              f"{statistics.median(r.top_k_overlap for r in reports):>8.2f}"
              f"{statistics.median(r.exported_percentile for r in reports):>12.1f}"
              f"{statistics.median(seconds[name]):>7.1f}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return rows


if __name__ == "__main__":
    main()
