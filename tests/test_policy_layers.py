"""The files of the entry package jupyterhub.spawn read top to bottom
(issue #31): each uses only rules of its own and of the files before it in
LAYERS, so the policy reads in one direction, from what a decision is given
to what it answers, and no two files depend on each other. Read from OPA's
own parse of each file: a name a rule uses is a variable or the head of a
reference that another file of the package defines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.rego_ast import parsed, path_of, refs

POLICIES = Path(__file__).resolve().parent.parent / "policies"

# Bottom to top: the input and data; who the user is and what applies to
# them; the data checks; the allowances' maxima; charging and quotas; the
# values the server gets; how long it lives; what the user is told; the
# image and profile allowlists; the decision; the allowance view.
LAYERS = [
    "given.rego",
    "allowances.rego",
    "data_checks.rego",
    "resources.rego",
    "extended_resources.rego",
    "quotas.rego",
    "limits.rego",
    "lifetimes.rego",
    "messages.rego",
    "images.rego",
    "profiles.rego",
    "spawn.rego",
    "allowance_view.rego",
]

pytestmark = pytest.mark.opa  # it runs `opa parse`


def entry_package_files() -> list[Path]:
    return sorted(p for p in POLICIES.glob("*.rego")
                  if not p.name.endswith("_test.rego") and path_of(parsed(p)["package"]["path"]) == "data.jupyterhub.spawn")


def rule_name(rule: dict) -> str:
    return rule["head"].get("name") or str(rule["head"]["ref"][0]["value"])


def used_names(node) -> set[str]:
    """Every variable and every reference's head in an AST node."""
    names = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "var":
                names.add(item["value"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    names |= {str(parts[0]["value"]) for parts in refs(node) if parts and parts[0].get("type") == "var"}
    return names


def definitions() -> dict[str, set[str]]:
    return {p.name: {rule_name(r) for r in parsed(p)["rules"]} for p in entry_package_files()}


def test_every_file_of_the_entry_package_has_its_place():
    assert sorted(definitions()) == sorted(LAYERS)


def test_each_file_uses_only_itself_and_the_files_before_it():
    defined = definitions()
    later_uses = []
    for i, name in enumerate(LAYERS):
        own = defined[name]
        used = used_names(parsed(POLICIES / name)["rules"]) - own
        for later in LAYERS[i + 1:]:
            for rule in sorted(used & (defined[later] - set().union(*(defined[f] for f in LAYERS[:i + 1])))):
                later_uses.append(f"{name} uses {rule} of {later}")
    assert later_uses == []
