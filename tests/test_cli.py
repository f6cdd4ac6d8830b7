"""`jhpolicy check` as a user runs it: a subprocess that starts its own OPA."""

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from jhpolicy.tooling.configmap import policy_files

from .helpers.cli import FORUM_BODY, decision_log_of_one_spawn, jhpolicy
from .helpers.policies import POLICIES

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once

POLICY_FILES = [POLICIES / name for name in policy_files(POLICIES)]


def test_check_allowed_starts_and_stops_its_own_opa():
    result = jhpolicy("check", "--user", "alice", "--group", "students", "--body", FORUM_BODY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "user alice (groups: students), server ''",
        "ALLOWED (clamped)",
        "  - cpu_limit 8 lowered to 2: the most for group students",
        "  - mem_limit unlimited (the hub's default) lowered to 4G: the most for group students",
        'applied: {"cpu_guarantee": 1.0, "cpu_limit": 2.0, "image": "jupyterhub/k8s-singleuser-sample:0.8.4", '
        '"mem_guarantee": 2147483648, "mem_limit": 4294967296}',
        "charged to group: students",
        "pod image: jupyterhub/k8s-singleuser-sample:0.8.4",
        'pod limits: {"cpu": 2.0, "memory": 4294967296}',
        'pod requests: {"cpu": 1.0, "memory": 2147483648}',
    ]
    assert result.stderr == ""


def test_check_denied_exits_1():
    result = jhpolicy("check", "--user", "bob", "--body", FORUM_BODY)
    assert result.returncode == 1
    assert "DENIED: Spawn refused by policy: image jupyterhub/k8s-singleuser-sample:0.8.4 is not allowed" in result.stdout


def test_check_bad_value_exits_2():
    result = jhpolicy("check", "--user", "bob", "--body", '{"mem_limit": "lots"}', "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["status"] == 400 and report["message"].startswith("Invalid spawn request: mem_limit:")


def test_check_unreachable_opa_exits_2(opa):
    from jhpolicy.tooling.local_opa import free_port

    result = jhpolicy("check", "--user", "bob", "--opa-url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert "ERROR (HTTP 503): spawn policy unavailable" in result.stdout


def test_check_with_hub_config_and_service(opa, tmp_path):
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c.PolicyKubeSpawner.profile_list = [\n"
        "  {'display_name': 'Big', 'slug': 'big', 'kubespawner_override': {'mem_limit': '6G'}},\n"
        "]\n"
    )
    result = jhpolicy(
        "check", "--user", "carol", "--as-service", "course-orchestrator", "--config", str(config),
        "--opa-url", opa.url, "--body", '{"profile": "big"}', "--json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The profile's 6G is within the service's 8G; the unlimited CPU is lowered to its 4.
    assert json.loads(result.stdout)["pod"]["limits"] == {"cpu": 4.0, "memory": 6 * 1024**3}


def test_spawner_entry_point():
    (ep,) = [e for e in entry_points(group="jupyterhub.spawners") if e.name == "jhpolicy"]
    from jhpolicy import PolicyKubeSpawner

    assert ep.load() is PolicyKubeSpawner


DENIED_BODY = '{"image": "evil/miner:1", "cpu_limit": 8}'


def test_check_explain_lists_the_rules_that_decided():
    result = jhpolicy("check", "--user", "alice", "--group", "students", "--body", DENIED_BODY, "--explain")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("rules that decided (from ")))
    steps = [line.strip() for line in lines[at + 1:]]
    # The image refusal and the decision rule that carried it, with file:line and the rule's first line.
    assert any(s.startswith("images.rego:") and s.endswith("denials contains msg if {") for s in steps)
    assert steps[-1].startswith("spawn.rego:") and 'decision := {"allow": false' in steps[-1]
    # Trimmed to the policy's own rules: no tables, no tests, no built-ins.
    assert all(s.split(":")[0] in {p.name for p in POLICY_FILES} for s in steps)
    assert not any("handled_keys := {" in s for s in steps)


def test_replay_of_a_logged_decision(tmp_path):
    log, decision_id = decision_log_of_one_spawn(tmp_path, POLICIES)
    same = jhpolicy("replay", str(log))
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[0] == f"decision {decision_id}, made by local policy files"
    assert same.stdout.splitlines()[-1] == "same decision"

    # The policy changed since: the replay says so, and exits 1.
    changed = tmp_path / "changed"
    changed.mkdir()
    for path in POLICY_FILES:
        text = path.read_text()
        if path.name == "data.json":
            data = json.loads(text)
            data["jhpolicy"]["groups"]["students"]["max"]["cpu_limit"] = 3
            text = json.dumps(data)
        (changed / path.name).write_text(text)
    different = jhpolicy("replay", str(log), "--decision-id", decision_id, "--policies", str(changed), "--explain")
    assert different.returncode == 1, different.stderr
    assert "DIFFERENT decision: the policy or its data changed since" in different.stdout
    assert '"cpu_limit": 3' in different.stdout and "rules that decided" in different.stdout


def test_replay_names_what_is_missing(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("not a decision\n")
    result = jhpolicy("replay", str(empty))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "jhpolicy replay: no decision log entry (a JSON line with decision_id and input) in the file"
    )
    result = jhpolicy("replay", str(empty), "--decision-id", "x")
    assert result.returncode == 2


@pytest.mark.parametrize(("args", "flag", "instead"), [
    (["check", "--replay", "decisions.log"], "--replay", "jhpolicy replay LOG [--decision-id ID]"),
    (["test", "cases.yaml", "--init"], "--init", "jhpolicy init-cases CASES.yaml"),
    (["test", "cases.yaml", "--from-replay", "decisions.log"], "--from-replay",
     "jhpolicy add-case CASES.yaml LOG [--decision-id ID]"),
])
def test_a_flag_that_became_a_command_names_the_command(args, flag, instead):
    # Old scripts and old docs: the flag fails, and says what to run instead.
    result = jhpolicy(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1].endswith(f"{flag} is now a command of its own: {instead}"), result.stderr


GPU_BODY = '{"extra_resource_limits": {"nvidia.com/gpu": 1}}'


def test_check_usage_dry_runs_a_request_against_a_full_group(tmp_path):
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps({"groups": {"gpu-users": {"servers": 4, "extra_resources": {"nvidia.com/gpu": 4}}}}))
    result = jhpolicy("check", "--user", "gina", "--group", "gpu-users", "--body", GPU_BODY, "--usage", str(usage))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[1] == (
        "DENIED: Spawn refused by policy: quota reached: gpu-users holds 4 of 4 nvidia.com/gpu; "
        "try again when one of the group's servers stops. Ask for more GPU time: https://help.example.edu/gpu")
    usage.write_text(json.dumps({"groups": {"gpu-users": {"extra_resources": {"nvidia.com/gpu": 3}}},
                                 "hub": {"mem_limit": "100G", "cpu_limit": 0}}))
    result = jhpolicy("check", "--user", "gina", "--group", "gpu-users", "--body", GPU_BODY, "--usage", str(usage))
    assert result.returncode == 0, result.stderr
    assert "charged to group: gpu-users" in result.stdout.splitlines()


