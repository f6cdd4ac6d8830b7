# Sphinx configuration for jhpolicy's documentation: `./dev docs` builds it
# into docs/_build/html; tests/test_docs.py builds it with warnings as errors.
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

from jhpolicy import __version__  # noqa: E402

project = "jhpolicy"
author = "jhpolicy contributors"
copyright = "jhpolicy contributors"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "autodoc_traits",
    "jhpolicy_docs",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
# package-description.md is the wheel's long description, not a page.
exclude_patterns = ["_build", "package-description.md", "requirements.txt"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Anchors for headings down to ### so that pages can link to sections.
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = "jhpolicy"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = ["_static"]

autodoc_member_order = "alphabetical"
nitpicky = False
