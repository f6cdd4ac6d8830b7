"""The policies the tests run: the shipped .rego files with the tests' own
data (tests/fixtures/data.json, the shipped data as of writing), so an admin
who edits policies/data.json never breaks the project's tests. What the
shipped data itself must give is the shipped suite's job (cases.yaml,
`jhpolicy test`), which the admin edits along with the data."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "policies"
FIXTURE_DATA = Path(__file__).resolve().parent / "fixtures" / "data.json"


def assemble(folder: Path) -> Path:
    """`folder` holding the shipped .rego files and the fixture data (made anew)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for rego in SHIPPED.glob("*.rego"):
        shutil.copy(rego, folder)
    shutil.copy(FIXTURE_DATA, folder / "data.json")
    return folder


POLICIES = assemble(ROOT / ".tools" / "test-policies")
