"""PolicyKubeSpawner against a real OPA running the shipped policies and data.

Kubernetes is the one missing part: see tests/helpers/spawns.py.
"""

import json
import logging

import pytest
from traitlets.config import Config

from jhpolicy.hub.errors import UNAVAILABLE_MESSAGE
from jhpolicy.tooling.local_opa import free_port
from jhpolicy.tooling.offline import OfflineRequester

from .helpers.profiles import SPAWNER_TEST_PROFILES as PROFILES
from .helpers.spawns import run_spawn

GIB = 1024**3
SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"
FORUM_BODY = {"kubespawner_override": {"image": SAMPLE}}
DEFAULT_IMAGE = "quay.io/jupyterhub/singleuser:latest"


def profiles_config():
    c = Config()
    c.PolicyKubeSpawner.profile_list = PROFILES
    return c


# --- the forum request, allowed and refused ---


STUDENT_LIMITS = {"cpu": 2.0, "memory": 4 * GIB}
STUDENT_REQUESTS = {"cpu": 1.0, "memory": 2 * GIB}


def test_forum_request_allowed_for_students(spawn):
    r = spawn(FORUM_BODY, groups=["students"])
    assert r.status == 200
    assert r.pod["image"] == SAMPLE
    # The hub's defaults set no limits: "unlimited" is above every maximum.
    assert r.spawner.policy_outcome == "clamped"
    assert r.spawner.policy_messages == [
        "cpu_limit unlimited (the hub's default) lowered to 2: the most for group students",
        "mem_limit unlimited (the hub's default) lowered to 4G: the most for group students",
    ]
    assert r.pod["limits"] == STUDENT_LIMITS and r.pod["requests"] == STUDENT_REQUESTS
    assert set(r.changed()) == {"image", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}


def test_within_the_maxima_nothing_is_lowered(spawn):
    c = Config()
    c.KubeSpawner.cpu_limit = 1.0
    c.KubeSpawner.mem_limit = "1G"
    r = spawn(FORUM_BODY, groups=["students"], config=c)
    assert r.status == 200 and r.spawner.policy_outcome == "allowed" and r.spawner.policy_messages == []
    # Kubernetes would make the missing requests equal to the limits; the pod says so.
    assert r.pod["limits"] == {"cpu": 1.0, "memory": GIB} and r.pod["requests"] == {"cpu": 1.0, "memory": GIB}


def test_forum_request_refused_for_default_user(spawn):
    r = spawn(FORUM_BODY, groups=[])
    assert r.status == 403
    assert r.message == (
        "Spawn refused by policy: image jupyterhub/k8s-singleuser-sample:0.8.4 is not allowed for group default; "
        "allowed images: quay.io/jupyter/minimal-notebook:*, quay.io/jupyterhub/k8s-singleuser-sample:*, "
        "quay.io/jupyterhub/singleuser:*"
    )
    assert r.changed() == {}
    assert r.pod is None


# --- clamping ---


def test_cpu_and_memory_clamped_into_the_pod(spawn):
    r = spawn({"kubespawner_override": {"cpu_limit": 8, "mem_limit": "8G", "cpu_guarantee": "500m"}}, groups=["students"])
    assert r.status == 200
    assert r.spawner.policy_outcome == "clamped"
    assert r.spawner.policy_messages == [
        "cpu_limit 8 lowered to 2: the most for group students",
        "mem_limit 8G lowered to 4G: the most for group students",
    ]
    assert (r.spawner.cpu_limit, r.spawner.mem_limit, r.spawner.cpu_guarantee) == (2.0, 4 * GIB, 0.5)
    assert r.pod["limits"] == {"cpu": 2.0, "memory": 4 * GIB}
    assert r.pod["requests"] == {"cpu": 0.5, "memory": 2 * GIB}
    assert set(r.changed()) == {"cpu_limit", "mem_limit", "cpu_guarantee", "mem_guarantee"}


def test_kubernetes_forms_accepted(spawn):
    r = spawn({"mem_limit": "3Gi", "cpu_limit": "1500m"}, groups=["students"])
    assert r.status == 200
    assert r.pod["limits"] == {"cpu": 1.5, "memory": 3 * GIB}


def test_gpus_clamped(spawn):
    r = spawn(
        {"image": "nvcr.io/nvidia/pytorch:24.01-py3", "extra_resource_limits": {"nvidia.com/gpu": 4}},
        groups=["gpu-users"],
    )
    assert r.status == 200
    assert r.pod["limits"] == {"cpu": 8.0, "memory": 32 * GIB, "nvidia.com/gpu": "1"}
    assert r.pod["requests"]["nvidia.com/gpu"] == "1"  # Kubernetes needs request = limit
    assert "extra_resource_limits nvidia.com/gpu 4 lowered to 1: the most for group gpu-users" in r.spawner.policy_messages