def test_check_usage_that_is_not_usage_is_an_error(tmp_path):
    usage = tmp_path / "usage.json"
    for doc, error in (
        ({"hub": {"mem_limit": "2Q"}}, "hub.mem_limit: '2Q' is not valid"),
        ({"groups": {"g": {"servers": -1}}}, "groups.g.servers: not a usage amount: -1"),
        ({"users": {}}, 'expected an object with any of "user", "user_by_group", "groups", "hub"'),
        ({"user": []}, "user is not an object"),
        ({"groups": []}, "groups is not an object of group name to totals"),
    ):
        usage.write_text(json.dumps(doc))
        result = jhpolicy("check", "--user", "gina", "--usage", str(usage))
        assert result.returncode == 2
        assert result.stderr.startswith(f"jhpolicy check: --usage {usage}: {error}"), result.stderr


# --- jhpolicy lint, and configmap/bundle refusing what it finds ---


def policies_with(tmp_path, data: str | None = None, extra: dict | None = None) -> Path:
    for path in POLICY_FILES:
        if path.suffix == ".rego":
            (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "data.json").write_text(data if data is not None else (POLICIES / "data.json").read_text())
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_lint_passes_the_shipped_policies():
    result = jhpolicy("lint")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("OPA loads it and its data has no problems\n")


def test_lint_names_every_problem_in_the_data_whoever_it_governs(tmp_path):
    data = json.loads((POLICIES / "data.json").read_text())
    data["jhpolicy"]["groups"]["students"]["max"]["cpu_limt"] = 4
    data["jhpolicy"]["groups"]["gpu-users"]["max"]["mem_limit"] = "32GB"
    data["jhpolicy"]["quotas"]["groups"]["gpu-users"]["member"] = {"servers": "1"}
    folder = policies_with(tmp_path, json.dumps(data))
    result = jhpolicy("lint", "--policies", str(folder))
    assert result.returncode == 1
    prefix = f"jhpolicy lint: {folder}: data.jhpolicy: "
    assert result.stderr.splitlines() == [
        prefix + 'group gpu-users: max.mem_limit "32GB" is not a number of bytes above 0 or a string like "512M" or "2G"',
        prefix + "group students: max.cpu_limt is not a known key (did you mean cpu_limit? known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit)",
        prefix + 'quotas.groups.gpu-users.member.servers "1" is not a whole number of servers (0 or more)',
    ]


