"""The allowance view: what a user may launch and how much is in use.

Offline: the spawner's view against the real OPA (tests' data), and the
fail-closed checks on the policy's answer. End to end: a real JupyterHub
serving GET /hub/api/jhpolicy/allowance[/users/{name}] with its token auth
and scopes, PolicyKubeSpawner on the local API server with kwok nodes.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from traitlets.config import Config

from jhpolicy.core import allowance
from jhpolicy.tooling.offline import OfflineUser, make_spawner

from .e2e.browser import ARTIFACTS, log_in
from .e2e.hub import Hub

_LOOP = asyncio.new_event_loop()


def offline_view(opa_url: str, groups=(), **config) -> dict:
    async def go():
        c = Config()
        c.PolicyKubeSpawner.opa_url = opa_url
        c.PolicyKubeSpawner.policy_quotas = False  # no cluster offline: no pods to count
        for key, value in config.items():
            setattr(c.PolicyKubeSpawner, key, value)
        return await make_spawner(c, OfflineUser(name="alice", groups=list(groups)), {}).allowance_view()

    return _LOOP.run_until_complete(go())


def test_a_students_view_is_the_policys_answer_checked(opa):
    view = offline_view(opa.url, ["students"])
    assert view["available"] is True and view["version"] == 1
    assert view["sources"] == ["group students"]
    assert view["max"] == {"cpu_limit": 2, "cpu_guarantee": 1, "mem_limit": 4 * 2**30, "mem_guarantee": 2 * 2**30}
    assert view["extra_resources"] == {}
    assert "quay.io/jupyterhub/k8s-singleuser-sample:*" in view["images"]
    assert view["quotas"] == []  # no books offline (policy_quotas off)


@pytest.mark.parametrize("path", [
    "jhpolicy_contract/no_such_rule",           # undefined: OPA answers {}
    "jhpolicy_contract/wrong_shape",            # allow "yes": not a view
    "jhpolicy_contract/view_negative_quota",
    "jhpolicy_contract/view_unknown_max_key",
    "jhpolicy_contract/view_too_many_images",
])
def test_a_view_the_policy_gets_wrong_is_not_shown(opa, path):
    assert offline_view(opa.url, ["students"], opa_allowance_path=path) == allowance.NOT_AVAILABLE


def test_an_unreachable_opa_gives_no_view():
    from jhpolicy.tooling.local_opa import free_port

    assert offline_view(f"http://127.0.0.1:{free_port()}", ["students"], opa_timeout=1.0) == allowance.NOT_AVAILABLE


def test_malformed_data_says_so_and_gives_no_view(opa):
    view = offline_view(opa.url, ["students"], opa_allowance_path="jhpolicy_contract/view_misconfigured")
    assert view["available"] is False
    assert view["message"].startswith("the hub's spawn policy is misconfigured, ask your hub admin: group students: max.cpu_limit \"4 cores\" is not")


@pytest.mark.parametrize("bad", [
    None, [], {"available": "yes"},
    {"available": False, "message": "x" * 1001},
    {"available": True},
    {"available": True, "sources": [], "images": [], "images_total": 0, "repositories": [], "repositories_total": 0,
     "max": {"cpu_limit": math.inf}, "extra_resources": {}, "profiles": [], "quotas": []},
    {"available": True, "sources": [], "images": [], "images_total": True, "repositories": [], "repositories_total": 0,
     "max": {}, "extra_resources": {}, "profiles": [], "quotas": []},
    {"available": True, "sources": [], "images": [], "images_total": 0, "repositories": [], "repositories_total": 0,
     "max": {}, "extra_resources": {}, "profiles": [], "quotas": [{"scope": "someone-else", "group": "", "resource": "servers", "quota": 1, "in_use": 0, "left": 1}]},
])
def test_validate_refuses_what_is_not_a_view(bad):
    with pytest.raises(allowance.ViewBroken):
        allowance.validate(bad)


# --- the REST endpoint, through a real hub ---


@pytest.fixture(scope="module")
def hub(opa, cluster, pod_ips, tmp_path_factory):
    # Room for gpu-users' whole quota (4) on one node: a full quota is then
    # the books' doing, not the scheduler's.
    # Removed afterwards: other tests rely on no node holding more than 2 GPUs.
    cluster.add_node("kwok-gpu-allowance", gpus=8)
    try:
        hub = Hub(tmp_path_factory.mktemp("hub"), opa.url, cluster=cluster, namespace="jhub-allowance", singleuser_port=pod_ips.port).start()
        yield hub
        hub.stop()
    finally:
        cluster.request("DELETE", "/api/v1/nodes/kwok-gpu-allowance")


def get(hub, path, as_):
    return hub.client.get("/hub/api/jhpolicy/allowance" + path,
                          headers={"Authorization": f"Bearer {hub.tokens[as_]}"} if as_ else {})


def test_a_user_reads_their_own_view(hub):
    r = get(hub, "", "alice")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["user"] == "alice" and view["available"] is True
    assert view["max"]["cpu_limit"] == 2 and view["sources"] == ["group students"]
    assert get(hub, "/users/alice", "alice").json() == view


@pytest.mark.parametrize("reader, status", [
    ("alice", 404),                  # another user's: as if gina did not exist
    ("course-orchestrator", 200),    # a service with `servers` (read:servers): it starts servers for users
    ("harness", 200),                # admin:users
    ("admin", 200),                  # a JupyterHub admin
    ("allowance-reader", 200),       # custom:jhpolicy:allowance:read
    (None, 403),                     # no token
])
def test_who_may_read_another_users_view(hub, reader, status):
    r = get(hub, "/users/gina", reader)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json()["user"] == "gina" and r.json()["extra_resources"] == {"nvidia.com/gpu": 1}


def token_of(hub, user, scopes):
    r = hub.api("POST", f"/users/{user}/tokens", token=hub.tokens["harness"], json={"note": "scoped", "scopes": scopes})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def get_with(hub, path, token):
    return hub.client.get("/hub/api/jhpolicy/allowance" + path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("scopes", [[], ["read:users:name!user"], ["read:users!user"]])
def test_a_token_without_a_view_scope_reads_nothing_not_even_its_own(hub, scopes):
    # Before: a token with no scopes read its owner's quota use (#28 item 5).
    token = token_of(hub, "alice", scopes)
    r = get_with(hub, "", token)
    assert r.status_code == 403, r.text
    assert "requires any of [read:servers, admin:users, custom:jhpolicy:allowance:read]" in r.json()["message"]
    assert get_with(hub, "/users/alice", token).status_code == 403


def test_a_token_with_read_servers_reads_its_owners(hub):
    token = token_of(hub, "alice", ["read:servers!user"])
    assert get_with(hub, "", token).status_code == 200
    assert get_with(hub, "/users/gina", token).status_code == 404


def test_a_filtered_grant_reads_exactly_the_users_it_covers(hub):
    # JupyterHub's own filters: an admin's token cut down to one group.
    token = token_of(hub, "admin", ["admin:users!group=students"])
    r = get_with(hub, "/users/alice", token)
    assert r.status_code == 200 and r.json()["user"] == "alice"
    assert get_with(hub, "/users/gina", token).status_code == 404  # gina is in gpu-users
    one = token_of(hub, "admin", ["read:servers!user=gina"])
    assert get_with(hub, "/users/gina", one).status_code == 200
    assert get_with(hub, "/users/alice", one).status_code == 404


def test_reading_a_view_leaves_a_failed_spawner_and_its_reason(hub):
    # Before (#28 item 6): the view replaced bob's failed spawner, so his
    # progress stream (what the spawn-pending page shows) lost the refusal.
    r = hub.start_server("bob", "", {"image": "evil.example/miner:latest"})
    assert r.status_code == 403, r.text
    failed = hub.progress_events("bob")[-1]
    assert failed["failed"] is True and r.json()["message"] in failed["message"], failed
    assert get(hub, "/users/bob", "allowance-reader").status_code == 200
    assert get(hub, "", "bob").status_code == 200
    assert hub.progress_events("bob")[-1] == failed


def test_a_service_must_name_the_user_and_an_unknown_user_is_404(hub):
    assert get(hub, "", "allowance-reader").status_code == 400
    assert get(hub, "/users/nobody", "allowance-reader").status_code == 404


def test_a_gpu_users_view_shows_the_quota_in_use_and_left(hub):
    rows = [q for q in get(hub, "/users/gina", "gina").json()["quotas"] if q["resource"] == "nvidia.com/gpu"]
    assert rows == [{"scope": "group", "group": "gpu-users", "resource": "nvidia.com/gpu", "quota": 4, "in_use": 0, "left": 4}]
    r = hub.start_server("gina", body={"extra_resource_limits": {"nvidia.com/gpu": 1}})
    assert r.status_code in (201, 202), r.text
    try:
        assert hub.progress_events("gina")[-1].get("ready"), "gina's server did not start"
        rows = [q for q in get(hub, "", "gina").json()["quotas"] if q["resource"] == "nvidia.com/gpu"]
        assert rows == [{"scope": "group", "group": "gpu-users", "resource": "nvidia.com/gpu", "quota": 4, "in_use": 1, "left": 3}]
        # Alice is in no GPU group: gpu-users' quota is not hers to see.
        assert all(q["group"] != "gpu-users" for q in get(hub, "", "alice").json()["quotas"])
    finally:
        hub.stop_server("gina")


# --- refusals that help ---


def test_a_refusal_says_how_to_get_more_and_is_counted_by_its_reason(hub):
    import re

    import jupyterhub

    r = hub.start_server("gina", "refused", body={"image": "evil/miner:1"})
    assert r.status_code == 403, r.text
    message = r.json()["message"]
    assert message.startswith("Spawn refused by policy: image evil/miner:1 is not allowed for group gpu-users")
    assert message.endswith(". Ask for more GPU time: https://help.example.edu/gpu")
    metrics = hub.client.get("/hub/metrics").text
    counted = {}
    for labels, n in re.findall(r"jupyterhub_server_spawn_duration_seconds_count\{([^}]*)\} (\S+)", metrics):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if labels.get("status") == "failure" and float(n) > 0:
            counted[labels.get("reason", "")] = float(n)  # JupyterHub 5 has no reason label
    if int(jupyterhub.__version__.split(".")[0]) >= 6:
        # SpawnException's reason: the hub's own metrics split refusals by it.
        assert counted.get("image", 0) >= 1, counted
    else:
        # JupyterHub 5 has no SpawnException: the same text, no reason label.
        assert "image" not in counted, counted



# --- the spawn page's panel, in a real browser ---

ONE_GPU = {"extra_resource_limits": {"nvidia.com/gpu": 1}}
MATLAB_REFUSED = (
    "image registry.example.edu/licensed/matlab:r2026a (the profile option) is not allowed for group gpu-users; "
    "allowed images: nvcr.io/nvidia/pytorch:*, quay.io/jupyter/pytorch-notebook:cuda*, "
    "quay.io/jupyterhub/k8s-singleuser-sample:*, quay.io/jupyterhub/singleuser:*"
)


def spawn_page(browser, hub, user, shot):
    page = log_in(browser, hub, user)
    page.goto(f"{hub.url}/hub/spawn/{user}/form-{shot}")
    panel = page.locator("section.jhpolicy-allowance")
    text = " ".join(panel.inner_text().split())
    offered = page.eval_on_selector_all("input[name=profile]", "inputs => inputs.map(i => i.value)")
    disabled = page.eval_on_selector_all(
        "fieldset.jhpolicy-unavailable input", "inputs => inputs.map(i => [i.disabled, i.labels[0].innerText, "
        "document.getElementById(i.getAttribute('aria-describedby')).innerText])")
    choices = page.eval_on_selector_all("select.js-profile-option-select option", "options => options.map(o => o.value)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"allowance-{shot}.png", full_page=True)
    page.close()
    return text, offered, disabled, choices


def test_the_spawn_page_for_a_user_in_no_group(hub, browser):
    text, offered, disabled, _ = spawn_page(browser, hub, "bob", "no-group")
    assert "What you may launch" in text
    assert "Up to 1 CPU and 2G memory per server (guaranteed: up to 0.5 CPU, 1G memory)" in text
    assert "From: group default." in text and "In use now" not in text
    assert offered == ["small"]
    assert disabled == [[True, "Medium", "(profile medium is not allowed for group default)"], [True, "GPU", "(profile gpu is not allowed for group default)"]]


def test_the_spawn_page_for_a_gpu_user_with_the_quota_partly_then_fully_used(hub, browser):
    names = ["g1", "g2", "g3", "g4"]
    try:
        r = hub.start_server("gina", "g1", ONE_GPU)
        assert r.status_code in (201, 202), r.text
        assert hub.progress_events("gina", "g1")[-1].get("ready")
        text, offered, disabled, choices = spawn_page(browser, hub, "gina", "gpu-partly-used")
        assert "GPUs: up to 1 per server" in text
        assert "GPUs: 1 of 4 in use in gpu-users (3 left)" in text
        assert offered == ["small", "medium", "gpu"]
        assert disabled == [[True, "GPU, Image: MATLAB", f"({MATLAB_REFUSED})"]]
        assert choices == ["pytorch"]  # the image gina may not run is not in the form
        for name in names[1:]:
            r = hub.start_server("gina", name, ONE_GPU)
            assert r.status_code in (201, 202), r.text
            assert hub.progress_events("gina", name)[-1].get("ready")
        text, offered, disabled, _ = spawn_page(browser, hub, "gina", "gpu-full")
        assert "GPUs: 4 of 4 in use in gpu-users: none left" in text
        # The GPU profile's every spawn would be refused now: disabled, saying why.
        assert offered == ["small", "medium"]
        ((off, name, why),) = disabled
        assert off is True and name == "GPU" and "gpu-users holds 4 of 4 nvidia.com/gpu" in why, disabled
        # What the panel says is what the policy then does.
        r = hub.start_server("gina", "g5", ONE_GPU)
        assert r.status_code == 403 and "gpu-users holds 4 of 4 nvidia.com/gpu" in r.json()["message"], r.text
        # How to get more is a working link, beside the disabled profile and
        # on the refused server's spawn-pending page (#28 item 6).
        page = log_in(browser, hub, "gina")
        try:
            page.goto(f"{hub.url}/hub/spawn/gina/form-links")
            link = page.locator("fieldset.jhpolicy-unavailable a")
            assert (link.inner_text(), link.get_attribute("href")) == ("Ask for more GPU time", "https://help.example.edu/gpu")
            page.goto(f"{hub.url}/hub/spawn-pending/gina/g5")
            link = page.locator('a[href="https://help.example.edu/gpu"]')
            link.first.wait_for()
            assert link.first.inner_text() == "Ask for more GPU time"
            page.screenshot(path=ARTIFACTS / "spawn-pending-help-link.png", full_page=True)
        finally:
            page.close()
    finally:
        for name in names:
            if hub.server_state("gina", name) is not None:
                hub.stop_server("gina", name)
