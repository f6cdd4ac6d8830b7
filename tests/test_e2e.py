"""End to end: a real JupyterHub process, configurable-http-proxy from npm,
a real OPA with the shipped policies, the REST API with real tokens, and
real Kubernetes (tests/kube/cluster.py): PolicyKubeSpawner runs KubeSpawner's
own _start against a real API server with kwok nodes, and the assertions
read the Pod objects the API server stored. The single-user server at the
pod IP is a stand-in (tests/kube/pod_ips.py). Runs on whichever
JupyterHub/KubeSpawner this venv has: ./dev test runs it on the newest and
on the z2jh 4.4.0 versions.
"""

from __future__ import annotations

import re
import threading

import jupyterhub
import pytest

from jhpolicy.core.quantities import kubernetes_quantity
from jhpolicy.tooling.local_opa import LocalOPA

from .e2e.browser import ARTIFACTS, log_in
from .e2e.hub import Hub
from .helpers.policies import POLICIES, TEST_POLICIES

GIB = 1024**3
SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"
FORUM_BODY = {"kubespawner_override": {"image": SAMPLE}}
JUPYTERHUB_6 = int(jupyterhub.__version__.split(".")[0]) >= 6
UNAVAILABLE = "spawn policy unavailable: the server was not started; try again later or ask your hub admin"