def test_lint_names_what_opa_would_not_load(tmp_path):
    folder = policies_with(tmp_path, '{"jhpolicy": ')
    result = jhpolicy("lint", "--policies", str(folder))
    assert (result.returncode, result.stderr) == (1, f"jhpolicy lint: {folder}: {folder}/data.json: unexpected EOF\n")
    (folder / "data.json").write_text("{}")
    (folder / "broken.rego").write_text("package jupyterhub.spawn\n\nx := 1 +\n")
    result = jhpolicy("lint", "--policies", str(folder))
    assert result.returncode == 1
    assert f"{folder}/broken.rego:4: " in result.stderr
    assert jhpolicy("lint", "--policies", str(tmp_path / "nope")).returncode == 2


# What OPA loads but a hub cannot use (#29 item 4): before, each printed
# "OPA loads it and its data has no problems" and exited 0.
@pytest.mark.parametrize("make, problem", [
    (lambda f: None, "no policy (.rego) files in it: give the folder that holds your policies and their data.json"),
    (lambda f: (f / "data.json").write_text('{"jhpolicy": {}}'), "no policy (.rego) files in it"),
    (lambda f: (f / "foo.rego").write_text("package foo\n\nx := 1\n"),
     "no rule at jupyterhub/spawn/decision (what PolicyKubeSpawner.opa_decision_path asks)"),
    (lambda f: policies_with(f, (POLICIES / "data.json").read_text().replace('"jhpolicy": {', '"policies": {', 1)),
     'its data has no "jhpolicy" object, so every allowance is empty and every spawn refused'),
    (lambda f: policies_with(f / "policies") and (f / "cases.yaml").write_text("cases: []\n"),
     "this is the folder `jhpolicy init` made, not its policies: give --policies"),
    (lambda f: policies_with(f, (POLICIES / "data.json").read_text().replace('"gpu-users": {', '"gpu-users ": {', 1)),
     "data.jhpolicy: groups.'gpu-users ': the group name has leading or trailing whitespace, so it matches no "
     "JupyterHub group as written (did you mean 'gpu-users'?)"),
])
def test_lint_refuses_what_opa_loads_but_a_hub_cannot_use(tmp_path, make, problem):
    folder = tmp_path / "p"
    (folder / "policies").mkdir(parents=True)
    if "init" not in problem:
        (folder / "policies").rmdir()
    make(folder)
    result = jhpolicy("lint", "--policies", str(folder))
    assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
    assert result.stderr.startswith(f"jhpolicy lint: {folder}: ") and problem in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_lint_warns_of_group_names_that_differ_only_by_case(tmp_path):
    data = json.loads((POLICIES / "data.json").read_text())
    data["jhpolicy"]["groups"]["GPU-Users"] = data["jhpolicy"]["groups"]["students"]
    folder = policies_with(tmp_path, json.dumps(data))
    result = jhpolicy("lint", "--policies", str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"jhpolicy lint: {folder}: warning: data.jhpolicy: group names 'GPU-Users', 'gpu-users' "
                             "differ only by case: JupyterHub's group names are case-sensitive, so they are different groups\n")


# Image patterns and repositories no image can match as written: the data
# checks accept them (a list of strings), the policy refuses the image the
# admin meant without a word, and `jhpolicy check` shows only the refusal.
# Each case: the students' entry's images and image_repositories, the image
# meant, lint's error, and the entry as lint says to write it.
DEAD_ENTRIES = [
    ({"images": ["quay.io/jupyter/scipy-notebook:2025 "]}, "quay.io/jupyter/scipy-notebook:2025",
     "group students: images 'quay.io/jupyter/scipy-notebook:2025 ' has whitespace, so it matches no image "
     "(did you mean 'quay.io/jupyter/scipy-notebook:2025'?)",
     {"images": ["quay.io/jupyter/scipy-notebook:2025"]}),
    ({"image_repositories": {"quay.io/jupyter/scipy-notebook:2025": ["*"]}}, "quay.io/jupyter/scipy-notebook:2025",
     "group students: image_repositories 'quay.io/jupyter/scipy-notebook:2025' has a tag, so it matches no image: "
     "write the repository alone and its tags in the list ('quay.io/jupyter/scipy-notebook': ['2025'])",
     {"image_repositories": {"quay.io/jupyter/scipy-notebook": ["2025"]}}),
    ({"image_repositories": {"registry.example.org/team-*/notebook": ["*"]}}, "registry.example.org/team-a/notebook:1",
     "group students: image_repositories 'registry.example.org/team-*/notebook' is a glob, but repositories are "
     "looked up as written, so it matches no image: put 'registry.example.org/team-*/notebook:*' in images instead",
     {"images": ["registry.example.org/team-*/notebook:*"]}),
    ({"image_repositories": {"registry.example.org/notebook": ["v1 "]}}, "registry.example.org/notebook:v1",
     "group students: image_repositories 'registry.example.org/notebook': tag glob 'v1 ' has whitespace, so it "
     "matches no tag (did you mean 'v1'?)",
     {"image_repositories": {"registry.example.org/notebook": ["v1"]}}),
]


