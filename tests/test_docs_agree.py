"""What the docs show of the shipped data is that data: every value in
its excerpt equals the file's (an excerpt leaves entries out, never changes
one). Compared with the tests' copy of the shipped data
(tests/fixtures/data.json), so that an admin who edits policies/data.json
never breaks the project's tests."""

from __future__ import annotations

import json
import re

from .helpers.policies import ROOT


def excerpt_of(shown, actual, path="data") -> list[str]:
    """Where `shown` differs from `actual`, leaving keys out being fine."""
    if isinstance(shown, dict) and isinstance(actual, dict):
        return [p for key, value in shown.items()
                for p in (excerpt_of(value, actual[key], f"{path}.{key}") if key in actual else [f"{path}.{key}: not in the file"])]
    return [] if shown == actual else [f"{path}: docs {shown!r}, file {actual!r}"]


def test_the_docs_data_example_is_an_excerpt_of_the_shipped_data():
    page = (ROOT / "docs" / "reference" / "data-format.md").read_text()
    section = page[page.index("# The default policy and its data"):page.index('An entry ("allowance") has:')]
    (block,) = re.findall(r"```json\n(.*?)```", section, re.S)
    shipped = json.loads((ROOT / "tests" / "fixtures" / "data.json").read_text())
    assert excerpt_of(json.loads(block), shipped) == []
