"""Explorer, graph and drawing costs, against plain PyTorch forwards measured in the same run.

Run: ``python benchmarks/bench_explorer.py`` (``--quick``: a short smoke run). Prints (CPU, 1 thread):

* seed MNIST net: Python-side latency from setting a control's value to the summary and the
  graph image being updated, minus the forward passes the update runs (profile: FLOP count +
  warm-up + ``repeats`` timed runs; graph: one pass running every candidate) — budget 150 ms;
  also as a ratio to one plain forward, and split into profile / graph build / draw+PNG;
* a 100-key space (a chain of 100 three-candidate LayerChoices): ``build_graph`` +
  ``draw_space`` + PNG — budget 2 s; plus the DARTS-style cell for reference;
* a 500-key space: ``Explorer(...)`` construction, first summary included — budget 3 s;
* a DARTS-sized space (``nasnb.spaces.DARTS.small()``: 36 keys, 5 cells) as in a notebook (an
  asyncio loop runs, so clicks are debounced and the graph is drawn on the worker thread):
  click -> first visible change (busy state), click -> summary settled, click -> graph drawn,
  minus the forwards the update runs — budgets 0.3 s / 1 s; opening the Explorer — budget 2 s;
  and an SPOS training loop on that space with the Explorer open / without — budget 1.05.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections import OrderedDict

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _timing import fmt, median_time, rotations  # noqa: E402

import nasnb  # noqa: E402
from nasnb import mutables  # noqa: E402
from tests.models import PlainSeedNet, SeedNet  # noqa: E402

torch.set_num_threads(1)


def _timed(fn, n: int, clock=time.perf_counter) -> list[float]:
    out = []
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def _build_and_draw(space, x, n: int):
    """The graph of ``space`` and the median seconds to build it and to draw it as a PNG."""
    from nasnb.graph import build_graph
    from nasnb.plot import draw_space

    build = statistics.median(_timed(lambda: build_graph(space, x), n))
    g = build_graph(space, x)

    def draw():
        buf = io.BytesIO()
        draw_space(g).savefig(buf, format="png", dpi=72)

    return g, build, statistics.median(_timed(draw, n))


def bench_seed_update(repeats: int = 5, n: int = 20) -> None:
    from nasnb.graph import build_graph
    from nasnb.plot import draw_space
    from nasnb.profile import profile

    torch.manual_seed(0)
    x = torch.zeros(1, 1, 28, 28)
    plain = PlainSeedNet().eval()

    def plain_fwd():
        with torch.no_grad():
            plain(x)

    ex = nasnb.Explorer(SeedNet(), x, repeats=repeats)
    box = ex.controls["skipcon"].checkboxes[0]
    state = {"on": True}

    def click():
        state["on"] = not state["on"]
        box.value = state["on"]  # observer -> apply -> profile -> graph -> PNG, synchronously

    for _ in range(3):
        plain_fwd()
    click()
    click()
    # the reference forward is timed in the same rounds as the click, in alternating order, so
    # a slow or fast stretch of the machine hits both (not one measured minutes before the other)
    samples: dict[str, list[float]] = {"fwd": [], "click": [], "cpu": []}
    steps = {"fwd": lambda: samples["fwd"].extend(_timed(plain_fwd, 5)),
             "click": lambda: samples["click"].extend(_timed(click, 1)),
             "cpu": lambda: samples["cpu"].extend(_timed(click, 1, clock=time.process_time))}  # less hit by others
    for order in rotations(list(steps), n):
        for name in order:
            steps[name]()
    assert ex.error is None, ex.error
    t_fwd = statistics.median(samples["fwd"])
    total = statistics.median(samples["click"])
    cpu = statistics.median(samples["cpu"])
    forwards = repeats + 2 + 1  # FLOP count + warm-up + timed runs; graph trace
    trace_extra = 1  # the trace also runs conv1's other candidate: about one more conv, counted as a forward
    fwd_cost = (forwards + trace_extra) * t_fwd
    t_prof = statistics.median(_timed(lambda: profile(ex.space, x, repeats=repeats), n))
    t_graph = statistics.median(_timed(lambda: build_graph(ex.space, x), n))
    g = build_graph(ex.space, x)

    def draw():
        buf = io.BytesIO()
        draw_space(g).savefig(buf, format="png", dpi=72)

    t_draw = statistics.median(_timed(draw, n))
    print(f"seed MNIST net, control -> summary + graph (repeats={repeats}, median of {n}):")
    print(f"  plain forward {fmt(t_fwd)} (timed in the same rounds as the clicks); "
          f"update {fmt(total)} = {total / t_fwd:.0f}x one plain forward")
    print(f"  update minus {forwards + trace_extra} forwards' time: {fmt(total - fwd_cost)}  (budget 150 ms); "
          f"process CPU time of an update {fmt(cpu)}")
    print(f"  parts: profile {fmt(t_prof)}, build_graph {fmt(t_graph)}, draw_space+PNG {fmt(t_draw)}")
    ex.close()


def chain(n_keys: int, width: int = 8) -> nn.Module:
    return nn.Sequential(*[
        mutables.LayerChoice(OrderedDict(linear=nn.Linear(width, width), tanh=nn.Tanh(), skip=nn.Identity()),
                             key=f"layer{i}")
        for i in range(n_keys)
    ])


def bench_graph_100(n: int = 3) -> None:

    model, x = chain(100), torch.zeros(1, 8)
    fixed = nasnb.SearchSpace(model).fix().eval()

    def plain_fwd():
        with torch.no_grad():
            fixed(x)

    t_fwd = median_time(plain_fwd, repeat=20)
    g, build, t_draw = _build_and_draw(nasnb.SearchSpace(model), x, n)
    print(f"100-key space ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges), median of {n}:")
    print(f"  build_graph {fmt(build)} ({build / t_fwd:.0f}x a plain forward of {fmt(t_fwd)}), "
          f"draw_space+PNG {fmt(t_draw)}, total {fmt(build + t_draw)}  (budget 2 s)")


def bench_darts_cell(n: int = 3) -> None:

    from tests.models import Cell

    cell = Cell("c", channels=8, n_nodes=4)  # 14 edges x 4 ops, 4 switches
    x = torch.zeros(1, 8, 8, 8)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            return self.cell(x, x)

    space = nasnb.SearchSpace(Wrap())
    g, build, t_draw = _build_and_draw(space, x, n)
    print(f"DARTS-style cell ({len(space)} keys, {g.number_of_nodes()} nodes): build_graph {fmt(build)}, "
          f"draw_space+PNG {fmt(t_draw)}")


def bench_explorer_500(n: int = 3) -> None:
    model, x = chain(500), torch.zeros(1, 8)
    fixed = nasnb.SearchSpace(model).fix().eval()

    def plain_fwd():
        with torch.no_grad():
            fixed(x)

    t_fwd = median_time(plain_fwd, repeat=10)
    times = []
    for _ in range(n):
        space = nasnb.SearchSpace(chain(500))
        t0 = time.perf_counter()
        ex = nasnb.Explorer(space, x)  # graph="auto": not drawn beyond 100 keys
        times.append(time.perf_counter() - t0)
        ex.close()
    t = statistics.median(times)
    print(f"500-key space: Explorer build {fmt(t)} (median of {n}; graph off by default), "
          f"{t / t_fwd:.0f}x a plain forward of {fmt(t_fwd)}  (budget 3 s)")
    space = nasnb.SearchSpace(chain(500))
    t0 = time.perf_counter()
    ex = nasnb.Explorer(space, x, graph=True)
    print(f"  with graph=True: {fmt(time.perf_counter() - t0)}")
    ex.close()


def bench_darts_panel(n: int = 5, runs: int = 5) -> None:
    import asyncio

    import torch.nn.functional as F
    from torch.utils.data import TensorDataset

    from nasnb import spaces
    from nasnb.oneshot import SPOSTrainer

    x = torch.zeros(1, 3, 32, 32)

    async def notebook():
        net = spaces.DARTS.small()
        fixed = nasnb.SearchSpace(net).fix().eval()
        fwds: list[float] = []

        def reference():  # plain forwards, timed between the clicks (before one, after the next)
            fwds.extend(_timed(lambda: fixed(x), 3))

        reference()
        t0 = time.perf_counter()
        ex = nasnb.Explorer(net, x, repeats=1)
        t_open = time.perf_counter() - t0
        ex.wait()
        first, summary, drawn = [], [], []
        ops = ["sep_conv_3x3", "max_pool_3x3"]
        for i in range(n):
            if i % 2 == 0:
                reference()
            before = ex.summary.value
            t0 = time.perf_counter()
            ex.controls["normal_n2_p0"].control.value = ex.space["normal_n2_p0"].parse(ops[i % 2])[0]
            first.append(time.perf_counter() - t0 if ex.busy.value else float("nan"))
            while ex.summary.value == before:
                await asyncio.sleep(0.002)
            summary.append(time.perf_counter() - t0)
            while ex._painter.busy:
                await asyncio.sleep(0.005)
            drawn.append(time.perf_counter() - t0)
            if i % 2 == 1:
                reference()
        ex.close()
        return statistics.median(fwds), t_open, first, summary, drawn

    t_fwd, t_open, first, summary, drawn = asyncio.run(notebook())
    forwards = 1 + 2 + 1  # profile: FLOP count, warm-up, one timed run
    med = statistics.median
    print(f"DARTS.small (36 keys, 5 cells) in a notebook loop, median of {n} clicks; plain forward {fmt(t_fwd)}:")
    print(f"  open {fmt(t_open)} (budget 2 s; the graph is drawn afterwards, off the kernel thread)")
    print(f"  click -> busy shown {fmt(med(first))} (budget 0.3 s); -> summary settled {fmt(med(summary))}, "
          f"minus {forwards} forwards {fmt(med(summary) - forwards * t_fwd)} (budget 1 s); "
          f"-> graph drawn {fmt(med(drawn))}")

    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = torch.tensor(d.images, dtype=torch.float32)[:, None].repeat(1, 3, 4, 4) / 16.0  # 3 x 32 x 32
    data = TensorDataset(imgs[:256], torch.tensor(d.target[:256]))

    def train(with_panel: bool) -> float:
        torch.manual_seed(0)
        net = spaces.DARTS.small()
        ex = nasnb.Explorer(net, x, repeats=1, graph=False) if with_panel else None
        t = SPOSTrainer(net, F.cross_entropy, optimizer=torch.optim.SGD(net.parameters(), lr=0.01),
                        num_epochs=4, dataset_train=data, batch_size=32, progress=False, live_plot=False)
        t0 = time.perf_counter()
        t.train(validate=False)
        spent = time.perf_counter() - t0
        if ex is not None:
            ex.close()
        return spent

    def pair(i: int) -> tuple[float, float]:  # which one runs first alternates
        if i % 2 == 0:
            plain = train(False)
            return plain, train(True)
        panel = train(True)
        return train(False), panel

    pairs = [pair(i) for i in range(runs)]
    plain, panel = med(p for p, _ in pairs), med(q for _, q in pairs)
    print(f"  SPOS training, 32 steps (median of {runs} alternating runs): without a panel {fmt(plain)}, "
          f"with the Explorer open {fmt(panel)}, ratio {panel / plain:.3f} (budget 1.05)")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="few rounds; only the click latencies and one training pair (a smoke run, noisy)")
    quick = parser.parse_args().quick
    bench_seed_update(n=6 if quick else 20)
    bench_seed_update(repeats=1, n=6 if quick else 20)
    if not quick:
        bench_graph_100()
        bench_darts_cell()
        bench_explorer_500()
    bench_darts_panel(n=3 if quick else 5, runs=1 if quick else 5)
