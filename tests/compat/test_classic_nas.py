"""Classic-NAS trial scripts written for NNI 1.x: stand-alone, search-space generation, and driven
by a nasnb Experiment through TrialCommand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import nasnb
from nasnb.compat import TrialCommand, TrialScriptError
from nasnb.nni_format import to_nni_search_space

# A trial script exactly as NNI 1.x users wrote them (no nasnb in it). Its "accuracy" is a
# known function of the architecture, so the test can check that each trial ran its own.
TRIAL = textwrap.dedent('''
    import sys
    import torch
    from torch import nn
    import nni
    from nni.nas.pytorch.mutables import LayerChoice, InputChoice
    from nni.nas.pytorch.classic_nas import get_and_apply_next_architecture

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = LayerChoice([nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(1, 4, 5, padding=2),
                                     nn.Conv2d(1, 4, 1)], return_mask=True)
            self.act = LayerChoice([nn.ReLU(), nn.Tanh()], return_mask=True)
            self.skip = InputChoice(n_candidates=1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            y, self.conv_mask = self.conv(x)
            y, self.act_mask = self.act(y)
            s = self.skip([y])
            y = y if s is None else y + s
            return self.fc(y.mean((2, 3)))

    net = Net()
    get_and_apply_next_architecture(net)
    for step in range(2):
        out = net(torch.randn(2, 1, 6, 6))
        nni.report_intermediate_result(float(step))
    kernel = [3, 5, 1][int(net.conv_mask.int().argmax())]   # the masks say which candidates ran
    tanh = bool(net.act_mask[1])
    if "--fail" in sys.argv:
        raise SystemExit("boom: failing on purpose")
    if "--silent" not in sys.argv:
        nni.report_final_result(kernel + 10 * tanh)
''')


@pytest.fixture
def trial_script(tmp_path):
    path = tmp_path / "trial.py"
    path.write_text(TRIAL)
    return path


def _space(keys="space"):
    """The same model as the script, for the Experiment's side (nasnb's keys, or NNI's)."""
    from nasnb.mutables import _reset_global_mutable_counting

    namespace: dict = {}
    exec(TRIAL.split("net = Net()")[0], namespace)
    _reset_global_mutable_counting()
    return nasnb.SearchSpace(namespace["Net"](), keys=keys)


def _run(script, *args, env=None):
    return subprocess.run([sys.executable, "-m", "nasnb.compat.run", str(script), *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_stand_alone_runs_the_first_candidates_with_a_notice(trial_script):
    out = _run(trial_script)
    assert out.returncode == 0, out.stderr
    assert "stand-alone mode" in out.stderr


def test_search_space_generation_mode_writes_nasnbs_nni_search_space(trial_script, tmp_path):
    target = tmp_path / "space.json"
    out = _run(trial_script, env={"NNI_GEN_SEARCH_SPACE": str(target)})
    assert out.returncode == 0, out.stderr
    assert json.loads(target.read_text()) == to_nni_search_space(_space(keys="nni"))


def test_an_experiment_drives_the_script_through_every_architecture(trial_script, tmp_path):
    space = _space()
    exp = nasnb.Experiment(space, TrialCommand(trial_script), "grid", max_trials=space.size,
                           journal=tmp_path / "search.jsonl", progress=False)
    exp.run()
    assert exp.n_done == space.size == 12 and exp.n_failed == 0
    kernels = {0: 3, 1: 5, 2: 1}
    for trial in exp.history:
        expected = kernels[trial.arch["conv"]] + 10 * trial.arch["act"]
        assert trial.score == expected
        assert trial.metrics["intermediate_count"] == 2
    assert exp.best(1)[0].arch["conv"] == 1 and exp.best(1)[0].arch["act"] == 1


def test_a_failing_or_silent_script_is_a_failed_trial_with_its_output(trial_script):
    space = _space()
    arch = space.sample(seed=0)
    with pytest.raises(TrialScriptError, match="exited with code 1;(.|\n)*boom: failing on purpose"):
        TrialCommand(trial_script, args=["--fail"])(arch)
    with pytest.raises(TrialScriptError, match="without calling nni.report_final_result"):
        TrialCommand(trial_script, args=["--silent"])(arch)
    exp = nasnb.Experiment(space, TrialCommand(trial_script, args=["--fail"]), max_trials=1, progress=False)
    exp.run()
    assert exp.n_failed == 1 and "boom" in exp.history[0].error


def test_trial_api_stand_alone_behaves_as_nnis(caplog):
    import nni

    with pytest.warns(UserWarning, match="stand-alone"):
        assert nni.get_next_parameter() == {}
    assert (nni.get_trial_id(), nni.get_experiment_id(), nni.get_sequence_id()) == ("STANDALONE", "STANDALONE", 0)
    with caplog.at_level("INFO", logger="nni"):
        nni.report_final_result(0.5)
    assert "Final result: 0.5" in caplog.text
    with pytest.raises(ValueError, match="expected a finite number"):
        nni.report_final_result(float("nan"))
    with pytest.raises(ValueError, match="expected a finite number"):
        nni.report_intermediate_result({"acc": 1.0})


def test_get_and_apply_refuses_parameters_that_do_not_fit_with_a_runtime_error(tmp_path, monkeypatch):
    import torch.nn as nn
    from nni.nas.pytorch.classic_nas import get_and_apply_next_architecture
    from nni.nas.pytorch.mutables import LayerChoice

    (tmp_path / "parameter.json").write_text(json.dumps({"parameters": {"act": 7}}))
    monkeypatch.setenv("NNI_PLATFORM", "nasnb")
    monkeypatch.setenv("NASNB_TRIAL_DIR", str(tmp_path))
    net = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()], key="act"))
    with pytest.raises(RuntimeError, match="'act'"):
        get_and_apply_next_architecture(net)


def test_trial_scripts_run_under_the_process_executor_too(trial_script):
    space = _space()
    exp = nasnb.Experiment(space, TrialCommand(trial_script), "random", max_trials=2, seed=1, executor="process",
                           concurrency=2, progress=False)
    exp.run()
    assert exp.n_done == 2 and exp.n_failed == 0
    kernels = {0: 3, 1: 5, 2: 1}
    assert all(t.score == kernels[t.arch["conv"]] + 10 * t.arch["act"] for t in exp.history)
