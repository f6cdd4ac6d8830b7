"""Books that equal the cluster (jhpolicy.hub.reconcile), through a real hub on
the real Kubernetes API server with kwok nodes: servers that were running
before quotas were turned on, and a stop that fails while its pod stays.
Quota data: the shipped data, each user at most 2 servers.
"""

from __future__ import annotations

import json

import pytest

from jhpolicy.tooling.local_opa import LocalOPA

from .e2e.hub import Hub
from .helpers.hub_quotas import GPU, GPU_HELP, GROUP_FULL, USER_FULL, running, usage
from .helpers.policies import POLICIES, policies_with_quotas


@pytest.fixture(scope="module")
def opa(tmp_path_factory):
    shipped = json.loads((POLICIES / "data.json").read_text())["jhpolicy"]["quotas"]
    folder = policies_with_quotas(tmp_path_factory.mktemp("books-policies"), {**shipped, "users": {"servers": 2}})
    server = LocalOPA([folder]).start()
    yield server
    server.stop()


def started(response) -> bool:
    return response.status_code in (201, 202)


def test_servers_running_before_quotas_were_on_are_counted(opa, cluster, pod_ips, tmp_path):
    hub = Hub(tmp_path, opa.url, cluster=cluster, namespace="jhub-books-before", singleuser_port=pod_ips.port,
              env={"E2E_KEEP_SERVERS": "1", "E2E_POLICY_QUOTAS": "0"}).start()
    try:
        hub.add_user("early", ("students",))
        for server in ("a", "b", "c"):
            assert started(hub.start_server("early", server, {}))
        hub.stop_server("early", "c")
        hub.extra_env["E2E_POLICY_QUOTAS"] = "1"
        hub.restart()
        # Booked from their pods when the restarted hub polls them, charged as their annotation says.
        hub.wait_for(lambda: usage(hub, "", "servers") == 2, "the books to count the two running servers")
        assert usage(hub, "students", "servers") == 2
        assert "was running without a booking" in hub.log_text()
        r = hub.start_server("early", "c", {})
        assert r.status_code == 403, r.text
        assert r.json()["message"] == "Spawn refused by policy: " + USER_FULL
        for server in ("a", "b"):
            hub.stop_server("early", server)
        assert usage(hub, "", "servers") == 0
        assert started(hub.start_server("early", "c", {}))
        hub.stop_server("early", "c")
    finally:
        hub.stop()


def test_a_server_whose_stop_failed_counts_until_its_pod_is_gone(opa, cluster, pod_ips, tmp_path):
    namespace = "jhub-books-stuck"
    # KubeSpawner's stop waits start_timeout for the pod to go, then fails.
    hub = Hub(tmp_path, opa.url, cluster=cluster, namespace=namespace, singleuser_port=pod_ips.port,
              env={"E2E_START_TIMEOUT": "15"}).start()
    try:
        hub.add_user("stuck", ("students",))
        for server in ("a", "b"):
            assert started(hub.start_server("stuck", server, {}))
        name = running(hub)[("stuck", "a")]["metadata"]["name"]
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"

        def set_finalizers(finalizers) -> None:
            cluster.request("PATCH", path, content=json.dumps({"metadata": {"finalizers": finalizers}}),
                            headers={"Content-Type": "application/merge-patch+json"})

        set_finalizers(["jhpolicy.test/hold"])  # the pod cannot go away
        hub.stop_server("stuck", "a")  # JupyterHub considers it stopped once the stop has failed
        assert f"Pod {namespace}/{name} did not disappear" in hub.log_text()
        assert ("stuck", "a") in running(hub)
        assert usage(hub, "", "servers") == 2
        r = hub.start_server("stuck", "c", {})
        assert r.status_code == 403, r.text
        assert r.json()["message"] == "Spawn refused by policy: " + USER_FULL

        set_finalizers(None)  # now it goes
        cluster.wait_for(lambda: ("stuck", "a") not in running(hub), "the pod to be deleted")
        # Released when the hub next polls a server (poll_interval 2 s) or decides.
        hub.wait_for(lambda: usage(hub, "", "servers") == 1, "the books to release the stopped server")
        assert f"released the booking of pod {namespace}/{name}: the pod is gone" in hub.log_text()
        assert started(hub.start_server("stuck", "c", {}))
        for server in ("b", "c"):
            hub.stop_server("stuck", server)
        assert usage(hub, "", "servers") == 0
    finally:
        hub.stop()