@pytest.mark.parametrize("entry, image, problem, fixed", DEAD_ENTRIES)
def test_lint_names_image_entries_no_image_can_match_and_how_to_write_them(tmp_path, entry, image, problem, fixed):
    def data_with(students: dict) -> str:
        data = json.loads((POLICIES / "data.json").read_text())
        data["jhpolicy"]["groups"]["students"] = {"max": {"cpu_limit": 2}, "images": [], **students}
        return json.dumps(data)

    def check(folder: Path):
        return jhpolicy("check", "--policies", str(folder), "--user", "u", "--group", "students",
                        "--body", json.dumps({"kubespawner_override": {"image": image}}))

    (tmp_path / "dead").mkdir()
    dead = policies_with(tmp_path / "dead", data_with(entry))
    assert check(dead).returncode == 1  # refused: the entry matches nothing, as lint says
    result = jhpolicy("lint", "--policies", str(dead))
    assert (result.returncode, result.stderr) == (1, f"jhpolicy lint: {dead}: data.jhpolicy: {problem}\n")

    (tmp_path / "fixed").mkdir()
    written = policies_with(tmp_path / "fixed", data_with(fixed))
    assert check(written).returncode == 0, check(written).stdout  # as lint says to write it, it allows the image
    assert jhpolicy("lint", "--policies", str(written)).returncode == 0


def lint_warnings(tmp_path, edit, change_policy=None) -> list[str]:
    """What `jhpolicy lint` warns of (without its prefix) for the tests' data
    as edit(data.jhpolicy) changed it (and the policy folder as
    change_policy(folder) did); it must still pass."""
    data = json.loads((POLICIES / "data.json").read_text())
    edit(data["jhpolicy"])
    folder = policies_with(tmp_path, json.dumps(data))
    if change_policy:
        change_policy(folder)
    result = jhpolicy("lint", "--policies", str(folder))
    assert result.returncode == 0, result.stderr
    prefix = f"jhpolicy lint: {folder}: warning: data.jhpolicy: "
    assert all(line.startswith(prefix) for line in result.stderr.splitlines()), result.stderr
    return [line.removeprefix(prefix) for line in result.stderr.splitlines()]


def test_lint_warns_of_an_image_pattern_without_a_tag_and_of_capitals_in_a_repository(tmp_path):
    def edit(jhpolicy):
        jhpolicy["groups"]["students"]["images"] += ["quay.io/jupyter/datascience-notebook", "quay.io/Jupyter/*:*",
                                                     "localhost:5000/nb:*", "registry.example.edu/courses/**"]
        jhpolicy["requesters"]["admins"]["image_repositories"] = {"Quay.io/jupyter/r-notebook": ["*"],
                                                                  "quay.io/jupyter/R-notebook": ["*"]}

    assert lint_warnings(tmp_path, edit) == [
        "group students: images 'quay.io/jupyter/datascience-notebook' has no tag, so it allows that image only "
        "when asked for without one; for every tag, write 'quay.io/jupyter/datascience-notebook:*'",
        "group students: images 'quay.io/Jupyter/*:*' has capital letters in its repository's path: "
        "Kubernetes pulls no such image (repository names are lowercase)",
        "admins: image_repositories 'quay.io/jupyter/R-notebook' has capital letters in its path: "
        "Kubernetes pulls no such image (repository names are lowercase)",
    ]


