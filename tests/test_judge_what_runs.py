"""Every judge judges the spawn the hub will run (issue #28).

The decision, the spawn page's offers, the allowance view and the dry run
(`jhpolicy check` / `jhpolicy test`) get the same configs here and must
agree: a restricted default profile, JupyterHub's group_overrides, a
pre_spawn_hook, a full quota. Then the admin values every judge reads by one
definition (a help link) and profile lists no judge can tell apart.

Real OPA with the shipped policies and the tests' data, real
PolicyKubeSpawner objects and KubeSpawner's own form; offline (see
conftest.py), so quotas read fixed books (offline.OfflineBooks).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest
from jupyterhub.utils import maybe_future
from tornado import web
from traitlets.config import Config

from jhpolicy.core import allowance, decision
from jhpolicy.hub.spawn_page import HOOK_NOTE
from jhpolicy.tooling import dry_run, lint
from jhpolicy.tooling.offline import (
    OfflineHub,
    OfflineUser,
    apply_group_overrides,
    make_spawner,
    pod_to_create,
)

from .helpers.policies import ROOT
from .helpers.spawns import (  # the spawn page's form (or its error), on the loop its spawners use
    LOOP,
    page,
)

SAMPLE = "quay.io/jupyterhub/k8s-singleuser-sample:4.0.0"
NOT_FOR_STUDENTS = "nvcr.io/nvidia/pytorch:24.01-py3"  # gpu-users' images only
DEFAULT_REFUSAL = (
    "profile gpu (the hub's default, used when a request names none) is not allowed for group students; "
    "name a profile you may select"
)

# A GPU profile first and default: only gpu-users may select it.
RESTRICTED_DEFAULT = [
    {"display_name": "GPU", "slug": "gpu", "default": True,
     "kubespawner_override": {"node_selector": {"pool": "gpu-nodes"}, "extra_resource_limits": {"nvidia.com/gpu": 1}}},
    {"display_name": "Small", "slug": "small", "kubespawner_override": {"cpu_limit": 1}},
]


def config(profile_list=None, **traits) -> Config:
    c = Config()
    c.PolicyKubeSpawner.image = SAMPLE
    if profile_list is not None:
        c.PolicyKubeSpawner.profile_list = profile_list
    for name, value in traits.items():
        if name == "group_overrides":
            c.Spawner.group_overrides = value
        else:
            setattr(c.PolicyKubeSpawner, name, value)
    return c


def spawner_for(opa_url, c: Config, groups, user_options=None, usage=None):
    async def made():
        c2 = Config(c)
        c2.PolicyKubeSpawner.opa_url = opa_url
        if usage is None:
            c2.PolicyKubeSpawner.policy_quotas = False
        return make_spawner(c2, OfflineUser(name="sam", groups=list(groups)), user_options or {}, hub=OfflineHub(), usage=usage)

    return LOOP.run_until_complete(made())


def view(spawner) -> dict:
    return LOOP.run_until_complete(spawner.allowance_view())


def spawn(spawner):
    """What User.spawn runs before start(), then start()'s part up to the API call."""
    async def go():
        await apply_group_overrides(spawner)
        if spawner.pre_spawn_hook is not None:
            await maybe_future(spawner.run_pre_spawn_hook())
        try:
            return await pod_to_create(spawner)
        except web.HTTPError as e:
            return e

    return LOOP.run_until_complete(go())


def check(opa_url, c: Config, groups, body, usage=None) -> dict:
    return LOOP.run_until_complete(dry_run.run(c, dry_run.Who(user="sam", groups=list(groups)), body, opa_url, usage))


def checked_radio(html: str) -> str | None:
    for tag in re.findall(r"<input[^>]*name=\"profile\"[^>]*>", html):
        if re.search(r"\bchecked\b", tag):
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


# --- 1. the profile judged is the profile applied --------------------------


@pytest.mark.parametrize("body", [{}, {"cpu_limit": 1}, {"kubespawner_override": {"mem_limit": "1G"}}, {"profile": None}])
def test_a_default_profile_the_user_may_not_select_is_refused_however_it_is_reached(spawn, body):
    r = spawn(body, user="sam", groups=["students"], config=config(RESTRICTED_DEFAULT))
    assert r.status == 403, (r.status, r.message)
    assert DEFAULT_REFUSAL in r.message
    assert r.pod is None and r.changed() == {}
    assert r.spawner.node_selector == {}  # the profile's overrides were taken off again


