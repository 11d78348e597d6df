"""Sphinx configuration for the nasnb API reference.

Build with ``scripts/docs.sh`` (``sphinx -W --keep-going -b html docs docs/_build/html``).
Nothing here reaches the network: the theme is Sphinx's bundled alabaster, there is
no intersphinx, and the notebooks are rendered from their saved outputs, never executed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# document the source tree next to docs/, whatever nasnb the environment has installed
sys.path.insert(0, str(ROOT))

# Sphinx only reads sources under docs/: mirror ../notebooks into docs/_notebooks
# (gitignored) on every build, so the notebooks stay in one place in git.
_NB_SRC = ROOT / "notebooks"
_NB_DST = DOCS / "_notebooks"
if _NB_DST.is_symlink() or _NB_DST.is_file():
    _NB_DST.unlink()
elif _NB_DST.exists():
    shutil.rmtree(_NB_DST)
shutil.copytree(_NB_SRC, _NB_DST, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.json", "*.cfg"))

import nasnb  # noqa: E402  (after the sys.path change)

project = "nasnb"
author = "nasnb contributors"
copyright = "nasnb contributors"
release = nasnb.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "jupyter_execute", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]

# -- autodoc / napoleon ---------------------------------------------------------------
autodoc_default_options = {
    # :members: follows each module's __all__ (autodoc's default when __all__ exists)
    "member-order": "bysource",
    "show-inheritance": True,
}
# in the signature: "description" re-emits annotations as unqualified type fields that
# resolve ambiguously (e.g. compat Callback vs nasnb.oneshot Callback)
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
autoclass_content = "both"

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False

# -- myst-nb ------------------------------------------------------------------------------
nb_execution_mode = "off"  # render saved outputs; never run a kernel during the build
# saved tracebacks are plain text (ANSI stripped); "ipythontb" cannot lex them
nb_render_error_lexer = "text"
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# -- HTML -----------------------------------------------------------------------------------
html_theme = "alabaster"  # bundled with Sphinx: no theme download
html_title = f"nasnb {release}"
html_static_path: list[str] = []
