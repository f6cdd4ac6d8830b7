"""The quota invariant, property-based: no user, by any combination of group
memberships, holds more under a quota than the quota, and a server is only
ever charged to a group whose allowance grants what it holds.

Real PolicyKubeSpawner objects sharing one hub's books (offline, as in
tests/test_quotas.py) and a real OPA with the shipped policies and this
module's own data: groups with and without GPUs, with and without quotas,
one whose quota is a group property typed into the admin page (text) and
that has no data entry. Hypothesis draws each user's groups (0 to 3), then
batches of concurrent starts, stops and failures; after every batch every
quota in the data is checked against the servers it governs, and the hub's.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jhpolicy.tooling.local_opa import LocalOPA
from jhpolicy.tooling.offline import OfflineGroup

from .helpers.books import Books, play
from .helpers.policies import rules_with

GIB = 2**30
ENTRIES = {
    "default": {"images": ["**"], "max": {"cpu_limit": 1, "mem_limit": "1G"}},
    "gpu-q": {"images": ["**"], "max": {"cpu_limit": 4, "mem_limit": "8G"}, "extra_resources": {"nvidia.com/gpu": 2}},
    "gpu-free": {"images": ["**"], "max": {"cpu_limit": 2, "mem_limit": "4G"}, "extra_resources": {"nvidia.com/gpu": 1}},
    "cpu-q": {"images": ["**"], "max": {"cpu_limit": 4, "mem_limit": "4G"}},
    "plain": {"images": ["**"], "max": {"cpu_limit": 1, "mem_limit": "2G"}},
}
QUOTAS = {
    "charge_order": ["gpu-q"],
    "users": {"servers": 3},
    "hub": {"servers": 10, "extra_resources": {"nvidia.com/gpu": 5}},
    "groups": {
        "gpu-q": {"group": {"extra_resources": {"nvidia.com/gpu": 3}}, "member": {"servers": 2}},
        "cpu-q": {"group": {"cpu_limit": 6}},
        "default": {"group": {"servers": 2}},
    },
}
# No data entry; its quota comes from the admin page, as text.
PROPERTY_QUOTAS = {"prop-q": {"member": {"servers": 1}}}
GROUPS = [*sorted(set(ENTRIES) - {"default"}), *PROPERTY_QUOTAS]
USERS = ["u0", "u1", "u2", "u3", "u4"]
GPU = "nvidia.com/gpu"
BODIES = [{}, {"extra_resource_limits": {GPU: 1}}, {"extra_resource_limits": {GPU: 2}}, {"cpu_limit": 4},
          {"cpu_limit": 2}, {"cpu_limit": 0.5}, {"cpu_limit": 4, "extra_resource_limits": {GPU: 1}}]
EXAMPLES = max(10, int(os.environ.get("JHPOLICY_FUZZ_EXAMPLES", "3000")) // 50)


@pytest.fixture(scope="module")
def invariant_opa(tmp_path_factory):
    folder = rules_with(tmp_path_factory.mktemp("invariant-policies"), {"jhpolicy": {"groups": ENTRIES, "quotas": QUOTAS}})
    server = LocalOPA([folder]).start()
    yield server
    server.stop()


def group_objects(names: list[str]) -> list[OfflineGroup]:
    return [OfflineGroup(name, {"jhpolicy_quota": json.dumps(PROPERTY_QUOTAS[name])} if name in PROPERTY_QUOTAS else {})
            for name in names]


def allowance_of(group: str, memberships: list[str]) -> dict | None:
    """What the policy says a group grants (quotas.rego, group_allowance)."""
    if group in ENTRIES:
        return ENTRIES[group]
    return None if any(g in ENTRIES for g in memberships) else ENTRIES["default"]


def grants(allowance: dict, amounts: dict) -> bool:
    maxima = {"cpu_limit": Decimal(allowance["max"]["cpu_limit"]),
              "mem_limit": Decimal(int(allowance["max"]["mem_limit"][:-1]) * GIB)}
    extra = allowance.get("extra_resources", {})
    return (all(amounts[key] <= bound for key, bound in maxima.items())
            and all(n <= extra.get(name, 0) for name, n in amounts["extra_resources"].items()))


def quota_of(group: str) -> dict:
    return PROPERTY_QUOTAS.get(group) or QUOTAS["groups"].get(group) or {}


def group_quotas_apply(memberships: list[str]) -> bool:
    """One of the user's pools has a quota (quotas.rego, group_quotas_apply)."""
    if any(quota_of(g) for g in memberships):
        return True
    return not any(g in ENTRIES for g in memberships) and bool(quota_of("default"))


def total(holdings, key: str) -> Decimal:
    if key == GPU:
        return sum((h.amounts["extra_resources"].get(GPU, 0) for h in holdings), Decimal(0))
    return sum((h.amounts[key] for h in holdings), Decimal(0))


def assert_the_invariant(books: Books, memberships: dict[str, list[str]]) -> None:
    holdings = list(books.ledger.holdings.values())
    for h in holdings:
        groups = memberships[h.user]
        if not group_quotas_apply(groups):
            assert h.group in [*groups, None], h  # no group quota to escape: a pool or none
            continue
        # Where a group quota could govern it: charged to one of the user's
        # pools, and holding no more than that group's allowance grants.
        assert h.group in [*groups, "default"], h
        allowance = allowance_of(h.group, groups)
        assert allowance is not None and grants(allowance, h.amounts), h
    # Every quota in the data, against the servers it governs.
    for user in USERS:
        mine = [h for h in holdings if h.user == user]
        assert total(mine, "servers") <= QUOTAS["users"]["servers"]
        for group in {h.group for h in mine}:
            for key, bound in quota_of(group).get("member", {}).items():
                assert total([h for h in mine if h.group == group], key) <= bound, (user, group, key)
    for group in {h.group for h in holdings}:
        charged = [h for h in holdings if h.group == group]
        quota = quota_of(group).get("group", {})
        for key, bound in quota.items():
            if key == "extra_resources":
                for name, n in bound.items():
                    assert total(charged, name) <= n, (group, name)
            else:
                assert total(charged, key) <= bound, (group, key)
    assert total(holdings, "servers") <= QUOTAS["hub"]["servers"]
    assert total(holdings, GPU) <= QUOTAS["hub"]["extra_resources"][GPU]


STEP = st.tuples(st.sampled_from(["start", "start", "start", "stop", "fail"]), st.sampled_from(USERS),
                 st.sampled_from(["a", "b", "c"]), st.sampled_from(range(len(BODIES))))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    memberships=st.fixed_dictionaries({user: st.lists(st.sampled_from(GROUPS), max_size=3, unique=True) for user in USERS}),
    batches=st.lists(st.lists(STEP, min_size=1, max_size=8), min_size=1, max_size=5),
)
def test_no_membership_mix_holds_more_than_any_quota(invariant_opa, memberships, batches):
    books = Books(invariant_opa.url)
    play(books, batches, lambda user: group_objects(memberships[user]), BODIES,
         lambda: assert_the_invariant(books, memberships))
