"""OPA's own parse of a policy file, for tests that read the policy's
structure (test_policy_library, test_policy_layers)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from jhpolicy.tooling.opa_binary import ensure_opa


def parsed(path: Path) -> dict:
    out = subprocess.run([ensure_opa(), "parse", "--format", "json", "--json-include", "-comments,-location", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def refs(node):
    """Every reference in an AST node, as the list of its parts."""
    if isinstance(node, dict):
        if node.get("type") == "ref":
            yield node["value"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def path_of(parts: list) -> str:
    """A reference's parts as text: data.jupyterhub.lib.texts."""
    return ".".join(str(part["value"]) for part in parts)
