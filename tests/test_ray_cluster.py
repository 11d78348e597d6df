"""The Ray executor connected to an existing Ray cluster, started here with ``ray start --head``.

The cluster is a separate set of processes (its own temp dir, port and process group), as on a
real head node; the tests connect with ``RayExecutor(address="127.0.0.1:<port>")`` and check that
the trials ran in that cluster's workers, and that a trial may start several processes of its
own (``torchrun``-style ranks) when it reserves that many CPUs. Teardown stops only that cluster
(its process group), never other Ray instances (``ray stop`` would stop them all).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

if os.environ.get("CI"):
    import ray  # CI installs nasnb[test], which includes ray: missing is a failure
else:
    ray = pytest.importorskip("ray", reason="the Ray executor needs the optional extra nasnb[ray] (ray)")

import nasnb  # noqa: E402
from nasnb.executors import RayExecutor  # noqa: E402
from nasnb.oneshot.launch import _free_port  # noqa: E402

from .test_experiment import behaviour_net, evaluate, statuses  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START_S = 120.0  # how long `ray start --head` may take (about 20 s on 2 slow cores)
RANK_WAIT_S = 30.0  # how long a rank waits for the others (only a broken setup waits it out)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_group(pgid: int) -> None:
    """SIGTERM the cluster's process group, then SIGKILL what is left after a grace (what ``ray stop`` does, but only here)."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(pgid):
            return


class Cluster:
    def __init__(self, address: str, pgid: int, temp_dir: str):
        self.address, self.pgid, self.temp_dir = address, pgid, temp_dir
        self.port = address.rsplit(":", 1)[1]

    def runs(self, where: dict) -> bool:
        """Whether a trial ran in this cluster: its GCS (Ray names the host by the node's IP, not
        127.0.0.1, so compare the port) and a worker of its raylet (in the cluster's process group)."""
        return where["gcs"].rsplit(":", 1)[1] == self.port and os.getpgid(where["raylet_pid"]) == self.pgid


