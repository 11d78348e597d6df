"""Edges an architecture drops are neither run (mutable model, single-path) nor kept (fix)."""

from __future__ import annotations

import copy
import pickle
import warnings

import pytest
import torch
from torch import nn

import nasnb
from nasnb import mutables, ops
from nasnb.fixed import UnusedChoice, apply_fixed_architecture

OPS = ["max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3"]


class NNINode(nn.Module):
    """NNI v1.9's DARTS node: one LayerChoice per predecessor, drop-path, InputChoice(choose_from=edges)."""

    def __init__(self, node_id: str, n_prev: int, c: int):
        super().__init__()
        keys = [f"{node_id}_p{i}" for i in range(n_prev)]
        self.ops = nn.ModuleList(mutables.LayerChoice(ops.candidates(OPS, c), key=k) for k in keys)
        self.drop_path = ops.DropPath(0.2)
        self.input_switch = mutables.InputChoice(choose_from=keys, n_chosen=2, key=f"{node_id}_switch")

    def forward(self, prev):
        out = [op(x) for op, x in zip(self.ops, prev)]
        out = [self.drop_path(o) if o is not None else None for o in out]
        return self.input_switch(optional_inputs=out)


class NNICell(nn.Module):
    def __init__(self, c: int = 4, n_nodes: int = 3):
        super().__init__()
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.nodes = nn.ModuleList(NNINode(f"n{d}", d, c) for d in range(2, 2 + n_nodes))
        self.head = nn.Linear(c * n_nodes, 10)

    def forward(self, x):
        s = self.stem(x)
        states = [s, s]
        for node in self.nodes:
            states.append(node(states))
        return self.head(torch.cat(states[2:], 1).mean((2, 3)))


class HandWritten(nn.Module):
    """The same cell written by hand with only the chosen edges (the reference of DESIGN rule 9)."""

    def __init__(self, space_model: NNICell, arch: dict, c: int = 4):
        super().__init__()
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.edges = nn.ModuleList()
        self.inputs = []
        for node in space_model.nodes:
            key = node.input_switch.key
            chosen = [int(k.rsplit("_p", 1)[1]) for k in arch[key]]
            self.inputs.append(chosen)
            self.edges.append(nn.ModuleList(ops.create_op(arch[f"{key[:-7]}_p{i}"], c) for i in chosen))
        self.head = nn.Linear(c * len(self.edges), 10)

    def forward(self, x):
        s = self.stem(x)
        states = [s, s]
        for chosen, edges in zip(self.inputs, self.edges):
            states.append(sum(op(states[i]) for op, i in zip(edges, chosen)))
        return self.head(torch.cat(states[2:], 1).mean((2, 3)))


def test_nni_darts_cell_fixes_to_the_hand_written_cell():
    torch.manual_seed(0)
    net = NNICell().eval()
    space = nasnb.SearchSpace(net)
    x = torch.randn(2, 1, 8, 8)
    net(x)  # the first call learns which edges feed only their node
    assert sorted(space.probe(x)) == sorted(k for k in space if "_p" in k)
    arch = space.sample(seed=3)
    space.apply(arch)
    dropped = {src for k in arch if k.endswith("_switch") for src in space[k].names if src not in arch[k]}
    assert set(space.unused()) == dropped and len(dropped) == 0 + 1 + 2  # nodes n2, n3, n4 drop 0, 1, 2 edges
    fixed = space.fix()
    assert torch.allclose(fixed(x), net(x), atol=1e-6)
    assert not any(isinstance(m, mutables.Mutable) for m in fixed.modules())
    assert sum(isinstance(m, UnusedChoice) for m in fixed.modules()) == len(dropped)
    reference = HandWritten(net, arch)
    n_fixed = sum(p.numel() for p in fixed.parameters())
    assert n_fixed == sum(p.numel() for p in reference.parameters())


def test_mutable_model_and_single_path_skip_dropped_edges():
    net = NNICell().eval()
    space = nasnb.SearchSpace(net)
    calls: dict[str, int] = {}
    for m in net.modules():
        if isinstance(m, mutables.LayerChoice):
            for cand in m:
                cand.register_forward_hook(lambda *a, _k=m.key: calls.__setitem__(_k, calls.get(_k, 0) + 1))
    x = torch.randn(2, 1, 8, 8)
    net(x)  # probe (runs every chosen op once) + the call itself
    calls.clear()
    for seed in range(5):
        arch = space.sample(seed=seed)
        space.apply(arch)
        calls.clear()
        net(x)
        assert set(calls) == set(space) - set(space.unused()) - {k for k in space if k.endswith("_switch")}
    # training mode runs drop-path on the used edges only, and backward works
    net.train()
    net(x).sum().backward()


def test_enas_style_skip_is_never_dropped():
    """A layer named in choose_from that also feeds the next layer is not exclusive."""
    from nasnb.bench import digits_model

    net = digits_model()
    space = nasnb.SearchSpace(net)
    x = torch.randn(3, 64)
    space.apply({"skip": []})
    before = net(x)
    assert space.probe(x) == [] and space.unused() == []
    assert torch.equal(net(x), before)
    fixed = space.fix()
    assert not any(isinstance(m, UnusedChoice) for m in fixed.modules())
    assert torch.allclose(fixed(x), before)


def test_fix_before_any_call_warns_and_keeps_every_edge_unless_given_an_input():
    net = NNICell()
    space = nasnb.SearchSpace(net)
    arch = space.sample(seed=0)
    with pytest.warns(UserWarning, match=r"has not run since it was bound.*example_input"):
        full = space.fix(arch)
    assert not any(isinstance(m, UnusedChoice) for m in full.modules())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pruned = space.fix(arch, example_input=torch.zeros(1, 1, 8, 8))
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in full.parameters())
    assert not pruned._forward_pre_hooks and not full._forward_pre_hooks, "no nasnb hook in a fixed model"


def test_probe_leaves_modes_mixers_and_tensors_as_they_were():
    net = NNICell().train()
    space = nasnb.SearchSpace(net)
    bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    stats = [m.running_mean.clone() for m in bn]
    space.probe(torch.randn(2, 1, 8, 8))
    assert net.training and all(m.training for m in net.modules())
    assert all(torch.equal(m.running_mean, s) for m, s in zip(bn, stats)), "the probe runs in eval mode"
    assert not any(hasattr(t, "_nasnb_dataflow_keys") for t in list(net.parameters()) + list(net.buffers()))


def test_bound_model_copies_and_pickles_before_its_first_call():
    net = NNICell().eval()
    space = nasnb.SearchSpace(net)
    space.apply(space.sample(seed=1))
    x = torch.randn(1, 1, 8, 8)
    clone = pickle.loads(pickle.dumps(net))
    twin = copy.deepcopy(net)
    want = net(x)
    assert torch.allclose(clone(x), want) and torch.allclose(twin(x), want)


def test_apply_fixed_architecture_drops_unused_edges_after_a_call():
    net = NNICell().eval()
    x = torch.randn(1, 1, 8, 8)
    arch = nasnb.SearchSpace(net).sample(seed=2)
    reference = copy.deepcopy(net)
    ref_space = nasnb.SearchSpace(reference)
    ref_space.apply(arch)
    want = reference(x)
    # in place, NNI style: the model has not run under this space, so nothing is known; give it one call
    apply_fixed_architecture(net, arch)
    assert torch.allclose(net(x), want, atol=1e-6)
