"""Shared test setup."""

from __future__ import annotations

import pytest
import torch

import nasnb
from nasnb import mutables

from .models import SeedNet


@pytest.fixture
def seed_space():
    """The seed MNIST net bound as a space: automatic keys from 1, weights from torch seed 0."""
    mutables._reset_global_mutable_counting()
    torch.manual_seed(0)
    return nasnb.SearchSpace(SeedNet())
