"""The shipped policies with other quota data, for tests and benchmarks that
need quotas the tests' data (tests/fixtures/data.json) does not set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .fixture_policies import POLICIES


def policies_with_quotas(folder: Path, quotas: dict | None) -> Path:
    """Copy the shipped .rego files into `folder`, with the shipped data but
    `quotas` as data.jhpolicy.quotas (None: no quotas at all)."""
    for rego in POLICIES.glob("*.rego"):
        shutil.copy(rego, folder)
    data = json.loads((POLICIES / "data.json").read_text())
    data["jhpolicy"].pop("quotas", None)
    if quotas is not None:
        data["jhpolicy"]["quotas"] = quotas
    (folder / "data.json").write_text(json.dumps(data))
    return folder
