"""Server lifetimes with the real parts: a real hub running PolicyKubeSpawner
on the real API server with kwok nodes, and the real jupyterhub-idle-culler
2.0 process as a hub service, defined as Zero to JupyterHub 4.4.0's
jupyterhub_config.py defines it from cull.* and then turned into jhpolicy's
by jhpolicy.culler.configure (tests/e2e/jupyterhub_config.py), culling every
second. Lifetimes are seconds long; the culler's own --timeout is 5 s.

The servers start on a hub without the culler; the policy then changes and
the hub restarts with it: every cull below is made from the lifetime saved
at spawn, read back from the hub's database.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import httpx
import pytest

from jhpolicy.tooling.local_opa import LocalOPA

from .e2e.hub import Hub
from .helpers.policies import policies_with

GLOBAL_TIMEOUT = 5


@pytest.fixture(scope="module")
def opa(tmp_path_factory):
    def lifetimes_of_seconds(jhpolicy: dict) -> None:
        jhpolicy["lifetimes"] = {"extra_resources": {"nvidia.com/gpu": {"idle": "2s"}}}
        jhpolicy["groups"]["students"]["lifetime"] = {"idle": "1h"}
        jhpolicy["groups"]["short-lived"] = {**jhpolicy["groups"]["students"], "lifetime": {"max_age": "6s"}}
        jhpolicy["quotas"] = {"users": {"servers": 2}}

    server = LocalOPA([policies_with(tmp_path_factory.mktemp("lifetime-e2e-policies"), lifetimes_of_seconds)]).start()
    yield server
    server.stop()


def culls(hub) -> dict[tuple[str, str], float]:
    """jhpolicy_culls by (reason, group), from the hub's /hub/metrics."""
    counted = {}
    for labels, n in re.findall(r"^jhpolicy_culls_total{([^}]*)} (\S+)$", hub.client.get("/hub/metrics").text, re.M):
        label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        counted[(label["reason"], label["group"])] = float(n)
    return counted


def servers_in_use(hub) -> float:
    match = re.search(r'^jhpolicy_usage{group="",resource="servers"} (\S+)$', hub.client.get("/hub/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0


def test_the_culler_stops_each_server_when_its_decided_lifetime_is_up(opa, cluster, pod_ips, tmp_path):
    hub = Hub(tmp_path, opa.url, cluster=cluster, namespace="jhub-lifetimes", singleuser_port=pod_ips.port,
              env={"E2E_KEEP_SERVERS": "1", "E2E_POLICY_QUOTAS": "1"}).start()
    try:
        hub.add_user("sam", ("students",))
        hub.add_user("bob")
        hub.add_user("gina", ("gpu-users",))
        hub.add_user("carol", ("students", "short-lived"))
        # sam's first, so whenever the culler stops bob's for the global
        # timeout, sam's has been idle at least as long.
        for user, body in (("sam", {}), ("bob", {}),
                           ("gina", {"kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": 1}}}),
                           ("carol", {})):
            r = hub.start_server(user, "", body)
            assert r.status_code in (201, 202), r.text
            hub.wait_for(lambda user=user: (hub.server_state(user) or {}).get("ready"), f"{user}'s server")
        assert servers_in_use(hub) == 4

        # A policy change after the spawns: the running servers keep theirs.
        r = httpx.put(f"{opa.url}/v1/data/jhpolicy/lifetimes", json={"extra_resources": {"nvidia.com/gpu": {"idle": "1h"}}})
        assert r.status_code == 204, r.text

        # carol's server active now, as its server would report it.
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        r = hub.api("POST", "/users/carol/activity", token=hub.tokens["harness"],
                    json={"last_activity": now, "servers": {"": {"last_activity": now}}})
        assert r.status_code == 200, r.text

        hub.extra_env["E2E_CULL_TIMEOUT"] = str(GLOBAL_TIMEOUT)
        hub.restart()
        hub.wait_for(lambda: all(hub.server_state(u) is None for u in ("bob", "gina", "carol")),
                     "the culler to stop bob's, gina's and carol's servers", timeout=90)
        log = hub.log_text()

        # sam's: decided idle 1 h, idle longer than the culler's --timeout, kept.
        assert (hub.server_state("sam") or {}).get("ready"), log[-3000:]
        # gina's GPU server: idle past its 2 s (servers holding nvidia.com/gpu), saved before the policy changed.
        assert "jhpolicy: culling gina/: idle timeout 2 s reached (servers holding nvidia.com/gpu)" in log
        # carol's: older than its 6 s (group short-lived), though active and its idle timeout is 1 h.
        assert "jhpolicy: culling carol/: maximum age 6 s reached (group short-lived)" in log
        # bob's: none decided, the culler's --timeout.
        assert f"jhpolicy: culling bob/: idle timeout {GLOBAL_TIMEOUT} s reached (the culler's --timeout)" in log

        counted = culls(hub)
        assert counted == {("idle", "gpu-users"): 1, ("age", "short-lived"): 1}, counted
        # (bob's had no decided lifetime: not one of jhpolicy's culls.)
        # The books released the culled servers like any stop.
        assert servers_in_use(hub) == 1
        hub.stop_server("sam")
    finally:
        hub.stop()