def test_lint_warns_of_names_a_setting_uses_that_nothing_else_has(tmp_path):
    def edit(jhpolicy):
        jhpolicy["quotas"]["charge_order"] = ["gpu-user", "students", "physics", "gpu-users"]  # students: no quota
        jhpolicy["quotas"]["users"] = {"servers": 2, "extra_resources": {"nvidia.com/gpus": 1}}
        jhpolicy["lifetimes"] = {"extra_resources": {"nvidia.com/gpu": {"idle": "1h"}, "amd.com/gpu": {"idle": "1h"}}}

    # Each with the names one typo away, as the policy's close_keys gives them; "a typo?" where none is.
    assert lint_warnings(tmp_path, edit) == [
        "quotas.charge_order names 'gpu-user', which neither groups nor quotas.groups has: it orders nothing "
        "unless that group's quota is a jhpolicy_quota property (admin page); did you mean 'gpu-users'?",
        "quotas.charge_order names 'physics', which neither groups nor quotas.groups has: it orders nothing "
        "unless that group's quota is a jhpolicy_quota property (admin page); a typo?",
        "lifetimes.extra_resources.amd.com/gpu: no allowance grants amd.com/gpu, so no server holds it and the "
        "rule never applies (granted: nvidia.com/gpu)",
        "quotas.users.extra_resources.nvidia.com/gpus: no allowance grants nvidia.com/gpus, so no server holds "
        "it and the quota limits nothing (did you mean nvidia.com/gpu? granted: nvidia.com/gpu)",
    ]


def test_lint_of_a_policy_without_the_librarys_close_keys_names_the_same_without_a_guess(tmp_path):
    # A folder an older jhpolicy init made: its policy has no close_keys, and the warnings stay as they were.
    def edit(jhpolicy):
        jhpolicy["quotas"]["charge_order"] = ["gpu-user"]

    def without_close_keys(folder):
        texts = folder / "lib_texts.rego"
        source = texts.read_text()
        start, end = source.index("_did_you_mean(key, known) :="), source.index("# METADATA\n# title: close_keys")
        texts.write_text(source[:start] + '_did_you_mean(_, _) := ""\n\n'
                         + source[end:].replace("close_keys(key, known) := sort({k |", "_close_keys(key, known) := sort({k |"))

    assert lint_warnings(tmp_path, edit, without_close_keys) == [
        "quotas.charge_order names 'gpu-user', which neither groups nor quotas.groups has: it orders nothing "
        "unless that group's quota is a jhpolicy_quota property (admin page); a typo?",
    ]


PROFILES_CONFIG = """
c.KubeSpawner.profile_list = [
    {"display_name": "Default", "slug": "default", "default": True},
    {"display_name": "Small", "slug": "small"},
    {"display_name": "Medium (2 CPUs)"},  # KubeSpawner makes its slug: medium-2-cpus
    {"display_name": "GPU", "slug": "gpu"},
]
"""


def test_lint_with_the_hubs_config_warns_of_profile_patterns_that_match_no_profile(tmp_path):
    (tmp_path / "jupyterhub_config.py").write_text(PROFILES_CONFIG)
    data = json.loads((POLICIES / "data.json").read_text())
    data["jhpolicy"]["groups"]["students"]["profiles"] = ["default", "small", "medium", "Small", "g*"]
    (tmp_path / "p").mkdir()
    folder = policies_with(tmp_path / "p", json.dumps(data))
    result = jhpolicy("lint", "--policies", str(folder), "--config", str(tmp_path / "jupyterhub_config.py"))
    assert result.returncode == 0, result.stderr
    slugs = "profile_list slugs: default, small, medium-2-cpus, gpu"
    assert result.stderr.splitlines() == [
        *(f"jhpolicy lint: {folder}: warning: data.jhpolicy: group students: profiles {pattern!r} matches none of the "
          f"hub's profiles, so it lets its members select nothing ({close}{slugs})"
          for pattern, close in (("medium", ""), ("Small", "did you mean small? "))),
        # The hub's offers judged (jhpolicy.tooling.hub_offers): the default profile is not one of group default's.
        f"jhpolicy lint: {folder}: warning: the hub's default spawn (a server started with no choices: the REST API "
        "with no body, the spawn page's form as rendered) is refused for users in no group: profile default (the "
        "hub's default, used when a request names none) is not allowed for group default; name a profile you may "
        "select",
    ]
    # The policy agrees: a student may not select the profile "medium" meant, and may select the GPU one "g*" allows.
    for profile, allowed in (("medium-2-cpus", False), ("gpu", True)):
        checked = jhpolicy("check", "--policies", str(folder), "--config", str(tmp_path / "jupyterhub_config.py"),
                           "--user", "u", "--group", "students", "--body", json.dumps({"profile": profile}))
        assert checked.returncode == (0 if allowed else 1), checked.stdout + checked.stderr
    # With --fail-on-warnings the same warnings fail it (exit 1), and nothing claims the folder is fit.
    strict = jhpolicy("lint", "--fail-on-warnings", "--policies", str(folder),
                      "--config", str(tmp_path / "jupyterhub_config.py"))
    assert (strict.returncode, strict.stderr, strict.stdout) == (1, result.stderr, "")
    # Without the hub's config, lint cannot know the slugs, and says nothing of them.
    assert jhpolicy("lint", "--policies", str(folder)).stderr == ""
    clean = jhpolicy("lint", "--fail-on-warnings", "--policies", str(folder))
    assert (clean.returncode, clean.stderr) == (0, ""), clean.stderr


