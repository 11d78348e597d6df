"""What does the journal cost per trial, with and without fsync?

    python benchmarks/bench_journal.py [--trials 500] [--rounds 5] [--dir PATH]

Appends ``--trials`` trials to a fresh journal (``nasnb.journal.Journal``: one JSON line
per trial, written with ``os.write``, fsynced unless ``fsync=False``) and, for reference,
writes the same JSON lines to a plain file with ``f.write`` + ``flush`` (no fsync), in
the same folder. Rounds alternate the three, so disk noise hits each; the median round
is printed in ms per trial and as a ratio to the plain file. The folder decides what
fsync costs (tmpfs: nothing; a laptop SSD: ~1 ms; a network disk: much more): pass
``--dir`` to measure the disk your journals live on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

from torch import nn

from nasnb import SearchSpace, mutables
from nasnb._trial import Trial
from nasnb.journal import Journal


def make_space() -> SearchSpace:
    ops = lambda: [nn.Identity(), nn.ReLU(), nn.Tanh(), nn.GELU(), nn.Sigmoid()]  # noqa: E731
    return SearchSpace(nn.Sequential(*[mutables.LayerChoice(ops(), key=f"block{i}") for i in range(6)],
                                     mutables.InputChoice(n_candidates=3, n_chosen=None, key="skip")))


def make_trials(space: SearchSpace, n: int) -> list[Trial]:
    return [Trial(i, space.sample(seed=i), "ok", 0.5 + i * 1e-4, {"val_acc": 0.5, "params": 1234.0}, None, 1.25)
            for i in range(n)]


def journal_run(folder: str, space: SearchSpace, trials: list[Trial], fsync: bool) -> float:
    path = os.path.join(folder, f"bench-{fsync}.jsonl")
    if os.path.exists(path):
        os.unlink(path)
    journal = Journal(path, space, meta={"strategy": "random", "metric": None, "mode": "max"}, fsync=fsync)
    journal.open()  # creating the file and its header is not per-trial work
    t0 = time.perf_counter()
    for trial in trials:
        journal.append(trial)
    elapsed = time.perf_counter() - t0
    journal.close()
    return elapsed / len(trials)


def plain_run(folder: str, trials: list[Trial]) -> float:
    path = os.path.join(folder, "bench-plain.jsonl")
    t0 = time.perf_counter()
    with open(path, "w", encoding="utf-8") as f:
        for trial in trials:
            f.write(json.dumps({"type": "trial", **trial.to_json()}) + "\n")
            f.flush()
    return (time.perf_counter() - t0) / len(trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None, help="folder for the files (default: a temporary folder)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_journal_", dir=args.dir)
    try:
        space = make_space()
        trials = make_trials(space, args.trials)
        times: dict[str, list[float]] = {"plain file (write+flush)": [], "journal, fsync off": [],
                                         "journal, fsync on": []}
        for _ in range(args.rounds):
            times["plain file (write+flush)"].append(plain_run(folder, trials))
            times["journal, fsync off"].append(journal_run(folder, space, trials, fsync=False))
            times["journal, fsync on"].append(journal_run(folder, space, trials, fsync=True))
        base = statistics.median(times["plain file (write+flush)"])
        print(f"{args.trials} trials per round, median of {args.rounds} rounds, folder {folder}")
        for name, samples in times.items():
            ms = statistics.median(samples) * 1e3
            print(f"  {name:26s} {ms:8.3f} ms/trial   x{ms / (base * 1e3):6.1f} vs plain file")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