def test_gpus_refused_without_a_gpu_group(spawn):
    r = spawn({"extra_resource_limits": {"nvidia.com/gpu": 1}}, groups=["students"])
    assert r.status == 403
    assert "nvidia.com/gpu is not available to group students" in r.message


def test_guarantee_above_limit_lowered(spawn):
    r = spawn({"mem_limit": "1G", "mem_guarantee": "2G"}, groups=["students"])
    assert r.status == 200
    assert r.pod["limits"]["memory"] == GIB and r.pod["requests"]["memory"] == GIB
    assert "mem_guarantee 2G lowered to 1G: a guarantee cannot exceed mem_limit" in r.spawner.policy_messages


def test_most_generous_group_applies(spawn):
    r = spawn({"cpu_limit": 6, "mem_limit": "6G"}, groups=["students", "gpu-users"])
    assert r.pod["limits"] == {"cpu": 6.0, "memory": 6 * GIB}
    assert r.pod["requests"] == {"cpu": 4.0, "memory": 6 * GIB}


# --- refusals ---


def test_unknown_key_refused_and_nothing_changes(spawn):
    r = spawn({"image": SAMPLE, "privileged": True}, groups=["students"])
    assert r.status == 403
    assert "privileged cannot be set" in r.message
    assert r.changed() == {}


def test_malformed_value_is_400_before_opa(spawn):
    r = spawn({"cpu_limit": "lots"}, groups=["students"])
    assert r.status == 400
    assert r.message.startswith("Invalid spawn request: cpu_limit: 'lots' is not valid")
    assert r.spawner.policy_outcome == "invalid"
    assert r.changed() == {}


def test_null_gpu_refused(spawn):
    r = spawn({"extra_resource_limits": {"nvidia.com/gpu": None}}, groups=["gpu-users"])
    assert r.status == 400
    assert "null would remove a configured resource" in r.message


# --- profiles alongside overrides ---


def test_profile_and_overrides_together(spawn):
    r = spawn({"profile": "medium", "image": "r", "mem_limit": "4G"}, groups=["students"], config=profiles_config())
    assert r.status == 200
    assert r.pod["image"] == "quay.io/jupyter/r-notebook:2025"  # the profile option
    assert r.pod["limits"] == {"cpu": 1.5, "memory": 4 * GIB}  # profile cpu, requested memory
    assert r.spawner.environment["PROFILE"] == "medium"


def test_profile_refused_by_policy_restores_profile_overrides(spawn):
    r = spawn({"profile": "medium"}, groups=[], config=profiles_config())
    assert r.status == 403
    assert "profile medium is not allowed for group default" in r.message
    # KubeSpawner had applied the profile (cpu_limit, environment merged in
    # place); the refusal put everything back.
    assert r.changed() == {}


def test_unknown_profile_choice_is_400(spawn):
    r = spawn({"profile": "medium", "image": "julia"}, groups=["students"], config=profiles_config())
    assert r.status == 400
    assert r.message == (
        "Invalid spawn request: image: no choice 'julia' for option image of profile medium; choose one of: scipy, r"
    )
    assert r.changed() == {}


def test_unknown_profile_is_400(spawn):
    r = spawn({"profile": "huge"}, groups=["students"], config=profiles_config())
    assert r.status == 400
    assert "no such profile 'huge'; choose one of: small, medium" in r.message


# --- who asks ---


def test_service_requester_gets_its_allowance(spawn):
    body = {"image": "registry.example.edu/courses/bio101/notebook:3", "cpu_limit": 4}
    as_user = spawn(body, groups=["students"])
    assert as_user.status == 403
    as_service = spawn(body, groups=["students"], requester=OfflineRequester("course-orchestrator", kind="service"))
    assert as_service.status == 200
    assert as_service.pod["image"] == body["image"] and as_service.pod["limits"]["cpu"] == 4.0


def test_admin_requester_gets_admin_allowance(spawn):
    body = {"cpu_limit": 12}
    assert spawn(body, groups=["students"]).pod["limits"]["cpu"] == 2.0
    r = spawn(body, groups=["students"], requester=OfflineRequester("root", admin=True))
    assert r.pod["limits"]["cpu"] == 12.0


