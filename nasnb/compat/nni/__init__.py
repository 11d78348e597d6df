"""NNI 1.x's trial API on nasnb: ``get_next_parameter``, ``report_intermediate_result``, ...

Driven by a :class:`nasnb.compat.TrialCommand` (which sets ``NNI_PLATFORM=nasnb`` and
``NASNB_TRIAL_DIR``), a script reads its architecture from that folder and writes its
results there. Run stand-alone (no ``NNI_PLATFORM``), it behaves as NNI's standalone
mode: no parameters (``{}``, with a warning), results only logged.

The parameters are the architecture in nasnb's readable form (key -> name, index or list),
which :func:`nni.nas.pytorch.classic_nas.get_and_apply_next_architecture`, ``apply`` and
``apply_fixed_architecture`` accept, as they accept NNI's ``{"_value", "_idx"}`` form.

>>> get_trial_id(), get_sequence_id()
('STANDALONE', 0)
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from typing import Any

__all__ = [
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_sequence_id",
    "get_trial_id",
    "report_final_result",
    "report_intermediate_result",
]

PLATFORM = "NNI_PLATFORM"
TRIAL_DIR = "NASNB_TRIAL_DIR"
PARAMETER_FILE = "parameter.json"
FINAL_FILE = "final.json"
INTERMEDIATE_FILE = "intermediate.jsonl"

_logger = logging.getLogger("nni")
_current: dict[str, Any] | None = None
_intermediate_count = 0


def _trial_dir() -> str | None:
    return os.environ.get(TRIAL_DIR) if os.environ.get(PLATFORM) == "nasnb" else None


def _check_metric(metric: Any, what: str) -> Any:
    """NNI metrics are a number or a dict with a number under "default"; refuse what nasnb cannot score."""
    value: Any = metric.get("default") if isinstance(metric, dict) else metric
    if hasattr(value, "item") and callable(value.item):  # a 0-d tensor or numpy scalar
        value = value.item()
        metric = value if not isinstance(metric, dict) else {**metric, "default": value}
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"nni.{what}: expected a finite number (or a dict with one under 'default'), "
                         f"got {metric!r}")
    return metric


def get_next_parameter() -> dict[str, Any]:
    """The architecture this trial runs (``{}`` stand-alone, as NNI's standalone mode)."""
    global _current
    folder = _trial_dir()
    if folder is None:
        warnings.warn("nni.get_next_parameter() without a nasnb experiment (stand-alone): returning {}",
                      stacklevel=2)
        _current = {}
        return {}
    with open(os.path.join(folder, PARAMETER_FILE), encoding="utf-8") as f:
        _current = json.load(f)["parameters"]
    return dict(_current)


def get_current_parameter(tag: str | None = None) -> Any:
    """The parameters last returned by :func:`get_next_parameter` (one entry with ``tag``)."""
    if _current is None:
        return None
    return _current if tag is None else _current[tag]


def get_experiment_id() -> str:
    """``"STANDALONE"``, or the id the driving experiment gave."""
    return os.environ.get("NNI_EXP_ID", "STANDALONE") if _trial_dir() else "STANDALONE"


def get_trial_id() -> str:
    """``"STANDALONE"``, or the id the driving experiment gave."""
    return os.environ.get("NNI_TRIAL_JOB_ID", "STANDALONE") if _trial_dir() else "STANDALONE"


def get_sequence_id() -> int:
    """The trial's number in its experiment (0 stand-alone)."""
    return int(os.environ.get("NNI_TRIAL_SEQ_ID", "0")) if _trial_dir() else 0


def report_intermediate_result(metric: Any) -> None:
    """Record one intermediate result (a number, or a dict with a number under ``"default"``)."""
    global _intermediate_count
    metric = _check_metric(metric, "report_intermediate_result")
    folder = _trial_dir()
    _intermediate_count += 1
    if folder is None:
        _logger.info("Intermediate result: %s  (Index %d)", metric, _intermediate_count - 1)
        return
    with open(os.path.join(folder, INTERMEDIATE_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps(metric) + "\n")


def report_final_result(metric: Any) -> None:
    """Record the trial's result (a number, or a dict with a number under ``"default"``)."""
    metric = _check_metric(metric, "report_final_result")
    folder = _trial_dir()
    if folder is None:
        _logger.info("Final result: %s", metric)
        return
    from nasnb._atomic import write_text

    write_text(os.path.join(folder, FINAL_FILE), json.dumps(metric))