def test_pods_no_booking_names_count_until_they_are_gone(opa, cluster, pod_ips, tmp_path):
    """A stop that failed before a hub restart (JupyterHub then polls that
    server no more), and a pod this hub never started: both counted from the
    pod reflector until the pod is gone, and never twice."""
    namespace = "jhub-books-unnamed"
    hub = Hub(tmp_path, opa.url, cluster=cluster, namespace=namespace, singleuser_port=pod_ips.port,
              env={"E2E_START_TIMEOUT": "15", "E2E_KEEP_SERVERS": "1"}).start()
    pods = f"/api/v1/namespaces/{namespace}/pods"
    try:
        hub.add_user("lingers", ("students",))
        hub.add_user("gpuser", ("gpu-users",))
        for server in ("a", "b"):
            assert started(hub.start_server("lingers", server, {}))
        name = running(hub)[("lingers", "a")]["metadata"]["name"]
        finalizers = lambda value: cluster.request(  # noqa: E731
            "PATCH", f"{pods}/{name}", content=json.dumps({"metadata": {"finalizers": value}}),
            headers={"Content-Type": "application/merge-patch+json"})
        finalizers(["jhpolicy.test/hold"])
        hub.stop_server("lingers", "a")  # fails: the pod stays
        assert ("lingers", "a") in running(hub)
        # A pod the hub did not start, charged to gpu-users: all 4 of its GPUs.
        outsider = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "jupyter-outsider",
                         "labels": {"component": "singleuser-server", "hub.jupyter.org/username": "outsider"},
                         "annotations": {"hub.jupyter.org/username": "outsider", "jhpolicy/charge": "gpu-users"}},
            "spec": {"containers": [{"name": "notebook", "image": "quay.io/jupyter/base-notebook:latest",
                                     "resources": {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "4"}}}]},
        }
        cluster.request("POST", pods, json=outsider)
        hub.restart()  # SIGTERM; "a" is a stopped server for the restarted hub, its pod is still there
        hub.wait_for(lambda: usage(hub, "", "servers") == 3, "the books to count b, a's pod and the outsider's pod")
        assert usage(hub, "students", "servers") == 2
        assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4
        assert "no server of this hub's books names it" in hub.log_text()
        r = hub.start_server("lingers", "c", {})
        assert r.status_code == 403, r.text
        assert r.json()["message"] == "Spawn refused by policy: " + USER_FULL
        r = hub.start_server("gpuser", "", GPU)
        assert r.status_code == 403, r.text
        assert r.json()["message"] == "Spawn refused by policy: " + GROUP_FULL + GPU_HELP

        finalizers(None)
        cluster.request("DELETE", f"{pods}/jupyter-outsider", params={"gracePeriodSeconds": "0"})
        cluster.wait_for(lambda: {("lingers", "a"), ("outsider", "")}.isdisjoint(running(hub)), "both pods to go")
        hub.wait_for(lambda: usage(hub, "", "servers") == 1, "the books to release both pods")
        assert usage(hub, "gpu-users", "nvidia.com/gpu") == 0
        assert started(hub.start_server("lingers", "c", {}))
        assert started(hub.start_server("gpuser", "", GPU))
        for user, server in (("lingers", "b"), ("lingers", "c"), ("gpuser", "")):
            hub.stop_server(user, server)
        assert usage(hub, "", "servers") == 0

        # With nothing of the hub's running (no poll reconciles the books), the
        # gauges still follow the cluster (#28 item 10: before, an outsider's
        # GPUs stayed on /hub/metrics until the hub's next decision).
        cluster.request("POST", pods, json=outsider)
        r = hub.start_server("gpuser", "", GPU)  # a decision books the outsider's pod, and is refused for it
        assert r.status_code == 403, r.text
        assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4 and running(hub).keys() == {("outsider", "")}
        cluster.request("DELETE", f"{pods}/jupyter-outsider", params={"gracePeriodSeconds": "0"})
        cluster.wait_for(lambda: ("outsider", "") not in running(hub), "the outsider's pod to go")
        hub.wait_for(lambda: usage(hub, "gpu-users", "nvidia.com/gpu") == 0, "the gauge to follow the cluster")
        assert usage(hub, "", "servers") == 0
    finally:
        hub.stop()


