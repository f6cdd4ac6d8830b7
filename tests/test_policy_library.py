"""The policy's library packages (policies/lib_*.rego, issue #31) are what
their reference page says: functions of their arguments alone, which an
author's own policy can import. Read from OPA's own parse of each file:

- its package is jupyterhub.lib.<name>, in lib_<name>.rego;
- it imports only other library packages, and reads neither `input` nor
  `data` (so no decision, no admin data, no entry package);
- every public rule has METADATA with a title and a description (Regal's
  missing-metadata checks presence; this checks what the reference page
  shows is there), and so has every public rule of the decision's steps
  (jupyterhub.spawn.<step>);
- the reference page's examples of an author's own policy compile against
  it and read what they import.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from jhpolicy.tooling.opa_binary import ensure_opa
from tests.helpers.helm import INPUT
from tests.helpers.rego_ast import parsed, path_of, refs

POLICIES = Path(__file__).resolve().parent.parent / "policies"
LIBRARY = sorted(p for p in POLICIES.glob("lib_*.rego") if not p.name.endswith("_test.rego"))

pytestmark = pytest.mark.opa  # it runs `opa parse`


def test_there_is_a_library():
    assert {"lib_images.rego", "lib_quantities.rego", "lib_texts.rego"} <= {p.name for p in LIBRARY}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_a_library_package_reads_only_its_arguments(path):
    module = parsed(path)
    package = path_of(module["package"]["path"])
    name = path.stem.removeprefix("lib_")
    assert package == f"data.jupyterhub.lib.{name}"
    imported = [path_of(i["path"]["value"]) for i in module.get("imports", [])]
    assert all(i.startswith("data.jupyterhub.lib.") for i in imported), imported
    heads = {str(r[0]["value"]) for r in refs(module["rules"])}
    assert not {"input", "data"} & heads, f"{path.name} reads {sorted({'input', 'data'} & heads)}"


# The decision's steps (jupyterhub.spawn.<step>, tests/test_policy_layers.py)
# are documented for authors the same way.
STEPS = sorted(p for p in POLICIES.glob("*.rego") if not p.name.endswith("_test.rego")
               and re.search(r"^package jupyterhub\.spawn\.\w+$", p.read_text(), re.M))


@pytest.mark.parametrize("path", LIBRARY + STEPS, ids=lambda p: p.name)
def test_every_public_rule_of_the_library_and_the_steps_is_documented(path):
    module = parsed(path)
    documented = {}
    for rule in module["rules"]:
        name = rule["head"].get("name") or path_of(rule["head"]["ref"])
        notes = [a for a in rule.get("annotations", []) if a.get("title") and a.get("description")]
        documented[name] = documented.get(name, False) or bool(notes)
    public = {n: ok for n, ok in documented.items() if not n.startswith("_")}
    assert public and all(public.values()), {n for n, ok in public.items() if not ok}


def test_the_reference_pages_examples_import_what_the_policy_has(tmp_path):
    """An author's policy as the reference page shows it compiles against the
    shipped one (OPA's strict check) and reads the step it imports: the
    package paths on that page are the policy's public names."""
    page = (POLICIES.parent / "docs" / "reference" / "rego.md").read_text()
    blocks = re.findall(r"```rego\n(.*?)```", page, re.S)
    assert len(blocks) >= 2
    (tmp_path / "mysite.rego").write_text(blocks[0])
    (tmp_path / "mysite_steps.rego").write_text(blocks[1].replace("package mysite.spawn", "package mysite.steps"))
    checked = subprocess.run([ensure_opa(), "check", "--strict", str(POLICIES), str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / "input.json").write_text(json.dumps(INPUT))  # a student asking for 8 CPUs
    answer = subprocess.run([ensure_opa(), "eval", "--format", "json", "-d", str(POLICIES),
                             "-d", str(tmp_path / "mysite_steps.rego"), "-i", str(tmp_path / "input.json"),
                             "data.mysite.steps.charged_to"], capture_output=True, text=True, check=True)
    assert json.loads(answer.stdout)["result"][0]["expressions"][0]["value"] == "students"
    most = subprocess.run([ensure_opa(), "eval", "--format", "json", "-d", str(POLICIES),
                           "-d", str(tmp_path / "mysite_steps.rego"), "-i", str(tmp_path / "input.json"),
                           "data.mysite.steps.most_cpu"], capture_output=True, text=True, check=True)
    students = json.loads((POLICIES / "data.json").read_text())["jhpolicy"]["groups"]["students"]
    assert json.loads(most.stdout)["result"][0]["expressions"][0]["value"] == students["max"]["cpu_limit"]