@pytest.fixture(scope="module")
def cluster():
    """A Ray head started with the CLI in its own session (process group) and temp dir; stopped in teardown."""
    if ray.is_initialized():  # left over by another test: the executor must connect by itself
        ray.shutdown()
    cli = Path(sys.executable).with_name("ray")
    cli_path = str(cli) if cli.exists() else shutil.which("ray")
    if cli_path is None:
        pytest.fail("the `ray` command is missing although ray imports")
    # short, so that the Unix socket paths under it stay below the OS limit (about 107 bytes)
    temp_dir = tempfile.mkdtemp(prefix="nasnb-ray-", dir="/tmp")
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
           # the cluster's workers import evaluate from tests/ like nodes that have the project installed
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    log = Path(temp_dir, "ray-start.log")
    with log.open("w") as out:
        proc = subprocess.Popen([cli_path, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                                 "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                                 f"--temp-dir={temp_dir}"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
    pgid = proc.pid  # every daemon `ray start` leaves behind stays in this process group
    try:
        try:
            code = proc.wait(timeout=START_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`ray start --head` did not finish within {START_S:g} s:\n{log.read_text()[-3000:]}")
        if code != 0:
            pytest.fail(f"`ray start --head` exited with {code}:\n{log.read_text()[-3000:]}")
        yield Cluster(f"127.0.0.1:{port}", pgid, temp_dir)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop_group(pgid)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _where() -> dict:
    """Which Ray cluster, raylet and process this code runs in (called inside a trial)."""
    context = ray.get_runtime_context()
    return {"pid": os.getpid(), "pgid": os.getpgid(0), "gcs": context.gcs_address,
            "raylet_pid": int(os.environ.get("RAY_RAYLET_PID", "-1")),
            "cpus": context.get_assigned_resources().get("CPU")}


def evaluate_where(folder: str, model):
    """``evaluate`` that records where it ran."""
    Path(folder, f"{model.op.what}.json").write_text(json.dumps(_where()))
    return evaluate(model)


# One rank of a torchrun-style job: RANK and WORLD_SIZE in the environment, a rendezvous in a
# folder (each rank waits until all have started, so they provably run at the same time).
_RANK_CHILD = """
import os, sys, time
from pathlib import Path
folder, rank, world, wait = Path(sys.argv[1]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), float(sys.argv[2])
(folder / f"rank{rank}").write_text(str(os.getpid()))
deadline = time.monotonic() + wait
while len(list(folder.glob("rank*"))) < world and time.monotonic() < deadline:
    time.sleep(0.01)
together = len(list(folder.glob("rank*"))) == world
print(rank, os.getpid(), os.getppid(), int(together))
"""


def evaluate_ranks(folder: str, model, world: int = 2):
    """``evaluate`` that runs ``world`` processes at once (as ``torchrun`` would) and scores the sum of their ranks."""
    rendezvous = Path(folder, f"{model.op.what}-ranks")
    rendezvous.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _RANK_CHILD, str(rendezvous), str(RANK_WAIT_S)],
                              env={**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world)},
                              stdout=subprocess.PIPE, text=True)
             for rank in range(world)]
    outs = [p.communicate(timeout=RANK_WAIT_S + 30)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a rank failed: exit codes {[p.returncode for p in procs]}")
    ranks = [[int(x) for x in out.split()] for out in outs]  # rank, pid, parent pid, together
    Path(folder, f"{model.op.what}.json").write_text(json.dumps({**_where(), "ranks": ranks}))
    return float(sum(r[0] for r in ranks))


def _records(folder: Path, names) -> dict:
    return {n: json.loads((folder / f"{n}.json").read_text()) for n in names}


@pytest.mark.slow
def test_trials_run_in_the_existing_cluster(cluster, tmp_path):
    executor = RayExecutor(address=cluster.address)
    exp = nasnb.Experiment(behaviour_net("good", "boom", "great"), functools.partial(evaluate_where, str(tmp_path)),
                           "grid", max_trials=3, executor=executor, concurrency=2, progress=False)
    exp.run()
    got = statuses(exp)
    assert got["good"] == ("ok", 1.0, None) and got["great"] == ("ok", 2.0, None)
    assert got["boom"] == ("failed", None, "RuntimeError: boom in training")
    where = _records(tmp_path, ["good", "boom", "great"])
    for name, w in where.items():
        assert cluster.runs(w), (name, w)  # not a fresh local instance
        assert w["pid"] != os.getpid() and w["cpus"] == 1.0, name
    # the executor connected itself, so it disconnected; the cluster it did not start keeps running
    assert not ray.is_initialized()
    assert _group_alive(cluster.pgid)


@pytest.mark.slow
def test_a_trial_runs_several_processes_on_the_cpus_it_reserves(cluster, tmp_path):
    executor = RayExecutor(address=cluster.address, num_cpus=2)
    exp = nasnb.Experiment(behaviour_net("good", "great"), functools.partial(evaluate_ranks, str(tmp_path)),
                           "grid", max_trials=2, executor=executor, concurrency=2, progress=False)
    exp.run()
    assert statuses(exp) == {"good": ("ok", 1.0, None), "great": ("ok", 1.0, None)}  # ranks 0 + 1
    for name, w in _records(tmp_path, ["good", "great"]).items():
        assert cluster.runs(w), (name, w)
        assert w["cpus"] == 2.0, name  # Ray reserved both CPUs of the cluster for the trial
        ranks = {r[0]: r for r in w["ranks"]}
        assert sorted(ranks) == [0, 1], name
        assert ranks[0][1] != ranks[1][1], name  # two processes ...
        assert all(r[2] == w["pid"] for r in ranks.values()), name  # ... both started by the trial's worker
        assert all(r[3] == 1 for r in ranks.values()), name  # ... running at the same time


def test_an_address_where_nothing_listens_is_refused_at_once():
    if ray.is_initialized():
        ray.shutdown()
    port = _free_port()  # nothing listens there
    with pytest.raises(ConnectionError, match=rf"nothing answers at address '127.0.0.1:{port}'.*ray start --head"):
        RayExecutor(address=f"127.0.0.1:{port}").start(lambda model: 0.0, 1)
    assert not ray.is_initialized()
