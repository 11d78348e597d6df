"""One-shot NAS overheads against hand-written plain-PyTorch references (same run, medians).

Prints four ratios (bars from issue 4):

1. DARTS training step (architecture + weights, first order) on two DARTS-style cells /
   the same step with a hand-written mixed op (<= 1.05).
2. SPOS and ENAS training step / a hand-written single-path supernet step (<= 1.05).
3. Resampling one architecture of a 30-key space (<= 50 us; plain: a list of random ints).
4. Supernet activation memory (bytes saved for backward; CUDA peak too when available)
   / the plain reference's (<= 1.0).

Each nasnb step is the public ``trainer.step(batch)`` (what ``train()`` loops over, history
recorded every step), so the ratios include the loop's per-step bookkeeping.

Run: ``python benchmarks/bench_oneshot.py [--device cuda] [--repeats 7]``.
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
from torch.utils.data import TensorDataset

from nasnb import mutables, ops
from nasnb.oneshot import DartsTrainer, EnasTrainer, SPOSTrainer

C = 16
OP_NAMES = ["sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "skip_connect"]


def make_op(name: str) -> nn.Module:
    """The DARTS op from nasnb.ops (BatchNorm without affine, as in DARTS search)."""
    return ops.create_op(name, C, affine=False)


# ----------------------------------------------------------------- DARTS cells
class NasCell(mutables.MutableScope):
    def __init__(self, name: str, nodes: int = 4):
        super().__init__(name)
        self.edges = nn.ModuleList()
        self.inputs = nn.ModuleList()
        for i in range(nodes):
            keys = [f"{name}_n{i}_e{j}" for j in range(2 + i)]
            self.edges.append(nn.ModuleList(
                mutables.LayerChoice(ops.candidates(OP_NAMES, C, affine=False), key=k) for k in keys))
            self.inputs.append(mutables.InputChoice(choose_from=keys, n_chosen=2, key=f"{name}_n{i}_in"))
        self.out = nn.Conv2d(C * nodes, C, 1, bias=False)

    def forward(self, s0, s1):
        states = [s0, s1]
        for edges, choice in zip(self.edges, self.inputs):
            states.append(choice([e(s) for e, s in zip(edges, states)]))
        return self.out(torch.cat(states[2:], 1))


class NasNet(nn.Module):
    def __init__(self, cells: int = 2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList(NasCell(f"c{i}") for i in range(cells))
        self.head = nn.Linear(C, 10)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1.mean((2, 3)))


class MixedOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.ops = nn.ModuleList(make_op(n) for n in OP_NAMES)

    def forward(self, x, w):
        return sum(wi * op(x) for wi, op in zip(w, self.ops))


class PlainCell(nn.Module):
    def __init__(self, nodes: int = 4):
        super().__init__()
        self.edges = nn.ModuleList(nn.ModuleList(MixedOp() for _ in range(2 + i)) for i in range(nodes))
        self.out = nn.Conv2d(C * nodes, C, 1, bias=False)

    def forward(self, s0, s1, weights):
        states, k = [s0, s1], 0
        for edges in self.edges:
            states.append(sum(e(s, weights[k + j]) for j, (e, s) in enumerate(zip(edges, states))))
            k += len(edges)
        return self.out(torch.cat(states[2:], 1))


class PlainNet(nn.Module):
    """The hand-written DARTS supernet: one alpha row per edge, + a zero op, as in the paper."""

    def __init__(self, cells: int = 2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList(PlainCell() for _ in range(cells))
        self.head = nn.Linear(C, 10)
        self.alphas = [nn.Parameter(1e-3 * torch.randn(14, len(OP_NAMES) + 1)) for _ in range(cells)]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell, alpha in zip(self.cells, self.alphas):
            s0, s1 = s1, cell(s0, s1, F.softmax(alpha, -1)[:, :-1])
        return self.head(s1.mean((2, 3)))


# ------------------------------------------------------------ single path chain
def _block(name: str) -> nn.Module:
    if name == "conv3":
        return nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
    if name == "conv5":
        return nn.Sequential(nn.Conv2d(C, C, 5, padding=2, bias=False), nn.BatchNorm2d(C), nn.ReLU())
    if name == "sep3":
        return make_op("sep_conv_3x3")
    return nn.Identity()


BLOCKS = ["conv3", "conv5", "sep3", "skip"]


class ChainNet(nn.Module):
    def __init__(self, depth: int = 20):
        super().__init__()
        self.stem = nn.Conv2d(1, C, 3, padding=1)
        self.blocks = nn.ModuleList(mutables.LayerChoice(OrderedDict((n, _block(n)) for n in BLOCKS), key=f"b{i}")
                                    for i in range(depth))
        self.head = nn.Linear(C, 10)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x.mean((2, 3)))


class PlainChain(nn.Module):
    """Hand-written single-path supernet: ModuleLists and a Python list of chosen indices."""

    def __init__(self, depth: int = 20):
        super().__init__()
        self.stem = nn.Conv2d(1, C, 3, padding=1)
        self.blocks = nn.ModuleList(nn.ModuleList(_block(n) for n in BLOCKS) for _ in range(depth))
        self.head = nn.Linear(C, 10)
        self.index = [0] * depth

    def forward(self, x):
        x = self.stem(x)
        for block, i in zip(self.blocks, self.index):
            x = block[i](x)
        return self.head(x.mean((2, 3)))


# --------------------------------------------------------------------- helpers
def digits_images(device):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(d.target)
    return TensorDataset(x, y), x.to(device), y.to(device)


def median_ratio(ours, plain, steps: int, repeats: int, device) -> tuple[float, float, float]:
    """Median step time of each, alternating the two step by step (so load drifts hit both)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t_ours, t_plain = [], []
    for f in (ours, plain):  # warm-up
        for _ in range(3):
            f()
    for _ in range(repeats * steps):
        for f, out in ((ours, t_ours), (plain, t_plain)):
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            out.append(time.perf_counter() - t0)
    a, b = statistics.median(t_ours), statistics.median(t_plain)
    return a * 1e3, b * 1e3, a / b


