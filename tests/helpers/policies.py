"""The policies the tests run: the shipped .rego files with the tests' own
data (tests/fixtures/data.json, the shipped data as of writing), so an admin
who edits policies/data.json never breaks the project's tests. What the
shipped data itself must give is the shipped suite's job (cases.yaml,
`jhpolicy test`), which the admin edits along with the data.

POLICIES is that folder; conftest.py assembles it when the test session
starts (bench scripts call assemble_policies()), never on import."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "policies"
FIXTURE_DATA = ROOT / "tests" / "fixtures" / "data.json"
# One folder per test session running at a time: ./dev test runs its two
# version sets at once, each session assembling its own at its start.
POLICIES = Path(os.environ.get("JHPOLICY_TEST_POLICIES", ROOT / ".tools" / "test-policies"))
# Policies that break the decision contract on purpose, beside the shipped ones.
TEST_POLICIES = ROOT / "tests" / "policies"


def assemble(folder: Path) -> Path:
    """`folder` holding the shipped .rego files and the fixture data (made anew)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for rego in SHIPPED.glob("*.rego"):
        shutil.copy(rego, folder)
    shutil.copy(FIXTURE_DATA, folder / "data.json")
    return folder


def assemble_policies() -> Path:
    """POLICIES, assembled (the test session does it at its start)."""
    return assemble(POLICIES)


def rules_with(folder: Path, data: dict | None = None) -> Path:
    """The shipped .rego files in `folder`, without their tests, and `data`
    as data.json (None: no data file, for data PUT through OPA's API)."""
    for rego in SHIPPED.glob("*.rego"):
        if not rego.name.endswith("_test.rego"):
            shutil.copy(rego, folder)
    if data is not None:
        (folder / "data.json").write_text(json.dumps(data))
    return folder


def policies_with(folder: Path, edit) -> Path:
    """Copy the shipped .rego files into `folder`, with the tests' data as
    `edit(data.jhpolicy)` changed it in place."""
    for rego in SHIPPED.glob("*.rego"):
        shutil.copy(rego, folder)
    data = json.loads(FIXTURE_DATA.read_text())
    edit(data["jhpolicy"])
    (folder / "data.json").write_text(json.dumps(data))
    return folder


def policies_with_quotas(folder: Path, quotas: dict | None) -> Path:
    """The shipped .rego files in `folder`, with the tests' data but `quotas`
    as data.jhpolicy.quotas (None: no quotas at all)."""
    def set_quotas(jhpolicy: dict) -> None:
        jhpolicy.pop("quotas", None)
        if quotas is not None:
            jhpolicy["quotas"] = quotas

    return policies_with(folder, set_quotas)
