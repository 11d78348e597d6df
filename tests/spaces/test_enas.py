"""ENAS micro and macro spaces: the decisions of NNI v1.9's ENAS examples, and they run.

The expected numbers come from NNI v1.9's ``examples/nas/enas/micro.py`` and
``macro.py``:

- micro: each ``Node(MutableScope)`` ``"{normal|reduce}_node_{i}"`` has two Cells
  ``_x`` and ``_y``, each an ``InputChoice(choose_from=["", "", <earlier node keys>],
  n_chosen=1, return_mask=True, key=name + "_input")`` and a 5-op ``LayerChoice(key=name +
  "_op")``; every cell of a type shares those keys -> ``2 types * num_nodes * 2 halves * 2``
  = 40 keys for ``num_nodes=5``.
- macro: 12 ``ENASLayer(MutableScope)`` ``"layer_{i}"``, each a 6-op LayerChoice with an
  automatic key and, from layer 1 on, ``InputChoice(choose_from=["layer_0", ...,
  "layer_{i-1}"], n_chosen=None)``, also automatic -> 23 keys ``LayerChoice1``,
  ``LayerChoice2``, ``InputChoice3``, ..., ``LayerChoice22``, ``InputChoice23``.
"""

from __future__ import annotations

import pytest
import torch

import nasnb
from nasnb import mutables, ops
from nasnb.spaces import ENASMacro, ENASMicro

