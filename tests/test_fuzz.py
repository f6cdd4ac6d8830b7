"""Property-based tests: arbitrary JSON user_options, over hub configurations
whose layers (admin defaults, group_overrides, profiles, unlisted choices)
go above the maxima, through the real decision path (PolicyKubeSpawner + the
shipped policy on a real OPA) to KubeSpawner's pod manifest.

Invariants, whatever the request and the configuration:
- the answer is success, 400 or 403: never 500, never another exception;
- no attribute outside the ceiling ever changes; a refusal changes nothing;
- on success, the pod's image and resources are exactly input.pod with the
  decision laid over it (what the policy saw and left alone, or decided);
- CPU and memory limits are present and within the user's maximum,
  requests never exceed limits or the maximum guarantees, extended
  resources are whole, within their maximum, and requested = limit.

JHPOLICY_FUZZ_EXAMPLES sets how many examples (CI: 3000; a long run: 50000).
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from traitlets.config import Config

from jhpolicy.core.pod import decided
from jhpolicy.core.quantities import kubernetes_quantity
from jhpolicy.hub.settings import DEFAULT_ALLOWED_KEYS

from .helpers.policies import POLICIES
from .helpers.profiles import POD_TEST_PROFILES, SPAWNER_TEST_PROFILES
from .helpers.spawns import run_spawn

EXAMPLES = int(os.environ.get("JHPOLICY_FUZZ_EXAMPLES", "3000"))

KNOWN_KEYS = sorted(DEFAULT_ALLOWED_KEYS) + ["profile", "kubespawner_override", "image--unlisted-choice"]
TRICKY_KEYS = ["__class__", "__init__", "privileged", "uid", "volumes", "extra_pod_config", "node_selector",
               "", "profile-option-medium--image"]
ZEROS = [0, -0.0, 0.0, "0", "0G", "0m", "0.0Mi", "0Gi", "0.0", "-0"]
HUGE = st.integers(min_value=10**18, max_value=10**400) | st.sampled_from(["9" * 400, "1" + "0" * 300 + "G", "1e400"])
TRICKY_STRINGS = ["2G", "2Gi", "512M", "500m", "-1", "NaN", "nan", "Infinity", "-Infinity", "1e400", "0x10",
                  "2 G", "2GB", " 2G ", "\u0000", "\u202e2G", "jupyterhub/k8s-singleuser-sample:0.8.4",
                  "quay.io/jupyter/scipy-notebook:2025", "evil.example/miner:latest", "a" * 2000, "small",
                  "medium", "huge", "half-gpu", "scipy", "r", "sample"]
NUMBERS = (st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([1, 2, 8, 64, 0.5, 1e18, 2**63] + ZEROS)
           | HUGE)
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=40) | st.sampled_from(TRICKY_STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
KEYS = st.sampled_from(KNOWN_KEYS + TRICKY_KEYS) | st.text(max_size=20)
RESOURCE_MAPS = st.dictionaries(
    st.sampled_from(["nvidia.com/gpu", "example.com/fpga", "cpu", "memory", "bad name", ""]) | st.text(max_size=10),
    st.none() | NUMBERS | st.sampled_from(["1", "2", "500m", "1Gi", "x"]),
    max_size=3,
)
OVERRIDES = st.dictionaries(KEYS, JSON | RESOURCE_MAPS, max_size=5)
# Requests a user would plausibly send, so that many examples reach a pod.
PLAUSIBLE = st.fixed_dictionaries({}, optional={
    "cpu_limit": st.sampled_from([0.25, 1, 2, "1500m", 64, 1e6]),
    "cpu_guarantee": st.sampled_from([0.1, 1, "3", 16]),
    "mem_limit": st.sampled_from(["1G", "3Gi", 2**36, "1T"]),
    "mem_guarantee": st.sampled_from(["512M", "8G", 2**30]),
    "extra_resource_limits": st.sampled_from([{"nvidia.com/gpu": 1}, {"nvidia.com/gpu": "4"}, {"nvidia.com/gpu": 0}]),
    "extra_resource_guarantees": st.sampled_from([{"nvidia.com/gpu": 1}, {"nvidia.com/gpu": 4}]),
    "profile": st.sampled_from(["small", "medium", "huge"]),
    "image--unlisted-choice": st.sampled_from(["quay.io/jupyter/scipy-notebook:2025", "evil.example/miner:1"]),
    "image": st.sampled_from(["sample", "scipy", "r"]),
})
MANY_KEYS = st.integers(min_value=60, max_value=400).map(lambda n: {f"k{i}": i for i in range(n)})
USER_OPTIONS = (
    st.dictionaries(KEYS, JSON, max_size=5)
    | st.builds(lambda top, nested: {**top, "kubespawner_override": nested}, st.dictionaries(KEYS, JSON, max_size=3), OVERRIDES)
    | MANY_KEYS
    | PLAUSIBLE
)
GROUPS = st.lists(st.sampled_from(["students", "gpu-users", "default", "nobody"]), max_size=2)


def _profiles(profiles):
    # Profiles restricted to keys within the ceiling, so the ceiling invariant below is exact.
    return [
        {**p, "kubespawner_override": {k: v for k, v in p.get("kubespawner_override", {}).items() if k in DEFAULT_ALLOWED_KEYS}}
        for p in profiles
    ]


def _config(profiles=None, **spawner) -> Config:
    c = Config()
    if profiles:
        c.PolicyKubeSpawner.profile_list = _profiles(profiles)
    for key, value in spawner.items():
        if key == "group_overrides":
            c.Spawner.group_overrides = value
        else:
            setattr(c.KubeSpawner, key, value)
    return c


CONFIGS = [
    _config(),
    _config(SPAWNER_TEST_PROFILES),
    _config(POD_TEST_PROFILES),  # an unlisted choice on the default profile, a profile above every maximum
    _config(POD_TEST_PROFILES, cpu_limit=16.0, mem_limit="64G", cpu_guarantee=8.0),  # admin defaults above
    _config(cpu_limit=0.0, mem_limit=0, extra_resource_limits={"nvidia.com/gpu": "3"}),  # "no limit", GPUs above
    _config(group_overrides={"all": {"groups": ["students", "gpu-users", "default", "nobody"],
                                     "spawner_override": {"cpu_limit": 32.0, "mem_guarantee": "16G"}}}),
]


def _maxima(groups) -> dict:
    """The user's most generous maxima, from the shipped data (cores, bytes, counts)."""
    data = json.loads((POLICIES / "data.json").read_text())["jhpolicy"]["groups"]
    entries = [data[g] for g in groups if g in data] or [data["default"]]
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    out: dict = {}
    for entry in entries:
        for key, value in entry.get("max", {}).items():
            number = value if not isinstance(value, str) else float(value[:-1]) * units[value[-1]]
            out[key] = max(out.get(key, 0), number)
        for name, value in entry.get("extra_resources", {}).items():
            out[name] = max(out.get(name, 0), value)
    return out