def test_on_a_named_server_too(spawn):
    r = spawn({}, user="sam", server="lab", groups=["students"], config=config(RESTRICTED_DEFAULT))
    assert r.status == 403 and DEFAULT_REFUSAL in r.message


def test_the_default_profile_is_judged_as_any_other_for_who_may_select_it(spawn):
    r = spawn({}, user="gina", groups=["gpu-users"], config=config(RESTRICTED_DEFAULT))
    assert r.status == 200, r.message
    assert r.manifest.spec.node_selector == {"pool": "gpu-nodes"}
    assert r.spawner.policy_input["request"]["profile"] == "gpu"
    assert r.spawner.policy_input["request"]["profile_named"] is False
    named = spawn({"profile": "small"}, user="sam", groups=["students"], config=config(RESTRICTED_DEFAULT))
    assert named.status == 200 and named.spawner.policy_input["request"]["profile_named"] is True


def test_the_page_offers_and_checks_the_first_profile_the_user_may_select(opa):
    for saved in ({}, {"profile": "gpu"}):  # saved options naming the refused profile check nothing else
        spawner = spawner_for(opa.url, config(RESTRICTED_DEFAULT), ["students"], user_options=saved)
        html = page(spawner)
        form = html[html.index("kubespawner-profiles-list"):]
        assert 'value="gpu"' not in form
        assert checked_radio(html) == "small", saved
        assert spawner.user_options == saved  # rendered as if none were saved, then put back


def test_submitting_the_page_with_nothing_checked_is_refused_as_the_default(opa):
    spawner = spawner_for(opa.url, config(RESTRICTED_DEFAULT), ["students"])
    spawner.user_options = spawner.options_from_form({})  # a form submitted with no radio checked
    error = spawn(spawner)
    assert isinstance(error, web.HTTPError) and error.status_code == 403
    assert DEFAULT_REFUSAL in error.jupyterhub_message
    spawner = spawner_for(opa.url, config(RESTRICTED_DEFAULT), ["students"])
    spawner.user_options = spawner.options_from_form({"profile": ["small"]})
    assert not isinstance(spawn(spawner), web.HTTPError)


def test_check_says_what_the_hub_does_with_a_restricted_default(opa):
    report = check(opa.url, config(RESTRICTED_DEFAULT), ["students"], {})
    assert report["status"] == 403 and DEFAULT_REFUSAL in report["message"]
    assert check(opa.url, config(RESTRICTED_DEFAULT), ["gpu-users"], {})["status"] == 200


def test_the_allowance_view_says_the_default_profile_is_not_available(opa):
    v = view(spawner_for(opa.url, config(RESTRICTED_DEFAULT), ["students"]))
    assert [(u["profile"], u["reason"]) for u in v["unavailable"]] == [("gpu", "profile gpu is not allowed for group students")]


# --- 2. one view of the spawn for every judge ------------------------------


def test_a_group_override_is_applied_by_the_page_and_the_view_as_by_the_hub(opa):
    # The hub's default image is one students may not run; their group's
    # override gives them one they may. Before: "none of this hub's profiles
    # is available to you" on the page, while the spawn started.
    c = config([{"display_name": "Small", "slug": "small"}], image=NOT_FOR_STUDENTS,
               group_overrides={"01-students": {"groups": ["students"], "spawner_override": {"image": SAMPLE}}})
    spawner = spawner_for(opa.url, c, ["students"])
    html = page(spawner)
    assert isinstance(html, str) and 'value="small"' in html
    assert view(spawner)["unavailable"] == []
    assert spawner.image == NOT_FOR_STUDENTS  # the page borrowed the spawner and put it back
    created = spawn(spawner)
    assert not isinstance(created, web.HTTPError), created
    assert created.spec.containers[0].image == SAMPLE
    assert check(opa.url, c, ["students"], {"profile": "small"})["status"] == 200
    # Without the override all four judges refuse it, saying the same.
    plain = config([{"display_name": "Small", "slug": "small"}], image=NOT_FOR_STUDENTS)
    refused = spawn(spawner_for(opa.url, plain, ["students"]))
    reason = f"image {NOT_FOR_STUDENTS} (the hub's default) is not allowed for group students"
    assert refused.status_code == 403 and reason in refused.jupyterhub_message
    assert reason in page(spawner_for(opa.url, plain, ["students"])).jupyterhub_message
    assert view(spawner_for(opa.url, plain, ["students"]))["unavailable"][0]["reason"].startswith(reason)
    assert reason in check(opa.url, plain, ["students"], {})["message"]


