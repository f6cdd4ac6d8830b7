"""Faults and bursts through a real JupyterHub: the fault matrix on real
Kubernetes (tests/kube/cluster.py), the bursts with the recorder standing in
for Kubernetes (see direct_hub for why).

- every answer fault of tests/helpers/faults.py: 503 inside slow_spawn_timeout, no
  pod, the hub keeps answering, the next request works without a restart;
- OPA not started when the hub starts, then started;
- bursts of concurrent spawn requests with OPA healthy, killed in the middle
  of the burst, and flapping (stopped and started while the burst runs):
  every request gets an outcome the policy explains, none hangs, and no pod
  carries a value the policy did not decide.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

from jhpolicy.core.quantities import kubernetes_quantity
from jhpolicy.tooling.local_opa import LocalOPA, free_port

from .e2e.hub import Hub
from .helpers.faults import ANSWERS, FaultServer
from .helpers.policies import POLICIES

SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"
BODY = {"image": SAMPLE, "cpu_limit": 8}
SLOW_SPAWN_TIMEOUT = 10.0
UNAVAILABLE = "spawn policy unavailable: the server was not started; try again later or ask your hub admin"
STUDENTS, NO_GROUP = ("alice", "sam"), ("bob", "carol")
BURST = 300


def started(status):
    return status in (201, 202)


def assert_pods_decided(hub):
    """Every recorded pod carries the decided values, never the requested ones."""
    for record in hub.pods():
        container = record["pod"]["spec"]["containers"][0]
        assert record["user"] in STUDENTS, record["user"]
        assert container["image"] == SAMPLE
        assert kubernetes_quantity(container["resources"]["limits"]["cpu"]) == 2.0  # asked for 8


def settle(hub, outcomes, timeout=120):
    """Wait until no spawn of the burst is pending; return {(user, server): final server model or None}."""
    deadline = time.monotonic() + timeout
    while True:
        users = {u: hub.api("GET", f"/users/{u}", token=hub.tokens["harness"]).json() for u in STUDENTS + NO_GROUP}
        final = {(o["user"], o["server"]): users[o["user"]]["servers"].get(o["server"]) for o in outcomes}
        if not any(model and model.get("pending") == "spawn" for model in final.values()):
            return final
        assert time.monotonic() < deadline, "spawns still pending"
        time.sleep(0.2)


def assert_outcomes_explained(hub, outcomes):
    """Each response is one the policy explains; a 202 (the hub itself took longer
    than slow_spawn_timeout to get to the policy) must end the way the policy says."""
    final = settle(hub, outcomes)
    for o in outcomes:
        model = final[(o["user"], o["server"])]
        if o["user"] in STUDENTS:
            assert started(o["status"]) or (o["status"] == 503 and o["message"] == UNAVAILABLE), o
            assert (model is not None and model["ready"]) == started(o["status"]) or o["status"] == 202, (o, model)
        else:
            assert o["status"] in (202, 403, 503), o
            if o["status"] == 403:
                assert o["message"].startswith(f"Spawn refused by policy: image {SAMPLE} is not allowed"), o
            assert model is None or not model["ready"], (o, model)  # never running
    return final


def burst_requests(n, prefix):
    users = STUDENTS + NO_GROUP
    return [(users[i % len(users)], f"{prefix}{i}", BODY) for i in range(n)]


# --- answer faults, through the hub ---


@pytest.fixture(scope="module")
def upstream():
    opa = LocalOPA([POLICIES]).start()
    yield opa
    opa.stop()


@pytest.fixture(scope="module")
def faults(upstream):
    server = FaultServer(upstream.url).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fault_hub(faults, cluster, pod_ips, tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("fault-hub"), faults.url, opa_timeout=2.0, cluster=cluster,
              namespace="jhub-e2e-faults", singleuser_port=pod_ips.port).start()
    yield hub
    hub.stop()


@pytest.mark.parametrize("fault", [*ANSWERS, "huge_body", "slow", "hang"])
def test_fault_through_the_hub(fault_hub, faults, fault):
    hub = fault_hub
    server = f"f-{fault.replace('_', '-')}"
    before = len(hub.pods())
    faults.set(fault)
    try:
        result = {}
        spawn = threading.Thread(target=lambda: result.update(r=hub.start_server("alice", server, BODY), t=time.monotonic()))
        t0 = time.monotonic()
        spawn.start()
        # The hub keeps answering while the spawn waits on the broken policy.
        assert hub.api("GET", "/users/alice", token=hub.tokens["harness"]).status_code == 200
        spawn.join(SLOW_SPAWN_TIMEOUT + 5)
        assert not spawn.is_alive()
    finally:
        faults.set(None)
    assert result["r"].status_code == 503, result["r"].text
    assert result["r"].json()["message"] == UNAVAILABLE
    assert result["t"] - t0 < SLOW_SPAWN_TIMEOUT
    assert len(hub.pods()) == before
    assert hub.server_state("alice", server) is None
    r = hub.start_server("alice", server, BODY)
    assert started(r.status_code), r.text
    hub.stop_server("alice", server)


# --- OPA itself: not started, killed mid-burst, flapping ---


@pytest.fixture(scope="module")
def opa_port():
    return free_port()


@pytest.fixture(scope="module")
def direct_hub(opa_port, tmp_path_factory):
    """The hub for OPA's own faults and the 300-request bursts, which start
    while its OPA is not running yet.

    Here the recorder (tests/e2e/recording.py) stands in for Kubernetes, on
    purpose: these tests are about the hub and OPA under load, and a real API
    server cannot serve them on this 2-core machine. Measured with the real
    cluster of tests/kube: in a healthy burst, 118 of the 150 allowed spawns
    hit KubeSpawner's 60 s start_timeout waiting for their pods (the hub,
    proxy, OPA, API server, etcd, scheduler and kwok share the 2 cores), so
    the outcome measured the machine, not the policy. Every other end-to-end
    test, the fault matrix above included, runs on the real API server.
    """
    hub = Hub(tmp_path_factory.mktemp("direct-hub"), f"http://127.0.0.1:{opa_port}").start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def opa_process():
    opa = LocalOPA([POLICIES])
    yield opa
    opa.stop()


def test_opa_not_started_then_started(direct_hub, opa_process, opa_port):
    r = direct_hub.start_server("alice", "early", BODY)
    assert r.status_code == 503 and r.json()["message"] == UNAVAILABLE
    opa_process.start(port=opa_port)
    r = direct_hub.start_server("alice", "early", BODY)
    assert started(r.status_code), r.text
    direct_hub.stop_server("alice", "early")


def test_burst_with_healthy_opa(direct_hub, opa_process):
    outcomes = asyncio.run(direct_hub.burst(burst_requests(BURST, "h")))
    final = assert_outcomes_explained(direct_hub, outcomes)
    assert_pods_decided(direct_hub)
    running = sum(1 for (user, _), model in final.items() if model and model["ready"])
    failed_closed = BURST // 2 - running  # students' spawns that timed out on an overloaded machine
    statuses = [o["status"] for o in outcomes]
    print(f"\nhealthy burst of {BURST}: responses " + ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses)))
          + f"; running at the end {running}/{BURST // 2}; failed closed {failed_closed}")
    # Every spawn that did not start failed closed with the policy's 503
    # (assert_outcomes_explained). How many that is measures the machine:
    # 28 of 150 in one CI run of the JupyterHub 5.5 pass (2026-11-30), when
    # opa_timeout still counted the hub's busy event loop (31 of 300 in
    # benchmark 3 on 2026-12-07, 0 once it no longer did); the figure
    # belongs to benchmark 3 (bench/burst.py, target 0), not to a test.
    assert running > 0, "no spawn of the burst started: OPA answered none within opa_timeout"


class LogReader:
    """Reads the hub log from where it stood when made; each call returns
    the lines appended since the last one. Reading only what is new keeps
    the polling light on the machine the burst runs on."""

    def __init__(self, hub):
        self.file = open(hub.log_path, "rb")
        self.file.seek(0, 2)
        self.partial = b""

    def __call__(self) -> str:
        lines = (self.partial + self.file.read()).split(b"\n")
        self.partial = lines.pop()  # the last line may still be being written
        return "\n".join(line.decode(errors="replace") for line in lines)


class DecisionCounter:
    """Spawn requests that got past the policy check, either way, counted in
    the hub log from now on."""

    MARKERS = ("jhpolicy decision user=", "jhpolicy: refusing spawn")

    def __init__(self, hub):
        self.new_lines = LogReader(hub)
        self.count = 0

    def __call__(self) -> int:
        self.count += sum(1 for line in self.new_lines().splitlines() if any(m in line for m in self.MARKERS))
        return self.count


_DECISION = re.compile(r"jhpolicy decision user=(\S+) requester=\S+ server='([^']*)' decision_id=\S+ allow=True")
_REFUSAL = re.compile(r"jhpolicy: refusing spawn of ([^:\s]+):(\S+): ")


def allowed_in_log(hub, prefix):
    """(user, server) of every spawn OPA allowed, from the hub log."""
    return {m.groups() for m in _DECISION.finditer(hub.log_text()) if m.group(2).startswith(prefix)}


def refused_in_log(hub, prefix):
    """(user, server) of every spawn refused because the policy was unavailable."""
    return {m.groups() for m in _REFUSAL.finditer(hub.log_text()) if m.group(2).startswith(prefix)}


def run_beside(burst, action):
    """Run `action(stop_event)` in a thread while the burst runs."""
    done = threading.Event()
    thread = threading.Thread(target=action, args=(done,))
    thread.start()
    try:
        return burst()
    finally:
        done.set()
        thread.join(30)


def test_burst_with_opa_killed_midway(direct_hub, opa_process, opa_port):
    decided = DecisionCounter(direct_hub)

    def kill_when_a_third_is_decided(done):
        while not done.is_set() and decided() < BURST // 3:
            time.sleep(0.02)
        opa_process.process.kill()  # SIGKILL, in the middle of the burst

    outcomes = run_beside(lambda: asyncio.run(direct_hub.burst(burst_requests(BURST, "k"))), kill_when_a_third_is_decided)
    final = assert_outcomes_explained(direct_hub, outcomes)
    # Whatever the timing of the kill: a server runs exactly when OPA allowed
    # it (a decision logged for it, necessarily made before the kill), and
    # every other student's spawn was refused as unavailable.
    running = {key for key, model in final.items() if model and model["ready"]}
    allowed = allowed_in_log(direct_hub, prefix="k")
    assert running == allowed
    refused = refused_in_log(direct_hub, prefix="k")
    for o in outcomes:
        if o["user"] in STUDENTS and (o["user"], o["server"]) not in running:
            assert (o["user"], o["server"]) in refused, o
    assert_pods_decided(direct_hub)
    # Restarted: decisions again, no hub restart.
    opa_process.stop()
    opa_process.start(port=opa_port)
    r = direct_hub.start_server("alice", "after-kill", BODY)
    assert started(r.status_code), r.text


WAVES = 10


async def wave_until(burst, seen, poll=0.02):
    """Wait until `seen()` is true or the burst's wave has ended."""
    while not burst.done() and not seen():
        await asyncio.sleep(poll)


