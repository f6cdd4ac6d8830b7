"""The fault matrix: every way OPA can fail, in both failure modes.

Real OPA behind a small fault-injecting server (tests/faults.py). For each
fault: a clear 503 (mode "deny") or the admin's defaults (mode "defaults"),
inside slow_spawn_timeout, no spawner attribute changed, and the next request
after the fault clears succeeds. The same matrix then runs through a real
JupyterHub, which must keep answering and record no pod.
"""

from __future__ import annotations

import time

import pytest
from traitlets.config import Config

from jhpolicy.errors import UNAVAILABLE_MESSAGE

from .conftest import run_spawn
from .faults import FAULTS, FaultServer

SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"
BODY = {"image": SAMPLE, "cpu_limit": 8}
SLOW_SPAWN_TIMEOUT = 10.0
OPA_TIMEOUT = 2.0
DEFAULT_IMAGE = "quay.io/jupyterhub/singleuser:latest"


@pytest.fixture(scope="module")
def faults(opa):
    server = FaultServer(opa.url).start()
    yield server
    server.stop()


def config(mode: str) -> Config:
    c = Config()
    c.PolicyKubeSpawner.policy_failure_mode = mode
    c.PolicyKubeSpawner.opa_timeout = OPA_TIMEOUT
    return c


@pytest.mark.parametrize("mode", ["deny", "defaults"])
@pytest.mark.parametrize("fault", FAULTS)
def test_fault(faults, fault, mode):
    faults.set(fault)
    try:
        started = time.monotonic()
        r = run_spawn(faults.url, BODY, groups=["students"], config=config(mode))
        elapsed = time.monotonic() - started
    finally:
        faults.set(None)
    # The caller gets the answer in the response, not a 202.
    assert elapsed < SLOW_SPAWN_TIMEOUT
    assert r.changed() == {}
    if mode == "deny":
        assert r.status == 503 and r.message == UNAVAILABLE_MESSAGE
        assert r.pod is None
    else:
        assert r.status == 200 and r.spawner.policy_outcome == "defaults"
        assert r.pod["image"] == DEFAULT_IMAGE and r.pod["limits"] == {}  # the admin configured none
    # The fault cleared: the next request is decided normally.
    after = run_spawn(faults.url, BODY, groups=["students"], config=config(mode))
    assert after.status == 200 and after.pod["image"] == SAMPLE and after.pod["limits"] == {"cpu": 2.0, "memory": 4 * 1024**3}
