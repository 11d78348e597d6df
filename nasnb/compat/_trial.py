"""Run an NNI 1.x classic-NAS trial script as the ``evaluate`` of a nasnb Experiment.

>>> import nasnb
>>> trial = TrialCommand("train.py", args=["--epochs", "2"])
>>> trial.takes_arch, trial.command()[-3:]
(True, ['train.py', '--epochs', '2'])
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import NasnbError

__all__ = ["TrialCommand", "TrialScriptError"]


class TrialScriptError(NasnbError, RuntimeError):
    """The trial script failed, or ended without reporting a final result."""


class TrialCommand:
    """``evaluate`` for :class:`nasnb.Experiment` that runs an NNI 1.x trial script per architecture.

    Each call starts ``python -m nasnb.compat.run script args...`` in a fresh process with
    ``NNI_PLATFORM=nasnb``; in it, ``get_and_apply_next_architecture(model)`` applies the
    architecture the Experiment chose and ``nni.report_final_result(x)`` reports the score
    (a number, or a dict with ``"default"``, which is the score unless the Experiment
    names another ``metric``: the attribute ``metric = "default"`` says so). When the script also reported
    intermediate results, the result is a dict with ``"default"`` first and their count
    and last value (``"intermediate_count"``, ``"intermediate_last"``).
    It is picklable, so it runs under the process and Ray executors too.

    Parameters
    ----------
    script : str or path
        The trial script (unchanged NNI 1.x code).
    args : sequence of str
        Its command-line arguments.
    cwd : path, optional
        Working directory (default: the script's folder).
    env : mapping, optional
        Extra environment variables.
    python : str
        The interpreter (default: this one).

    Raises
    ------
    TrialScriptError
        (from a call) the script exited with an error (the message ends with its last
        lines of output) or did not call ``nni.report_final_result``.
    """

    takes_arch = True
    #: the entry of a dict result that :class:`nasnb.Experiment` scores when given no ``metric``
    metric = "default"

    def __init__(self, script: str | os.PathLike[str], args: Sequence[str] = (), *,
                 cwd: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None, python: str = sys.executable):
        self.script = os.fspath(script)
        self.args = [str(a) for a in args]
        self.cwd = os.fspath(cwd) if cwd is not None else (os.path.dirname(os.path.abspath(self.script)) or None)
        self.env = dict(env or {})
        self.python = python
        self._calls = 0

    def command(self) -> list[str]:
        """The command line each trial runs."""
        return [self.python, "-m", "nasnb.compat.run", self.script, *self.args]

    def __repr__(self) -> str:
        return f"TrialCommand({self.script!r}, args={self.args!r})"

    def __call__(self, arch: Mapping[str, Any]) -> Any:
        from .nni import FINAL_FILE, INTERMEDIATE_FILE, PARAMETER_FILE, PLATFORM, TRIAL_DIR

        self._calls += 1
        folder = tempfile.mkdtemp(prefix="nasnb-trial-")
        try:
            with open(os.path.join(folder, PARAMETER_FILE), "w", encoding="utf-8") as f:
                json.dump({"parameter_id": self._calls - 1, "parameters": dict(arch)}, f)
            env = {**os.environ, **self.env, PLATFORM: "nasnb", TRIAL_DIR: folder,
                   "NNI_TRIAL_SEQ_ID": str(self._calls - 1)}
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
            proc = subprocess.Popen(self.command(), cwd=self.cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            try:
                output, _ = proc.communicate()
            finally:
                if proc.poll() is None:  # interrupted (a timeout, Ctrl-C): the script must not outlive its trial
                    proc.kill()
                    proc.wait()
            tail = "\n".join(output.strip().splitlines()[-15:])
            if proc.returncode != 0:
                raise TrialScriptError(f"trial script {self.script!r} exited with code {proc.returncode}; its last "
                                       f"output:\n{tail}")
            final_path = os.path.join(folder, FINAL_FILE)
            if not os.path.exists(final_path):
                raise TrialScriptError(f"trial script {self.script!r} ended without calling nni.report_final_result; "
                                       f"its last output:\n{tail}")
            with open(final_path, encoding="utf-8") as f:
                final = json.load(f)
            intermediate = []
            inter_path = os.path.join(folder, INTERMEDIATE_FILE)
            if os.path.exists(inter_path):
                with open(inter_path, encoding="utf-8") as f:
                    intermediate = [json.loads(line) for line in f if line.strip()]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return _result(final, intermediate)


def _value(metric: Any) -> float:
    return float(metric["default"] if isinstance(metric, dict) else metric)


def _result(final: Any, intermediate: list[Any]) -> Any:
    """The final metric as nasnb scores it: a number, or a dict with NNI's "default" first."""
    if not isinstance(final, dict) and not intermediate:
        return final
    out = {"default": _value(final)}
    if isinstance(final, dict):
        out.update({k: v for k, v in final.items() if k != "default"})
    if intermediate:
        out["intermediate_count"] = float(len(intermediate))
        out["intermediate_last"] = _value(intermediate[-1])
    return out


def _package_root() -> str:
    """The folder holding the ``nasnb`` package (so the trial process imports this nasnb)."""
    import nasnb

    return os.path.dirname(os.path.dirname(os.path.abspath(nasnb.__file__)))
