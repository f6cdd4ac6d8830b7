"""Every way a value can reach the pod, tried as an attacker would.

The policy judges the pod's final values (input.pod), whichever layer set
them: admin config, JupyterHub's group_overrides, the profile, a profile
option's choice or unlisted choice, the request. Each test here checks the
built pod manifest (KubeSpawner's own get_pod_manifest), not the request.
Real OPA with the shipped policy and data; Kubernetes is the one missing
part (see tests/helpers/spawns.py).
"""

from __future__ import annotations

import logging

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jhpolicy.hub.errors import UNAVAILABLE_MESSAGE

from .helpers.profiles import POD_TEST_PROFILES as PROFILES
from .helpers.profiles import SAMPLE
from .helpers.spawns import run_spawn

GIB = 1024**3
EVIL = "evil.example/miner:latest"


def config(**traits) -> Config:
    c = Config()
    c.PolicyKubeSpawner.profile_list = PROFILES
    for name, value in traits.items():
        setattr(c.PolicyKubeSpawner, name, value)
    return c


def assert_refused_unchanged(r, status: int, fragment: str):
    assert r.status == status, (r.status, r.message)
    assert fragment in r.message, r.message
    assert r.changed() == {}
    assert r.pod is None


# --- zero is not a limit ---


def test_zero_limits_from_the_request_are_400(spawn):
    r = spawn({"cpu_limit": 0, "mem_limit": 0}, groups=["students"], config=config())
    assert_refused_unchanged(r, 400, "cpu_limit: 0 is not valid (0 would mean no bound to KubeSpawner")


@pytest.mark.parametrize("body", [{"mem_limit": "0G"}, {"cpu_limit": "0m"}, {"cpu_limit": -0.0}, {"mem_guarantee": "0Mi"}])
def test_zero_with_units_and_negative_zero_are_400(spawn, body):
    assert_refused_unchanged(spawn(body, groups=["students"]), 400, "0 would mean no bound")


def test_admin_zero_means_unlimited_and_is_lowered_to_the_maximum(spawn):
    c = Config()
    c.KubeSpawner.cpu_limit = 0.0
    c.KubeSpawner.mem_limit = 0
    r = spawn({}, groups=["students"], config=c)
    assert r.status == 200
    assert r.pod["limits"] == {"cpu": 2.0, "memory": 4 * GIB}
    assert "cpu_limit unlimited (the hub's default) lowered to 2: the most for group students" in r.spawner.policy_messages


# --- layers other than the request ---


def test_admin_defaults_above_the_maximum_are_lowered(spawn):
    c = Config()
    c.KubeSpawner.cpu_limit = 16.0
    c.KubeSpawner.cpu_guarantee = 8.0
    r = spawn({}, groups=[], config=c)
    assert r.status == 200
    assert r.pod["limits"]["cpu"] == 1.0 and r.pod["requests"]["cpu"] == 0.5
    assert "cpu_limit 16 (the hub's default) lowered to 1: the most for group default" in r.spawner.policy_messages


def test_group_overrides_above_the_maximum_are_lowered(spawn):
    c = Config()
    c.Spawner.group_overrides = {
        "01-students": {"groups": ["students"], "spawner_override": {"cpu_limit": 16.0, "image": EVIL}}
    }
    r = spawn({}, groups=["students"], config=c)
    # The image the group override set is judged like any other.
    assert r.status == 403
    assert f"image {EVIL} (your group's settings) is not allowed for group students" in r.message
    c.Spawner.group_overrides["01-students"]["spawner_override"].pop("image")
    r = spawn({}, groups=["students"], config=c)
    assert r.status == 200 and r.pod["limits"]["cpu"] == 2.0
    assert "cpu_limit 16 (your group's settings) lowered to 2: the most for group students" in r.spawner.policy_messages


def test_profile_above_the_maximum_is_lowered(spawn):
    r = spawn({"profile": "huge"}, groups=["gpu-users"], config=config())
    assert r.status == 200
    assert r.pod["limits"] == {"cpu": 8.0, "memory": 32 * GIB}
    assert r.pod["requests"] == {"cpu": 4.0, "memory": 16 * GIB}
    assert "cpu_limit 16 (the profile) lowered to 8: the most for group gpu-users" in r.spawner.policy_messages