OFFERS_DATA = {"jhpolicy": {"groups": {
    "default": {"images": ["quay.io/jupyterhub/singleuser:*"], "max": {"cpu_limit": 1, "mem_limit": "1G"},
                "profiles": ["small"]},
    "special": {"images": ["quay.io/example/special:*"], "max": {"cpu_limit": 1, "mem_limit": "1G"},
                "profiles": ["small"]},
    "staff": {"images": ["quay.io/jupyterhub/singleuser:*"], "max": {"cpu_limit": 2, "mem_limit": "2G"},
              "profiles": ["*"]},
}}}
OFFERS_CONFIG = """
c.KubeSpawner.image = "quay.io/jupyterhub/singleuser:5.3"
c.KubeSpawner.pre_spawn_hook = lambda spawner: open(MARKER, "w").close()
c.KubeSpawner.profile_list = [
    {"display_name": "Small", "slug": "small", "default": True},
    # special's image, and only staff may select any profile but small: a member of both may start it.
    {"display_name": "Special", "slug": "special", "kubespawner_override": {"image": "quay.io/example/special:1"}},
    # Pinned by a digest no pattern names: no one may start it.
    {"display_name": "Pinned", "slug": "pinned", "kubespawner_override": {"image": "quay.io/jupyterhub/singleuser:5.3@sha256:"
                                                                           + "0" * 64}},
    {"display_name": "Tools", "slug": "tools", "profile_options": {"image": {"display_name": "Image", "choices": {
        "plain": {"display_name": "Plain", "default": True},
        "matlab": {"display_name": "MATLAB", "kubespawner_override": {"image": "registry.example.edu/matlab:r2026a"}},
    }}}},
]
"""


def test_lint_with_the_hubs_config_names_what_the_hub_offers_but_no_group_may_start(tmp_path):
    """The hub's own default spawn and spawn page, judged for a member of
    each group as the hub judges them; every warning agrees with what
    `jhpolicy check` (the spawner's own code) does with that spawn."""
    marker = tmp_path / "hook-ran"
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(f"MARKER = {str(marker)!r}\n" + OFFERS_CONFIG)
    (tmp_path / "p").mkdir()
    folder = policies_with(tmp_path / "p", json.dumps(OFFERS_DATA))
    result = jhpolicy("lint", "--policies", str(folder), "--config", str(config))
    assert result.returncode == 0, result.stderr
    warning = f"jhpolicy lint: {folder}: warning: the hub's "
    pinned = "quay.io/jupyterhub/singleuser:5.3@sha256:" + "0" * 64
    special_refusal = ("image quay.io/jupyterhub/singleuser:5.3 (the hub's default) is not allowed for group special; "
                       "allowed images: quay.io/example/special:*")
    assert result.stderr.splitlines() == [
        "jhpolicy lint: note: the hub's pre_spawn_hook is not run here: what it changes when a server starts is "
        "judged then (jhpolicy check runs it)",
        warning + "default spawn (a server started with no choices: the REST API with no body, the spawn page's "
        f"form as rendered) is refused for group special: {special_refusal}",
        warning + "profile 'pinned' (Pinned): no group's members may select it: profile pinned is not allowed for "
        f"group default; profile pinned is not allowed for group special; image {pinned} (the profile) is not "
        "allowed for group staff; allowed images: quay.io/jupyterhub/singleuser:*",
        warning + "profile 'tools', option 'image', choice 'matlab' (Tools, Image: MATLAB): no group's members may "
        "select it: profile tools is not allowed for group default; profile tools is not allowed for group special; "
        "image registry.example.edu/matlab:r2026a (the profile option) is not allowed for group staff; allowed "
        "images: quay.io/jupyterhub/singleuser:*",
    ]
    assert not marker.exists()  # the admin's hook never ran for lint's made-up members
    # Every judge agrees: the spawner refuses what lint names, for each group, and lets through what it does not
    # (the special profile, to a member of both groups that together allow it).
    for groups, body, allowed in (
        (["special"], {}, False),
        (["staff"], {"profile": "pinned"}, False),
        (["staff"], {"profile": "tools", "profile_options": {"image": "matlab"}}, False),
        (["special", "staff"], {"profile": "special"}, True),
        (["staff"], {}, True),
    ):
        checked = jhpolicy("check", "--policies", str(folder), "--config", str(config), "--user", "u",
                           *(f"--group={g}" for g in groups), "--body", json.dumps(body))
        assert checked.returncode == (0 if allowed else 1), (groups, body, checked.stdout, checked.stderr)
        if groups == ["special"]:
            assert f"DENIED: Spawn refused by policy: {special_refusal}" in checked.stdout
    marker.unlink()  # jhpolicy check runs the hook, as the hub would
    # Fixed in the data, the warnings go: special's members get the hub's default image, staff's the digest and
    # the licensed image.
    OFFERS = json.loads(json.dumps(OFFERS_DATA))
    OFFERS["jhpolicy"]["groups"]["special"]["images"].append("quay.io/jupyterhub/singleuser:*")
    OFFERS["jhpolicy"]["groups"]["staff"]["images"] += ["quay.io/jupyterhub/singleuser:*@sha256:*",
                                                        "registry.example.edu/*:*"]
    (folder / "data.json").write_text(json.dumps(OFFERS))
    fixed = jhpolicy("lint", "--fail-on-warnings", "--policies", str(folder), "--config", str(config))
    assert (fixed.returncode, fixed.stderr.splitlines()) == (0, result.stderr.splitlines()[:1]), fixed.stderr