def test_a_hub_killed_while_a_spawn_is_pending_still_counts_that_server(opa, cluster, pod_ips, tmp_path):
    import threading

    # Server "b" gets a pod no node takes: its spawn waits inside start(),
    # where JupyterHub has not saved the spawner's state yet.
    hub = Hub(tmp_path, opa.url, cluster=cluster, namespace="jhub-books-killed", singleuser_port=pod_ips.port,
              env={"E2E_KEEP_SERVERS": "1", "E2E_UNSCHEDULABLE_SERVER": "b"}).start()
    try:
        hub.add_user("killed", ("students",))
        assert started(hub.start_server("killed", "a", {}))

        def pending_spawn():
            try:
                hub.start_server("killed", "b", {})
            except Exception:  # the hub is killed under it
                pass

        request = threading.Thread(target=pending_spawn)
        request.start()
        cluster.wait_for(lambda: ("killed", "b") in running(hub), "the pending server's pod")
        hub.process.kill()  # SIGKILL: no shutdown, no last commit
        hub.process.wait()
        request.join()
        hub.restart()
        # The pod is still Pending: KubeSpawner's poll calls that running, and it must count.
        hub.wait_for(lambda: usage(hub, "", "servers") == 2, "the restarted hub to count the server that was pending")
        r = hub.start_server("killed", "c", {})
        assert r.status_code == 403, r.text
        assert r.json()["message"] == "Spawn refused by policy: " + USER_FULL
        hub.stop_server("killed", "a")
        # JupyterHub is still checking "b" (a stop now is its own 500, "pending check"); a
        # server that never answers is stopped by the hub itself, and its share freed.
        hub.wait_for(lambda: not (hub.server_state("killed", "b") or {}).get("pending"), "the hub's check of b", 180)
        if hub.server_state("killed", "b") is not None:
            hub.stop_server("killed", "b")
        assert usage(hub, "", "servers") == 0
    finally:
        hub.stop()


def test_corrupted_saved_bookings_are_rebuilt_from_the_pods(opa, cluster, pod_ips, tmp_path):
    import sqlite3

    hub = Hub(tmp_path, opa.url, cluster=cluster, namespace="jhub-books-corrupt", singleuser_port=pod_ips.port,
              env={"E2E_KEEP_SERVERS": "1"}).start()
    try:
        hub.add_user("corrupt", ("students",))
        hub.add_user("bystander", ("students",))
        for server in ("a", "b"):
            assert started(hub.start_server("corrupt", server, {}))
        corrupted = {"a": {"group": "students", "amounts": {"servers": "NaN", "cpu_limit": "Infinity"}},
                     "b": {"group": ["students"], "amounts": {"servers": -1, "mem_limit": "1e5000"}}}

        def corrupt_the_saved_bookings():
            with sqlite3.connect(tmp_path / "jupyterhub.sqlite") as db:
                for server, holding in corrupted.items():
                    (spawner_id, state), = db.execute(
                        "SELECT spawners.id, spawners.state FROM spawners JOIN users ON spawners.user_id = users.id "
                        "WHERE users.name = 'corrupt' AND spawners.name = ?", (server,))
                    state = json.loads(state)
                    assert "jhpolicy_holding" in state
                    state["jhpolicy_holding"] = holding
                    db.execute("UPDATE spawners SET state = ? WHERE id = ?", (json.dumps(state), spawner_id))

        hub.restart(while_down=corrupt_the_saved_bookings)
        # Refused as saved state, then booked from the pods when polled: never a 500, never below zero.
        hub.wait_for(lambda: usage(hub, "", "servers") == 2, "the books to count both servers from their pods")
        log = hub.log_text()
        assert "cannot book corrupt:a from its saved state" in log and "cannot book corrupt:b from its saved state" in log
        assert usage(hub, "students", "servers") == 2  # the charge, from the pods' annotation
        r = hub.start_server("corrupt", "c", {})
        assert r.status_code == 403, r.text
        assert r.json()["message"] == "Spawn refused by policy: " + USER_FULL
        assert started(hub.start_server("bystander", "", {}))
        for user, server in (("corrupt", "a"), ("corrupt", "b"), ("bystander", "")):
            hub.stop_server(user, server)
        assert usage(hub, "", "servers") == 0
    finally:
        hub.stop()