def test_a_user_object_that_is_not_jupyterhubs_is_in_no_group_and_no_admin():
    # KubeSpawner's own tests spawn for a unittest Mock, whose every attribute
    # (groups, admin) is another, truthy Mock: it must get the least, not an
    # admin's allowance or a crash.
    from unittest.mock import Mock

    from jhpolicy.core.opa_input import describe_groups, describe_requester, describe_user

    user = Mock()
    user.name = "mock"
    assert describe_user(user) == {"name": "mock", "admin": False, "groups": []}
    assert describe_requester(None, user) == {"kind": "user", "name": "mock", "admin": False}
    assert describe_groups(user) == {}


def test_input_document(opa):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/echo_input"
    c.PolicyKubeSpawner.cpu_limit = 1.0
    c.PolicyKubeSpawner.mem_guarantee = "1G"
    c.PolicyKubeSpawner.extra_resource_limits = {"example.com/fpga": "1"}
    r = run_spawn(
        opa.url,
        {"kubespawner_override": {"cpu_limit": "500m", "mem_limit": "2Gi"}, "image": "x/y:1"},
        groups=["students", "b"],
        server="gpu-box",
        requester=OfflineRequester("svc", kind="service"),
        config=c,
    )
    doc = json.loads(r.message.split(": ", 1)[1])
    assert doc == {
        "version": 2,
        "user": {"name": "alice", "admin": False, "groups": ["b", "students"]},
        "requester": {"kind": "service", "name": "svc", "admin": False},
        "server": {"name": "gpu-box"},
        "request": {
            "profile": None,
                "profile_named": False,
            "profile_options": {},
            "overrides": {"cpu_limit": 0.5, "mem_limit": 2 * GIB, "image": "x/y:1"},
            "raw": {"cpu_limit": "500m", "mem_limit": "2Gi", "image": "x/y:1"},
        },
        "pod": {
            "image": "x/y:1",
            "cpu_limit": 0.5,
            "cpu_guarantee": 0.5,
            "mem_limit": 2 * GIB,
            "mem_guarantee": GIB,
            "extra_resource_limits": {"example.com/fpga": 1},
            "extra_resource_guarantees": {"example.com/fpga": 1},
        },
        "sources": {
            "image": "request",
            "cpu_limit": "request",
            "cpu_guarantee": "limit",
            "mem_limit": "request",
            "mem_guarantee": "config",
            "extra_resource_limits": {"example.com/fpga": "config"},
            "extra_resource_guarantees": {"example.com/fpga": "limit"},
        },
    }


# --- the contract: fail closed ---


@pytest.mark.parametrize(
    "path",
    [
        "jhpolicy_contract/grants_privileged",  # a key outside the ceiling
        "jhpolicy_contract/wrong_shape",
        "jhpolicy_contract/overrides_not_an_object",
        "jhpolicy_contract/bad_value",
        "jhpolicy_contract/no_such_rule",  # undefined: OPA answers 200 {}
    ],
)
def test_broken_decisions_fail_closed(opa, path, caplog):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = path
    with caplog.at_level(logging.ERROR):
        r = run_spawn(opa.url, {"image": SAMPLE, "cpu_limit": 1}, groups=["students"], config=c)
    assert r.status == 503
    assert r.message == UNAVAILABLE_MESSAGE
    assert r.changed() == {}
    assert "refusing spawn" in caplog.text


def test_widened_ceiling_lets_the_policy_grant_it(opa):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/grants_privileged"
    c.PolicyKubeSpawner.policy_allowed_keys = {"privileged"}
    r = run_spawn(opa.url, {}, config=c)
    assert r.status == 200 and r.spawner.privileged is True


def test_stopped_opa_fails_closed():
    r = run_spawn(f"http://127.0.0.1:{free_port()}", {"image": SAMPLE}, groups=["students"])
    assert r.status == 503
    assert r.message == UNAVAILABLE_MESSAGE
    assert r.changed() == {}


def test_defaults_failure_mode_ignores_the_request_but_keeps_the_default_profile():
    c = profiles_config()
    c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    r = run_spawn(f"http://127.0.0.1:{free_port()}", {"profile": "medium", "cpu_limit": 64}, config=c)
    assert r.status == 200
    assert r.spawner.policy_outcome == "defaults"
    # What an empty body gets: the default profile "small" (cpu_limit 0.5), never fewer limits.
    empty = run_spawn(f"http://127.0.0.1:{free_port()}", {}, config=c)
    assert r.pod == empty.pod
    assert r.pod["image"] == DEFAULT_IMAGE and r.pod["limits"] == {"cpu": 0.5} and r.pod["requests"] == {"cpu": 0.5}


