"""The documentation site builds and cannot drift from the code.

- Sphinx builds docs/ with warnings as errors (in .venv-docs, made by
  ./dev), which also refuses a Markdown link to a page or heading that is
  not there.
- Every link in the built HTML to a page of the site, and every anchor, exists.
- The configuration reference is generated from PolicyKubeSpawner's traits:
  each trait is on the page with its own help text.
- Every `c.Class.trait` the prose names (README and docs/) is a real
  configurable trait of that class.
- The data format's schema (jhpolicy/data.schema.json) accepts the shipped
  data and refuses the typos jhpolicy lint refuses.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

# Runs in a venv of its own (.venv-docs: Sphinx), whichever venv runs pytest: one
# version set is enough (conftest.py, ONCE).
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROSE = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    sphinx = ROOT / ".venv-docs" / "bin" / "sphinx-build"
    assert sphinx.exists(), ".venv-docs is missing: run ./dev setup (or ./dev docs)"
    out = tmp_path_factory.mktemp("docs") / "html"
    run = subprocess.run([str(sphinx), "-W", "--keep-going", "-E", "-q", "-b", "html", str(DOCS), str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"sphinx-build failed:\n{run.stdout}{run.stderr}"
    assert "WARNING" not in run.stderr, run.stderr
    return out


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


def test_every_internal_link_and_anchor_of_the_site_exists(site):
    pages = {p: _parse(p) for p in site.rglob("*.html")}
    broken = []
    for page, links in pages.items():
        for href in links.hrefs:
            url = urlsplit(href)
            if url.scheme or url.netloc or href.startswith("mailto:"):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no such file)")
            elif url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {href} (no such anchor)")
    assert not broken, "\n".join(broken)
    assert len(pages) >= 25, sorted(str(p.relative_to(site)) for p in pages)


def test_the_readmes_links_to_the_docs_exist():
    readme = (ROOT / "README.md").read_text()
    targets = [t for t in re.findall(r"\]\(([^)#\s]+)", readme) if not t.startswith("http")]
    assert targets and all((ROOT / t).exists() for t in targets), targets


def _text(page: Path) -> str:
    """The page's words, with Sphinx's typographic quotes made plain again."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))
    return re.sub(r"\s+", " ", text.translate(str.maketrans("‘’“”", "''\"\"")))


def test_the_configuration_reference_is_every_trait_with_its_own_help(site):
    from jhpolicy.hub.settings import PolicySettings

    page = _text(site / "reference" / "configuration.html")
    own = PolicySettings.class_traits(config=True)
    assert own
    for name, trait in own.items():
        assert f"c.PolicyKubeSpawner.{name}" in page, name
        # Compared without spaces: inline code is its own HTML element.
        first_words = "".join(re.sub(r"`", "", trait.help).split()[:8])
        assert first_words in page.replace(" ", ""), (name, first_words)
    # KubeSpawner's own options are KubeSpawner's documentation's, not ours.
    assert "c.PolicyKubeSpawner.profile_list" not in page


def test_the_cli_reference_is_every_subcommand(site):
    from jhpolicy.cli import build_parser

    page = _text(site / "reference" / "cli.html")
    (action,) = [a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"]
    assert len(action.choices) >= 10
    for name in action.choices:
        assert f"usage: jhpolicy {name}" in page, name


def _trait_names() -> dict[str, set[str]]:
    from jupyterhub.app import JupyterHub
    from jupyterhub.spawner import Spawner
    from kubespawner import KubeSpawner

    from jhpolicy.spawner import PolicyKubeSpawner

    return {cls.__name__: set(cls.class_traits(config=True)) for cls in (PolicyKubeSpawner, KubeSpawner, Spawner, JupyterHub)}


def test_every_config_name_in_the_prose_is_a_real_trait():
    known = _trait_names()
    named = []
    for path in PROSE:
        for cls, trait in re.findall(r"\bc\.(PolicyKubeSpawner|KubeSpawner|Spawner|JupyterHub)\.([A-Za-z_]+)", path.read_text()):
            named.append((path, cls, trait))
    unknown = [f"{p.relative_to(ROOT)}: c.{cls}.{trait}" for p, cls, trait in named if trait not in known[cls]]
    assert not unknown, unknown
    assert len(named) >= 10  # the check reads the prose, not nothing


def test_the_data_schema_accepts_the_shipped_data_and_refuses_lints_typos():
    schema = json.loads((ROOT / "jhpolicy" / "data.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in (ROOT / "policies" / "data.json", ROOT / "tests" / "fixtures" / "data.json"):
        assert not list(validator.iter_errors(json.loads(path.read_text())["jhpolicy"])), path
    entry = {"images": ["x/*"], "max": {"cpu_limit": 2, "mem_limit": "4G"}, "extra_resources": {"nvidia.com/gpu": 1}}
    for typo in (
        {"quota": {}},                                               # an unknown top-level key
        {"groups": {"s": {**entry, "cpu_limt": 4}}},                 # an unknown entry key
        {"groups": {"s": {**entry, "max": {"cpu_limit": "4 cores"}}}},
        {"groups": {"s": {**entry, "max": {"mem_limit": "1GB"}}}},
        {"groups": {"s": {**entry, "max": {"mem_limit": "1073741824"}}}},
        {"groups": {"s": {**entry, "max": {"cpu_limit": 0}}}},
        {"groups": {"s": {**entry, "extra_resources": {"nvidia.com/gpu": 0.5}}}},
        {"groups": {"s": {**entry, "images": "x/*"}}},
        {"quotas": {"groups": {"g": {"members": {"servers": 1}}}}},
        {"quotas": {"users": {"servers": 1.5}}},
        {"groups": {"s": {**entry, "help": {"text": "ask", "url": "javascript:alert(1)"}}}},
        {"groups": {"s": {**entry, "help": "ask the admins"}}},
    ):
        assert list(validator.iter_errors(typo)), typo
    assert not list(validator.iter_errors({"groups": {"s": {**entry, "help": {"text": "Ask", "url": "https://h.example/x"}}},
                                           "quotas": {"users": {"servers": 2, "cpu_limit": "500m"}}}))
