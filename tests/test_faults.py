"""The fault matrix: every way OPA can fail, in both failure modes.

Real OPA behind a small fault-injecting server (tests/helpers/faults.py). For each
fault: a clear 503 (mode "deny") or the admin's defaults (mode "defaults"),
inside slow_spawn_timeout, no spawner attribute changed, and the next request
after the fault clears succeeds. The same matrix then runs through a real
JupyterHub, which must keep answering and record no pod.
"""

from __future__ import annotations

import logging
import time

import pytest
from traitlets.config import Config

from jhpolicy.hub.errors import UNAVAILABLE_MESSAGE

from .helpers.faults import FAULTS, FaultServer
from .helpers.spawns import run_spawn

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


def refusal_logged(caplog) -> str:
    (line,) = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("jhpolicy: refusing spawn of alice: ")
    ]
    return line.removeprefix("jhpolicy: refusing spawn of alice: ")


@pytest.mark.parametrize(
    "fault, logged",
    [
        ("http_500", """OPA answered HTTP 500: b'{"code": "internal_error"}'"""),
        ("http_502_long", "OPA answered HTTP 502: " + repr(b"<html>" + b"x" * 294)),
        ("invalid_json", """OPA's answer is not JSON: b'{"result": {"allow": tru'"""),
        ("empty_body", "OPA's answer is not JSON: b''"),
        ("undefined", "OPA has no decision at /v1/data/jupyterhub/spawn/decision (undefined): b'{}'"),
        ("allow_missing", "decision.allow is missing or not a boolean: None"),
        ("huge_body", f"OPA's answer is larger than {1024 * 1024} bytes"),
        ("hang", f"OPA did not answer within {OPA_TIMEOUT}s"),
    ],
)
def test_the_hub_log_says_what_went_wrong(faults, fault, logged, caplog):
    """What the admin reads: the fault, without exception text (which can
    quote request headers, and with them the token)."""
    faults.set(fault)
    try:
        with caplog.at_level(logging.ERROR):
            r = run_spawn(faults.url, BODY, groups=["students"], config=config("deny"))
    finally:
        faults.set(None)
    assert r.status == 503
    assert refusal_logged(caplog) == logged


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_dropped_connections_are_retried_a_bounded_number_of_times(faults, retries, caplog):
    c = config("deny")
    c.PolicyKubeSpawner.opa_retries = retries
    faults.set("close")
    before = faults.requests
    try:
        with caplog.at_level(logging.ERROR):
            r = run_spawn(faults.url, BODY, groups=["students"], config=c)
    finally:
        faults.set(None)
    assert r.status == 503
    assert faults.requests - before == retries + 1
    assert refusal_logged(caplog) == f"cannot reach OPA at {faults.url}: RemoteProtocolError"


def test_a_retry_after_a_dropped_connection_can_succeed(faults):
    """OPA restarting: the first connection drops, the retry is answered."""
    c = config("deny")
    c.PolicyKubeSpawner.opa_retries = 1
    faults.set("close", times=1)
    r = run_spawn(faults.url, BODY, groups=["students"], config=c)
    assert r.status == 200 and r.pod["image"] == SAMPLE
