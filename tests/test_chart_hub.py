"""The hub exactly as the Zero to JupyterHub chart 4.4.0 configures it
(tests/e2e/chart_hub.py): rendered by real Helm from a user's config.yaml
and jhpolicy's values, run from the hub image's packages with jhpolicy
installed from the wheel, servers on the local API server with kwok nodes.

Run it alone: `.venv/bin/python -m pytest tests/test_chart_hub.py` (after
`./dev setup`, which makes .venv-hub with the hub image's packages).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from jhpolicy.tooling.values import stack_files

from .e2e.chart_hub import (
    FORUM_BODY,
    USER_CONFIG,
    ChartHub,
    build_wheel,
    culler_line,
    hub_image_python,
    ready,
)
from .helpers.hub_quotas import GPU, gpus, running, usage
from .helpers.policies import POLICIES, ROOT

# Runs in a venv of its own (.venv-hub: the z2jh hub image's packages), whichever venv runs pytest: one
# version set is enough (conftest.py, ONCE).
pytestmark = pytest.mark.once


@pytest.fixture(scope="module")
def hub(cluster, pod_ips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("chart-hub")
    config = folder / "config.yaml"
    config.write_text(USER_CONFIG)
    python = hub_image_python(ROOT / ".venv-hub", build_wheel(folder / "dist"))
    # Room for the 4 GPU servers the quota grants, on nodes of 2 GPUs like the
    # session's own (test_kube needs no node to hold more than 2).
    for name in ("kwok-gpu-chart-a", "kwok-gpu-chart-b"):
        cluster.add_node(name, gpus=2)
    hub = ChartHub(folder, cluster, "jhub-chart", pod_ips.port, [config, *stack_files("plain")], python, POLICIES)
    try:
        hub.start()
    except BaseException:
        hub.stop()  # its proxy and OPA sidecar too
        raise
    for name in [f"gpu{i}" for i in range(6)]:
        hub.add_user(name, ("gpu-users",))
    yield hub
    for user, server in running(hub):
        hub.stop_server(user, server)
    hub.stop()


def test_jhpolicy_runs_from_the_installed_wheel_in_the_hub_images_python(hub):
    log = hub.log_text()
    assert "Running JupyterHub version 5.5.0" in log
    assert "Using Spawner: jhpolicy.spawner.PolicyKubeSpawner" in log
    assert f"Loading {hub.at('/usr/local/etc/jupyterhub/secret/values.yaml')}" in log
    assert "Loading extra config: jhpolicy" in log


def test_the_readme_example_is_clamped_on_the_charts_defaults(hub):
    r = hub.start_server("alice", "", FORUM_BODY)
    assert r.status_code in (201, 202), r.text
    ready(hub, "alice", "")
    pod = running(hub)[("alice", "")]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "jupyterhub/k8s-singleuser-sample:0.8.4"
    # The user's singleuser.cpu.limit (1) is the default; 8 asked, 2 the most for students.
    assert container["resources"]["limits"]["cpu"] == "2"
    assert container["resources"]["limits"]["memory"] == str(2 * 2**30)  # singleuser.memory.limit 2G, within the 4G allowed
    hub.stop_server("alice", "")
    # `jhpolicy check --values` on the same values files answers as this hub did.
    dry = subprocess.run([sys.executable, "-m", "jhpolicy.cli", "check", "--user", "alice", "--group", "students",
                          "--body", json.dumps(FORUM_BODY), "--policies", str(POLICIES), "--json",
                          *(a for v in hub.values for a in ("--values", str(v)))], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    pod = json.loads(dry.stdout)["pod"]
    assert pod["image"] == container["image"]
    assert pod["limits"] == {"cpu": 2.0, "memory": 2 * 2**30} and container["resources"]["requests"] == {
        "cpu": str(pod["requests"]["cpu"]).removesuffix(".0"), "memory": str(pod["requests"]["memory"])}


def test_the_allowance_endpoint_answers_as_the_chart_configures_it(hub):
    r = hub.client.get("/hub/api/jhpolicy/allowance", headers={"Authorization": f"token {hub.tokens['alice']}"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["user"] == "alice" and view["available"] is True and view["sources"] == ["group students"]
    other = hub.client.get("/hub/api/jhpolicy/allowance/users/gina", headers={"Authorization": f"token {hub.tokens['alice']}"})
    assert other.status_code == 404


def test_a_refusal_is_a_403_with_the_policys_message(hub):
    r = hub.start_server("alice", "evil", {"image": "evil/miner:1"})
    assert r.status_code == 403, r.text
    assert r.json()["message"].startswith("Spawn refused by policy: image evil/miner:1 is not allowed for group students")
    assert ("alice", "evil") not in running(hub)


def test_a_refusal_burst_leaves_the_hub_up_under_the_charts_failure_limit(hub):
    # hub.consecutiveFailureLimit is 5 in the chart; JupyterHub 5.5 counts refused spawns.
    for i in range(12):
        r = hub.start_server("alice", f"r{i}", {"image": "evil/miner:1"})
        assert r.status_code == 403, r.text
    assert hub.process.poll() is None
    assert "consecutive spawn failures" not in hub.log_text()
    r = hub.start_server("alice", "after", {})
    assert r.status_code in (201, 202), r.text
    ready(hub, "alice", "after")
    hub.stop_server("alice", "after")


def test_a_quota_burst_gets_exactly_the_quota_and_a_restart_keeps_the_books(hub):
    requests = [(f"gpu{i}", "g", GPU) for i in range(6)]
    outcomes = asyncio.run(hub.burst(requests))
    granted = [o for o in outcomes if o["status"] in (201, 202)]
    assert len(granted) == 4 and {o["status"] for o in outcomes if o not in granted} == {403}
    for o in granted:
        ready(hub, o["user"], o["server"])
    assert sum(gpus(p) for p in running(hub).values()) == 4

    hub.restart()  # the sqlite database on the "pvc" folder stays
    hub.wait_for(lambda: usage(hub, "gpu-users", "nvidia.com/gpu") == 4, "the books rebuilt after the restart")
    refused = next(u for u in (f"gpu{i}" for i in range(6)) if (u, "g") not in running(hub))
    r = hub.start_server(refused, "g", GPU)
    assert r.status_code == 403, r.text
    for user, server in list(running(hub)):
        hub.stop_server(user, server)


def test_a_policy_change_through_the_configmap_files_applies_without_a_restart(hub):
    def raise_students(files):
        data = json.loads(files["data.json"])
        data["jhpolicy"]["groups"]["students"]["max"]["cpu_limit"] = 3
        files["data.json"] = json.dumps(data)

    hub.change_policy(raise_students)

    def cpu_after_spawn():
        r = hub.start_server("alice", "", {"cpu_limit": 8})
        assert r.status_code in (201, 202), r.text
        ready(hub, "alice", "")
        cpu = running(hub)[("alice", "")]["spec"]["containers"][0]["resources"]["limits"]["cpu"]
        hub.stop_server("alice", "")
        return cpu

    hub.wait_for(lambda: cpu_after_spawn() == "3", "OPA to reload the ConfigMap files", timeout=90)
    hub.change_policy(lambda files: None)  # back to the tests' data


def test_the_charts_culler_runs_with_the_arbiter_and_reads_the_saved_lifetime(hub):
    """cull.* as the chart turns it into a hub service, made jhpolicy's by
    the plain stack: a GPU server idle past its decided 2 s is culled; the
    culler's --timeout (3600) would have kept it."""
    assert "jupyterhub-idle-culler 2.0.0 (" in culler_line(hub) and "site-packages" in culler_line(hub)

    def gpu_servers_idle_2s(files):
        data = json.loads(files["data.json"])
        data["jhpolicy"]["lifetimes"] = {"extra_resources": {"nvidia.com/gpu": {"idle": "2s"}}}
        files["data.json"] = json.dumps(data)

    hub.change_policy(gpu_servers_idle_2s)

    def decided_lifetime():
        r = hub.start_server("gina", "lt", GPU)
        assert r.status_code in (201, 202), r.text
        ready(hub, "gina", "lt")
        state = (hub.server_state("gina", "lt") or {}).get("state") or {}
        if "jhpolicy_lifetime" not in state:  # decided before OPA reloaded the files
            hub.stop_server("gina", "lt")
        return state.get("jhpolicy_lifetime")

    try:
        hub.wait_for(lambda: decided_lifetime() is not None, "OPA to reload the ConfigMap files", timeout=90)
        hub.wait_for(lambda: hub.server_state("gina", "lt") is None, "the culler to stop gina's GPU server")
        assert "jhpolicy: culling gina/lt: idle timeout 2 s reached (servers holding nvidia.com/gpu)" in hub.log_text()
    finally:
        hub.change_policy(lambda files: None)  # back to the tests' data