def test_burst_with_opa_flapping(direct_hub, opa_process, opa_port):
    """OPA stopped and started while spawns are in flight, in WAVES waves of
    concurrent requests. Each flip waits on what OPA's state must produce,
    never on time: a wave that starts with OPA up stops it once the log shows
    a spawn the policy allowed in that wave; a wave that starts with OPA down
    starts it once a spawn of that wave was refused as unavailable. The rest
    of the wave is in flight across the flip."""
    per_wave = BURST // WAVES

    async def flapping_burst():
        outcomes, flips = [], []
        for wave in range(WAVES):
            prefix = f"f{wave}-"
            up = opa_process.process.poll() is None
            new_lines = LogReader(direct_hub)
            refused = []
            burst = asyncio.create_task(direct_hub.burst(
                [(u, prefix + s, b) for u, s, b in burst_requests(per_wave, "")],
                on_response=lambda o: refused.append(o) if o["status"] == 503 else None))
            if up:
                await wave_until(burst, lambda: any(m.group(2).startswith(prefix) for m in _DECISION.finditer(new_lines())))
                await asyncio.to_thread(opa_process.stop)
            else:
                await wave_until(burst, lambda: bool(refused))
                await asyncio.to_thread(opa_process.start, port=opa_port)
            flips.append("stopped" if up else "started")
            outcomes += await burst
        return outcomes, flips

    outcomes, flips = asyncio.run(flapping_burst())
    assert flips == ["stopped", "started"] * (WAVES // 2)
    final = assert_outcomes_explained(direct_hub, outcomes)
    running = sum(1 for model in final.values() if model and model["ready"])
    refused = refused_in_log(direct_hub, "f") | {(o["user"], o["server"]) for o in outcomes if o["status"] == 503}
    # The policy decided while OPA was up and refused while it was down.
    # How many allowed servers then became ready measures the machine (a CI
    # run with other work on both cores had none ready: every allowed spawn
    # hit its timeout and failed closed, which assert_outcomes_explained
    # checked).
    allowed = allowed_in_log(direct_hub, "f")
    assert (running > 0 or allowed) and refused, (running, len(allowed), len(refused))
    assert_pods_decided(direct_hub)
    if opa_process.process.poll() is not None:
        opa_process.start(port=opa_port)
    r = direct_hub.start_server("alice", "after-flap", BODY)
    assert started(r.status_code), r.text
