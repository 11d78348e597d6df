"""Package contract: public names, lazy heavy imports, exceptions."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import nasnb


def test_all_is_sorted_and_resolves():
    assert nasnb.__all__ == sorted(nasnb.__all__)
    for name in nasnb.__all__:
        assert getattr(nasnb, name) is not None


def test_every_public_module_declares_sorted_all():
    for info in pkgutil.walk_packages(nasnb.__path__, "nasnb."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError as err:  # an optional extra missing is reported, not hidden
            pytest.fail(f"{info.name} failed to import: {err}")
        assert hasattr(module, "__all__"), info.name
        assert list(module.__all__) == sorted(module.__all__), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_every_public_module_is_an_attribute_after_import_nasnb():
    names = sorted(info.name for info in pkgutil.iter_modules(nasnb.__path__) if not info.name.startswith("_"))
    code = f"import nasnb; print([n for n in {names!r} if not hasattr(nasnb, n)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_nasnb_loads_no_heavy_optional_packages():
    code = (
        "import sys, torch; before = set(sys.modules); import nasnb; from nasnb import mutables; "
        "heavy = {'ipywidgets', 'matplotlib', 'networkx', 'optuna', 'ray', 'sklearn', 'tqdm', 'IPython'}; "
        "print(sorted(heavy & set(m.split('.')[0] for m in set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        nasnb.nope  # noqa: B018


def test_errors_subclass_value_error_not_key_error():
    assert issubclass(nasnb.ArchitectureError, ValueError)
    assert not issubclass(nasnb.ArchitectureError, KeyError)
    assert issubclass(nasnb.SearchSpaceError, ValueError)


def test_version_is_the_installed_distributions():
    from importlib import metadata

    assert nasnb.__version__ == metadata.version("nasnb")
    assert f"## {nasnb.__version__} " in (Path(__file__).parents[1] / "CHANGELOG.md").read_text()
