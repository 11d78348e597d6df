"""NNI 1.x drop-in: ``install_nni()`` makes ``import nni.nas.pytorch...`` run on nasnb.

Research code written for NNI 1.x's NAS API (``nni.nas.pytorch`` and the classic-NAS trial
calls of ``nni``) runs unchanged after one call, e.g. at the top of a script or in a
``conftest.py``::

    import nasnb.compat
    nasnb.compat.install_nni()

    from nni.nas.pytorch.mutables import LayerChoice          # nasnb.mutables
    from nni.nas.pytorch.darts import DartsMutator, DartsTrainer

The modules live in :mod:`nasnb.compat.nni`; inside them NNI 1.x semantics hold
(RuntimeError where NNI raised it, one mutator per model, mutator hooks honoured when
overridden). They are thin glue over nasnb's :class:`~nasnb.SearchSpace` and
:mod:`nasnb.oneshot` trainers; nothing in the rest of nasnb imports this package.
:class:`TrialCommand` runs an NNI classic-NAS trial script as the ``evaluate`` of a
:class:`nasnb.Experiment`, and ``python -m nasnb.compat.run script.py`` runs one
stand-alone.

Examples
--------
>>> import nasnb.compat
>>> nasnb.compat.install_nni()
>>> from nni.nas.pytorch import mutables
>>> import nasnb.mutables
>>> mutables.LayerChoice is nasnb.mutables.LayerChoice
True
>>> nasnb.compat.uninstall_nni()
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ._trial import TrialCommand, TrialScriptError

__all__ = ["MODULES", "TrialCommand", "TrialScriptError", "install_nni", "uninstall_nni"]

_TARGET = "nasnb.compat.nni"

#: The NNI 1.x modules this layer provides (``nni`` + each name).
MODULES: tuple[str, ...] = (
    "nni",
    "nni.nas",
    "nni.nas.pytorch",
    "nni.nas.pytorch.base_mutator",
    "nni.nas.pytorch.base_trainer",
    "nni.nas.pytorch.callbacks",
    "nni.nas.pytorch.classic_nas",
    "nni.nas.pytorch.darts",
    "nni.nas.pytorch.enas",
    "nni.nas.pytorch.fixed",
    "nni.nas.pytorch.mutables",
    "nni.nas.pytorch.mutator",
    "nni.nas.pytorch.proxylessnas",
    "nni.nas.pytorch.random",
    "nni.nas.pytorch.spos",
    "nni.nas.pytorch.trainer",
    "nni.nas.pytorch.utils",
)


class _AliasLoader(importlib.abc.Loader):
    """Loads ``nni.x`` as the already importable ``nasnb.compat.nni.x`` (the same module object)."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its own name


class _NNIFinder(importlib.abc.MetaPathFinder):
    """Resolves ``nni`` and ``nni.*`` to :mod:`nasnb.compat.nni`; unknown NNI modules fail clearly."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "nni" and not fullname.startswith("nni."):
            return None
        if fullname not in MODULES:
            provided = ", ".join(m for m in MODULES if m.count(".") >= 2)
            raise ModuleNotFoundError(
                f"nasnb.compat does not provide {fullname!r} (NNI 1.x); it provides {provided}. "
                f"Port that part with nasnb's own API (see notebooks/08_from_nni.ipynb)", name=fullname)
        target_name = _TARGET + fullname[len("nni"):]
        is_package = importlib.util.find_spec(target_name).submodule_search_locations is not None  # type: ignore[union-attr]
        return importlib.util.spec_from_loader(fullname, _AliasLoader(target_name), is_package=is_package)


_finder = _NNIFinder()


def _real_nni() -> Any:
    """The spec of an importable ``nni`` that is not ours, else None."""
    mod = sys.modules.get("nni")
    if mod is not None:
        return None if mod.__name__ == _TARGET else mod.__spec__
    if _finder in sys.meta_path:
        return None
    return importlib.util.find_spec("nni")


def install_nni() -> None:
    """Make ``import nni`` / ``import nni.nas.pytorch.*`` resolve to nasnb's NNI 1.x layer.

    Idempotent. Modules outside :data:`MODULES` (``nni.nas.pytorch.cdarts``, NNI's tuners,
    ...) raise ModuleNotFoundError naming what is provided.

    Raises
    ------
    RuntimeError
        A real ``nni`` package is importable (or imported): two NNIs in one process would
        silently mix; uninstall it, or use it instead of this layer.
    """
    if _finder in sys.meta_path:
        return
    real = _real_nni()
    if real is not None:
        where = getattr(real, "origin", None) or getattr(real, "submodule_search_locations", None)
        raise RuntimeError(
            f"a real 'nni' package is importable ({where}); nasnb.compat.install_nni() would hide it. "
            f"Uninstall it (pip uninstall nni) to run NNI 1.x code on nasnb, or run that code with NNI")
    sys.meta_path.insert(0, _finder)


def uninstall_nni() -> None:
    """Undo :func:`install_nni`: remove the finder and the ``nni`` modules it aliased."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == "nni" or n.startswith("nni.")]:
        if getattr(sys.modules[name], "__name__", "").startswith(_TARGET):
            del sys.modules[name]
