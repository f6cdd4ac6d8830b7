"""Property-based tests: arbitrary JSON user_options through the real decision
path (PolicyKubeSpawner + the shipped policy on a real OPA).

Invariants, whatever the request:
- the answer is success, 400 or 403: never 500, never another exception;
- no attribute outside the ceiling ever changes;
- on a refusal nothing changes; on success every attribute that changed
  equals the decision's value after parsing.

JHPOLICY_FUZZ_EXAMPLES sets how many examples (CI: 3000; a long run: 50000).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traitlets.config import Config

from jhpolicy.spawner import DEFAULT_ALLOWED_KEYS

from .conftest import run_spawn
from .test_spawner import PROFILES as SPAWNER_TEST_PROFILES

EXAMPLES = int(os.environ.get("JHPOLICY_FUZZ_EXAMPLES", "3000"))

KNOWN_KEYS = sorted(DEFAULT_ALLOWED_KEYS) + ["profile", "kubespawner_override"]
TRICKY_KEYS = ["__class__", "__init__", "privileged", "uid", "volumes", "extra_pod_config", "node_selector",
               "image--unlisted-choice", "", "profile-option-medium--image"]
TRICKY_STRINGS = ["2G", "2Gi", "512M", "500m", "-1", "NaN", "nan", "Infinity", "-Infinity", "1e400", "0x10",
                  "2 G", "2GB", " 2G ", "\u0000", "\u202e2G", "jupyterhub/k8s-singleuser-sample:0.8.4",
                  "quay.io/jupyter/scipy-notebook:2025", "a" * 2000, "small", "medium", "scipy", "r"]
NUMBERS = (st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0, 1, 2, 8, 64, 0.5, 1e18, -0.0, 2**63]))
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=40) | st.sampled_from(TRICKY_STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
KEYS = st.sampled_from(KNOWN_KEYS + TRICKY_KEYS) | st.text(max_size=20)
RESOURCE_MAPS = st.dictionaries(
    st.sampled_from(["nvidia.com/gpu", "example.com/fpga", "bad name", ""]) | st.text(max_size=10),
    st.none() | NUMBERS | st.sampled_from(["1", "2", "500m", "1Gi", "x"]),
    max_size=3,
)
OVERRIDES = st.dictionaries(KEYS, JSON | RESOURCE_MAPS, max_size=5)
USER_OPTIONS = st.dictionaries(KEYS, JSON, max_size=5) | st.builds(
    lambda top, nested: {**top, "kubespawner_override": nested}, st.dictionaries(KEYS, JSON, max_size=3), OVERRIDES
)
GROUPS = st.lists(st.sampled_from(["students", "gpu-users", "default", "nobody"]), max_size=2)


# test_spawner's profiles, restricted to keys within the ceiling, so the
# ceiling invariant below is exact.
PROFILES = [
    {**profile, "kubespawner_override": {k: v for k, v in profile["kubespawner_override"].items() if k in DEFAULT_ALLOWED_KEYS}}
    for profile in SPAWNER_TEST_PROFILES
]
PROFILE_KEYS = {"cpu_limit", "mem_limit", "image"}


def config():
    c = Config()
    c.PolicyKubeSpawner.profile_list = PROFILES
    return c


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(user_options=USER_OPTIONS, groups=GROUPS)
def test_any_request_is_decided_safely(opa, user_options, groups):
    r = run_spawn(opa.url, user_options, groups=groups, config=config())
    assert r.status in (200, 400, 403), (r.status, r.message)
    changed = r.changed()
    assert set(changed) <= DEFAULT_ALLOWED_KEYS, changed
    if r.status != 200:
        assert changed == {}
        return
    decided = r.spawner.policy_decision.overrides
    for key, (before, after) in changed.items():
        if key in decided:
            expected = {**before, **decided[key]} if isinstance(decided[key], dict) else decided[key]
            assert after == expected, key
        else:
            assert key in PROFILE_KEYS, key  # set by the selected (or default) profile
