"""jhpolicy's values for the z2jh chart, merged as Helm merges them, and the OPA sidecar they define."""

from __future__ import annotations

import yaml

from jhpolicy.tooling.chart_config import chart_file, coalesce
from jhpolicy.tooling.values import STACKS

from .policies import ROOT

# The packaged z2jh 4.4.0 chart, kept in the repository with its license and
# provenance (jhpolicy/z2jh/README.md); the schema and defaults are read from it.
CHART = ROOT / "jhpolicy" / "z2jh" / "jupyterhub-4.4.0.tgz"


VALUES = ROOT / "helm-values"


AUTHZ = VALUES / "opa-authz"


INPUT = {
    "version": 2,
    "user": {"name": "alice", "admin": False, "groups": ["students"]},
    "requester": {"kind": "user", "name": "alice", "admin": False},
    "server": {"name": ""},
    "request": {"profile": None, "profile_options": {}, "overrides": {"cpu_limit": 8}, "raw": {"cpu_limit": 8}},
    "pod": {
        "image": "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0",
        "cpu_limit": 8, "cpu_guarantee": 1, "mem_limit": 2**30, "mem_guarantee": 2**30,
        "extra_resource_limits": {}, "extra_resource_guarantees": {},
    },
    "sources": {
        "image": "config", "cpu_limit": "request", "cpu_guarantee": "config", "mem_limit": "config",
        "mem_guarantee": "config", "extra_resource_limits": {}, "extra_resource_guarantees": {},
    },
}


# Helm's rule (maps merge recursively, lists and scalars replace, null
# deletes), as jhpolicy's --values applies it; tests/test_chart_values.py
# checks it against what real Helm renders.
helm_merge = coalesce


def merged_values(stack: str) -> dict:
    """The chart's values with the stack's files as the docs combine them (`jhpolicy values --stack`)."""
    from jhpolicy.tooling.values import combine

    stack_values = combine([(VALUES / name).read_text() for name in STACKS[stack]])
    return helm_merge(yaml.safe_load(chart_file("values.yaml")), stack_values)


def sidecar(values: dict) -> dict:
    (opa,) = [c for c in values["hub"]["extraContainers"] if c["name"] == "opa"]
    return opa
