"""A refusal is not a failure: `consecutive_failure_limit` as Zero to
JupyterHub sets it (5), through a real hub on the real API server with kwok.

JupyterHub 5 counts every failed spawn toward the limit and exits the hub
when it is reached; JupyterHub 6 counts only errors. jhpolicy's refusals
(400, 403) must leave the hub up on both, and genuine spawn errors must
still stop it exactly as upstream does (jhpolicy.hub.failure_count). The tests
run in order on one hub: the last one ends it.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from jhpolicy.tooling.local_opa import LocalOPA

from .e2e.hub import Hub
from .helpers.policies import POLICIES

FORBIDDEN_IMAGE = {"kubespawner_override": {"image": "docker.io/library/evil:latest"}}
MALFORMED = {"cpu_limit": "lots"}
LIMIT = 5


@pytest.fixture(scope="module")
def opa():
    server = LocalOPA([POLICIES]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(opa, cluster, pod_ips, tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("hub"), opa.url, cluster=cluster, namespace="jhub-failure-limit",
              singleuser_port=pod_ips.port, env={"E2E_CONSECUTIVE_FAILURE_LIMIT": str(LIMIT)}).start()
    yield hub
    hub.stop()


def failures_counted(hub) -> int:
    """The hub's own count of consecutive failures, from its warning (0 if none logged yet)."""
    counts = re.findall(r"(\d+) consecutive spawns failed", hub.log_text())
    return int(counts[-1]) if counts else 0


def spawn_failure_observations(hub) -> float:
    """JupyterHub's spawn-duration metric, samples labelled status="failure"."""
    text = hub.client.get("/hub/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("jupyterhub_server_spawn_duration_seconds_count{") and 'status="failure"' in line)


def test_many_refusals_in_a_row_leave_the_hub_up(hub):
    refusals = 0
    for i in range(3 * LIMIT):
        r = hub.start_server("sam", "", MALFORMED if i % 3 == 0 else FORBIDDEN_IMAGE)
        assert r.status_code == (400 if i % 3 == 0 else 403), r.text
        refusals += 1
    # The same, all at once.
    outcomes = asyncio.run(hub.burst([("sam", f"s{i}", FORBIDDEN_IMAGE) for i in range(20)]))
    assert {o["status"] for o in outcomes} == {403}
    refusals += len(outcomes)

    assert hub.process.poll() is None
    assert hub.client.get("/hub/api/").status_code == 200
    log = hub.log_text()
    assert "consecutive spawns failed" not in log
    assert "Aborting due to" not in log
    # Still seen by JupyterHub's own metrics, as a failure, once each.
    assert spawn_failure_observations(hub) == refusals


def test_genuine_errors_still_count_and_refusals_between_them_change_nothing(hub):
    for i in range(LIMIT - 1):
        r = hub.start_server("sam", "broken")
        assert r.status_code == 500, r.text
        r = hub.start_server("sam", "", FORBIDDEN_IMAGE)  # a refusal neither counts nor resets
        assert r.status_code == 403, r.text
        assert failures_counted(hub) == (i + 1 if i else 0)  # JupyterHub warns from the 2nd on
    assert hub.process.poll() is None
    assert "Aborting due to" not in hub.log_text()


def test_the_limit_th_genuine_error_stops_the_hub_as_upstream_does(hub):
    r = hub.start_server("sam", "broken")
    assert r.status_code == 500, r.text
    assert f"Aborting due to {LIMIT} consecutive spawn failures" in hub.log_text()
    # JupyterHub exits 2 s after logging it; allow a busy machine far more.
    deadline = time.monotonic() + 60
    while hub.process.poll() is None:
        assert time.monotonic() < deadline, "the hub did not exit at the failure limit"
        time.sleep(0.1)
    assert hub.process.returncode != 0
