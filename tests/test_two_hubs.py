"""Two hubs in one namespace (issue #28 item 9): quotas are per hub.

Each hub labels its pods `jhpolicy/hub: <policy_hub_name>` and never books
another hub's, so each holds its own quota under its own decision lock.
Before, each hub's pod reflector counted the other's pods as pods no
booking names, so sequential spawns shared one quota but concurrent bursts
over-granted ("gpu-users holds 4 of 2" on both hubs).

Two real hubs on the real API server with kwok nodes, both sending bursts at
once; the shipped quota (gpu-users: 4 GPUs for the group).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from jhpolicy.tooling.local_opa import LocalOPA

from .e2e.hub import Hub
from .helpers.hub_quotas import GPU, gpus, usage
from .helpers.policies import POLICIES, policies_with_quotas

NAMESPACE = "jhub-two-hubs"


@pytest.fixture(scope="module")
def opa(tmp_path_factory):
    shipped = json.loads((POLICIES / "data.json").read_text())["jhpolicy"]["quotas"]
    server = LocalOPA([policies_with_quotas(tmp_path_factory.mktemp("two-hubs-policies"), shipped)]).start()
    yield server
    server.stop()


def test_two_hubs_in_one_namespace_each_hold_their_own_quota(opa, cluster, pod_ips, tmp_path):
    cluster.add_node("kwok-gpu-two-hubs", gpus=16)  # room for both hubs' quotas and more
    hubs = {}
    try:
        for name in ("physics", "chemistry"):
            (tmp_path / name).mkdir()
            hubs[name] = Hub(tmp_path / name, opa.url, cluster=cluster, namespace=NAMESPACE, singleuser_port=pod_ips.port,
                             opa_timeout=9.0, env={"E2E_HUB_NAME": name}).start()
            for i in range(6):
                hubs[name].add_user(f"{name}{i}", ("gpu-users",))

        async def both():
            return await asyncio.gather(*(hub.burst([(f"{name}{i}", "", GPU) for i in range(6)])
                                          for name, hub in hubs.items()))

        outcomes = dict(zip(hubs, asyncio.run(both())))
        pods = cluster.pods(NAMESPACE, "component=singleuser-server")
        for name, hub in hubs.items():
            granted = [o for o in outcomes[name] if o["status"] in (201, 202)]
            assert len(granted) == 4, outcomes[name]
            assert {o["status"] for o in outcomes[name] if o not in granted} == {403}
            own = [p for p in pods if p["metadata"]["labels"].get("jhpolicy/hub") == name]
            assert len(own) == 4 and sum(gpus(p) for p in own) == 4
        # The next decision on each hub sees the other's pods in its reflector:
        # it counts only its own (before: "gpu-users holds 8 of 4").
        for name, hub in hubs.items():
            hub.add_user(f"{name}-late", ("gpu-users",))
            r = hub.start_server(f"{name}-late", "", GPU)
            assert r.status_code == 403, r.text
            assert "quota reached: gpu-users holds 4 of 4 nvidia.com/gpu" in r.json()["message"], r.text
            assert usage(hub, "gpu-users", "nvidia.com/gpu") == 4
            assert usage(hub, "", "servers") == 4
        # A server stopped on one hub frees room there, whatever the other holds.
        physics = hubs["physics"]
        stopped = next(o["user"] for o in outcomes["physics"] if o["status"] in (201, 202))
        physics.stop_server(stopped, "")
        assert physics.start_server("physics-late", "", GPU).status_code in (201, 202)
    finally:
        for hub in hubs.values():
            hub.stop()  # stops its servers (cleanup_servers)
        cluster.request("DELETE", "/api/v1/nodes/kwok-gpu-two-hubs")