def saved_bytes(fn) -> int:
    """Bytes of distinct storages autograd saves for backward during ``fn()`` (activation memory)."""
    seen: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = fn()
    loss.backward()
    return sum(seen.values())


def cuda_peak(fn, device) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


# ------------------------------------------------------------------- benches
def bench_darts(device, repeats, batch=32):
    data, X, Y = digits_images(device)
    x, y, xa, ya = X[:batch], Y[:batch], X[batch:2 * batch], Y[batch:2 * batch]
    torch.manual_seed(0)
    net = NasNet().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    t = DartsTrainer(net, F.cross_entropy, optimizer=opt, dataset_train=data, device=device, progress=False)

    def ours():
        t.step((x, y), (xa, ya))  # the public step: arch + weight update, history recorded every step

    ref = PlainNet().to(device)
    for a in ref.alphas:
        a.data = a.data.to(device)
    ropt = torch.optim.SGD(ref.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    aopt = torch.optim.Adam(ref.alphas, lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def plain():
        aopt.zero_grad(set_to_none=True)
        F.cross_entropy(ref(xa), ya).backward()
        aopt.step()
        ropt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(ref(x), y)
        loss.item()
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
        ropt.step()

    ms = median_ratio(ours, plain, 3, repeats, device)
    t.mixer.refresh()
    mem = (saved_bytes(lambda: F.cross_entropy(net(x), y)), saved_bytes(lambda: F.cross_entropy(ref(x), y)))
    t.mixer.refresh()
    peak = (cuda_peak(lambda: F.cross_entropy(net(x), y), device), cuda_peak(lambda: F.cross_entropy(ref(x), y), device))
    t.finish()
    return ms, mem, peak, len(t.space)


def bench_single_path(device, repeats, batch=32):
    data, X, Y = digits_images(device)
    x, y = X[:batch], Y[:batch]
    results = {}
    torch.manual_seed(0)
    ref = PlainChain().to(device)
    ropt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    rng = random.Random(0)

    def plain():
        ref.index = [int(rng.random() * 4) for _ in ref.index]
        loss = F.cross_entropy(ref(x), y)
        ropt.zero_grad(set_to_none=True)
        loss.item()
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
        ropt.step()

    mem = {}
    for cls in (SPOSTrainer, EnasTrainer):
        torch.manual_seed(0)
        net = ChainNet().to(device)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        t = cls(net, F.cross_entropy, optimizer=opt, dataset_train=data, device=device, progress=False)

        def ours(t=t):
            t.step((x, y))

        results[cls.__name__] = median_ratio(ours, plain, 10, repeats, device)
        t.finish()
        arch = [0] * 20
        t.space.apply({f"b{i}": 0 for i in range(20)})
        ref.index = arch
        mem[cls.__name__] = (saved_bytes(lambda net=net: F.cross_entropy(net(x), y)),
                             saved_bytes(lambda: F.cross_entropy(ref(x), y)))
    return results, mem


def bench_spos_cell(device, repeats, batch=32):
    """SPOS step on an NNI-style DARTS cell (every edge a LayerChoice, InputChoice(choose_from=edges))
    / a hand-written single-path step that runs only the sampled architecture's edges."""
    data, X, Y = digits_images(device)
    x, y = X[:batch], Y[:batch]
    torch.manual_seed(0)
    ref = NasNet().to(device)  # its LayerChoices are only used as containers of the candidate modules
    ropt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    rng = random.Random(0)

    def ref_forward(arch):
        s0 = s1 = ref.stem(x)
        for cell in ref.cells:
            states = [s0, s1]
            for edges, choice in zip(cell.edges, cell.inputs):
                states.append(sum(edges[j][arch[edges[j].key]](states[j]) for j in arch[choice.key]))
            s0, s1 = s1, cell.out(torch.cat(states[2:], 1))
        return ref.head(s1.mean((2, 3)))

    keys = [(e.key, len(e)) for cell in ref.cells for edges in cell.edges for e in edges]
    inputs = [(c.key, c.n_candidates) for cell in ref.cells for c in cell.inputs]

    def plain():
        arch = {k: int(rng.random() * n) for k, n in keys}
        arch.update({k: sorted(rng.sample(range(n), 2)) for k, n in inputs})
        loss = F.cross_entropy(ref_forward(arch), y)
        ropt.zero_grad(set_to_none=True)
        loss.item()
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
        ropt.step()

    torch.manual_seed(0)
    net = NasNet().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    t = SPOSTrainer(net, F.cross_entropy, optimizer=opt, dataset_train=data, device=device, progress=False)

    def ours():
        t.step((x, y))

    result = median_ratio(ours, plain, 10, repeats, device)
    t.finish()
    return result


class Space30(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(mutables.LayerChoice(OrderedDict((n, nn.Identity()) for n in BLOCKS), key=f"l{i}")
                                    for i in range(24))
        self.inputs = nn.ModuleList(mutables.InputChoice(n_candidates=3, n_chosen=2 if i % 2 else None, key=f"in{i}")
                                    for i in range(6))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        for choice in self.inputs:
            out = choice([x, x, x])
            x = x if out is None else out
        return x


def bench_resample(repeats):
    data = TensorDataset(torch.zeros(4, 3), torch.zeros(4))
    t = SPOSTrainer(Space30(), lambda o, y: o.sum(), dataset_train=data, progress=False)
    assert len(t.space) == 30
    rng = random.Random(0)
    index = [0] * 30
    sizes = [4] * 24 + [3] * 6

    def plain():
        for i, n in enumerate(sizes):
            index[i] = int(rng.random() * n)

    def timed(f, n):
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            out.append((time.perf_counter() - t0) / n * 1e6)
        return statistics.median(out)

    return (timed(t.sample, 2000), timed(lambda: t.space.apply(t.space.sample(rng)), 300), timed(plain, 2000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} repeats={args.repeats}")

    (ours, plain, ratio), mem, peak, keys = bench_darts(device, args.repeats)
    print(f"DARTS step (arch + weights, 1st order), 2 DARTS cells ({keys} keys), batch 32:"
          f" nasnb {ours:.2f} ms, plain mixed op {plain:.2f} ms, ratio {ratio:.3f} (bar <= 1.05)")
    print(f"DARTS supernet activation memory: nasnb {mem[0] / 2**20:.2f} MiB, plain {mem[1] / 2**20:.2f} MiB,"
          f" ratio {mem[0] / mem[1]:.3f} (bar <= 1.0)")
    if peak[0] is not None:
        print(f"DARTS CUDA peak (fwd+bwd): nasnb {peak[0] / 2**20:.1f} MiB, plain {peak[1] / 2**20:.1f} MiB,"
              f" ratio {peak[0] / peak[1]:.3f}")

    ours, plain, ratio = bench_spos_cell(device, args.repeats)
    print(f"SPOS step, NNI-style DARTS cells (2 cells x 14 edges), batch 32: nasnb {ours:.2f} ms, hand-written "
          f"single path of the sampled edges {plain:.2f} ms, ratio {ratio:.3f} (bar <= 1.05)")
    results, smem = bench_single_path(device, args.repeats)
    for name, (ours, plain, ratio) in results.items():
        print(f"{name} step, 20-block single path, batch 32: nasnb {ours:.2f} ms, plain single path {plain:.2f} ms,"
              f" ratio {ratio:.3f} (bar <= 1.05)")
    for name, (a, b) in smem.items():
        print(f"{name} single-path activation memory: nasnb {a / 2**20:.2f} MiB, plain {b / 2**20:.2f} MiB,"
              f" ratio {a / b:.3f} (bar <= 1.0)")

    ours, validated, plain = bench_resample(args.repeats)
    print(f"resample + apply one architecture, 30-key space: SPOSTrainer.sample {ours:.1f} us (bar <= 50 us),"
          f" space.apply(space.sample()) {validated:.1f} us, plain random ints {plain:.1f} us")


if __name__ == "__main__":
    main()
