"""Shared test setup."""

from __future__ import annotations

import pytest
import torch

import nasnb
from nasnb import mutables

from .models import SeedNet


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each test on one torch thread: on 2 shared cores, oversubscription makes small convs ~50x slower."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def seed_space():
    """The seed MNIST net bound as a space: automatic keys from 1, weights from torch seed 0."""
    mutables._reset_global_mutable_counting()
    torch.manual_seed(0)
    return nasnb.SearchSpace(SeedNet())
