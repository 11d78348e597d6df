"""nasnb._measure and nasnb._device: the measures shared by profile and the one-shot cost models."""

from __future__ import annotations

import torch
from torch import nn

from nasnb import SearchSpace, mutables
from nasnb._device import model_device, to_device
from nasnb._measure import ParamTable, count_flops, latency_ms


def _space():
    net = nn.Sequential(nn.Linear(4, 4), mutables.LayerChoice(
        [nn.Linear(4, 4), nn.Linear(4, 4, bias=False), nn.Identity()], key="op"), nn.Linear(4, 2))
    return SearchSpace(net)


def test_param_table_counts_every_chosen_candidate_of_a_multi_choice():
    space = _space()
    table = ParamTable(space)
    assert table.base == 20 + 10 and table.candidates("op") == [20, 16, 0]
    for arch in ({"op": [0]}, {"op": [0, 1]}, {"op": [1, 2]}, {"op": []}):
        indices = {k: space[k].parse(v) for k, v in space.validate(arch).items()}
        assert table.of(indices) == sum(p.numel() for p in space.fix(arch).parameters()), arch


def test_spos_arch_params_counts_a_multi_choice():
    from nasnb.oneshot import SPOSTrainer

    space = _space()
    data = torch.utils.data.TensorDataset(torch.zeros(4, 4), torch.zeros(4, dtype=torch.long))
    t = SPOSTrainer(space, nn.functional.cross_entropy, dataset_train=data, progress=False)
    assert t.arch_params({"op": ["0", "1"]}) == 30 + 20 + 16  # NNI-style multi-choice: both candidates


def test_param_table_counts_shared_keys_once_per_mutable():
    net = nn.Sequential(*[mutables.LayerChoice([nn.Linear(2, 2), nn.Identity()], key="op") for _ in range(2)])
    table = ParamTable(SearchSpace(net))
    assert table.candidates("op") == [12, 0] and table.of({"op": (0,)}) == 12


def test_count_flops_and_latency():
    lin = nn.Linear(8, 4)
    flops, out = count_flops(lambda: lin(torch.zeros(2, 8)))
    assert flops == 2 * 2 * 8 * 4 and out.shape == (2, 4)
    assert latency_ms(lambda: lin(torch.zeros(2, 8)), torch.device("cpu"), repeats=3) > 0


def test_to_device_moves_nested_tensors_and_keeps_the_rest():
    batch = {"x": [torch.zeros(1), (torch.ones(2), "label")], "n": 3}
    moved = to_device(batch, "meta")
    assert moved["x"][0].device.type == "meta" and moved["x"][1][0].device.type == "meta"
    assert moved["x"][1][1] == "label" and moved["n"] == 3 and isinstance(moved["x"][1], tuple)
    assert to_device(batch, None) is batch
    assert model_device(nn.Linear(1, 1).to("meta")).type == "meta" and model_device(nn.ReLU()).type == "cpu"
