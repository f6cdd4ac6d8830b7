"""Kept allowance views in a real JupyterHub (the recorder for Kubernetes),
its OPA behind a pass-through server that counts the queries: the spawn
page and the endpoint for the same input ask OPA once; with
`policy_view_cache_seconds = 0`, every time; a spawn always asks.
"""

from __future__ import annotations

import re

import httpx
import pytest

from .e2e.hub import Hub
from .helpers.faults import FaultServer


@pytest.fixture(scope="module")
def counted(opa):
    counter = FaultServer(opa.url).start()
    yield counter
    counter.stop()


def logged_in(hub: Hub, user: str) -> httpx.Client:
    client = httpx.Client(base_url=hub.url, timeout=30, trust_env=False)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', client.get("/hub/login").text).group(1)
    r = client.post("/hub/login", data={"username": user, "password": "any", "_xsrf": xsrf})
    assert r.status_code == 302, r.text[:300]
    return client


def views_by_source(hub: Hub) -> dict[str, float]:
    """jhpolicy_allowance_views_total on the hub's /hub/metrics, by source."""
    text = hub.client.get("/hub/metrics").text
    return {source: float(n) for source, n in re.findall(r'^jhpolicy_allowance_views_total\{source="(\w+)"\} (\S+)$', text, re.M)}


def asked_for(counter: FaultServer, do) -> int:
    before = counter.requests
    do()
    return counter.requests - before


def page(client: httpx.Client) -> None:
    r = client.get("/hub/spawn/alice")
    assert r.status_code == 200 and "What you may launch" in r.text, r.text[:300]


def endpoint(hub: Hub) -> None:
    r = hub.client.get("/hub/api/jhpolicy/allowance", headers={"Authorization": f"token {hub.tokens['alice']}"})
    assert r.status_code == 200 and r.json()["available"] is True, r.text[:300]


# Kept for 300 s (the most), not the default 10: the hub runs in its own
# process on the real clock, and a busy machine must not see a view expire
# between the test's steps.
@pytest.mark.parametrize("seconds, again", [("300", 0), ("0", 1)])
def test_the_same_view_asks_opa_once_and_a_spawn_always_asks(tmp_path, counted, seconds, again):
    hub = Hub(tmp_path, counted.url, env={"E2E_VIEW_CACHE_SECONDS": seconds}).start()
    try:
        client = logged_in(hub, "alice")
        first = asked_for(counted, lambda: page(client))
        assert first >= 1
        assert asked_for(counted, lambda: page(client)) == again * first
        assert asked_for(counted, lambda: endpoint(hub)) == again * first
        assert views_by_source(hub) == ({"opa": 3} if again else {"opa": 1, "kept": 2})
        # The spawn is decided by OPA (the decision), kept view or not.
        spawned = []
        assert asked_for(counted, lambda: spawned.append(hub.start_server("alice", body={"cpu_limit": 8}))) >= 1
        assert spawned[0].status_code in (201, 202), spawned[0].text
    finally:
        hub.stop()
