"""The NNI layer is installed for the whole compat test package and removed afterwards."""

from __future__ import annotations

import pytest

import nasnb.compat


@pytest.fixture(autouse=True, scope="package")
def nni_installed():
    nasnb.compat.install_nni()
    yield
    nasnb.compat.uninstall_nni()
