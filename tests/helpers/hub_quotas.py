"""What a hub with quotas answers and runs: the refusal texts of the tests' data, the pods, the books on /hub/metrics."""

from __future__ import annotations

import re

GPU = {"extra_resource_limits": {"nvidia.com/gpu": 1}}


GROUP_FULL = "quota reached: gpu-users holds 4 of 4 nvidia.com/gpu; try again when one of the group's servers stops"


GPU_HELP = ". Ask for more GPU time: https://help.example.edu/gpu"  # gpu-users' help in tests/fixtures/data.json


USER_FULL = "quota reached: you hold 2 of the 2 servers each user may hold; stop one of your servers to free some"


HUB_FULL = "quota reached: the hub holds 7 of 7 servers; try again when servers stop"


def running(hub) -> dict[tuple[str, str], dict]:
    return {(p["user"], p["server"]): p["pod"] for p in hub.pods()}


def gpus(pod) -> int:
    return int(pod["spec"]["containers"][0]["resources"].get("limits", {}).get("nvidia.com/gpu", 0))


def usage(hub, group: str, resource: str, gauge: str = "jhpolicy_usage") -> float:
    text = hub.client.get("/hub/metrics").text
    match = re.search(rf'^{gauge}{{group="{re.escape(group)}",resource="{re.escape(resource)}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0
