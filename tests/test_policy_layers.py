"""The policy's packages read bottom to top (issue #31): the decision's
steps are packages of their own (jupyterhub.spawn.<step>, one file each),
each importing only the library (jupyterhub.lib.*) and the steps before it
in LAYERS; the entry package (jupyterhub.spawn: spawn.rego and
allowance_view.rego) imports any step. So no two packages depend on each
other, and a step can be read, tested and imported on its own. Read from
OPA's own parse of each file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.rego_ast import parsed, path_of, refs

POLICIES = Path(__file__).resolve().parent.parent / "policies"
ENTRY = "data.jupyterhub.spawn"

# Bottom to top: the input and data; which allowances apply; the data
# checks; the allowances' maxima; charging and quotas; the values the
# server gets; how long it lives; what the user is told; the image and
# profile allowlists. Then the entry package.
LAYERS = [
    "given",
    "allowances",
    "data_checks",
    "resources",
    "quotas",
    "limits",
    "lifetimes",
    "messages",
    "images",
    "profiles",
]
ENTRY_FILES = ["spawn.rego", "allowance_view.rego"]

pytestmark = pytest.mark.opa  # it runs `opa parse`


def policy_files() -> dict[str, str]:
    """Each non-test, non-library file of the policy and its package."""
    return {p.name: path_of(parsed(p)["package"]["path"]) for p in sorted(POLICIES.glob("*.rego"))
            if not p.name.endswith("_test.rego") and not p.name.startswith(("lib_", "system_"))}


def imported(name: str) -> list[str]:
    return [path_of(i["path"]["value"]) for i in parsed(POLICIES / name).get("imports", [])]


def test_every_step_is_a_package_of_its_own_in_its_place():
    assert policy_files() == {**{f"{step}.rego": f"{ENTRY}.{step}" for step in LAYERS},
                              **{name: ENTRY for name in ENTRY_FILES}}


def test_each_step_imports_only_the_library_and_the_steps_before_it():
    wrong = []
    for i, step in enumerate(LAYERS):
        allowed = {f"{ENTRY}.{s}" for s in LAYERS[:i]}
        wrong += [f"{step}.rego imports {p}" for p in imported(f"{step}.rego")
                  if p not in allowed and not p.startswith("data.jupyterhub.lib.")]
    for name in ENTRY_FILES:
        wrong += [f"{name} imports {p}" for p in imported(name)
                  if not p.startswith(("data.jupyterhub.lib.", f"{ENTRY}."))]
    assert wrong == []


def test_no_rule_reads_the_policy_around_its_imports():
    """A step reads another through its import, never as data.jupyterhub...:
    so the imports above say all a file depends on."""
    wrong = []
    for name in policy_files():
        for parts in refs(parsed(POLICIES / name)["rules"]):
            text = path_of(parts)
            if text.startswith("data.jupyterhub"):
                wrong.append(f"{name}: {text}")
    assert wrong == []
