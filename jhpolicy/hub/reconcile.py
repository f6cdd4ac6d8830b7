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
- A pod that no booking names (a stop that failed before a hub restart, whose
  server the restarted hub no longer polls; a pod this hub did not start) is
  booked on its own at the next poll or decision, charged as its annotation
  says, to the user its `hub.jupyter.org/username` annotation names, until
  the pod is gone. A server's own booking of the same pod replaces it, so a
  pod is never counted twice.

Pods that ended (phase Succeeded or Failed) hold nothing, as for Kubernetes'
own ResourceQuota.

Quotas are per hub. Each hub labels the pods it starts `jhpolicy/hub:
<policy_hub_name>`, and a pod another hub labelled is never booked: hubs
sharing a namespace each hold their own quotas, and each decides under its
own lock, so neither can spend the other's headroom. A pod with no such
label (a hub without jhpolicy, a pod started by hand) counts for every hub
that sees it: unknown capacity is counted, never ignored.
"""

from __future__ import annotations

from ..core.quantities import InvalidValue, kubernetes_quantity
from .ledger import Holding

CHARGE_ANNOTATION = "jhpolicy/charge"
HUB_LABEL = "jhpolicy/hub"
USERNAME_ANNOTATION = "hub.jupyter.org/username"
ENDED = ("Succeeded", "Failed")


def holds_resources(pod: dict | None) -> bool:
    return pod is not None and (pod.get("status") or {}).get("phase") not in ENDED


def another_hubs(pod: dict, hub_name: str) -> bool:
    """Whether `pod` was labelled by a hub other than `hub_name`."""
    labelled = (pod.get("metadata", {}).get("labels") or {}).get(HUB_LABEL)
    return labelled is not None and labelled != hub_name


def unnamed_holding(ref: str, pod: dict, user_key, hub_name: str) -> Holding | None:
    """A booking of its own for a pod no booking names, keyed by the pod
    (`user_key(name)` gives the books' key of the user the pod names);
    None for a pod that holds nothing or is another hub's."""
    if not holds_resources(pod) or another_hubs(pod, hub_name):
        return None
    name = (pod.get("metadata", {}).get("annotations") or {}).get(USERNAME_ANNOTATION) or ""
    return holding_from_pod(user_key(name) if name else "", f"pod {ref}", pod, ref)


def holding_from_pod(user, server, pod: dict, ref: str | None = None) -> Holding:
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
    return Holding.of_pod(user, server, group, values, ref)
