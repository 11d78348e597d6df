"""install_nni: NNI's module paths resolve to nasnb; unknown ones and a real NNI are refused clearly."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import nasnb.compat


def test_every_provided_module_imports_and_mutables_are_nasnbs():
    import nasnb.mutables

    for name in nasnb.compat.MODULES:
        module = importlib.import_module(name)
        assert module.__name__.startswith("nasnb.compat.nni")
    from nni.nas.pytorch import mutables

    assert mutables.LayerChoice is nasnb.mutables.LayerChoice
    import nni.nas.pytorch.darts as darts
    from nni.nas.pytorch.darts import DartsTrainer

    assert darts.DartsTrainer is DartsTrainer
    for name in ("get_next_parameter", "report_intermediate_result", "report_final_result"):
        assert callable(getattr(importlib.import_module("nni"), name))


def test_an_unprovided_nni_module_names_what_is_provided():
    with pytest.raises(ModuleNotFoundError, match=r"does not provide 'nni.nas.pytorch.cdarts'.*nni.nas.pytorch.darts"):
        importlib.import_module("nni.nas.pytorch.cdarts")


def test_a_real_nni_package_is_refused(tmp_path):
    (tmp_path / "nni").mkdir()
    (tmp_path / "nni" / "__init__.py").write_text("")
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import nasnb.compat
        try:
            nasnb.compat.install_nni()
        except RuntimeError as err:
            print("refused:", err)
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert "refused: a real 'nni' package is importable" in out.stdout
    assert str(tmp_path) in out.stdout


def test_install_is_idempotent_and_uninstall_removes_the_aliases():
    nasnb.compat.install_nni()
    nasnb.compat.install_nni()
    import nni  # noqa: F401

    nasnb.compat.uninstall_nni()
    try:
        assert "nni" not in sys.modules
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("nni")
    finally:
        nasnb.compat.install_nni()


def test_nothing_native_imports_the_compat_layer():
    code = ("import sys, nasnb, nasnb.oneshot, nasnb.experiment, nasnb.spaces; "
            "print(any(m.startswith('nasnb.compat') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