@pytest.mark.parametrize("profile", [{}, {"profile": "small"}])
def test_unlisted_choice_image_meets_the_allowlist(spawn, profile):
    # Without "profile", KubeSpawner skips its own validation yet applies the choice.
    r = spawn({**profile, "image--unlisted-choice": EVIL}, groups=["students"], config=config())
    assert_refused_unchanged(r, 403, f"image {EVIL} (your profile option choice) is not allowed for group students")
    ok = spawn({**profile, "image--unlisted-choice": "quay.io/jupyter/scipy-notebook:2025"}, groups=["students"], config=config())
    assert ok.status == 200 and ok.pod["image"] == "quay.io/jupyter/scipy-notebook:2025"


@pytest.mark.parametrize("how", ["request", "unlisted choice"])
def test_a_digest_after_an_allowed_tag_is_no_way_to_another_image(spawn, how):
    # The runtime pulls "repo:tag@sha256:..." by its digest, whatever the tag says, so the
    # students' "quay.io/jupyter/*-notebook:*" (any tag) is no pattern for it: it is
    # refused like any image the allowlist does not name, and the pod keeps its image.
    pinned = "quay.io/jupyter/scipy-notebook:2025@sha256:" + "0" * 64
    body = ({"kubespawner_override": {"image": pinned}} if how == "request"
            else {"profile": "small", "image--unlisted-choice": pinned})
    r = spawn(body, groups=["students"], config=config())
    assert_refused_unchanged(r, 403, "is not allowed for group students")
    assert "scipy-notebook:2025@sha256:" in r.message
    # The tag alone is the image it names, and is allowed.
    tagged = {"kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2025"}} if how == "request" else {
        "profile": "small", "image--unlisted-choice": "quay.io/jupyter/scipy-notebook:2025"}
    ok = spawn(tagged, groups=["students"], config=config())
    assert ok.status == 200 and ok.pod["image"] == "quay.io/jupyter/scipy-notebook:2025"


def test_listed_choice_is_the_choice_and_its_image_meets_the_allowlist(spawn):
    r = spawn({"image": "sample"}, groups=["students"], config=config())
    assert r.status == 200 and r.pod["image"] == SAMPLE
    # A top-level key named like an option is that option's choice, never an image.
    r = spawn({"image": EVIL}, groups=["students"], config=config())
    assert_refused_unchanged(r, 400, "image: no choice 'evil.example/miner:latest' for option image of profile small; choose one of: sample")


def test_validation_regex_holds_without_a_profile_key(spawn):
    profiles = [dict(p) for p in PROFILES]
    profiles[0] = {**profiles[0], "profile_options": {"image": {**PROFILES[0]["profile_options"]["image"]}}}
    profiles[0]["profile_options"]["image"]["unlisted_choice"] = {
        **PROFILES[0]["profile_options"]["image"]["unlisted_choice"],
        "validation_regex": "^quay\\.io/",
    }
    c = Config()
    c.PolicyKubeSpawner.profile_list = profiles
    r = spawn({"image--unlisted-choice": EVIL}, groups=["admins-not-needed"], config=c)
    assert_refused_unchanged(r, 400, "is not accepted: it must match ^quay\\.io/")


def test_request_overrides_the_profile_and_the_pod_is_judged(spawn):
    r = spawn({"profile": "huge", "cpu_limit": 64}, groups=["students"], config=config())
    assert_refused_unchanged(r, 403, "profile huge is not allowed for group students")