FULL_GPUS = {"groups": {"gpu-users": {"extra_resources": {"nvidia.com/gpu": 4}}}}


def test_a_group_override_adding_a_gpu_meets_a_full_quota_on_every_judge(opa):
    c = config([{"display_name": "Small", "slug": "small"}, {"display_name": "Medium", "slug": "medium"}],
               group_overrides={"01-gpu": {"groups": ["gpu-users"],
                                           "spawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}}}})
    quota = "quota reached: gpu-users holds 4 of 4 nvidia.com/gpu"
    refused = spawn(spawner_for(opa.url, c, ["gpu-users"], {"profile": "small"}, usage=FULL_GPUS))
    assert refused.status_code == 403 and quota in refused.jupyterhub_message
    error = page(spawner_for(opa.url, c, ["gpu-users"], usage=FULL_GPUS))
    assert isinstance(error, web.HTTPError) and quota in error.jupyterhub_message  # no profile left, and why
    unavailable = view(spawner_for(opa.url, c, ["gpu-users"], usage=FULL_GPUS))["unavailable"]
    assert [u["profile"] for u in unavailable] == ["small", "medium"] and all(quota in u["reason"] for u in unavailable)
    assert quota in check(opa.url, c, ["gpu-users"], {"profile": "small"}, usage=FULL_GPUS)["message"]
    # With room left, all four let it through.
    room = {"groups": {"gpu-users": {"extra_resources": {"nvidia.com/gpu": 3}}}}
    assert not isinstance(spawn(spawner_for(opa.url, c, ["gpu-users"], {"profile": "small"}, usage=room)), web.HTTPError)
    assert view(spawner_for(opa.url, c, ["gpu-users"], usage=room))["unavailable"] == []
    assert check(opa.url, c, ["gpu-users"], {"profile": "small"}, usage=room)["status"] == 200


def gpu_for_everyone(spawner):
    spawner.extra_resource_limits = {"nvidia.com/gpu": "1"}


def test_check_runs_the_pre_spawn_hook_as_the_hub_does(opa):
    c = config(pre_spawn_hook=gpu_for_everyone)
    report = check(opa.url, c, ["students"], {})
    assert report["status"] == 403, report
    assert "nvidia.com/gpu" in report["message"]
    assert report["notes"] == ["pre_spawn_hook ran as the hub runs it (for user sam, here outside a hub)"]
    hub = spawn(spawner_for(opa.url, c, ["students"]))
    assert hub.status_code == 403 and hub.jupyterhub_message == report["message"]


def test_a_hook_that_raises_is_the_hubs_500_in_check(opa):
    def broken(spawner):
        raise RuntimeError("no LDAP here")

    report = check(opa.url, config(pre_spawn_hook=broken), ["students"], {})
    assert report["status"] == 500 and report["message"] == "pre_spawn_hook raised RuntimeError: no LDAP here"


def test_the_page_and_view_say_a_hooks_changes_are_judged_at_spawn(opa):
    c = config([{"display_name": "Small", "slug": "small"}], pre_spawn_hook=gpu_for_everyone)
    spawner = spawner_for(opa.url, c, ["students"])
    assert html.escape(HOOK_NOTE) in page(spawner)
    assert view(spawner)["notes"] == [HOOK_NOTE]
    assert spawner.extra_resource_limits == {}  # the page runs no hook
    assert view(spawner_for(opa.url, config([{"display_name": "Small", "slug": "small"}]), ["students"]))["notes"] == []


# --- 3. one rule for each admin value --------------------------------------

REFUSED_URLS = [
    'https://help.example/?q="x"', "https://help.example/?q='x'", "https://help.example/<x>", "https://help.example/a>b",
    "https://help.example/a\u00a0b", "https://help.example/a\u2028b", "https://help.example/a\tb", "https://help.example/é",
    "https://help.example/a b", "javascript:alert(1)", "ftp://help.example/",
]


def test_the_help_url_has_one_definition():
    rego = (ROOT / "policies" / "data_checks.rego").read_text()
    schema = json.loads((ROOT / "jhpolicy" / "data.schema.json").read_text())
    entry = schema["$defs"]["allowance"]["properties"]["help"]["properties"]["url"]
    assert entry["pattern"] == decision.HELP_URL_PATTERN
    assert f"regex.match(`{decision.HELP_URL_PATTERN}`, help.url)" in rego


@pytest.mark.opa  # jhpolicy lint runs OPA
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_help_url_the_spawner_refuses_lint_refuses(url, tmp_path):
    import os

    with pytest.raises(decision.PolicyBroken):
        decision.validate({"allow": False, "help": {"text": "ask", "url": url}}, set())
    folder = tmp_path / "policies"
    folder.mkdir()
    for rego in (ROOT / "policies").glob("*.rego"):
        (folder / rego.name).write_text(rego.read_text())
    data = json.loads((ROOT / "policies" / "data.json").read_text())
    data["jhpolicy"]["groups"]["students"]["help"] = {"text": "ask", "url": url}
    (folder / "data.json").write_text(json.dumps(data))
    found, _ = lint.check(os.environ["JHPOLICY_OPA"], folder)
    assert len(found) == 1 and found[0].startswith("data.jhpolicy: group students: help is not an object"), found


def test_a_help_url_both_accept():
    url = "https://h.example/a-b_c~d?e=f&g=%22#h"
    assert decision.validate({"allow": False, "help": {"text": "ask", "url": url}}, set()).help["url"] == url


# --- 4. profile lists no judge can tell apart ------------------------------

DUPLICATE_SLUGS = [
    {"display_name": "GPU", "slug": "gpu", "profile_options": {"image": {"display_name": "Image", "choices": {
        "pytorch": {"display_name": "PyTorch", "kubespawner_override": {"image": SAMPLE}},
        "matlab": {"display_name": "MATLAB", "kubespawner_override": {"image": "registry.example.edu/licensed/matlab:r2026a"}},
    }}}},
    {"display_name": "GPU again", "slug": "gpu"},
]


@pytest.mark.parametrize("profile_list, problem", [
    (DUPLICATE_SLUGS, "two profiles have the slug 'gpu': give each profile a slug of its own"),
    ([{"display_name": "A", "slug": "a", "profile_options": {"image": {"choices": ["x"]}}}],
     "profile a: option image is not a dict whose choices are a dict of dicts"),
    ([{"kubespawner_override": {}}], "KubeSpawner cannot initialise profile_list: KeyError: 'display_name'"),
])
def test_a_profile_list_no_judge_can_tell_apart_is_a_clear_503(opa, spawn, profile_list, problem):
    c = config(profile_list)
    r = spawn({"profile": "gpu"}, groups=["gpu-users"], config=c)
    assert r.status == 503 and f"(the hub's configuration: profile_list: {problem})" in r.message, r.message
    assert r.changed() == {}
    error = page(spawner_for(opa.url, c, ["gpu-users"]))
    assert error.status_code == 503 and problem in error.jupyterhub_message
    assert view(spawner_for(opa.url, c, ["gpu-users"])) == allowance.NOT_AVAILABLE
    assert check(opa.url, c, ["gpu-users"], {})["status"] == 503


def test_the_cli_says_so_in_one_line(tmp_path):
    hub_config = tmp_path / "jupyterhub_config.py"
    hub_config.write_text(f"c.KubeSpawner.profile_list = {DUPLICATE_SLUGS!r}\n")
    done = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "check", "--config", str(hub_config),
                           "--user", "gina", "--group", "gpu-users", "--body", "{}"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr + done.stdout
    assert "two profiles have the slug 'gpu'" in done.stdout, done.stdout + done.stderr


# --- 6. users are told why, and how to get more ----------------------------


def test_a_page_with_every_profile_unavailable_says_each_reason_and_the_help(opa):
    # Before: only "none of this hub's profiles is available to you".
    c = config([{"display_name": "Small", "slug": "small"}],
               group_overrides={"01-gpu": {"groups": ["gpu-users"],
                                           "spawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}}}})
    error = page(spawner_for(opa.url, c, ["gpu-users"], usage=FULL_GPUS))
    assert error.status_code == 403
    assert error.jupyterhub_message.startswith(
        "Spawn refused by policy: none of this hub's profiles is available to you (Small: quota reached: gpu-users holds 4 of 4")
    assert error.jupyterhub_message.endswith(". Ask for more GPU time: https://help.example.edu/gpu")
    assert '<a href="https://help.example.edu/gpu">Ask for more GPU time</a>' in error.jupyterhub_html_message
    v = view(spawner_for(opa.url, c, ["gpu-users"], usage=FULL_GPUS))
    assert v["unavailable"][0]["help"] == {"text": "Ask for more GPU time", "url": "https://help.example.edu/gpu"}
