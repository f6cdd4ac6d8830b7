"""Quotas through a real hub: JupyterHub with PolicyKubeSpawner against the
real Kubernetes API server with kwok nodes (tests/kube), a real OPA with the
shipped policies and, for this module, quota data on top of the shipped data:
each user at most 2 servers, the hub at most 7; gpu-users keeps the shipped
4 GPUs for the whole group. The tests run in order on one hub and each
leaves no server running.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from jhpolicy.tooling.local_opa import LocalOPA

from .e2e.browser import ARTIFACTS, log_in
from .e2e.hub import Hub
from .helpers.hub_quotas import (
    GPU,
    GPU_HELP,
    GROUP_FULL,
    HUB_FULL,
    USER_FULL,
    gpus,
    running,
    usage,
)
from .helpers.policies import POLICIES, policies_with_quotas

GPU_USERS = [f"gpu{i}" for i in range(10)]
STUDENTS = [f"stu{i}" for i in range(5)]


@pytest.fixture(scope="module")
def opa(tmp_path_factory):
    shipped = json.loads((POLICIES / "data.json").read_text())["jhpolicy"]["quotas"]
    quotas = {**shipped, "users": {"servers": 2}, "hub": {"servers": 7}}
    server = LocalOPA([policies_with_quotas(tmp_path_factory.mktemp("quota-policies"), quotas)]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(opa, cluster, pod_ips, tmp_path_factory):
    # Room for more GPUs than the quota grants: a pod above it would be scheduled, not held back.
    cluster.add_node("kwok-gpu-quota", gpus=16)
    # Decisions are made one at a time: the most opa_timeout allows (under 10 s), so that a
    # busy machine's slower OPA answers cannot turn a queued request into a 503.
    hub = Hub(tmp_path_factory.mktemp("hub"), opa.url, cluster=cluster, namespace="jhub-quota",
              singleuser_port=pod_ips.port, opa_timeout=9.0, env={"E2E_KEEP_SERVERS": "1"}).start()
    for name in GPU_USERS:
        hub.add_user(name, ("gpu-users",))
    for name in STUDENTS:
        hub.add_user(name, ("students",))
    hub.add_user("dual", ("gpu-users", "students"))
    yield hub
    stop_all(hub)
    hub.stop()


def refusals(*messages: str, help: str = GPU_HELP) -> set[str]:
    """What a 403 may say when any of `messages` applies: one of them, or
    several at once (the policy joins them, sorted, with "; "), then how to
    get more (gpu-users' help in the tests' data)."""
    from itertools import combinations

    return {"Spawn refused by policy: " + "; ".join(sorted(c)) + help
            for n in range(1, len(messages) + 1) for c in combinations(messages, n)}


def started(outcome) -> bool:
    return outcome["status"] in (201, 202)


def stop_all(hub) -> None:
    for user, server in running(hub):
        hub.stop_server(user, server)
    assert running(hub) == {}
    assert usage(hub, "", "servers") == 0


def test_50_concurrent_gpu_requests_get_exactly_the_quota(hub):
    requests = [(user, f"g{i}", GPU) for i in range(5) for user in GPU_USERS]
    outcomes = asyncio.run(hub.burst(requests))

    granted = [o for o in outcomes if started(o)]
    assert len(granted) == 4, [o for o in outcomes if o["status"] != 403]
    refused = [o for o in outcomes if not started(o)]
    assert {o["status"] for o in refused} == {403}
    # Which users got the 4 depends on the interleaving; one already at 2 servers gets both reasons.
    assert {o["message"] for o in refused} <= refusals(GROUP_FULL, USER_FULL)
    assert any(GROUP_FULL in o["message"] for o in refused)

    pods = running(hub)
    assert set(pods) == {(o["user"], o["server"]) for o in granted}  # no pod above the quota was created
    assert sum(gpus(p) for p in pods.values()) == 4
    per_user = [user for user, _ in pods]
    assert max(per_user.count(u) for u in per_user) <= 2
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4
    assert usage(hub, "gpu-users", "nvidia.com/gpu", gauge="jhpolicy_quota") == 4


def test_stopping_a_server_frees_its_share(hub):
    (user, server), *_ = running(hub)
    r = hub.start_server(user, "more", GPU)
    assert r.status_code in (403,) and GROUP_FULL in r.json()["message"], r.text
    hub.stop_server(user, server)
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 3
    r = hub.start_server(user, "more", GPU)
    assert r.status_code in (201, 202), r.text
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4


def test_a_restarted_hub_rebuilds_the_books_from_its_active_servers(hub):
    before = running(hub)
    hub.restart()
    assert running(hub) == before
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4
    assert usage(hub, "", "servers") == 4
    idle = next(u for u in GPU_USERS if u not in {user for user, _ in before})
    r = hub.start_server(idle, "after-restart", GPU)
    assert r.status_code == 403 and GROUP_FULL in r.json()["message"], r.text
    (user, server), *_ = before
    hub.stop_server(user, server)
    r = hub.start_server(idle, "after-restart", GPU)
    assert r.status_code in (201, 202), r.text
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4


def test_a_pod_deleted_outside_the_hub_frees_its_share_once_the_hub_sees_it_stop(hub):
    (user, server), pod = next(iter(running(hub).items()))
    hub.cluster.request("DELETE", f"/api/v1/namespaces/{hub.namespace}/pods/{pod['metadata']['name']}",
                        params={"gracePeriodSeconds": 0})
    hub.wait_for(lambda: hub.server_state(user, server) is None, f"the hub to see {user}/{server} stop")
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 3
    idle = next(u for u in GPU_USERS if u not in {u for u, _ in running(hub)})
    r = hub.start_server(idle, "after-delete", GPU)
    assert r.status_code in (201, 202), r.text
    stop_all(hub)


def test_user_caps_and_the_hub_total_hold_in_one_burst(hub):
    # 4 GPU servers, then 15 requests for servers without GPUs: the hub has room for 3 more.
    for i, user in enumerate(GPU_USERS[:4]):
        assert hub.start_server(user, "base", GPU).status_code in (201, 202)
    requests = [(user, f"s{i}", {}) for i in range(3) for user in STUDENTS]
    outcomes = asyncio.run(hub.burst(requests))
    granted = [o for o in outcomes if started(o)]
    assert len(granted) == 3, outcomes
    assert {o["message"] for o in outcomes if not started(o)} <= refusals(HUB_FULL, USER_FULL, help="")  # students: no help in the data
    assert len(running(hub)) == 7
    assert usage(hub, "", "servers") == 7
    stop_all(hub)


def test_a_user_in_two_groups_is_charged_to_the_group_the_policy_chose(hub):
    r = hub.start_server("dual", "gpu", GPU)
    assert r.status_code in (201, 202), r.text
    assert usage(hub, "gpu-users", "servers") == 1
    assert usage(hub, "students", "servers") == 0
    r = hub.start_server("dual", "plain", {})
    assert r.status_code in (201, 202), r.text
    # charge_order puts gpu-users first, and it has room: charged there too, counted once.
    assert usage(hub, "gpu-users", "servers") == 2
    assert usage(hub, "students", "servers") == 0
    assert usage(hub, "", "servers") == 2
    stop_all(hub)
    assert usage(hub, "gpu-users", "servers") == 0


def test_a_quota_set_in_group_properties_through_the_api_applies_to_the_next_spawn(hub):
    student = STUDENTS[0]
    assert hub.start_server(student, "one", {}).status_code in (201, 202)
    properties = {"jhpolicy_quota": {"member": {"servers": 1}}}
    r = hub.api("PUT", "/groups/students/properties", token=hub.tokens["harness"], json=properties)
    assert r.status_code == 200, r.text
    r = hub.start_server(student, "two", {})
    assert r.status_code == 403, r.text
    assert r.json()["message"] == ("Spawn refused by policy: quota reached: you hold 1 of the 1 servers each member "
                                   "of students may hold; stop one of your servers to free some")
    r = hub.api("PUT", "/groups/students/properties", token=hub.tokens["harness"], json={})
    assert r.status_code == 200, r.text
    assert hub.start_server(student, "two", {}).status_code in (201, 202)
    stop_all(hub)


# --- the escapes found on e4bb184, through the hub ---


def test_a_full_gpu_group_never_spills_over_into_students(hub):
    # With gpu-users full, a member who is also a student got a fifth GPU, charged to students.
    for user in GPU_USERS[:4]:
        assert hub.start_server(user, "base", GPU).status_code in (201, 202)
    r = hub.start_server("dual", "fifth", GPU)
    assert r.status_code == 403, r.text
    assert r.json()["message"] == "Spawn refused by policy: " + GROUP_FULL + GPU_HELP
    assert sum(gpus(p) for p in running(hub).values()) == 4
    assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4
    assert usage(hub, "students", "servers") == 0
    stop_all(hub)


def decisions(hub, outcome: str) -> float:
    match = re.search(rf'^jhpolicy_decisions_total{{outcome="{outcome}"}} (\S+)$', hub.client.get("/hub/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0


def test_quotas_typed_into_the_admin_page_apply_and_malformed_ones_refuse(hub):
    student, harness = STUDENTS[1], hub.tokens["harness"]

    def set_properties(content: str) -> None:
        r = hub.api("PUT", "/groups/students/properties", token=harness, content=content)
        assert r.status_code == 200, r.text

    assert hub.start_server(student, "one", {}).status_code in (201, 202)
    # What JupyterHub's admin page stores: the text typed in.
    set_properties(json.dumps({"jhpolicy_quota": '{"member": {"servers": 1}}'}))
    r = hub.start_server(student, "two", {})
    assert r.status_code == 403, r.text
    assert r.json()["message"] == ("Spawn refused by policy: quota reached: you hold 1 of the 1 servers each member "
                                   "of students may hold; stop one of your servers to free some")
    # A typo refuses, saying where; it never means "no quota".
    misconfigured = decisions(hub, "misconfigured")
    set_properties(json.dumps({"jhpolicy_quota": '{"members": {"servers": 1}}'}))
    r = hub.start_server(student, "two", {})
    assert r.status_code == 403, r.text
    assert r.json()["message"] == (
        "Spawn refused by policy: the hub's spawn policy is misconfigured, ask your hub admin: group students property "
        "jhpolicy_quota.members is not a known key (did you mean member? known: group, member)")
    # The REST API takes NaN and Infinity in properties: never a 500.
    set_properties('{"colour": NaN, "jhpolicy_quota": {"member": {"servers": Infinity}}}')
    r = hub.start_server(student, "two", {})
    assert r.status_code == 403, r.text
    assert 'jhpolicy_quota.member.servers "Infinity" is not a whole number' in r.json()["message"]
    assert decisions(hub, "misconfigured") == misconfigured + 2
    assert "jhpolicy: refusing spawn of " in hub.log_text()
    set_properties('{"colour": NaN}')
    assert hub.start_server(student, "two", {}).status_code in (201, 202)
    set_properties("{}")
    stop_all(hub)


def test_a_user_renamed_while_their_servers_run_is_still_held_to_the_quota(hub):
    user, harness = STUDENTS[2], hub.tokens["harness"]
    for server in ("a", "b"):
        assert hub.start_server(user, server, {}).status_code in (201, 202)
    renamed = user + "-renamed"
    r = hub.api("PATCH", f"/users/{user}", token=harness, json={"name": renamed})
    assert r.status_code == 200, r.text
    hub.tokens[renamed] = hub.tokens[user]  # a token belongs to the user, whatever the name
    r = hub.start_server(renamed, "c", {})
    assert r.status_code == 403, r.text
    assert r.json()["message"] == "Spawn refused by policy: " + USER_FULL
    for server in ("a", "b"):
        hub.stop_server(renamed, server)
    assert usage(hub, "", "servers") == 0
    assert hub.start_server(renamed, "c", {}).status_code in (201, 202)
    hub.stop_server(renamed, "c")
    assert usage(hub, "", "servers") == 0


def test_a_quota_typed_into_the_real_admin_page_applies(hub, browser):
    student = STUDENTS[3]
    assert hub.start_server(student, "one", {}).status_code in (201, 202)
    page = log_in(browser, hub, "admin")
    page.goto(hub.url + "/hub/admin#/groups")
    page.click("a:text-is('students')")
    # The group editor's empty key/value row: type both, "Add Item", then "Apply".
    # The editor renders after the click: wait for its row (all() would not wait).
    fields = page.locator("input[type=text]:not(#username-input)")
    fields.nth(1).wait_for()
    key, value = fields.nth(0), fields.nth(1)
    key.fill("jhpolicy_quota")
    value.fill('{"member": {"servers": 1}}')
    page.click("#add-item")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/groups/students/properties" in r.url) as put:
        page.click("#submit")
    assert put.value.status == 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "admin-page-group-quota.png", full_page=True)
    page.close()
    # What the admin page stored: the text typed in, not an object.
    stored = hub.api("GET", "/groups/students", token=hub.tokens["harness"]).json()["properties"]
    assert stored == {"jhpolicy_quota": '{"member": {"servers": 1}}'}
    r = hub.start_server(student, "two", {})
    assert r.status_code == 403, r.text
    assert r.json()["message"] == ("Spawn refused by policy: quota reached: you hold 1 of the 1 servers each member "
                                   "of students may hold; stop one of your servers to free some")
    assert hub.api("PUT", "/groups/students/properties", token=hub.tokens["harness"], json={}).status_code == 200
    stop_all(hub)
