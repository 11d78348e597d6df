"""Shared by the tests in tests/ and the doctests in nasnb/."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each test on one torch thread: on 2 shared cores, oversubscription makes small convs ~50x slower."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
