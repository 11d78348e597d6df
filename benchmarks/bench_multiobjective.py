"""How many trials does a multi-objective search need to reach 90 % of the true Pareto front's hypervolume?

    python benchmarks/bench_multiobjective.py [--seeds 21] [--trials 200] [--target 0.9]

Objectives on the shipped digits table (512 architectures, ground truth): ``val_acc``
(max) and ``params`` (min). The true front and its hypervolume come from the whole table;
the reference point is the true front's nadir (its worst value of each objective) pushed
out by 10 % of the front's range, as usual, so that an architecture far from the front
(low accuracy) counts for nothing. Each strategy runs as
``nasnb.Experiment(objectives=...)`` (inline, no journal) once per seed; after every
trial the hypervolume of the trials so far is computed with Optuna's
``compute_hypervolume``. Prints, per strategy, the median and quartiles of the trials
needed (``--trials`` + 1 when never reached) and the ratio to random search's median
(< 1: fewer trials than random), and the wall time of all its runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from optuna._hypervolume import compute_hypervolume

import nasnb
from nasnb.bench import load_digits_benchmark

OBJECTIVES = {"val_acc": "max", "params": "min"}
STRATEGIES = {  # name -> (strategy, options)
    "random": ("random", {}),
    "nsga2": ("nsga2", {"population_size": 20}),
    "tpe (MOTPE)": ("tpe", {"n_startup_trials": 10}),
}


def hypervolume(points: list[tuple[float, float]], reference: np.ndarray) -> float:
    """Hypervolume of (val_acc, params) points, as losses (-val_acc, params), against ``reference``."""
    losses = np.array([(-a, p) for a, p in points], dtype=float).reshape(-1, 2)
    inside = losses[(losses < reference).all(axis=1)]  # points beyond the reference add nothing
    return float(compute_hypervolume(inside, reference)) if len(inside) else 0.0


def trials_to_target(strategy: str, options: dict, seed: int, trials: int, goal: float, reference: np.ndarray) -> int:
    """Trials until the trials so far cover ``goal`` of the hypervolume (``trials + 1`` if never)."""
    bench = load_digits_benchmark()
    reached: list[int] = []
    points: list[tuple[float, float]] = []

    def evaluate(arch):
        result = bench.evaluate(arch)
        points.append((result["val_acc"], result["params"]))
        if not reached and hypervolume(points, reference) >= goal:
            reached.append(len(points))
        return result

    evaluate.takes_arch = True  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        nasnb.Experiment(bench.space, evaluate, strategy, objectives=OBJECTIVES, max_trials=trials, seed=seed,
                         strategy_options=options, progress=False).run()
    return reached[0] if reached else trials + 1


def main() -> dict[str, list[int]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=21)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--target", type=float, default=0.9)
    args = parser.parse_args()
    bench = load_digits_benchmark()
    table = [(row["val_acc"], row["params"]) for row in bench.rows]
    front = [(a, p) for a, p in table if not any(b >= a and q <= p and (b > a or q < p) for b, q in table)]
    accs, params = [a for a, _ in front], [p for _, p in front]
    reference = np.array([-(min(accs) - 0.1 * (max(accs) - min(accs))), max(params) + 0.1 * (max(params) - min(params))])
    true_hv = hypervolume(table, reference)
    print(f"{bench}: true Pareto front of {len(front)} architectures (val_acc max, params min), hypervolume "
          f"{true_hv:.4g}; target {args.target:.0%} of it; {args.seeds} seeds x up to {args.trials} trials")
    results: dict[str, list[int]] = {}
    seconds: dict[str, float] = {}
    for name, (strategy, options) in STRATEGIES.items():
        start = time.perf_counter()
        results[name] = [trials_to_target(strategy, options, seed, args.trials, args.target * true_hv, reference)
                         for seed in range(args.seeds)]
        seconds[name] = time.perf_counter() - start
    ref = statistics.median(results["random"])
    print(f"{'strategy':<14}{'median':>8}{'q1':>7}{'q3':>7}{'never':>7}{'vs random':>11}{'time':>9}")
    for name, runs in results.items():
        q1, _, q3 = statistics.quantiles(runs, n=4)
        never = sum(1 for r in runs if r > args.trials)
        med = statistics.median(runs)
        print(f"{name:<14}{med:>8g}{q1:>7g}{q3:>7g}{never:>7}{med / ref:>11.2f}{seconds[name]:>8.1f}s")
    return results


if __name__ == "__main__":
    main()