# --- what Kubernetes would refuse ---


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"extra_resource_limits": {"nvidia.com/gpu": 0.5}}, "extended resources are whole numbers"),
        ({"extra_resource_limits": {"nvidia.com/gpu": "500m"}}, "extended resources are whole numbers"),
        ({"extra_resource_limits": {"cpu": 4}}, "not an extended resource name"),
        ({"extra_resource_guarantees": {"memory": 4}}, "not an extended resource name"),
        (
            {"extra_resource_limits": {"nvidia.com/gpu": 1}, "extra_resource_guarantees": {"nvidia.com/gpu": 0}},
            "extra_resource_guarantees[nvidia.com/gpu] 0 differs from its limit 1; Kubernetes needs them equal",
        ),
        ({"extra_resource_guarantees": {"nvidia.com/gpu": 1}}, "extra_resource_guarantees[nvidia.com/gpu] has no limit"),
    ],
)
def test_what_kubernetes_refuses_is_a_400(spawn, body, fragment):
    r = spawn(body, groups=["gpu-users"])
    assert_refused_unchanged(r, 400, fragment)


def test_fractional_gpu_from_a_profile_is_a_400(spawn):
    r = spawn({"profile": "half-gpu"}, groups=["gpu-users"], config=config())
    assert_refused_unchanged(r, 400, "the pod would be refused by Kubernetes: extra_resource_limits[nvidia.com/gpu]: '0.5'")


def test_gpu_guarantee_from_config_must_equal_the_requested_limit(spawn):
    c = Config()
    c.KubeSpawner.extra_resource_guarantees = {"nvidia.com/gpu": "1"}
    r = spawn({"extra_resource_limits": {"nvidia.com/gpu": 2}}, groups=["admins-not-a-group"], config=c)
    assert_refused_unchanged(r, 400, "extra_resource_guarantees[nvidia.com/gpu] 1 differs from its limit 2")


def test_limit_below_the_admins_guarantee_lowers_the_guarantee(spawn):
    c = Config()
    c.KubeSpawner.cpu_guarantee = 0.5
    r = spawn({"cpu_limit": 0.25}, groups=["students"], config=c)
    assert r.status == 200
    assert r.pod["limits"]["cpu"] == 0.25 and r.pod["requests"]["cpu"] == 0.25
    assert "cpu_guarantee 0.5 (the hub's default) lowered to 0.25: a guarantee cannot exceed cpu_limit" in r.spawner.policy_messages


# --- hostile sizes: the caller's fault is a 4xx, never a 500 or a 503 ---


@pytest.mark.parametrize("key", ["mem_limit", "cpu_limit", "cpu_guarantee", "mem_guarantee"])
def test_a_400_digit_number_is_a_400(spawn, key):
    r = spawn({key: 10**400}, groups=["students"])
    assert_refused_unchanged(r, 400, "a 401-digit number is not valid")


def test_a_huge_gpu_amount_string_is_a_400_not_an_opa_error(spawn):
    for amount in ("9" * 400, "1e400", "Infinity"):
        r = spawn({"extra_resource_limits": {"nvidia.com/gpu": amount}}, groups=["gpu-users"])
        assert r.status == 400, (amount, r.message)


@pytest.mark.parametrize("mode", ["deny", "defaults"])
def test_thousands_of_keys_are_a_400_in_both_failure_modes(spawn, mode):
    c = config(policy_failure_mode=mode)
    r = spawn({f"k{i}": 0 for i in range(3000)}, groups=["students"], config=c)
    assert_refused_unchanged(r, 400, "user_options has 3000 keys and list items (nested ones included); at most 64 are accepted")


def test_many_long_unknown_keys_get_one_bounded_refusal(spawn):
    body = {f"{i:02d}" + "x" * 900: True for i in range(60)}
    r = spawn(body, groups=["students"])
    assert r.status == 403
    assert "and 55 more cannot be set: this hub lets you choose only" in r.message
    assert len(r.message) < 600


@pytest.mark.parametrize("path", ["jhpolicy_contract/huge_integer", "jhpolicy_contract/huge_float"])
def test_a_huge_number_in_the_policys_answer_fails_closed(opa, path):
    r = run_spawn(opa.url, {}, groups=["students"], config=config(opa_decision_path=path))
    assert r.status == 503 and r.message == UNAVAILABLE_MESSAGE and r.changed() == {}
    d = run_spawn(opa.url, {}, groups=["students"], config=config(opa_decision_path=path, policy_failure_mode="defaults"))
    # The defaults include the default profile: never fewer limits than an empty body.
    assert d.status == 200 and d.pod["limits"] == {"cpu": 0.5}


