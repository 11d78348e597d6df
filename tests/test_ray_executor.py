"""The Ray executor on a local Ray instance (skipped only without the ``ray`` extra, never in CI)."""

from __future__ import annotations

import os

import pytest

if os.environ.get("CI"):
    import ray  # CI installs nasnb[test], which includes ray: missing is a failure
else:
    ray = pytest.importorskip("ray", reason="the Ray executor needs the optional extra nasnb[ray] (ray)")

import nasnb  # noqa: E402
from nasnb.executors import RayExecutor  # noqa: E402

from .test_experiment import behaviour_net, evaluate, statuses  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_executor_runs_trials_records_failures_and_timeouts(local_ray):
    exp = nasnb.Experiment(behaviour_net("good", "boom", "slow", "great"), evaluate, "grid", max_trials=4,
                           executor="ray", concurrency=2, timeout=3, progress=False)
    exp.run()
    got = statuses(exp)
    assert got["good"] == ("ok", 1.0, None) and got["great"] == ("ok", 2.0, None)
    assert got["boom"] == ("failed", None, "RuntimeError: boom in training")
    assert got["slow"] == ("timeout", None, "TrialTimeout: exceeded the time limit of 3 s")
    assert ray.is_initialized()  # a Ray instance the caller started is left running


def test_missing_ray_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"needs ray, an optional extra: pip install 'nasnb\[ray\]'"):
        RayExecutor().start(lambda m: 1.0, 1)
