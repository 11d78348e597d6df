"""The README's example runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert json.loads((tmp_path / "arch.json").read_text()) == {"conv": 1}
    model = scope["model"]
    assert isinstance(model[0], torch.nn.Conv2d) and model[0].kernel_size == (5, 5)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