@pytest.mark.parametrize("mode", ["deny", "defaults"])
def test_apply_user_options_is_refused_in_every_failure_mode(opa, mode):
    # JupyterHub would already have applied it from user input; "defaults"
    # must not start a server with that.
    c = Config()
    c.Spawner.apply_user_options = {"image": "image"}
    c.PolicyKubeSpawner.policy_failure_mode = mode
    r = run_spawn(opa.url, {"image": SAMPLE}, config=c)
    assert r.status == 503 and r.pod is None


# --- observability ---


def test_decision_log_line_carries_decision_id(spawn, opa, caplog):
    with caplog.at_level(logging.INFO):
        r = spawn({"cpu_limit": 8}, groups=["students"], server="lab")
    assert r.status == 200
    line = next(rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("jhpolicy decision"))
    decision_id = line.split("decision_id=")[1].split()[0]
    assert len(decision_id) == 36  # a UUID from OPA
    assert decision_id in opa.log_text()  # joins with OPA's decision log
    assert "user=alice requester=user:alice server='lab'" in line
    assert 'applied={"cpu_guarantee": 1.0, "cpu_limit": 2.0, "mem_guarantee": 2147483648, "mem_limit": 4294967296}' in line


@pytest.mark.parametrize("value", [0, -1, 10, 30])
def test_opa_timeout_must_stay_under_slow_spawn_timeout(opa, value):
    from traitlets import TraitError

    c = Config()
    c.PolicyKubeSpawner.opa_timeout = value
    with pytest.raises(TraitError, match="slow_spawn_timeout"):
        run_spawn(opa.url, {}, config=c)


# --- the spawn page's profile form ---


def render_form(opa_url, groups, config):
    import asyncio

    from tornado import web

    from jhpolicy.hub.opa_http import close_clients
    from jhpolicy.tooling.offline import OfflineUser, make_spawner

    async def go():
        config.PolicyKubeSpawner.opa_url = opa_url
        spawner = make_spawner(config, OfflineUser("alice", groups=groups), {})
        try:
            return await spawner.get_options_form()
        except web.HTTPError as e:
            return e
        finally:
            await close_clients()

    return asyncio.run(go())


def test_form_offers_only_allowed_profiles_and_shows_the_others_disabled(opa):
    students = render_form(opa.url, ["students"], profiles_config())
    assert 'value="small"' in students and 'value="medium"' in students
    assert "Not available to you" not in students
    default = render_form(opa.url, [], profiles_config())
    assert 'value="small"' in default and 'value="medium"' not in default
    # Medium is shown, but cannot be picked: disabled, outside the form's
    # `profile` field, with the reason.
    assert ('<input type="radio" disabled id="jhpolicy-unavailable-0" name="jhpolicy-unavailable-profile" '
            'aria-describedby="jhpolicy-unavailable-0-why"> <label for="jhpolicy-unavailable-0">Medium</label> '
            '<span id="jhpolicy-unavailable-0-why">(profile medium is not allowed for group default)</span>') in default
    # Above the form, what the user may launch, in words.
    assert "<li>Up to 1 CPU and 2G memory per server (guaranteed: up to 0.5 CPU, 1G memory)</li>" in default
    assert default.index("What you may launch") < default.index('value="small"')


def test_the_panel_can_be_switched_off(opa):
    c = profiles_config()
    c.PolicyKubeSpawner.policy_allowance_panel = False
    default = render_form(opa.url, [], c)
    assert "What you may launch" not in default and "Medium" not in default and 'value="small"' in default


def test_form_fails_closed_when_opa_is_down():
    error = render_form(f"http://127.0.0.1:{free_port()}", ["students"], profiles_config())
    assert error.status_code == 503
    c = profiles_config()
    c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    assert render_form(f"http://127.0.0.1:{free_port()}", ["students"], c) == ""


def test_the_form_asks_opa_with_the_token(tmp_path):
    """The profile query (a separate OPA query from the decision) carries
    opa_token too: an OPA that admits only the hub answers it."""
    import os

    from .helpers.helm import AUTHZ
    from .helpers.opa_server import opa_server
    from .helpers.policies import POLICIES

    token = "hub-" + os.urandom(8).hex()
    os.environ["JHPOLICY_OPA_TOKEN"] = token  # what OPA's system.authz reads
    try:
        with opa_server([POLICIES, AUTHZ], ["--authentication=token", "--authorization=basic"]) as server:
            c = profiles_config()
            c.PolicyKubeSpawner.opa_token = token
            assert 'value="medium"' in render_form(server.url, ["students"], c)
            c.PolicyKubeSpawner.opa_token = "not-the-token"
            assert render_form(server.url, ["students"], c).status_code == 503
    finally:
        del os.environ["JHPOLICY_OPA_TOKEN"]