def _resources(manifest, field):
    return {k: kubernetes_quantity(v) for k, v in (getattr(manifest.spec.containers[0].resources, field) or {}).items()}


def assert_pod_within_policy(r, groups):
    spawner = r.spawner
    # Exactly what the policy saw, with its decision laid over it.
    final = decided(spawner.policy_input["pod"], spawner.policy_decision.overrides)
    assert spawner.policy_pod == final
    container = r.manifest.spec.containers[0]
    assert container.image == final["image"]
    limits, requests = _resources(r.manifest, "limits"), _resources(r.manifest, "requests")
    maxima = _maxima(groups)
    assert 0 < limits["cpu"] <= maxima["cpu_limit"] and limits["cpu"] == final["cpu_limit"]
    assert 0 < limits["memory"] <= maxima["mem_limit"] and limits["memory"] == final["mem_limit"]
    assert requests["cpu"] <= min(limits["cpu"], maxima["cpu_guarantee"])
    assert requests["memory"] <= min(limits["memory"], maxima["mem_guarantee"])
    for name in {n for n in limits if "/" in n} | {n for n in requests if "/" in n}:
        assert limits[name] == int(limits[name]) == requests.get(name), name
        assert limits[name] == 0 or limits[name] <= maxima.get(name, 0), name


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(user_options=USER_OPTIONS, groups=GROUPS, config=st.sampled_from(CONFIGS))
def test_any_request_gives_a_pod_within_the_policy(opa, user_options, groups, config):
    r = run_spawn(opa.url, user_options, groups=groups, config=config)
    assert r.status in (200, 400, 403), (r.status, r.message)
    event(f"status {r.status}")  # --hypothesis-show-statistics shows the mix
    changed = r.changed()
    assert set(changed) <= DEFAULT_ALLOWED_KEYS, changed
    if r.status != 200:
        assert changed == {} and r.manifest is None
        return
    assert_pod_within_policy(r, groups)
