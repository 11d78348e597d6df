"""``python -m nasnb.compat.run script.py [args...]``: run an NNI 1.x script on nasnb.

Installs the NNI layer (:func:`nasnb.compat.install_nni`) and runs ``script.py`` as
``__main__`` with ``args`` in ``sys.argv``: the script's ``import nni`` and
``from nni.nas.pytorch... import ...`` need no change. :class:`nasnb.compat.TrialCommand`
starts trial scripts this way.
"""

from __future__ import annotations

import os
import runpy
import sys

from . import install_nni

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run ``argv[0]`` (a script path) with the NNI layer installed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        raise SystemExit("usage: python -m nasnb.compat.run script.py [args...]")
    script = argv[0]
    if not os.path.isfile(script):
        raise SystemExit(f"nasnb.compat.run: no script {script!r}")
    install_nni()
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