@pytest.fixture(scope="module")
def opa():
    # Our own OPA, not the session one: scenario 9 stops and restarts it.
    # tests/policies holds the stricter candidate the hub runs as a shadow.
    server = LocalOPA([POLICIES, TEST_POLICIES], ["--set=decision_logs.console=true"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(opa, cluster, pod_ips, tmp_path_factory):
    # Every scenario runs with a shadow (a stricter candidate), which must change none of them.
    hub = Hub(tmp_path_factory.mktemp("hub"), opa.url, cluster=cluster, namespace="jhub-e2e-main", singleuser_port=pod_ips.port,
              env={"E2E_OPA_SHADOW_PATH": "jupyterhub/spawn_candidate/decision"}).start()
    yield hub
    hub.stop()


def container(pod_record):
    """The notebook container, CPU in cores and memory in bytes (the API server writes "1500m", "3Gi")."""
    c = pod_record["pod"]["spec"]["containers"][0]
    for field in ("limits", "requests"):
        amounts = c["resources"].get(field, {})
        for name, cast in (("cpu", float), ("memory", int)):
            if name in amounts:
                amounts[name] = cast(kubernetes_quantity(amounts[name]))
    return c


def pods_for(hub, user, server=""):
    return [p for p in hub.pods() if p["user"] == user and p["server"] == server]


def started(response):
    return response.status_code in (201, 202)


# 1. own default server and a named server


def test_user_starts_default_and_named_server(hub):
    body = {"kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2025-01-01", "cpu_limit": 1.5, "mem_limit": "3G"}}
    for server in ("", "lab"):
        r = hub.start_server("alice", server, body)
        assert started(r), r.text
        (pod,) = pods_for(hub, "alice", server)
        assert container(pod)["image"] == "quay.io/jupyter/scipy-notebook:2025-01-01"
        assert container(pod)["resources"]["limits"] == {"cpu": 1.5, "memory": 3 * GIB}
        hub.stop_server("alice", server)


# 2. clamped, and the caller can see what changed


def test_clamped_values_and_messages(hub):
    r = hub.start_server("sam", "", {"cpu_limit": 8, "mem_limit": "16G"})
    assert started(r), r.text
    (pod,) = pods_for(hub, "sam")
    assert container(pod)["resources"]["limits"] == {"cpu": 2.0, "memory": 4 * GIB}
    # The spawn finished before we asked: the ready event carries the messages.
    (ready,) = hub.progress_events("sam")
    assert ready["ready"] is True
    assert ready["policy_messages"] == [
        "cpu_limit 8 lowered to 2: the most for group students",
        "mem_limit 16G lowered to 4G: the most for group students",
    ]
    assert re.search(r"jhpolicy decision user=sam requester=user:sam server='' decision_id=\S{36} allow=True", hub.log_text())
    hub.stop_server("sam")


def test_messages_are_a_progress_event_while_pending(hub, cluster, pod_ips):
    pod_ips.hold()  # the pod runs, but its server does not answer yet: the spawn stays pending
    try:
        result = {}
        request = threading.Thread(target=lambda: result.update(r=hub.start_server("sam", "pending", {"mem_limit": "16G"})))
        request.start()
        cluster.wait_for(lambda: pods_for(hub, "sam", "pending"), "the pod (the policy ran)")
        events = hub.progress_events("sam", "pending", until=lambda e: e["message"].startswith("Spawn policy"))
        assert events[-1] == {"progress": 1, "message": "Spawn policy: mem_limit 16G lowered to 4G: the most for group students"}
    finally:
        pod_ips.release()
    request.join()
    assert started(result["r"])
    hub.stop_server("sam", "pending")


# 3. refused: 403 with the policy's message, nothing half-started, next request works


@pytest.mark.parametrize(
    "body, message",
    [
        ({"image": "docker.io/evil/miner:latest"}, "Spawn refused by policy: image docker.io/evil/miner:latest is not allowed for group students"),
        ({"privileged": True}, "Spawn refused by policy: privileged cannot be set: this hub lets you choose only"),
    ],
)
def test_refused_request_leaves_nothing_behind(hub, body, message):
    before = len(hub.pods())
    r = hub.start_server("alice", "refused", body)
    assert r.status_code == 403
    assert r.json()["message"].startswith(message)
    assert len(hub.pods()) == before
    assert hub.server_state("alice", "refused") is None
    r = hub.start_server("alice", "refused", {"image": SAMPLE})
    assert started(r), r.text
    assert container(pods_for(hub, "alice", "refused")[-1])["image"] == SAMPLE
    hub.stop_server("alice", "refused")


def test_malformed_value_is_400_with_the_key(hub):
    r = hub.start_server("alice", "bad", {"mem_limit": "lots"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("Invalid spawn request: mem_limit: 'lots' is not valid; use integer bytes")


@pytest.mark.parametrize(
    "body, message",
    [
        ({"cpu_limit": 0, "mem_limit": 0}, "Invalid spawn request: cpu_limit: 0 is not valid (0 would mean no bound"),
        ({"mem_limit": 10**400}, "Invalid spawn request: mem_limit: a 401-digit number is not valid"),
        ({"extra_resource_limits": {"nvidia.com/gpu": "9" * 400}}, "Invalid spawn request: extra_resource_limits[nvidia.com/gpu]"),
        ({"extra_resource_limits": {"nvidia.com/gpu": 0.5}}, "Invalid spawn request: extra_resource_limits[nvidia.com/gpu]: 0.5 is not valid (extended resources are whole numbers)"),
        ({f"k{i}": 1 for i in range(500)}, "Invalid spawn request: user_options has 500 keys and list items (nested ones included); at most 64 are accepted"),
    ],
)
def test_hostile_values_are_400_through_the_hub(hub, body, message):
    # Never a 500 (overflow) or a 503 (the caller making the policy "unavailable").
    before = len(hub.pods())
    r = hub.start_server("gina", "hostile", body)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(message)
    assert len(hub.pods()) == before and hub.server_state("gina", "hostile") is None


# 4. the forum request, verbatim


def test_forum_request_verbatim(hub):
    r = hub.start_server("admin", "serverA", FORUM_BODY)
    if JUPYTERHUB_6:
        # JupyterHub 6 refuses the server name itself (not a safe slug),
        # before any spawner code runs; the same request to "servera" is decided.
        assert r.status_code == 400 and r.json()["message"] == "Invalid server_name: 'serverA'"
        server = "servera"
        r = hub.start_server("admin", server, FORUM_BODY)
    else:
        server = "serverA"
    # admin is in no group (default allowance), but asks for itself as an admin.
    assert started(r), r.text
    assert container(pods_for(hub, "admin", server)[-1])["image"] == SAMPLE
    hub.stop_server("admin", server)
    # The same body from a user in no group is refused, not ignored.
    r = hub.start_server("bob", "servera", FORUM_BODY)
    assert r.status_code == 403
    assert SAMPLE in r.json()["message"]


# 5. who asks matters


def test_requester_user_admin_service(hub):
    body = {"image": "registry.example.edu/courses/bio101/notebook:3", "cpu_limit": 3}
    r = hub.start_server("sam", "course", body)
    assert r.status_code == 403
    assert "requester=user:sam" in hub.log_text()

    r = hub.start_server("sam", "course", body, as_="course-orchestrator")
    assert started(r), r.text
    assert container(pods_for(hub, "sam", "course")[-1])["resources"]["limits"]["cpu"] == 3.0
    assert re.search(r"user=sam requester=service:course-orchestrator server='course' .* allow=True", hub.log_text())
    hub.stop_server("sam", "course")

    r = hub.start_server("sam", "course", {"cpu_limit": 12}, as_="admin")
    assert started(r), r.text
    assert container(pods_for(hub, "sam", "course")[-1])["resources"]["limits"]["cpu"] == 12.0
    assert re.search(r"user=sam requester=user:admin server='course' .* allow=True", hub.log_text())
    hub.stop_server("sam", "course")


# 6. replays are checked again


def test_empty_body_replays_stored_options_and_is_denied_again(hub):
    assert hub.start_server("bob", "replay", {"image": SAMPLE}).status_code == 403
    before = len(hub.pods())
    r = hub.start_server("bob", "replay")  # no body: JupyterHub reuses the stored user_options
    assert r.status_code == 403
    assert SAMPLE in r.json()["message"]
    assert len(hub.pods()) == before


@pytest.mark.skipif(not JUPYTERHUB_6, reason="PUT/PATCH of user_options are JupyterHub 6 API")
def test_options_stored_with_put_or_patch_are_checked_at_start(hub):
    token = hub.tokens["bob"]
    r = hub.api("PUT", "/users/bob/servers/stored", token=token, json={"user_options": {"image": SAMPLE}})
    assert r.status_code == 201, r.text
    r = hub.start_server("bob", "stored")
    assert r.status_code == 403 and SAMPLE in r.json()["message"]

    r = hub.api("PATCH", "/users/bob/servers/stored", token=token, json={"user_options": {"cpu_limit": 64}})
    assert r.status_code == 200, r.text
    r = hub.start_server("bob", "stored")
    assert started(r), r.text
    assert container(pods_for(hub, "bob", "stored")[-1])["resources"]["limits"]["cpu"] == 1.0
    hub.stop_server("bob", "stored")


# 7. profiles


def test_profile_not_allowed_for_groups_is_403(hub):
    r = hub.start_server("bob", "prof", {"profile": "medium"})
    assert r.status_code == 403
    assert r.json()["message"] == "Spawn refused by policy: profile medium is not allowed for group default"


def test_unknown_profile_or_choice_is_400(hub):
    r = hub.start_server("alice", "prof", {"profile": "huge"})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid spawn request: profile: no such profile 'huge'; choose one of: small, medium, gpu"
    r = hub.start_server("gina", "prof", {"profile": "gpu", "image": "tensorflow"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "Invalid spawn request: image: no choice 'tensorflow' for option image of profile gpu; choose one of: pytorch, matlab"
    )


def test_profile_and_overrides_decided_together(hub):
    r = hub.start_server("alice", "prof", {"profile": "medium", "mem_limit": "3G"})
    assert started(r), r.text
    limits = container(pods_for(hub, "alice", "prof")[-1])["resources"]["limits"]
    assert limits == {"cpu": 2.0, "memory": 3 * GIB}  # cpu from the profile, memory requested
    hub.stop_server("alice", "prof")
    r = hub.start_server("gina", "prof", {"profile": "gpu", "image": "pytorch", "cpu_limit": 4})
    assert started(r), r.text
    c = container(pods_for(hub, "gina", "prof")[-1])
    assert c["image"] == "quay.io/jupyter/pytorch-notebook:cuda12"
    assert c["resources"]["limits"] == {"cpu": 4.0, "memory": 32 * GIB, "nvidia.com/gpu": "1"}  # unlimited memory lowered
    hub.stop_server("gina", "prof")


def test_values_from_a_previous_spawn_do_not_stick(hub):
    # A regression guard: JupyterHub (>= 2.2) drops a server's spawner after a
    # clean stop and replaces a failed one, so nothing granted before carries over.
    r = hub.start_server("alice", "sticky", {"profile": "medium", "image": SAMPLE, "mem_limit": "3G"})
    assert started(r), r.text
    hub.stop_server("alice", "sticky")
    # (An empty body would make JupyterHub replay the stored options.)
    r = hub.start_server("alice", "sticky", {"cpu_guarantee": 0.25})
    assert started(r), r.text
    c = container(pods_for(hub, "alice", "sticky")[-1])
    assert c["image"] == "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0"  # the admin's default again
    assert c["resources"]["limits"] == {"cpu": 0.5, "memory": GIB}  # the default profile "small"
    hub.stop_server("alice", "sticky")


# 8. the spawn page offers only the profiles the policy allows, in a real browser


def test_spawn_page_lists_only_allowed_profiles(hub, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    for user, expected in (("bob", ["small"]), ("alice", ["small", "medium"]), ("gina", ["small", "medium", "gpu"])):
        page = log_in(browser, hub, user)
        page.goto(f"{hub.url}/hub/spawn/{user}/form")
        shown = page.eval_on_selector_all("input[name=profile]", "inputs => inputs.map(i => i.value)")
        page.screenshot(path=ARTIFACTS / f"spawn-page-{user}.png", full_page=True)
        assert shown == expected, user
        page.close()


def test_posting_a_hidden_profile_is_refused(hub, browser):
    page = log_in(browser, hub, "bob")
    page.goto(f"{hub.url}/hub/spawn/bob/form")
    before = len(hub.pods())
    # Forge the form: the only radio button now says "medium", hidden from bob.
    page.eval_on_selector("input[name=profile]", "i => { i.value = 'medium'; i.checked = true; }")
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        page.click("input[type=submit], button[type=submit]")
    assert response.value.status == 403
    page.wait_for_load_state()
    error = page.inner_text(".alert-danger").strip()
    assert error.endswith("Spawn refused by policy: profile medium is not allowed for group default")
    assert "SpawnException" not in error
    page.screenshot(path=ARTIFACTS / "spawn-page-bob-refused.png", full_page=True)
    assert len(hub.pods()) == before


# 9. OPA stopped, then back: no hub restart


def test_opa_down_then_back(hub, opa):
    port = opa.port
    opa.stop()
    before = len(hub.pods())
    r = hub.start_server("alice", "outage", {"image": SAMPLE})
    assert r.status_code == 503
    assert r.json()["message"] == UNAVAILABLE
    assert len(hub.pods()) == before
    assert hub.server_state("alice", "outage") is None
    assert hub.api("GET", "/users/alice", token=hub.tokens["harness"]).status_code == 200  # hub still answers
    opa.start(port=port)
    r = hub.start_server("alice", "outage", {"image": SAMPLE})
    assert started(r), r.text
    hub.stop_server("alice", "outage")


# Metrics, after the scenarios above (module order).


def test_metrics_count_outcomes(hub):
    text = hub.client.get("/hub/metrics").text

    def value(outcome):
        m = re.search(rf'^jhpolicy_decisions_total{{outcome="{outcome}"}} (\S+)$', text, re.M)
        return float(m.group(1)) if m else 0.0

    assert value("allowed") >= 5
    assert value("clamped") >= 2
    assert value("denied") >= 5
    assert value("invalid") >= 2
    assert value("unavailable") >= 1
    count = float(re.search(r"^jhpolicy_decision_duration_seconds_count (\S+)$", text, re.M).group(1))
    assert count == sum(value(o) for o in ("allowed", "clamped", "denied", "misconfigured", "invalid", "unavailable", "error", "defaults"))


def wait_for(condition, what: str, timeout: float = 60):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_shadow_comparisons_are_on_the_metrics_page(hub):
    """The candidate refuses user-chosen images that the live policy allowed,
    and agrees elsewhere; both kinds of comparison are counted and the
    disagreements are in the hub log."""

    def shadow(live, candidate, agree):
        text = hub.client.get("/hub/metrics").text
        m = re.search(rf'^jhpolicy_shadow_decisions_total{{agree="{agree}",live="{live}",shadow="{candidate}"}} (\S+)$', text, re.M)
        return float(m.group(1)) if m else 0.0

    wait_for(lambda: shadow("allowed", "denied", "false") + shadow("clamped", "denied", "false") >= 1, "a disagreement")
    wait_for(lambda: shadow("denied", "denied", "true") >= 1, "an agreement")
    assert "jhpolicy shadow disagrees user=" in hub.log_text()


# The token, checked when the hub starts


def test_a_token_with_control_characters_stops_the_hub_at_start(opa, tmp_path):
    # $JHPOLICY_OPA_TOKEN, as the token-auth values set it from the Secret.
    hub = Hub(tmp_path, opa.url, env={"JHPOLICY_OPA_TOKEN": "abc\ndef"})
    with pytest.raises(RuntimeError, match="JupyterHub exited") as e:
        hub.start()
    hub.stop()
    assert "opa_token contains control characters" in str(e.value)
