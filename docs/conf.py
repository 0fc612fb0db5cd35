"""Sphinx configuration for the realtime manual.

Build (as CI does):
    .venv/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

Pages are Markdown (MyST); the API reference comes from the docstrings
(Google style, read by napoleon). Nothing is fetched at build time: no
intersphinx, no remote images.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Document the checkout being built, whatever is installed in the environment.
sys.path.insert(0, str(ROOT))

import realtime  # noqa: E402

project = "realtime"
author = "the realtime authors"
copyright = "the realtime authors"
release = realtime.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]

# -- MyST ---------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# Anchors for headings down to ###, so pages can link to [a section](engine.md#cors).
myst_heading_anchors = 3

# -- autodoc / napoleon -------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
# Show the option types by name in signatures (the modules use postponed
# annotations, so autodoc sees these names as written).
autodoc_type_aliases = {
    "CorsOrigins": "realtime.engine.cors.CorsOrigins",
    "CookieOption": "realtime.engine.options.CookieOption",
    "SocketIOServer": "realtime.Server",
}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- HTML ---------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"realtime {release}"
html_theme_options = {
    "description": "Engine.IO v4 / Socket.IO v5 for Flask and WSGI",
    "fixed_sidebar": True,
}
html_show_sourcelink = False
