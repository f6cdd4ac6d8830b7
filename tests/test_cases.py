"""`jhpolicy test CASES.yaml` as an admin runs it: a subprocess with its own
OPA, on the tests' policy folder (the shipped .rego, the tests' data)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from .helpers.cli import FORUM_BODY, decision_log_of_one_spawn, jhpolicy
from .helpers.policies import POLICIES, ROOT

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once

SUITE = f"""\
policies: {POLICIES}
cases:
- name: a student gets 2 CPUs
  user: stu
  groups: [students]
  body: {{cpu_limit: 2, cpu_guarantee: 1, mem_limit: 4G, mem_guarantee: 1G}}
  expect: {{outcome: allowed, pod: {{cpu_limit: 2}}, charge: students}}
- name: 8 CPUs are lowered
  user: stu
  groups: [students]
  body: {{cpu_limit: 8}}
  expect: {{outcome: clamped, pod: {{cpu_limit: 2}}, message: "^cpu_limit 8 lowered to 2"}}
- name: a foreign image is refused
  user: stu
  groups: [students]
  body: {{image: "docker.io/library/ubuntu:latest"}}
  expect: {{outcome: denied, message: "not allowed for group students"}}
- name: memory that is not an amount
  user: stu
  body: {{mem_limit: lots}}
  expect: {{outcome: invalid}}
- name: a full GPU group
  user: gina
  groups: [gpu-users]
  usage: {{groups: {{gpu-users: {{servers: 4, extra_resources: {{nvidia.com/gpu: 4}}}}}}}}
  body: {{extra_resource_limits: {{nvidia.com/gpu: 1}}}}
  expect: {{outcome: denied, message: "gpu-users holds 4 of 4"}}
- name: a quota typed into the admin page
  user: stu
  groups: [students]
  group_properties: {{students: {{jhpolicy_quota: '{{"member": {{"servers": 1}}}}'}}}}
  usage: {{user_by_group: {{students: {{servers: 1}}}}}}
  body: {{}}
  expect: {{outcome: denied, message: "^quota reached"}}
- name: an admin may pick any image
  user: stu
  groups: [students]
  requester: admin:root
  body: {{image: "docker.io/library/ubuntu:latest", cpu_limit: 4, cpu_guarantee: 1, mem_limit: 4G, mem_guarantee: 1G}}
  expect: {{outcome: allowed, pod: {{image: "docker.io/library/ubuntu:latest", cpu_limit: 4}}}}
