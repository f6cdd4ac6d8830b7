"""The allowance view says what decisions do, property-based (issue #31).

Hypothesis draws the admin's data (groups with maxima and GPUs, quotas per
group, per member, per user and hub-wide), a user's memberships and what the
hub's servers already hold; the real shipped policy in a real OPA answers,
through a real PolicyKubeSpawner (offline, its books reading the drawn
usage). Then, at the edges the view names:

- asking a maximum it shows (CPU, memory, each GPU kind) gets exactly that;
  asking one unit more never gets more than the maximum;
- for each quota row, asking `left` (where the maxima allow it) is granted
  and one unit beyond is never granted; a row with nothing left refuses;
- what the view shows with no room left (quota rows at 0) is what a spawn
  gets: refused.

A drift between allowance_view.rego and the decision fails here with the
data that shows it.
"""

from __future__ import annotations

import os
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tornado import web
from traitlets.config import Config

from jhpolicy.tooling.local_opa import LocalOPA
from jhpolicy.tooling.offline import OfflineHub, OfflineUser, make_spawner, pod_to_create

from .helpers.policies import rules_with
from .helpers.spawns import LOOP

GIB = 2**30
GPU = "nvidia.com/gpu"
IMAGE = "quay.io/jupyterhub/k8s-singleuser-sample:4.1.0"
GROUPS = ["a", "b", "c"]
EXAMPLES = max(10, int(os.environ.get("JHPOLICY_FUZZ_EXAMPLES", "3000")) // 60)
# One unit of each amount, for "one unit beyond".
UNIT = {"cpu_limit": Decimal("0.5"), "mem_limit": GIB, GPU: 1, "servers": 1}


@pytest.fixture(scope="module")
def view_opa(tmp_path_factory):
    folder = rules_with(tmp_path_factory.mktemp("view-policies"))
    server = LocalOPA([folder]).start()
    yield server
    server.stop()


def put_data(opa_url: str, data: dict) -> None:
    httpx.put(f"{opa_url}/v1/data/jhpolicy", json=data, timeout=10).raise_for_status()


ENTRY = st.fixed_dictionaries(
    {"images": st.just(["**"]),
     "max": st.fixed_dictionaries({"cpu_limit": st.sampled_from([1, 2, 4, 8]), "mem_limit": st.sampled_from(["1G", "2G", "4G", "8G"])})},
    optional={"extra_resources": st.fixed_dictionaries({GPU: st.integers(1, 3)})},
)
AMOUNTS = st.fixed_dictionaries(
    {}, optional={"servers": st.integers(1, 4), "cpu_limit": st.sampled_from([1, 2, 4, 6]),
                  "extra_resources": st.fixed_dictionaries({GPU: st.integers(1, 4)})},
).filter(bool)


@st.composite
def worlds(draw):
    entries = {g: draw(ENTRY) for g in draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3, unique=True))}
    quotas: dict = {"groups": {}}
    for group in draw(st.lists(st.sampled_from(sorted(entries)), max_size=2, unique=True)):
        quotas["groups"][group] = draw(st.fixed_dictionaries({}, optional={"group": AMOUNTS, "member": AMOUNTS}).filter(bool))
    if draw(st.booleans()):
        quotas["users"] = draw(AMOUNTS)
    if draw(st.booleans()):
        quotas["hub"] = draw(AMOUNTS)
    memberships = draw(st.lists(st.sampled_from(sorted(entries)), min_size=1, max_size=2, unique=True))
    # What is already held, per scope, at most what each quota allows (and sometimes all of it).
    usage: dict = {}

    def held(quota: dict) -> dict:
        out = {}
        for key, bound in quota.items():
            if key == "extra_resources":
                out[key] = {GPU: draw(st.integers(0, bound[GPU]))}
            else:
                out[key] = draw(st.integers(0, int(bound)))
        return out

    if "users" in quotas:
        usage["user"] = held(quotas["users"])
    if "hub" in quotas:
        usage["hub"] = held(quotas["hub"])
    for group, quota in quotas["groups"].items():
        if "group" in quota:
            usage.setdefault("groups", {})[group] = held(quota["group"])
        if "member" in quota:
            usage.setdefault("user_by_group", {})[group] = held(quota["member"])
    return {"groups": entries, "quotas": quotas}, memberships, usage


def config(opa_url: str) -> Config:
    c = Config()
    c.PolicyKubeSpawner.opa_url = opa_url
    c.PolicyKubeSpawner.image = IMAGE
    c.PolicyKubeSpawner.cpu_limit = 0.5
    c.PolicyKubeSpawner.mem_limit = "512M"
    # Each example puts new data into the same OPA, for inputs that may
    # repeat: every view must be the policy's answer to that data.
    c.PolicyKubeSpawner.policy_view_cache_seconds = 0
    return c


