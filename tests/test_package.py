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


def test_every_exception_is_defined_in_exceptions_and_derives_from_nasnb_error():
    """One hierarchy in one module: no error class of nasnb is defined anywhere else."""
    import ast

    from nasnb import exceptions

    root = Path(nasnb.__file__).parent
    elsewhere = []
    for path in root.rglob("*.py"):
        if path.name == "exceptions.py" or "compat" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and (node.name.endswith("Error") or node.name.endswith("Warning")):
                elsewhere.append(f"{path.relative_to(root)}:{node.name}")
    assert elsewhere == []
    errors = [getattr(exceptions, n) for n in exceptions.__all__ if n.endswith("Error")]
    assert len(errors) >= 12 and all(issubclass(e, exceptions.NasnbError) for e in errors)
    assert all(issubclass(e, (ValueError, RuntimeError)) for e in errors if e is not exceptions.NasnbError)


def test_a_bad_evaluate_result_in_build_table_is_a_benchmark_error():
    from torch import nn

    from nasnb import mutables
    from nasnb.bench import BenchmarkError, build_table

    space = nasnb.SearchSpace(mutables.LayerChoice([nn.Identity(), nn.Identity()], key="op"))
    with pytest.raises(BenchmarkError, match=r"evaluate returned \{'acc': 'high'\}.*'acc'") as err:
        build_table(space, lambda model: {"acc": "high"}, metric="acc")
    assert err.value.key == "acc" and err.value.value == {"acc": "high"}