def test_no_form_without_profiles(opa):
    assert render_form(opa.url, ["students"], Config()) == ""


def test_only_4xx_errors_are_refusals():
    """What jhpolicy.hub.failure_count exempts from consecutive_failure_limit:
    a 400 or 403 of jhpolicy's, never a 5xx."""
    from jhpolicy.hub import errors

    assert errors.invalid_request("x").jhpolicy_refusal and errors.denied(["x"]).jhpolicy_refusal
    assert not errors.unavailable().jhpolicy_refusal
    assert errors.spawn_error(499, "x", "r").jhpolicy_refusal
    assert not errors.spawn_error(500, "x", "r").jhpolicy_refusal


# --- a drop-in for KubeSpawner ---


def test_a_manifest_outside_a_spawn_is_kubespawners_and_creates_nothing(opa, caplog):
    """Code written for KubeSpawner builds manifests to inspect them; with no
    decision there is nothing to check it against, and no pod is created
    without one (the check before the API server)."""
    import asyncio

    from jhpolicy.tooling.offline import OfflineUser, make_spawner

    async def go():
        c = Config()
        c.KubeSpawner.cpu_limit = 64
        c.KubeSpawner.tolerations = [{"key": "gpu", "operator": "Exists"}]
        spawner = make_spawner(c, OfflineUser("alice", groups=["students"]), {})
        pod = await spawner.get_pod_manifest()
        assert pod.spec.containers[0].resources.limits["cpu"] == 64.0
        assert pod.spec.tolerations[0].key == "gpu"
        with caplog.at_level(logging.ERROR):
            try:
                await spawner._make_create_pod_request(pod, 1)
            except Exception as e:  # noqa: BLE001
                return e
        return None

    error = asyncio.run(go())
    assert error is not None and error.status_code == 503
    assert "jhpolicy: refusing pod for alice: no policy decision was made for it" in caplog.text


def test_an_invalid_request_is_also_kubespawners_value_error(opa):
    """KubeSpawner raises ValueError for an unlisted choice that fails its
    validation_regex; jhpolicy's 400 for it is a ValueError too."""
    c = Config()
    c.KubeSpawner.profile_list = [{
        "display_name": "Small", "slug": "small", "default": True,
        "profile_options": {"image": {"display_name": "Image", "unlisted_choice": {
            "enabled": True, "display_name": "Image", "validation_regex": "^quay\\\\.io/jupyter/.*$",
            "kubespawner_override": {"image": "{value}"}}, "choices": {}}},
    }]
    r = run_spawn(opa.url, {"profile": "small", "image--unlisted-choice": "evil/miner:1"}, groups=["students"], config=c)
    assert r.status == 400
    assert isinstance(r.error, ValueError)


# --- what the tools inside the server read ---


def _env(manifest) -> dict:
    return {e.name: e.value for e in manifest.spec.containers[0].env}


def test_the_limits_tools_read_in_the_server_are_the_decided_ones(opa):
    # jupyter-resource-usage reads MEM_LIMIT and CPU_LIMIT. KubeSpawner lays
    # `environment` over JupyterHub's values: a profile claiming 64 CPUs
    # and 999G, lowered by the policy to the student maxima, must not say so.
    c = Config()
    c.PolicyKubeSpawner.environment = {"CPU_GUARANTEE": "32"}
    c.PolicyKubeSpawner.profile_list = [{
        "display_name": "big", "slug": "small", "default": True,
        "kubespawner_override": {"cpu_limit": 64, "mem_limit": "999G", "environment": {"CPU_LIMIT": "64", "MEM_LIMIT": "999G"}},
    }]
    r = run_spawn(opa.url, {"profile": "small"}, groups=["students"], config=c)
    assert r.status == 200, r.message
    env = _env(r.manifest)
    assert (env["CPU_LIMIT"], env["MEM_LIMIT"]) == ("2.0", str(4 * GIB))
    assert (env["CPU_GUARANTEE"], env["MEM_GUARANTEE"]) == ("1.0", str(2 * GIB))
    assert r.pod["limits"] == {"cpu": 2.0, "memory": 4 * GIB}


def test_a_request_cannot_set_the_limits_environment_itself(spawn):
    r = spawn({"environment": {"CPU_LIMIT": "64"}, "cpu_limit": 1}, groups=["students"])
    assert r.status == 403 and "environment cannot be set" in r.message
