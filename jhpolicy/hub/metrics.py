"""Prometheus metrics, served on the hub's own /hub/metrics.

JupyterHub exposes prometheus_client's default registry, so registering
here is all it takes.
"""

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

DECISIONS = Counter(
    "jhpolicy_decisions",
    "Spawn policy decisions by outcome: allowed, clamped, denied, misconfigured (refused: the admin's data for it is malformed), invalid (400), unavailable (503: OPA unreachable, or its answer broke the contract), defaults, error (the spawn failed otherwise, e.g. cancelled)",
    ["outcome"],
)
DECISION_SECONDS = Histogram(
    "jhpolicy_decision_duration_seconds",
    "Time spent deciding a spawn request, OPA round trip included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ALLOWANCE_VIEWS = Counter(
    "jhpolicy_allowance_views",
    "Allowance views shown (the spawn page's panel, GET /hub/api/jhpolicy/allowance) by source: opa (asked), "
    "kept (the same input's view, kept for policy_view_cache_seconds), unavailable (OPA unreachable, or its view broken)",
    ["source"],
)
QUOTA = Gauge(
    "jhpolicy_quota",
    "A group's quota on what its servers may hold at once, as the last decision charging the group saw it",
    ["group", "resource"],
)


CULLS = Counter(
    "jhpolicy_culls",
    "Servers stopped once past their decided lifetime (jupyterhub-idle-culler with jhpolicy's arbiter), "
    "by reason (idle: idle past its timeout; age: older than its maximum age) and the group the server was charged to",
    ["reason", "group"],
)


def count_cull(lifetime, orm_spawner) -> None:
    """A server stopping: counted as a cull when its decided lifetime is up
    by JupyterHub's own records (the ones the culler's arbiter judged)."""
    from ..core.lifetime import since

    started = getattr(orm_spawner, "started", None)
    reason = lifetime.reason_to_stop(since(started), since(getattr(orm_spawner, "last_activity", None) or started))
    if reason is not None:
        CULLS.labels(reason=reason, group=lifetime.group or "").inc()


def observe(outcome: str, seconds: float) -> None:
    DECISIONS.labels(outcome=outcome).inc()
    DECISION_SECONDS.observe(seconds)


def _flat(amounts: dict):
    for key, value in amounts.items():
        if key == "extra_resources":
            yield from value.items()
        else:
            yield key, value


class UsageCollector:
    """jhpolicy_usage, read from the hub's books when /hub/metrics is
    scraped: keeping gauges up to date would cost every booking."""

    def __init__(self) -> None:
        self.ledger = None

    def collect(self):
        usage = GaugeMetricFamily(
            "jhpolicy_usage",
            "What active servers hold, charged to a group (group=\"\": the whole hub): "
            "servers, cores, bytes, or an extended resource's amount",
            labels=["group", "resource"],
        )
        if self.ledger is not None:
            if self.ledger.refresh is not None:
                self.ledger.refresh()
            for group, resource, amount in self.ledger.gauges():
                usage.add_metric([group, resource], amount)
        yield usage


USAGE = UsageCollector()
REGISTRY.register(USAGE)


def watch(ledger) -> None:
    """Report this ledger's usage on /hub/metrics (a hub has one)."""
    USAGE.ledger = ledger


def set_quota(group: str, quota: dict) -> None:
    for resource, value in _flat(quota):
        QUOTA.labels(group=group, resource=resource).set(value)