def view_of(opa_url: str, memberships, usage) -> dict:
    async def go():
        spawner = make_spawner(config(opa_url), OfflineUser(name="sam", groups=list(memberships)), {},
                               hub=OfflineHub(), usage=usage)
        return await spawner.allowance_view()

    return LOOP.run_until_complete(go())


def spawn(opa_url: str, memberships, usage, body: dict) -> dict | None:
    """The pod's decided values, or None if the spawn is refused (403)."""
    async def go():
        spawner = make_spawner(config(opa_url), OfflineUser(name="sam", groups=list(memberships)), body,
                               hub=OfflineHub(), usage=usage)
        try:
            await pod_to_create(spawner)
        except web.HTTPError as e:
            assert e.status_code == 403, (e.status_code, getattr(e, "jupyterhub_message", e))
            return None
        return spawner.policy_pod

    return LOOP.run_until_complete(go())


def amount(values: dict, key: str) -> Decimal:
    if key == GPU:
        return Decimal(int((values.get("extra_resource_limits") or {}).get(GPU, 0)))
    return Decimal(str(values.get(key) or 0))


def body_for(key: str, n) -> dict:
    if key == GPU:
        return {"extra_resource_limits": {GPU: int(n)}}
    if key == "mem_limit":
        return {"mem_limit": int(n)}
    return {key: float(n)}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(world=worlds())
def test_the_view_is_what_decisions_do_at_its_edges(view_opa, world):
    data, memberships, usage = world
    put_data(view_opa.url, data)
    view = view_of(view_opa.url, memberships, usage)
    assert view["available"] is True, view
    rows = view["quotas"]
    # Maxima: asked, granted exactly (when no quota is in the way); one unit more, never more.
    maxima = {**{k: Decimal(str(view["max"][k])) for k in ("cpu_limit", "mem_limit")},
              **{name: Decimal(n) for name, n in view["extra_resources"].items()}}
    for key, most in maxima.items():
        if not rows:
            got = spawn(view_opa.url, memberships, usage, body_for(key, most))
            assert got is not None and amount(got, key) == most, (key, most, got, view)
        beyond = spawn(view_opa.url, memberships, usage, body_for(key, most + UNIT[key]))
        assert beyond is None or amount(beyond, key) <= most, (key, most, beyond, view)
    if GPU not in maxima:
        got = spawn(view_opa.url, memberships, usage, body_for(GPU, 1))
        assert got is None or amount(got, GPU) == 0, (got, view)

    # Quota rows that bind this user (a group's binds a user with no other
    # group to be charged to): nothing left refuses; `left` is granted when it
    # is the only row; one unit beyond is never granted.
    for row in rows:
        if row["scope"] in ("group", "member") and len(memberships) > 1:
            continue
        left, resource = Decimal(str(row["left"])), row["resource"]
        if left <= 0 and (resource == "servers" or row in _defaults_need(rows)):
            assert spawn(view_opa.url, memberships, usage, {}) is None, (row, view)
        if resource not in maxima:
            continue
        if rows == [row] and 0 < left <= maxima[resource]:
            got = spawn(view_opa.url, memberships, usage, body_for(resource, left))
            assert got is not None and amount(got, resource) == left, (row, got, view)
        got = spawn(view_opa.url, memberships, usage, body_for(resource, left + UNIT[resource]))
        assert got is None or amount(got, resource) <= left, (row, got, view)


def _defaults_need(rows: list[dict]) -> list[dict]:
    """The rows an empty request (0.5 CPU by the test's config) draws on."""
    return [r for r in rows if r["resource"] == "cpu_limit"]


def test_every_candidate_a_view_judges_is_judged_as_its_own_decision(tmp_path):
    """The spawn page's candidates on a seeded corpus (bench/policy_corpus.py,
    which also compares two policies' answers): every candidate a view
    judges, allowed or not, is what a decision on that candidate's spawn
    says. Users in 0-3 groups, admins and services asking, images allowed
    and not, amounts around every maximum, usage near the quotas."""
    from .helpers import bench

    corpus = bench.load("policy_corpus")
    queries = [q for q in corpus.corpus(1500) if q["path"] == corpus.VIEW]
    _, disagree, judged = corpus.judged_against_decisions(rules_with(tmp_path), queries)
    assert judged > 100  # the corpus judges candidates at all
    assert disagree == []