def test_a_policy_that_decides_a_fractional_gpu_fails_closed(opa):
    r = run_spawn(opa.url, {}, groups=["gpu-users"], config=config(opa_decision_path="jhpolicy_contract/fractional_gpu"))
    assert r.status == 503 and r.changed() == {}


def test_a_policy_that_allows_an_invalid_pod_as_is_still_gets_a_400(opa):
    c = Config()
    c.KubeSpawner.cpu_limit = 1.0
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/allow_as_is"
    r = run_spawn(opa.url, {"cpu_guarantee": 2}, config=c)
    assert_refused_unchanged(r, 400, "the pod would be refused by Kubernetes: cpu_guarantee 2.0 is above cpu_limit 1.0")


# --- after the decision, nothing changes the pod ---


def test_extra_container_config_cannot_change_the_decided_resources(spawn, caplog):
    c = Config()
    c.KubeSpawner.extra_container_config = {"resources": {"limits": {"cpu": "64"}}}
    with caplog.at_level(logging.ERROR):
        r = spawn({}, groups=["students"], config=c)
    assert r.status == 503 and r.pod is None
    assert "limits.cpu '64' is not the decided 2.0" in caplog.text


def test_modify_pod_hook_cannot_change_the_decided_image(spawn, caplog):
    def hook(spawner, pod):
        pod.spec.containers[0].image = EVIL
        return pod

    c = Config()
    c.KubeSpawner.modify_pod_hook = hook
    with caplog.at_level(logging.ERROR):
        r = spawn({}, groups=["students"], config=c)
    assert r.status == 503 and r.pod is None
    assert f"image '{EVIL}' is not the decided" in caplog.text


# A pod without a decision: built outside a spawn it is KubeSpawner's, and the
# check before the API server refuses it (tests/test_spawner.py,
# test_a_manifest_outside_a_spawn_is_kubespawners_and_creates_nothing).


# --- the token ---


def spawner_with_token(value):
    import asyncio

    from jhpolicy.tooling.offline import OfflineUser, make_spawner

    async def go():
        c = Config()
        c.PolicyKubeSpawner.opa_token = value
        return make_spawner(c, OfflineUser("alice"), {})

    return asyncio.run(go())


@pytest.mark.parametrize("value", ["tok\n", "  tok  ", "tok\r\n"])
def test_opa_token_surrounding_whitespace_is_stripped(value):
    # kubectl create secret --from-file keeps the file's trailing newline.
    assert spawner_with_token(value).opa_token == "tok"


@pytest.mark.parametrize("value", ["to\nk", "to\x00k", "tök"])
def test_opa_token_with_control_characters_is_a_configuration_error(value):
    with pytest.raises(TraitError, match="opa_token"):
        spawner_with_token(value)


# --- a guarantee nobody set follows the decided limit (as Kubernetes makes it) ---


@pytest.mark.parametrize(
    "body, limits, requests",
    [
        ({"cpu_limit": 8}, {"cpu": 1.0}, {"cpu": 1.0}),
        ({"extra_resource_limits": {"nvidia.com/gpu": 3}}, {"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "1"}),
    ],
)
def test_a_policy_that_lowers_only_a_limit_lowers_the_guarantee_that_follows_it(opa, body, limits, requests):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/clamp_limits_only"
    r = run_spawn(opa.url, body, config=c)
    assert r.status == 200, r.message
    resources = r.manifest.spec.containers[0].resources
    assert {k: v for k, v in resources.limits.items() if k in limits} == limits
    assert {k: v for k, v in resources.requests.items() if k in requests} == requests


def test_a_guarantee_someone_set_does_not_follow_and_above_the_limit_fails_closed(opa):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/clamp_limits_only"
    c.PolicyKubeSpawner.cpu_guarantee = 4
    r = run_spawn(opa.url, {"cpu_limit": 8}, config=c)
    assert r.status == 503  # the admin's guarantee of 4 is above the decided limit of 1: the policy's bug
