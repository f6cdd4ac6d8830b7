"""Books that equal the cluster: what the books cannot learn from a spawn,
they learn from the pods (KubeSpawner's pod reflector, which already
watches the hub's namespace).

- A running server the books do not hold (started while `policy_quotas` was
  off or before jhpolicy was installed, or whose saved booking was lost or
  is corrupted) is booked from its pod's notebook container when the hub
  polls it (at start-up and every `poll_interval`), charged to the group the
  pod's `jhpolicy/charge` annotation names (no group for a pod without one).
- A server whose stop failed (its pod still there, e.g. held by a finalizer)
  keeps its booking although JupyterHub considers it stopped; the booking is
  released once a poll or a decision finds the pod gone.
"""

from __future__ import annotations

from .ledger import Holding
from .quantities import InvalidValue, kubernetes_quantity

CHARGE_ANNOTATION = "jhpolicy/charge"


def holding_from_pod(user, server, pod: dict) -> Holding:
    """What a pod's notebook container holds, as the books count it."""
    containers = pod.get("spec", {}).get("containers") or [{}]
    notebook = next((c for c in containers if c.get("name") == "notebook"), containers[0])
    resources = notebook.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}

    def amount(quantities: dict, name: str):
        value = quantities.get(name)
        try:
            return None if value is None else kubernetes_quantity(value)
        except InvalidValue:
            return None

    values = {
        "cpu_limit": amount(limits, "cpu"),
        "cpu_guarantee": amount(requests, "cpu"),
        "mem_limit": amount(limits, "memory"),
        "mem_guarantee": amount(requests, "memory"),
        "extra_resource_limits": {name: amount(limits, name) for name in limits if "/" in name},
    }
    group = (pod.get("metadata", {}).get("annotations") or {}).get(CHARGE_ANNOTATION) or None
    return Holding.of_pod(user, server, group, values)
