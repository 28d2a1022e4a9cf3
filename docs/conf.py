"""Sphinx configuration of the sctl documentation.

Build it (warnings are errors, as in CI and on Read the Docs) with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build works offline. Links into other projects' documentation (intersphinx) need the network, so they are
on only on Read the Docs (``READTHEDOCS`` is set there) or when ``SCTL_DOCS_INTERSPHINX=1``.
"""

import os
from importlib.metadata import version as _version

project = "sctl"
author = "sctl developers"
copyright = "2026, sctl developers"
release = _version("sctl")
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx_autodoc_typehints",
    "sphinxcontrib.bibtex",
]

# -- sources ---------------------------------------------------------------------------------------------------
# tutorials/ at the repository root (where the test suite executes the notebooks with nbmake) is reached through the
# symlink docs/tutorials; `generated` is a stale autosummary output directory that must never be read. ".rst" comes
# first so that autosummary writes its stubs (api/generated/) as reStructuredText, not as Markdown
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "generated", "**.ipynb_checkpoints", "tutorials/README.md"]
templates_path = ["_templates"]
# notebooks are shown with the outputs stored in them (refresh: `python scripts/execute_tutorials.py`); the test
# suite executes them again on every run, so a stored output never hides a broken notebook, and
# tests/test_tutorials.py fails when the stored outputs come from another sctl version
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# -- API reference ---------------------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": False}
autodoc_typehints = "description"
typehints_document_rtype = True
always_document_param_types = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = True

# -- references ------------------------------------------------------------------------------------------------
bibtex_bibfiles = ["references.bib"]
bibtex_reference_style = "author_year"
bibtex_default_style = "plain"

# -- links into other projects (needs the network) -------------------------------------------------------------
_INTERSPHINX = {
    "python": ("https://docs.python.org/3/", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "pandas": ("https://pandas.pydata.org/docs/", None),
    "anndata": ("https://anndata.readthedocs.io/en/stable/", None),
    "mudata": ("https://mudata.readthedocs.io/en/latest/", None),
    "scanpy": ("https://scanpy.readthedocs.io/en/stable/", None),
    "scvi": ("https://docs.scvi-tools.org/en/stable/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}
_online = bool(os.environ.get("READTHEDOCS")) or os.environ.get("SCTL_DOCS_INTERSPHINX") == "1"
intersphinx_mapping = _INTERSPHINX if _online else {}

# -- HTML ------------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "sctl"
html_theme_options = {
    "repository_url": "https://github.com/sctl-dev/sctl",
    "use_repository_button": True,
    "path_to_docs": "docs",
    "navigation_with_keys": False,
}