def test_lint_judges_the_hubs_offers_with_the_groups_overrides_as_the_spawner_does(tmp_path):
    # JupyterHub's group_overrides (5.1+) give students an image pinned by a digest no pattern of theirs names.
    config = tmp_path / "jupyterhub_config.py"
    pinned = "quay.io/jupyterhub/singleuser:5.3@sha256:" + "0" * 64
    config.write_text('c.KubeSpawner.image = "quay.io/jupyterhub/singleuser:5.3"\n'
                      'c.KubeSpawner.group_overrides = {"01-students": {"groups": ["students"], '
                      f'"spawner_override": {{"image": "{pinned}"}}}}}}\n')
    linted = jhpolicy("lint", "--config", str(config))
    assert linted.returncode == 0, linted.stderr
    refusal = f"image {pinned} (your group's settings) is not allowed for group students; allowed images: "
    (line,) = linted.stderr.splitlines()  # students only: the others get the hub's image, which they may run
    assert line.startswith(f"jhpolicy lint: {POLICIES}: warning: the hub's default spawn (a server started with no "
                           f"choices: the REST API with no body, the spawn page's form as rendered) is refused for "
                           f"group students: {refusal}"), line
    checked = jhpolicy("check", "--config", str(config), "--user", "u", "--group", "students")
    assert checked.returncode == 1 and f"DENIED: Spawn refused by policy: {refusal}" in checked.stdout, checked.stdout


def test_lint_judges_users_in_no_group_only_where_the_data_has_a_default_and_at_most_so_many_groups():
    from jhpolicy.tooling.hub_offers import MAX_GROUPS, Member, members

    # Without a `default` entry, users in no group get nothing, on purpose: their refusals are not warned of.
    assert members({"groups": {"b": {}, "a": {}}}) == ([Member(("a",)), Member(("b",)), Member(("a", "b"))], [])
    assert members({"groups": {"default": {}, "a": {}}}) == ([Member(()), Member(("a",))], [])
    assert members({}) == ([], [])
    found, notes = members({"groups": {f"g{i:03}": {} for i in range(MAX_GROUPS + 10)}})
    assert found[:2] == [Member(("g000",)), Member(("g001",))] and len(found) == MAX_GROUPS + 1
    assert found[-1] == Member(tuple(f"g{i:03}" for i in range(MAX_GROUPS)))
    assert notes == [f"the hub's offers are judged for the first {MAX_GROUPS} of the data's {MAX_GROUPS + 10} groups "
                     "(by name)"]


def test_lint_names_the_default_profile_no_one_may_start_once():
    from jhpolicy.tooling.hub_offers import Judged, Member, warnings

    def judged(groups, status, unavailable):
        return Judged(Member(groups), status, "Spawn refused by policy: no" if status else "", unavailable, "small")

    small, gpu = ("small", None, None), ("gpu", None, None)
    refused = {small: ("Small", "no"), gpu: ("GPU", "not for you")}
    everyone = [judged(("a",), 403, refused), judged(("b",), 403, refused), judged(("a", "b"), None, refused)]
    lines = warnings(everyone)
    # The default spawn's refusal says it (one line: both members are told the same); the default profile's own
    # line would only repeat it.
    assert [line.split(":")[0] for line in lines] == [
        "the hub's default spawn (a server started with no choices", "the hub's profile 'gpu' (GPU)"]
    assert lines[0].endswith("is refused for group a, group b: no")
    many = [judged((f"g{i}",), 403, {}) for i in range(8)]
    assert warnings(many)[0].endswith("for group g0, group g1, group g2, group g3, group g4 and 3 more: no")
    # Where some member may start it, the other profile lines stay as they were, and no default profile line comes.
    some = [judged(("a",), 403, refused), judged(("b",), 200, {gpu: ("GPU", "not for you")}),
            judged(("a", "b"), None, {gpu: ("GPU", "not for you")})]
    assert [line.split(":")[0] for line in warnings(some)] == [
        "the hub's default spawn (a server started with no choices", "the hub's profile 'gpu' (GPU)"]