MICRO_OPS = ["enas_sep_conv_3x3", "enas_sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "skip_connect"]
MACRO_OPS = ["enas_conv_branch_3x3", "enas_sep_conv_branch_3x3", "enas_conv_branch_5x5",
             "enas_sep_conv_branch_5x5", "enas_avg_pool_branch_3x3", "enas_max_pool_branch_3x3"]


def bind(model):
    return nasnb.SearchSpace(model)


def has_choices(model):
    return any(isinstance(m, (mutables.LayerChoice, mutables.InputChoice)) for m in model.modules())


# --------------------------------------------------------------------------- structure
def test_micro_keys_candidates_and_sharing_match_nni():
    space = bind(ENASMicro(num_layers=2, num_nodes=5, out_channels=2))  # NNI defaults but 2 channels
    expected = []
    for kind in ("reduce", "normal"):  # num_layers=2: cells 0 and 1 reduce, 2 and 3 normal
        for i in range(5):
            for half in "xy":
                expected += [f"{kind}_node_{i}_{half}_input", f"{kind}_node_{i}_{half}_op"]
    assert list(space) == expected and len(space) == 40
    assert sorted(space.scopes) == sorted(f"{k}_node_{i}" for k in ("normal", "reduce") for i in range(5))
    for kind in ("reduce", "normal"):
        for i in range(5):
            for half in "xy":
                inp = space[f"{kind}_node_{i}_{half}_input"]
                assert inp.kind == "input" and inp.n_chosen == 1
                assert inp.names == ("", "") + tuple(f"{kind}_node_{j}" for j in range(i))
                op = space[f"{kind}_node_{i}_{half}_op"]
                assert op.kind == "layer" and list(op.names) == MICRO_OPS
            # every cell of a type shares the node's keys
            assert len(space.mutables(f"{kind}_node_{i}_x_op")) == 2
    assert space.aliases == {}  # NNI gives every micro choice an explicit key
    assert space.size == (2 * 3 * 4 * 5 * 6) ** 4 * 5 ** 20
    assert ENASMicro.OPS == tuple(MICRO_OPS)


def test_micro_reduction_cells_follow_nni_positions():
    # NNI's search.py: num_layers=6 -> 8 cells, reductions at 2 and 5 -> 6 normal cells
    space = bind(ENASMicro(num_layers=6, num_nodes=2, out_channels=2))
    assert len(space) == 16
    assert len(space.mutables("normal_node_1_y_input")) == 6
    assert len(space.mutables("reduce_node_1_y_input")) == 2
    assert list(space)[0] == "normal_node_0_x_input"  # cells 0 and 1 are normal


def test_macro_keys_candidates_and_nni_aliases():
    mutables._reset_global_mutable_counting()
    model = ENASMacro()
    space = bind(model)
    assert len(space) == 23
    assert model.pool_layers_idx == [3, 7] and len(model.pool_layers) == 2
    assert sorted(space.scopes) == sorted(f"layer_{i}" for i in range(12))
    nni_key = {}
    counter = 0
    for i in range(12):
        counter += 1
        nni_key[f"LayerChoice{counter}"] = f"layers.{i}.mutable"
        if i:
            counter += 1
            nni_key[f"InputChoice{counter}"] = f"layers.{i}.skipconnect"
    assert space.aliases == nni_key and counter == 23
    assert list(space) == list(nni_key.values())
    assert list(space["layers.0.mutable"].names) == MACRO_OPS and ENASMacro.OPS == tuple(MACRO_OPS)
    for i in range(1, 12):
        skip = space[f"layers.{i}.skipconnect"]
        assert skip.n_chosen is None and skip.names == tuple(f"layer_{j}" for j in range(i))
    assert space.size == 6 ** 12 * 2 ** 66
    assert space.current()["layers.11.skipconnect"] == [f"layer_{j}" for j in range(11)]


def test_small_configurations():
    micro, macro = bind(ENASMicro.small()), bind(ENASMacro.small())
    assert (len(micro), micro.size) == (40, 720 ** 4 * 5 ** 20)
    assert (len(macro), macro.size) == (11, 6 ** 6 * 2 ** 15)
    assert ENASMicro.small(num_nodes=2).layers[-1].num_nodes == 2


# ---------------------------------------------------------------------------- running
@pytest.mark.parametrize("cls", [ENASMicro, ENASMacro])
def test_small_forward_backward_and_samples(cls):
    torch.manual_seed(0)
    space = bind(cls.small())
    x = torch.randn(2, 3, 32, 32)
    out = space.model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert space.model.stem[0].weight.grad is not None
    for seed in range(4):
        space.apply(space.sample(seed))
        space.model(x).sum().backward()


@pytest.mark.parametrize("cls", [ENASMicro, ENASMacro])
def test_fix_matches_mutable_model(cls):
    torch.manual_seed(0)
    space = bind(cls.small())
    model = space.model.eval()
    x = torch.randn(2, 3, 32, 32)
    for seed in (0, 1, 2):
        arch = space.sample(seed)
        space.apply(arch)
        fixed = space.fix(arch).eval()
        assert not has_choices(fixed)  # the MutableScopes stay, as plain modules carrying a key
        with torch.no_grad():
            assert torch.allclose(fixed(x), model(x), atol=1e-5)


@pytest.mark.parametrize("cls", [ENASMicro, ENASMacro])
def test_one_channel_8x8(cls):
    space = bind(cls.small(in_channels=1, num_classes=10))
    x = torch.randn(2, 1, 8, 8)
    for seed in (0, 1):
        space.apply(space.sample(seed))
        space.model(x).sum().backward()
    assert space.fix().eval()(x).shape == (2, 10)


def test_micro_aux_head_and_dropout():
    model = ENASMicro.small(use_aux_heads=True, dropout_rate=0.1)
    bind(model)
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_macro_skips_add_earlier_outputs():
    space = bind(ENASMacro.small())
    x = torch.randn(2, 3, 32, 32)
    model = space.model.eval()
    space.apply({k: [] for k in space if k.endswith("skipconnect")})
    with torch.no_grad():
        plain = model(x)
        space.apply({"layers.5.skipconnect": ["layer_0", "layer_4"]})
        assert not torch.allclose(model(x), plain)


# ------------------------------------------------------------------------- NNI format
def test_nni_micro_export_loads():
    # NNI exports micro inputs as indices (choose_from has two NO_KEY) and list ops as indices
    space = bind(ENASMicro.small())
    arch = {}
    for kind in ("normal", "reduce"):
        for i in range(5):
            for h, half in enumerate("xy"):
                arch[f"{kind}_node_{i}_{half}_input"] = (i + h) % (i + 2)
                arch[f"{kind}_node_{i}_{half}_op"] = (i + h) % 5
    space.apply(arch)
    assert space.decision("normal_node_3_y_input").indices == (4,)
    assert space.current()["reduce_node_2_x_op"] == "avg_pool_3x3"
    fixed = space.fix().eval()
    with torch.no_grad():
        assert torch.allclose(fixed(torch.ones(1, 3, 32, 32)), space.model.eval()(torch.ones(1, 3, 32, 32)),
                              atol=1e-5)


def test_nni_macro_export_with_automatic_keys_loads():
    mutables._reset_global_mutable_counting()
    space = bind(ENASMacro.small())
    # as NNI exports it: list LayerChoice -> index, InputChoice -> source keys, singletons unwrapped
    arch = {"LayerChoice1": 0, "LayerChoice2": 5, "InputChoice3": [], "LayerChoice4": 1,
            "InputChoice5": "layer_1", "LayerChoice6": 2, "InputChoice7": ["layer_0", "layer_2"],
            "LayerChoice8": 3, "InputChoice9": [], "LayerChoice10": 4, "InputChoice11": ["layer_3"]}
    space.apply(arch)
    current = space.current()
    assert current["layers.1.mutable"] == "enas_max_pool_branch_3x3"
    assert current["layers.3.skipconnect"] == ["layer_0", "layer_2"]
    assert current["layers.1.skipconnect"] == []
    # NNI's legacy multi-hot form
    space.apply({"LayerChoice1": [False, False, False, False, True, False], "InputChoice3": [True]})
    assert space.current()["layers.0.mutable"] == "enas_avg_pool_branch_3x3"
    assert space.current()["layers.1.skipconnect"] == ["layer_0"]
    assert space.model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


# ---------------------------------------------------------------------------------- ops
def test_enas_ops_change_channels_like_nni():
    x = torch.randn(2, 3, 8, 8)
    for name in MACRO_OPS:
        assert ops.create_op(name, 3, out_channels=6, affine=False)(x).shape == (2, 6, 8, 8)
    # ENAS micro's separable conv is a single depthwise + pointwise pair (DARTS stacks two)
    sep = ops.create_op("enas_sep_conv_3x3", 4)
    assert sum(p.numel() for p in sep.parameters()) == 4 * 9 + 4 * 4 + 2 * 4
    # macro branches: BatchNorms without affine by default; plain convs keep NNI's bias
    branch = ops.create_op("enas_conv_branch_5x5", 4, affine=False)
    assert sum(p.numel() for p in branch.parameters()) == 4 * 4 + 4 * 4 * 25 + 4