"""


def write(tmp_path, text: str, name: str = "cases.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_suite_that_holds_passes_and_writes_junit(tmp_path):
    suite = write(tmp_path, SUITE)
    result = jhpolicy("test", str(suite), "--junit-xml", str(tmp_path / "junit.xml"))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok    {suite}:3  a student gets 2 CPUs"
    assert lines[-1].startswith("7 cases: 7 passed, 0 failed")
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("7", "0")
    assert [c.get("name") for c in junit][:2] == ["a student gets 2 CPUs", "8 CPUs are lowered"]


@pytest.mark.parametrize("change, mismatch", [
    (("pod: {cpu_limit: 2}, charge", "pod: {cpu_limit: 3}, charge"), "pod.cpu_limit: expected 3, got 2"),
    (("outcome: denied, message: \"not allowed", "outcome: allowed, message: \"not allowed"),
     "outcome: expected allowed, got denied"),
    (("charge: students", "charge: gpu-users"), "charge: expected gpu-users, got students"),
    # A message pattern that matches nothing the spawn said.
    (("^cpu_limit 8 lowered to 2", "^cpu_limit 8 lowered to 3"), "message: nothing matches /^cpu_limit 8 lowered to 3/"),
])
def test_a_mismatch_fails_naming_the_case_and_the_difference(tmp_path, change, mismatch):
    suite = write(tmp_path, SUITE.replace(*change, 1))
    result = jhpolicy("test", str(suite), "--junit-xml", str(tmp_path / "junit.xml"))
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1
    assert any(line.strip().startswith(mismatch) for line in result.stdout.splitlines()), result.stdout
    assert "6 passed, 1 failed" in result.stdout
    assert ET.parse(tmp_path / "junit.xml").getroot().get("failures") == "1"


@pytest.mark.parametrize("text, error", [
    ("cases: []\n", 'no cases: "cases" must be a list of at least one case'),
    ("", 'expected a mapping with "cases"'),
    ("cases: [\n", "not YAML"),
    ("cases:\n- user: a\n  body: {}\n  expct: {outcome: allowed}\n",
     "cases.yaml:2: unknown key 'expct' (did you mean 'expect'? known: admin, body, expect, group_properties, groups, name, "
     "requester, server, usage, user)"),
    # The known keys one typo away, as the policy library's close_keys says (none: the list alone).
    ("cases:\n- user: a\n  outcome: allowed\n", "cases.yaml:2: unknown key 'outcome' (known: admin, body, expect, "),
    ("case:\n- user: a\n", "unknown key 'case' (did you mean 'cases'? known: cases, config, policies, values)"),
    ("cases:\n- user: a\n  expect: {outcome: allowd}\n", "outcome 'allowd' is not one of allowed, clamped, denied"),
    ("cases:\n- user: a\n  expect: {outcome: denied, pod: {cpu_limit: 1}}\n",
     "expect.pod on a denied case, which starts no pod: it would check nothing"),
    ("cases:\n- user: a\n  expect: {outcome: allowed, pod: {cpu_limt: 1}}\n", "expect.pod: unknown key 'cpu_limt' (did you mean 'cpu_limit'? known: "),
    ("cases:\n- user: a\n  expect: {outcome: allowed, pod: {mem_limit: 4 gigs}}\n", "expect.pod: mem_limit"),
    ("cases:\n- user: a\n  expect: {outcome: allowed, message: '('}\n", "message is not a regular expression"),
    ("cases:\n- body: {}\n  expect: {outcome: allowed}\n", '"user" (a user name) is required'),
    ("cases:\n- user: a\n  body: [1]\n  expect: {outcome: allowed}\n", '"body" (the REST API request body) is a mapping'),
    ("cases:\n- user: a\n  group_properties: {physics: {}}\n  expect: {outcome: allowed}\n",
     "group_properties of 'physics', which is not in \"groups\""),
    ("cases:\n- user: a\n  usage: {hub: {servers: -1}}\n  expect: {outcome: allowed}\n", "usage: hub.servers: not a usage amount"),
    ("cases:\n- user: a\n  requester: root\n  expect: {outcome: allowed}\n",
     'requester is "user:NAME", "admin:NAME" or "service:NAME", not a string (\'root\')'),
    # Each field has a type (#28 item 8): before, "false" ran as an admin,
    # [1, 2] became the server "[1, 2]", and 5 ended in "(a bug of jhpolicy's)".
    ("cases:\n- user: a\n  admin: \"false\"\n  expect: {outcome: allowed}\n",
     "cases.yaml:2: admin is true or false, not a string ('false')"),
    ("cases:\n- user: a\n  server: [1, 2]\n  expect: {outcome: allowed}\n",
     "cases.yaml:2: server is a server name (a string; \"\" for the default server), not a list ('[1, 2]')"),
    ("cases:\n- user: a\n  requester: 5\n  expect: {outcome: allowed}\n",
     'cases.yaml:2: requester is "user:NAME", "admin:NAME" or "service:NAME", not a number (\'5\')'),
    ("cases:\n- user: a\n  name: 7\n  expect: {outcome: allowed}\n", "cases.yaml:2: name is a non-empty string, not a number"),
    ("config: [x]\ncases:\n- {user: a, expect: {outcome: allowed}}\n", "config is a path (relative to the suite), not a list"),
    ("values: [nowhere.yaml]\ncases:\n- {user: a, expect: {outcome: allowed}}\n", "values: "),
    ("cases:\n- {name: x, user: a, expect: {outcome: allowed}}\n- {name: x, user: a, expect: {outcome: allowed}}\n",
     "a second case named 'x'"),
    ("policies: nowhere\ncases:\n- {user: a, expect: {outcome: allowed}}\n", "policies: "),
])
def test_a_malformed_suite_is_refused_with_one_line(tmp_path, text, error):
    suite = write(tmp_path, text)
    result = jhpolicy("test", str(suite))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("jhpolicy test: ") and result.stderr.count("\n") == 1, result.stderr
    assert error in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["test", "init-cases"])
def test_where_results_go_is_checked_before_the_suite_runs(tmp_path, command):
    (tmp_path / "a-file").write_text("")
    suite = write(tmp_path, "cases:\n- {user: a, expect: {outcome: allowed}}\n")
    target = tmp_path / "a-file" / ("out.xml" if command == "test" else "new.yaml")
    args = ["test", str(suite), "--junit-xml", str(target)] if command == "test" else ["init-cases", str(target)]
    result = jhpolicy(*args)
    assert result.returncode == 2 and result.stdout == ""
    flag = "--junit-xml " if command == "test" else ""
    assert result.stderr == f"jhpolicy {command}: {flag}{target}: {tmp_path / 'a-file'} is a file, not a folder\n"


def test_a_missing_suite_is_one_line(tmp_path):
    result = jhpolicy("test", str(tmp_path / "nope.yaml"))
    assert (result.returncode, result.stderr) == (2, f"jhpolicy test: {tmp_path / 'nope.yaml'}: No such file or directory\n")


def test_init_writes_a_starter_that_passes_and_never_overwrites(tmp_path):
    suite = tmp_path / "cases.yaml"
    made = jhpolicy("init-cases", str(suite))
    assert made.returncode == 0, made.stderr
    doc = yaml.safe_load(suite.read_text())
    names = [c["name"] for c in doc["cases"]]
    # From the data: each group entry's defaults, its most CPU, twice that, its GPUs, a foreign image.
    assert "students: asks for twice its most CPU (4)" in names
    assert "gpu-users: asks for one nvidia.com/gpu" in names
    twice = next(c for c in doc["cases"] if c["name"] == "students: asks for twice its most CPU (4)")
    assert twice["expect"]["outcome"] == "clamped" and twice["expect"]["pod"]["cpu_limit"] == 2
    ran = jhpolicy("test", str(suite))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    again = jhpolicy("init-cases", str(suite))
    assert again.returncode == 2 and "exists" in again.stderr


def test_an_init_suite_runs_as_its_header_says_with_the_admins_folder_and_config(tmp_path):
    # Before (#29 item 5): the suite recorded neither, and `jhpolicy test FILE`
    # ran it against the packaged example policy (17 of 17 failed).
    mine = tmp_path / "site" / "policies"
    mine.mkdir(parents=True)
    data = json.loads((POLICIES / "data.json").read_text())
    data["jhpolicy"]["groups"]["physics"] = data["jhpolicy"]["groups"].pop("students")
    for path in POLICIES.glob("*.rego"):
        (mine / path.name).write_text(path.read_text())
    (mine / "data.json").write_text(json.dumps(data))
    config = tmp_path / "site" / "jupyterhub_config.py"
    config.write_text("c.KubeSpawner.cpu_limit = 1.5\n")
    suite = tmp_path / "site" / "suites" / "init-cases.yaml"
    suite.parent.mkdir()
    made = jhpolicy("init-cases", str(suite), "--policies", str(mine), "--config", str(config))
    assert made.returncode == 0, made.stderr
    doc = yaml.safe_load(suite.read_text())
    assert (doc["policies"], doc["config"]) == ("../policies", "../jupyterhub_config.py")
    assert any(c["name"].startswith("physics:") for c in doc["cases"])
    assert suite.read_text().splitlines()[2].endswith(f"Run: jhpolicy test {suite}")
    ran = jhpolicy("test", str(suite))  # as the header says: nothing else given
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"(policies: {mine}," in ran.stdout


def test_a_logged_decision_becomes_a_case(tmp_path):
    log, decision_id = decision_log_of_one_spawn(tmp_path, POLICIES)
    suite = tmp_path / "cases.yaml"
    added = jhpolicy("add-case", str(suite), str(log))
    assert added.returncode == 0, added.stderr
    (case,) = yaml.safe_load(suite.read_text())["cases"]
    # The request as the spawner read it: kubespawner_override's keys, top level.
    body = json.loads(FORUM_BODY)["kubespawner_override"]
    assert (case["user"], case["groups"], case["body"]) == ("alice", ["students"], body)
    # What the logged decision set (the guarantees follow the lowered limit), and its charge.
    pod = {"cpu_limit": 2, "cpu_guarantee": 1, "mem_limit": "4G", "mem_guarantee": "2G"}
    assert case["expect"] == {"outcome": "clamped", "pod": pod, "charge": "students"}
    assert jhpolicy("test", str(suite), "--policies", str(POLICIES)).returncode == 0
    # The same decision twice: refused, the suite unchanged.
    before = suite.read_text()
    again = jhpolicy("add-case", str(suite), str(log), "--decision-id", decision_id)
    assert (again.returncode, again.stderr) == (
        2, f"jhpolicy add-case: {suite} already has a case named 'decision {decision_id}'\n")
    assert suite.read_text() == before
    missing = jhpolicy("add-case", str(suite), str(tmp_path / "none.log"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_the_shipped_suite_covers_the_shipped_data():
    """cases.yaml is the admin's suite for policies/ (run by ./dev test with
    the shipped data); here only its size and that it loads."""
    from jhpolicy.tooling.cases import load

    suite = load(ROOT / "cases.yaml")
    assert len(suite.cases) >= 30
    assert suite.policies == ROOT / "policies" and suite.config == ROOT / "cases_hub_config.py"
    assert {c.expect["outcome"] for c in suite.cases} >= {"allowed", "clamped", "denied", "misconfigured"}


def test_the_docs_name_every_key_a_suite_and_a_case_take():
    from jhpolicy.tooling import cases

    page = (ROOT / "docs" / "how-to" / "test-your-data.md").read_text()
    suite_line = next(line for line in page.splitlines() if line.startswith("- The suite's keys:"))
    case_line = next(line for line in page.splitlines() if line.startswith("- A case's keys:"))
    named = lambda line: {k for k in re.findall(r"`([a-z_]+)`", line.split(". ")[0])}  # noqa: E731
    assert named(suite_line) == cases.SUITE_KEYS
    assert cases.CASE_KEYS <= named(case_line)
