"""Generate ``digits_table.json`` (run once; the table ships with nasnb).

    python -m nasnb.bench._make_digits_table

Trains every architecture of :func:`nasnb.bench.digits_model` with seeds 0 and 1
(10 epochs, single thread) and stores the mean validation/test accuracy. About
10 minutes on two CPU cores.
"""

from __future__ import annotations

import copy
import time

import torch

from nasnb import SearchSpace
from nasnb.bench import DIGITS_TABLE, build_table, digits_model, train_digits

SEEDS = (0, 1)


def evaluate(model: torch.nn.Module) -> dict[str, float]:
    runs = [train_digits(copy.deepcopy(model), epochs=10, seed=s) for s in SEEDS]
    return {
        "val_acc": round(sum(r["val_acc"] for r in runs) / len(runs), 6),
        "test_acc": round(sum(r["test_acc"] for r in runs) / len(runs), 6),
        "params": runs[0]["params"],
    }


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = time.perf_counter()
    space = SearchSpace(digits_model())
    bench = build_table(space, evaluate, metric="val_acc", progress=True)
    bench.save(DIGITS_TABLE, seeds=list(SEEDS), epochs=10, torch=torch.__version__)
    print(f"wrote {len(bench)} rows to {DIGITS_TABLE} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