def test_the_admins_own_code_raising_is_the_hubs_500_naming_it_not_a_bug_of_jhpolicys(tmp_path):
    config = tmp_path / "jupyterhub_config.py"
    config.write_text("def profiles(spawner):\n    raise RuntimeError('ldap down')\n\n\n"
                      "c.KubeSpawner.profile_list = profiles\n")
    raised = f"the hub's config raised RuntimeError: ldap down (in profiles, {config}:2)"
    checked = jhpolicy("check", "--config", str(config), "--user", "u", "--group", "students")
    assert (checked.returncode, checked.stderr) == (2, ""), checked.stderr
    assert checked.stdout.splitlines()[1] == f"ERROR (HTTP 500): {raised}"
    # lint judges the hub's offers through the same code, and says the same of each member.
    linted = jhpolicy("lint", "--config", str(config))
    assert linted.returncode == 0, linted.stderr
    warning = f"jhpolicy lint: {POLICIES}: warning: the hub's "
    # One line for every member told the same: not one per group.
    assert linted.stderr.splitlines()[1:] == [
        warning + ("default spawn (a server started with no choices: the REST API with no body, the spawn page's "
                   f"form as rendered) is answered 500 for users in no group, group gpu-users, group students: {raised}"),
        warning + ("spawn page for users in no group, group gpu-users, group students, group gpu-users + students "
                   f"could not be judged: {raised}"),
    ]
    # An error raised through jhpolicy and the standard library alone is jhpolicy's own, still one to report.
    from jhpolicy.tooling.dry_run import admin_code_error

    try:
        json.loads("{")
    except ValueError as e:
        assert admin_code_error(e.with_traceback(e.__traceback__.tb_next)) is None  # from the frame below this test's


def test_lint_says_when_profile_list_is_a_function_and_what_it_cannot_load(tmp_path):
    config = tmp_path / "jupyterhub_config.py"
    config.write_text("c.KubeSpawner.profile_list = lambda spawner: [{'display_name': 'Small', 'slug': 'small'}]\n")
    result = jhpolicy("lint", "--config", str(config))
    assert result.returncode == 0 and result.stderr == (
        "jhpolicy lint: note: profile_list is a function (it may differ per user): the profile patterns are not "
        "checked against it\n"), result.stderr
    config.write_text("c.KubeSpawner.profile_list = [{'display_name': 'x', 'slug': 'x'}, {'slug': 'x', 'display_name': 'y'}]\n")
    result = jhpolicy("lint", "--config", str(config))
    assert result.returncode == 2 and result.stderr.startswith("jhpolicy lint: profile_list: "), result.stderr
    assert result.stderr.count("\n") == 1


def test_configmap_and_bundle_refuse_a_folder_lint_refuses(tmp_path):
    folder = policies_with(tmp_path, '{"jhpolicy": {"groups": {"students": {"max": {"cpu_limit": "4 cores"}}}}}')
    problem = (f'{folder}: data.jhpolicy: group students: max.cpu_limit "4 cores" is not a number of CPU cores above 0 '
               '(e.g. 2 or 0.5) or a string like "500m"')
    made = jhpolicy("configmap", "--policies", str(folder))
    assert (made.returncode, made.stdout, made.stderr) == (1, "", f"jhpolicy configmap: {problem}\n")
    built = jhpolicy("bundle", "--policies", str(folder), "-o", str(tmp_path / "b.tar.gz"), "--signing-key", "k.pem",
                     "--keyid", "k", "--revision", "r")
    assert (built.returncode, built.stderr) == (1, f"jhpolicy bundle: {problem}\n")
    assert not (tmp_path / "b.tar.gz").exists()


def test_a_github_annotation_is_one_escaped_line_and_only_in_github_actions(monkeypatch, capsys):
    from jhpolicy.cli.common import annotate

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    annotate("warning", "lint", "x")
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    # GitHub reads %0A as a newline: a raw one would end the command, a raw % be taken for an escape.
    annotate("error", "lint", "group a\nb: 100% of\rit")
    assert capsys.readouterr().out == "::error title=jhpolicy lint::group a%0Ab: 100%25 of%0Dit\n"
