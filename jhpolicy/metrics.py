"""Prometheus metrics, served on the hub's own /hub/metrics.

JupyterHub exposes prometheus_client's default registry, so registering
here is all it takes.
"""

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "jhpolicy_decisions",
    "Spawn policy decisions by outcome: allowed, clamped, denied, invalid (400), error (503), defaults",
    ["outcome"],
)
DECISION_SECONDS = Histogram(
    "jhpolicy_decision_duration_seconds",
    "Time spent deciding a spawn request, OPA round trip included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
USAGE = Gauge(
    "jhpolicy_usage",
    "What active servers hold, charged to a group (group=\"\": the whole hub): "
    "servers, cores, bytes, or an extended resource's amount",
    ["group", "resource"],
)
QUOTA = Gauge(
    "jhpolicy_quota",
    "A group's quota on what its servers may hold at once, as the last decision charging the group saw it",
    ["group", "resource"],
)


def observe(outcome: str, seconds: float) -> None:
    DECISIONS.labels(outcome=outcome).inc()
    DECISION_SECONDS.observe(seconds)


def _flat(amounts: dict):
    for key, value in amounts.items():
        if key == "extra_resources":
            yield from value.items()
        else:
            yield key, value


def set_usage(group: str, totals: dict) -> None:
    for resource, value in _flat(totals):
        USAGE.labels(group=group, resource=resource).set(value)


def set_quota(group: str, quota: dict) -> None:
    for resource, value in _flat(quota):
        QUOTA.labels(group=group, resource=resource).set(value)
