"""How many trials does each strategy need to find a top-1 % architecture of the digits table?

    python benchmarks/bench_strategies.py [--seeds 20] [--fraction 0.01]

Runs every strategy through its ask/tell interface against ``nasnb.bench``'s shipped
digits table (512 architectures, ground truth), once per seed, and stops a run at the
first architecture in the top ``fraction`` (ties included). Prints the median, quartiles
and the ratio to Random's median (< 1: fewer trials than random search).
"""

from __future__ import annotations

import argparse
import statistics
import time

from nasnb.bench import load_digits_benchmark
from nasnb.strategy import TPE, PolicyGradient, Random, RegularizedEvolution

STRATEGIES = {
    "Random": lambda seed: Random(seed=seed),
    "RegularizedEvolution": lambda seed: RegularizedEvolution(population_size=20, sample_size=5, seed=seed),
    "TPE": lambda seed: TPE(n_startup_trials=10, seed=seed),
    "PolicyGradient": lambda seed: PolicyGradient(seed=seed),
}


def trials_to_top(bench, strategy, fraction: float) -> int:
    """Trials until the strategy proposes a top-``fraction`` architecture (the space size if never)."""
    s = strategy.bind(bench.space)
    threshold = bench.threshold(fraction)
    for n in range(1, len(bench) + 1):
        arch = s.ask()
        if arch is None:
            break
        score = bench.score(arch)
        if score >= threshold:
            return n
        s.tell(arch, score)
    return len(bench)


def main() -> dict[str, list[int]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--fraction", type=float, default=0.01)
    args = parser.parse_args()
    bench = load_digits_benchmark()
    n_top = len(bench.top(args.fraction))
    print(f"{bench}: top {args.fraction:.0%} = {n_top} architectures (val_acc >= {bench.threshold(args.fraction):.4f}); "
          f"{args.seeds} seeds")
    results: dict[str, list[int]] = {}
    for name, make in STRATEGIES.items():
        start = time.perf_counter()
        results[name] = [trials_to_top(bench, make(seed), args.fraction) for seed in range(args.seeds)]
        results[name + "_s"] = [time.perf_counter() - start]  # type: ignore[list-item]
    ref = statistics.median(results["Random"])
    print(f"{'strategy':<22}{'median':>8}{'q1':>7}{'q3':>7}{'vs Random':>11}{'time':>8}")
    for name in STRATEGIES:
        runs = results[name]
        q1, _, q3 = statistics.quantiles(runs, n=4)
        med = statistics.median(runs)
        print(f"{name:<22}{med:>8.1f}{q1:>7.1f}{q3:>7.1f}{med / ref:>10.2f}x{results[name + '_s'][0]:>7.1f}s")
    return results


if __name__ == "__main__":
    main()
