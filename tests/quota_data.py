"""The shipped policies with other data (quotas, lifetimes), for tests and
benchmarks that need what the tests' data (tests/fixtures/data.json) does not set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .fixture_policies import POLICIES


def policies_with(folder: Path, edit) -> Path:
    """Copy the shipped .rego files into `folder`, with the tests' data as
    `edit(data.jhpolicy)` changed it in place."""
    for rego in POLICIES.glob("*.rego"):
        shutil.copy(rego, folder)
    data = json.loads((POLICIES / "data.json").read_text())
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
