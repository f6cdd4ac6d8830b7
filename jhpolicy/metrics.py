"""Prometheus metrics, served on the hub's own /hub/metrics.

JupyterHub exposes prometheus_client's default registry, so registering
here is all it takes.
"""

from prometheus_client import Counter, Histogram

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


def observe(outcome: str, seconds: float) -> None:
    DECISIONS.labels(outcome=outcome).inc()
    DECISION_SECONDS.observe(seconds)
