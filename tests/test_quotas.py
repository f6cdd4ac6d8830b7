"""Quotas through real PolicyKubeSpawner objects and a real OPA, offline
(no hub, no Kubernetes: spawners that share an OfflineHub share its books,
as the spawners of one hub do). tests/test_quotas_e2e.py runs the same
through a real hub on a real API server.

The module's OPA runs the shipped policies with this quota data on top of
the shipped data (QUOTAS).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from tornado import web
from traitlets.config import Config

from jhpolicy.hub import ledger
from jhpolicy.tooling.local_opa import LocalOPA
from jhpolicy.tooling.offline import OfflineGroup, OfflineUser, make_spawner

from .helpers.books import Books, assert_books_add_up, expected_totals, play
from .helpers.policies import policies_with_quotas
from .helpers.spawns import LOOP

QUOTAS = {
    "charge_order": ["gpu-users"],
    "users": {"servers": 3},
    "hub": {"servers": 12},
    "groups": {
        "gpu-users": {"group": {"extra_resources": {"nvidia.com/gpu": 4}}, "member": {"servers": 2}},
        "students": {"group": {"cpu_limit": 6}},
    },
}
GPU = {"extra_resource_limits": {"nvidia.com/gpu": 1}}
GROUP_FULL = "quota reached: gpu-users holds 4 of 4 nvidia.com/gpu; try again when one of the group's servers stops"


@pytest.fixture(scope="module")
def quota_opa(tmp_path_factory):
    server = LocalOPA([policies_with_quotas(tmp_path_factory.mktemp("quota-policies"), QUOTAS)]).start()
    yield server
    server.stop()


# --- what the policy sees ---


def test_usage_and_group_properties_reach_the_policy(opa):
    books = Books(opa.url)
    first = books.spawner("alice", "one", ["students"], {"cpu_limit": 1.5})
    assert books.run(books.start(first)) == [200]
    gpu = books.spawner("gina", "gpu", ["gpu-users"], GPU)
    assert books.run(books.start(gpu)) == [200]

    books.config.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/echo_quota_input"
    properties = {"jhpolicy_quota": {"member": {"servers": 1}}}
    echo = books.spawner("alice", "two", [OfflineGroup("students", properties), "b"])
    (status,) = books.run(books.start(echo))
    assert status == 403
    groups, user, user_by_group, group_usage, hub = map(json.loads, echo.policy_decision.messages)
    alice = {"servers": 1, "cpu_limit": 1.5, "cpu_guarantee": 1, "mem_limit": 4 * 2**30, "mem_guarantee": 2 * 2**30,
             "extra_resources": {}}
    nothing = {"servers": 0, "cpu_limit": 0, "cpu_guarantee": 0, "mem_limit": 0, "mem_guarantee": 0, "extra_resources": {}}
    assert groups == {"students": {"properties": properties}, "b": {"properties": {}}}
    assert user == alice
    # The default pool (users in no configured group) is always there.
    assert user_by_group == {"b": nothing, "students": alice, "default": nothing}
    assert group_usage == {"b": nothing, "students": alice, "default": nothing}
    assert hub["servers"] == 2 and hub["extra_resources"] == {"nvidia.com/gpu": 1}


# --- no race ---


def test_50_concurrent_gpu_spawns_book_exactly_the_quota(quota_opa):
    books = Books(quota_opa.url, opa_timeout=9.0)  # 50 decisions in a row, on a machine that may be busy
    spawners = [books.spawner(f"u{i}", f"s{j}", ["gpu-users"], GPU) for j in range(5) for i in range(10)]
    statuses = books.run(*(books.start(s) for s in spawners))
    assert statuses.count(200) == 4 and statuses.count(403) == 46
    assert sum(1 for s in spawners if s.policy_pod is not None) == 4
    assert books.ledger.groups["gpu-users"].as_input()["extra_resources"] == {"nvidia.com/gpu": 4}
    refused = [s for s, status in zip(spawners, statuses) if status == 403]
    assert {m for s in refused for m in s.policy_decision.messages} <= {
        GROUP_FULL,
        "quota reached: you hold 2 of the 2 servers each member of gpu-users may hold; stop one of your servers to free some",
    }
    assert_books_add_up(books)


def test_a_clamp_lowers_to_what_the_group_has_left(quota_opa):
    books = Books(quota_opa.url)
    for user in ("s0", "s1", "s2"):
        assert books.run(books.start(books.spawner(user, "", ["students"], {"cpu_limit": 2}))) == [200]
    full = books.spawner("s3", "", ["students"], {"cpu_limit": 2})
    assert books.run(books.start(full)) == [403]
    assert full.policy_decision.messages == [
        "quota reached: students holds 6 of 6 CPU (limits); try again when one of the group's servers stops"]

    books.spawners[("s2", "")].clear_state()
    books.ledger.hold(ledger.Holding.of_pod("s4", "", "students", {"cpu_limit": 1.5}))
    lowered = books.spawner("s3", "", ["students"], {"cpu_limit": 2})
    assert books.run(books.start(lowered)) == [200]
    assert lowered.cpu_limit == 0.5
    assert "cpu_limit 2 lowered to 0.5: what the quota leaves (students holds 5.5 of 6 CPU (limits))" in lowered.policy_messages
    assert_books_add_up(books)


# --- booking and release ---


def test_a_refused_or_failed_spawn_books_nothing(opa, quota_opa):
    books = Books(quota_opa.url)
    denied = books.spawner("eve", "", ["students"], {"image": "evil/miner:1"})
    assert books.run(books.start(denied)) == [403]
    invalid = books.spawner("eve", "bad", ["students"], {"cpu_limit": "lots"})
    assert books.run(books.start(invalid)) == [400]
    for path in ("jhpolicy_contract/charge_outside_the_users_groups", "jhpolicy_contract/quota_not_amounts"):
        broken = Books(opa.url, opa_decision_path=path)
        spawner = broken.spawner("eve", "", ["students"])
        assert broken.run(broken.start(spawner)) == [503]
        assert broken.ledger.holdings == {}
    assert books.ledger.holdings == {}
    assert_books_add_up(books)


def test_a_stop_or_a_failed_start_releases(quota_opa):
    books = Books(quota_opa.url)
    stopped = books.spawner("ann", "a", ["gpu-users"], GPU)
    assert books.run(books.start(stopped)) == [200]
    assert books.held("ann", "a").group == "gpu-users"
    stopped.clear_state()  # what JupyterHub's User.stop does, also when the pod vanished
    assert books.held("ann", "a") is None

    failing = books.spawner("ann", "b", ["gpu-users"], GPU)

    async def start_that_fails():
        # KubeSpawner._start: the decision is booked, then the API server refuses the pod.
        async def unreachable(*args, **kwargs):
            raise RuntimeError("the API server is unreachable")

        failing._start_watching_pods = unreachable  # the first API call after the decision
        with pytest.raises(RuntimeError):
            await failing.start()

    books.run(start_that_fails())
    assert books.held("ann", "b") is None
    assert books.ledger.hub.as_input()["servers"] == 0
    assert_books_add_up(books)


def test_a_restarted_hub_rebuilds_the_books_once_from_the_saved_state(quota_opa, caplog):
    books = Books(quota_opa.url)
    first = books.spawner("ann", "a", ["gpu-users"], GPU)
    assert books.run(books.start(first)) == [200]
    state = first.get_state()
    assert state["jhpolicy_holding"] == {
        "group": "gpu-users",
        "amounts": {"servers": 1, "cpu_limit": 8, "cpu_guarantee": 4, "mem_limit": 32 * 2**30,
                    "mem_guarantee": 16 * 2**30, "extra_resources": {"nvidia.com/gpu": 1}},
    }

    # Whole numbers stay whole in the saved JSON.
    assert '"servers": 1, "cpu_limit": 8, "cpu_guarantee": 4' in json.dumps(state["jhpolicy_holding"])
    default_server = books.spawner("ann", "", ["gpu-users"], GPU)
    assert books.run(books.start(default_server)) == [200]
    assert default_server.get_state()["jhpolicy_holding"]["group"] == "gpu-users"

    restarted = Books(quota_opa.url)
    again = restarted.spawner("ann", "a", ["gpu-users"])
    again.orm_spawner.server = object()  # the hub's database says it is running
    again.load_state(state)
    again.load_state(state)  # loading twice never counts twice
    assert set(restarted.ledger.holdings) == {("ann", "a")}
    # It names its pod, so the reflector's scan never books that pod a second time (jhpolicy.hub.reconcile).
    assert restarted.ledger.holdings[("ann", "a")].pod == f"{again.namespace}/{again.pod_name}"
    assert restarted.ledger.pods == {f"{again.namespace}/{again.pod_name}": ("ann", "a")}
    only_a = expected_totals([books.ledger.holdings[("ann", "a")]], lambda h: True)
    usage = restarted.ledger.usage("ann", ["gpu-users"])
    assert usage["user"] == usage["hub"] == usage["groups"]["gpu-users"] == only_a

    # A state saved by an older jhpolicy may lack keys: they count as 0.
    older = restarted.spawner("bob", "b", ["gpu-users"])
    older.orm_spawner.server = object()
    older.load_state({"jhpolicy_holding": {"group": "gpu-users", "amounts": {"servers": 1}}})
    assert restarted.ledger.holdings[("bob", "b")].amounts == {
        "servers": 1, "cpu_limit": 0, "cpu_guarantee": 0, "mem_limit": 0, "mem_guarantee": 0, "extra_resources": {}}

    # Without policy_quotas, a saved booking is not loaded.
    off = Books(quota_opa.url, policy_quotas=False)
    spawner = off.spawner("ann", "a", ["gpu-users"])
    spawner.orm_spawner.server = object()
    spawner.load_state(state)
    assert off.ledger.holdings == {}

    gone = Books(quota_opa.url)
    gone.spawner("ann", "a", ["gpu-users"]).load_state(state)  # no server in the database: not active
    broken = gone.spawner("ann", "b", ["gpu-users"])
    broken.orm_spawner.server = object()
    with caplog.at_level(logging.ERROR):
        broken.load_state({"jhpolicy_holding": {"group": "x", "amounts": {"servers": "many"}}})
    assert gone.ledger.holdings == {}
    assert caplog.messages[-1] == (
        "jhpolicy: cannot book ann:b from its saved state ([<class 'decimal.ConversionSyntax'>]): it counts for nothing")


def test_without_policy_quotas_nothing_is_booked_or_sent(opa):
    books = Books(opa.url, policy_quotas=False, opa_decision_path="jhpolicy_contract/echo_quota_input")
    spawner = books.spawner("alice", "", ["students"])
    assert books.run(books.start(spawner)) == [403]
    # The echo sends the groups, then one message per usage scope: here none.
    assert [json.loads(m) for m in spawner.policy_decision.messages] == [{"students": {"properties": {}}}]
    plain = Books(opa.url, policy_quotas=False)
    spawner = plain.spawner("alice", "", ["students"])
    assert plain.run(plain.start(spawner)) == [200]
    assert plain.ledger.holdings == {} and "jhpolicy_holding" not in spawner.get_state()


# OPA answers; the spawn only waited past opa_timeout for earlier decisions.
# In "defaults" mode too, a 503: the defaults would start a server no quota checked.
@pytest.mark.parametrize("failure_mode", ["deny", "defaults"])
def test_a_decision_slot_not_free_within_opa_timeout_fails_closed(quota_opa, caplog, failure_mode):
    books = Books(quota_opa.url, opa_timeout=0.2, policy_failure_mode=failure_mode)
    spawner = books.spawner("ann", "", ["gpu-users"], GPU)

    async def while_another_decides():
        with books.ledger.decision_slot(time.monotonic() + 5):
            return await books.start(spawner)

    with caplog.at_level(logging.ERROR):
        assert books.run(while_another_decides()) == [503]
    assert "no decision slot within opa_timeout (0.2 s)" in caplog.text
    assert "admin's defaults" not in caplog.text
    assert spawner.policy_outcome == "unavailable"
    assert books.ledger.holdings == {}


@pytest.mark.parametrize("quotas", [True, False])
def test_a_check_whose_opa_timeout_ran_out_in_the_hub_never_falls_back_to_the_defaults(quota_opa, caplog, monkeypatch,
                                                                                          quotas):
    # In a burst a spawn's check can wait in the hub (the event loop, jhpolicy's
    # threads) until opa_timeout has run out before OPA is asked, while OPA
    # answers every query it gets. The defaults would then start a server no
    # policy or quota checked: a 503 instead, and a log line saying what
    # happened rather than "OPA did not answer". (Its deadline set as if an
    # hour ago: the check starts with no time left, with no waiting here.)
    books = Books(quota_opa.url, policy_quotas=quotas, policy_failure_mode="defaults")
    spawner = books.spawner("ann", "", ["gpu-users"], GPU)
    _spawner_clock(monkeypatch, offset=-3600.0)
    with caplog.at_level(logging.ERROR):
        assert books.run(books.start(spawner)) == [503]
    assert "opa_timeout (5.0 s) ran out before OPA was asked" in caplog.text
    assert "admin's defaults" not in caplog.text
    assert spawner.policy_outcome == "unavailable"
    assert books.ledger.holdings == {}


def _spawner_clock(monkeypatch, offset: float) -> dict:
    """The spawner's time.monotonic, `offset` seconds from the real one (which
    jhpolicy's threads keep reading); the returned dict's "offset" moves it."""
    import types

    import jhpolicy.spawner

    clock = {"offset": offset}
    monkeypatch.setattr(jhpolicy.spawner, "time", types.SimpleNamespace(
        monotonic=lambda: time.monotonic() + clock["offset"], perf_counter=time.perf_counter))
    return clock


@pytest.mark.parametrize("quotas", [True, False])
def test_the_hubs_own_work_before_the_check_does_not_count_against_opa_timeout(quota_opa, monkeypatch, quotas):
    # A burst keeps the hub's event loop busy: the books' reconciling before a
    # decision can resume long after it began. opa_timeout starts where the
    # check is handed to jhpolicy's threads, so that a spawn is never refused
    # because the hub was busy while OPA was not (in a 300-spawn burst, 31
    # were, before). The busy loop here: the spawner's clock jumps an hour
    # while the books reconcile.
    from jhpolicy.hub.books import ServerBooks

    clock = _spawner_clock(monkeypatch, offset=-3600.0)
    reconcile = ServerBooks.before_deciding

    async def for_an_hour(self):
        await reconcile(self)
        clock["offset"] = 0.0

    monkeypatch.setattr(ServerBooks, "before_deciding", for_an_hour)
    books = Books(quota_opa.url, policy_quotas=quotas)
    spawner = books.spawner("ann", "", ["gpu-users"], GPU)
    assert books.run(books.start(spawner)) == [200]
    assert spawner.policy_decision.allow


def test_a_free_decision_slot_waited_for_nothing_however_busy_the_machine():
    # 0.0 is what tells an OPA failure from a queued one (only the first may
    # fall back to the defaults): never a measured time, which a busy CI
    # machine can make any length.
    from jhpolicy.hub.ledger import Busy, Ledger

    books = Ledger()
    with books.decision_slot(time.monotonic() + 5) as waited:
        assert waited == 0.0
        with pytest.raises(Busy):  # held: a deadline already past gets no slot
            with books.decision_slot(time.monotonic()):
                pass


def test_usage_and_quota_gauges(quota_opa):
    books = Books(quota_opa.url)
    spawner = books.spawner("gauge-user", "", ["gpu-users"], GPU)
    assert books.run(books.start(spawner)) == [200]

    def sample(name, group, resource):
        return REGISTRY.get_sample_value(name, {"group": group, "resource": resource})

    assert sample("jhpolicy_usage", "gpu-users", "nvidia.com/gpu") == 1
    assert sample("jhpolicy_usage", "", "servers") == 1
    assert sample("jhpolicy_usage", "", "mem_limit") == 32 * 2**30
    assert sample("jhpolicy_quota", "gpu-users", "nvidia.com/gpu") == 4
    spawner.clear_state()
    assert sample("jhpolicy_usage", "gpu-users", "nvidia.com/gpu") == 0
    assert sample("jhpolicy_usage", "", "servers") == 0


def test_sums_are_exact():
    book = ledger.Ledger()
    for i in range(1000):
        book.hold(ledger.Holding.of_pod("u", str(i), "g", {"cpu_limit": 0.1, "mem_limit": None}))
    assert book.hub.amounts["cpu_limit"] == Decimal("100.0")
    for i in range(1000):
        book.release("u", str(i))
    assert book.hub.as_input()["cpu_limit"] == 0 and book.users == {} and book.user_groups == {}
    assert book.usage("u", ["g"])["groups"]["g"]["servers"] == 0
    assert book.release("u", "0") is None


def test_a_pod_another_hub_labelled_is_never_booked_here():
    """Quotas are per hub (#28 item 9): hubs sharing a namespace skip each other's pods."""
    from jhpolicy.hub import reconcile

    def pod(hub_label):
        labels = {} if hub_label is None else {reconcile.HUB_LABEL: hub_label}
        return {"metadata": {"labels": labels, "annotations": {"hub.jupyter.org/username": "ann", "jhpolicy/charge": "gpu-users"}},
                "spec": {"containers": [{"name": "notebook", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
                "status": {"phase": "Running"}}

    assert reconcile.unnamed_holding("ns/a", pod("hub-b"), str, "hub-a") is None
    assert reconcile.unnamed_holding("ns/a", pod("hub-a"), str, "hub-a").amounts["extra_resources"] == {"nvidia.com/gpu": 1}
    assert reconcile.unnamed_holding("ns/a", pod(None), str, "hub-a") is not None  # unknown origin: counted


def test_the_hub_name_defaults_to_the_release_and_must_be_a_label_value():
    from traitlets import TraitError

    async def name(config):
        return make_spawner(config, OfflineUser(name="ann"), {}).policy_hub_name

    assert LOOP.run_until_complete(name(Config())) == "jupyterhub"
    c = Config()
    c.KubeSpawner.common_labels = {"release": "jhub-physics"}  # as Zero to JupyterHub sets it
    assert LOOP.run_until_complete(name(c)) == "jhub-physics"
    c = Config()
    c.PolicyKubeSpawner.policy_hub_name = "two words"
    with pytest.raises(TraitError, match="not a Kubernetes label value"):
        LOOP.run_until_complete(name(c))


def test_a_saved_amount_may_be_as_large_as_kubernetes_holds():
    held = ledger.Holding.from_state(1, 2, {"group": None, "amounts": {"servers": 1, "mem_limit": 2**63 - 1}})
    assert held.amounts["mem_limit"] == 2**63 - 1 and held.pod is None


def test_a_pod_is_booked_once_whoever_books_it():
    """jhpolicy.hub.reconcile's books of pods no server names: one pod, one booking."""
    from jhpolicy.hub import reconcile

    def pod(user, group, phase="Running"):
        return {"metadata": {"annotations": {"hub.jupyter.org/username": user, "jhpolicy/charge": group}},
                "spec": {"containers": [{"name": "notebook", "resources": {"limits": {"cpu": "2", "nvidia.com/gpu": "1"}}}]},
                "status": {"phase": phase}}

    pods = {"ns/jupyter-ann": pod("ann", "gpu-users"), "ns/jupyter-bob": pod("bob", "gpu-users"),
            "ns/jupyter-done": pod("cy", "students", phase="Succeeded")}
    book = ledger.Ledger()
    book.hold(ledger.Holding.of_pod(7, 70, "gpu-users", {"cpu_limit": 2}, "ns/jupyter-bob"))
    assert book.unnamed(pods) == ["ns/jupyter-ann", "ns/jupyter-done"]
    assert reconcile.unnamed_holding("ns/jupyter-done", pods["ns/jupyter-done"], str, "jupyterhub") is None  # an ended pod holds nothing
    stray = reconcile.unnamed_holding("ns/jupyter-ann", pods["ns/jupyter-ann"], {"ann": 3}.get, "jupyterhub")
    assert (stray.user, stray.server, stray.group, stray.pod) == (3, "pod ns/jupyter-ann", "gpu-users", "ns/jupyter-ann")
    assert book.hold_unnamed(stray) and not book.hold_unnamed(stray)
    usage = book.usage(3, ["gpu-users"])
    assert usage["user"]["servers"] == 1 and usage["groups"]["gpu-users"]["extra_resources"] == {"nvidia.com/gpu": 1}
    assert book.release(3, "pod ns/jupyter-ann") is None  # only its pod going frees it
    # The server's own booking (a restarted hub loading its state, or polling it) replaces it.
    book.hold(ledger.Holding.of_pod(3, 30, "gpu-users", {"cpu_limit": 2, "extra_resource_limits": {"nvidia.com/gpu": 1}},
                                    "ns/jupyter-ann"))
    assert sorted(book.holdings) == [(3, 30), (7, 70)] and book.hub.as_input()["servers"] == 2
    assert book.orphans == set() and book.unnamed(pods) == ["ns/jupyter-done"]
    # Booked on its own again once the server's booking is released while the pod stays (a failed stop, then a restart).
    book.release(3, 30)
    assert book.hold_unnamed(reconcile.unnamed_holding("ns/jupyter-ann", pods["ns/jupyter-ann"], {"ann": 3}.get, "jupyterhub"))
    assert [h.pod for h in book.release_gone(lambda ref: reconcile.holds_resources(pods.get(ref)))] == []
    pods["ns/jupyter-ann"]["status"]["phase"] = "Failed"
    assert [h.pod for h in book.release_gone(lambda ref: reconcile.holds_resources(pods.get(ref)))] == ["ns/jupyter-ann"]
    assert book.hub.as_input()["servers"] == 1 and book.pods == {"ns/jupyter-bob": (7, 70)}


# --- property-based: any interleaving of starts, stops and failures ---

EXAMPLES = max(10, int(os.environ.get("JHPOLICY_FUZZ_EXAMPLES", "3000")) // 50)
USERS = {"ann": ["gpu-users"], "bob": ["gpu-users", "students"], "cy": ["students"], "dee": ["students", "gpu-users"],
         "eli": []}
BODIES = [{}, GPU, {"extra_resource_limits": {"nvidia.com/gpu": 2}}, {"cpu_limit": 2}, {"cpu_limit": 0.5}]
STEP = st.tuples(st.sampled_from(["start", "start", "stop", "fail"]), st.sampled_from(sorted(USERS)),
                 st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(range(len(BODIES))))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(STEP, min_size=1, max_size=8), min_size=1, max_size=5))
def test_any_interleaving_keeps_the_books_exact_and_within_the_quotas(quota_opa, batches):
    books = Books(quota_opa.url)
    play(books, batches, USERS.get, BODIES, lambda: assert_within_the_quotas(books))


def assert_within_the_quotas(books: Books) -> None:
    hub = books.ledger.hub.as_input()
    assert hub["servers"] <= 12
    gpu_group = books.ledger.usage("-", ["gpu-users"])["groups"]["gpu-users"]
    assert gpu_group["extra_resources"].get("nvidia.com/gpu", 0) <= 4
    assert books.ledger.usage("-", ["students"])["groups"]["students"]["cpu_limit"] <= 6
    for user in USERS:
        assert books.ledger.usage(user, [])["user"]["servers"] <= 3
        assert books.ledger.usage(user, ["gpu-users"])["user_by_group"]["gpu-users"]["servers"] <= 2


def test_a_spawn_cancelled_while_its_decision_is_in_flight_books_nothing(quota_opa):
    from .helpers.faults import FaultServer

    faults = FaultServer(quota_opa.url, slow_seconds=2.0).start()
    try:
        faults.set("slow")  # answers (allow) 2 s after the request arrives
        books = Books(faults.url, opa_timeout=4.0)
        spawner = books.spawner("ann", "", ["gpu-users"], GPU)

        async def cancel_mid_decision():
            task = asyncio.ensure_future(spawner.load_user_options())
            while faults.in_flight == 0:  # the decision is at OPA, inside the decision slot
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        books.run(cancel_mid_decision())
        # The slot is free once the in-flight decision has finished, booking included.
        with books.ledger.decision_slot(time.monotonic() + 10):
            assert books.ledger.holdings == {}
    finally:
        faults.stop()


def test_a_server_started_with_the_defaults_while_opa_is_down_is_counted_but_charged_to_no_group():
    from jhpolicy.tooling.local_opa import free_port

    books = Books(f"http://127.0.0.1:{free_port()}", policy_failure_mode="defaults")
    spawner = books.spawner("ann", "lab", ["gpu-users"], GPU)
    assert books.run(books.start(spawner)) == [200]
    assert spawner.policy_outcome == "defaults"
    held = books.held("ann", "lab")
    assert held.group is None and held.amounts["servers"] == 1
    assert held.pod == f"{spawner.namespace}/{spawner.pod_name}"  # so the pod scan never books it twice
    assert held.amounts["extra_resources"] == {}  # the request's GPU was not applied
    assert_books_add_up(books)


# --- what admins really write: the admin page, typos, non-finite numbers ---

MISCONFIGURED = "Spawn refused by policy: the hub's spawn policy is misconfigured, ask your hub admin: "


def test_a_quota_typed_into_the_admin_page_as_text_applies(quota_opa):
    # JupyterHub's admin page stores a property value as the string typed in.
    typed = OfflineGroup("students", {"jhpolicy_quota": '{"member": {"servers": 1}}'})
    books = Books(quota_opa.url)
    assert books.run(books.start(books.spawner("cy", "a", [typed]))) == [200]
    second = books.spawner("cy", "b", [typed])
    assert books.run(books.start(second)) == [403]
    assert second.policy_decision.messages == [
        "quota reached: you hold 1 of the 1 servers each member of students may hold; stop one of your servers to free some"]


@pytest.mark.parametrize("value, problem", [
    ("lots", "group students property jhpolicy_quota is not an object"),
    ('{"members": {"servers": 1}}', "group students property jhpolicy_quota.members is not a known key"),
    ('{"member": {"servers": "1"}}', 'group students property jhpolicy_quota.member.servers "1" is not a whole number'),
    ({"member": {"servers": float("nan")}}, 'group students property jhpolicy_quota.member.servers "NaN" is not a whole number'),
    ('{"member": {"servers": Infinity}}', 'group students property jhpolicy_quota.member.servers "Infinity" is not a whole number'),
    ({"group": {"cpu_limit": float("inf")}}, 'group students property jhpolicy_quota.group.cpu_limit "Infinity" is not a number of CPU cores'),
])
@pytest.mark.parametrize("failure_mode", ["deny", "defaults"])
def test_a_malformed_quota_property_refuses_the_groups_members_and_says_where(quota_opa, caplog, value, problem, failure_mode):
    books = Books(quota_opa.url, policy_failure_mode=failure_mode)
    spawner = books.spawner("cy", "", [OfflineGroup("students", {"jhpolicy_quota": value})])
    error = LOOP.run_until_complete(_error_of(spawner))
    assert error.status_code == 403
    assert error.jupyterhub_message.startswith(MISCONFIGURED + problem)
    assert spawner.policy_outcome == "misconfigured"
    assert f"jhpolicy: refusing spawn of cy: the hub's spawn policy is misconfigured, ask your hub admin: {problem}" in caplog.text
    assert books.ledger.holdings == {}
    # Another group's members are not refused for it.
    other = books.spawner("ann", "", ["gpu-users"])
    assert books.run(books.start(other)) == [200]


def test_non_finite_numbers_become_text():
    from jhpolicy.core.opa_input import finite

    nan, inf = float("nan"), float("inf")
    assert finite({"a": [nan, inf, -inf, 1.5], "b": (-inf,), "c": "x"}) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5], "b": ["-Infinity"], "c": "x"}


def test_non_finite_numbers_in_any_group_property_are_never_a_500(quota_opa):
    weird = OfflineGroup("students", {"colour": float("nan"), "size": float("-inf"), "nested": [float("inf")]})
    for mode in ("deny", "defaults"):
        books = Books(quota_opa.url, policy_failure_mode=mode)
        spawner = books.spawner("cy", "", [weird])
        assert books.run(books.start(spawner)) == [200]
        assert spawner.policy_outcome in ("allowed", "clamped")  # decided, not the defaults


async def _error_of(spawner):
    try:
        await spawner.load_user_options()
    except web.HTTPError as e:
        return e
    raise AssertionError("the spawn was not refused")


@pytest.mark.parametrize("saved, why", [
    ({"group": "x", "amounts": {"servers": "NaN"}}, "not an amount from 0 to 2^63-1: 'NaN'"),
    ({"group": "x", "amounts": {"servers": 1, "cpu_limit": "Infinity"}}, "not an amount from 0 to 2^63-1: 'Infinity'"),
    ({"group": "x", "amounts": {"servers": 1, "mem_limit": "1e5000"}}, "not an amount from 0 to 2^63-1: '1e5000'"),
    ({"group": "x", "amounts": {"servers": 1, "mem_limit": 2**63}}, "not an amount from 0 to 2^63-1: 9223372036854775808"),
    ({"group": "x", "amounts": {"servers": -1}}, "not an amount from 0 to 2^63-1: -1"),
    ({"group": "x", "amounts": {"servers": 1, "extra_resources": {"nvidia.com/gpu": -4}}}, "not an amount from 0 to 2^63-1: -4"),
    ({"group": ["x"], "amounts": {"servers": 1}}, "group is not a name: ['x']"),
    ({"group": "x", "amounts": "lots"}, "amounts are not an object of amounts: 'lots'"),
    ({"group": "x", "amounts": {"servers": 1, "extra_resources": ["nvidia.com/gpu"]}},
     "amounts are not an object of amounts: {'servers': 1, 'extra_resources': ['nvidia.com/gpu"),
])
def test_a_corrupted_saved_booking_never_breaks_later_spawns_nor_goes_negative(quota_opa, caplog, saved, why):
    books = Books(quota_opa.url)
    corrupted = books.spawner("ann", "old", ["gpu-users"])
    corrupted.orm_spawner.server = object()
    with caplog.at_level(logging.ERROR):
        corrupted.load_state({"jhpolicy_holding": saved})
    assert f"jhpolicy: cannot book ann:old from its saved state ({why}): it counts for nothing" in caplog.text
    assert_books_add_up(books)
    later = books.spawner("bob", "", ["gpu-users"], GPU)
    assert books.run(books.start(later)) == [200]
    assert books.ledger.usage("bob", ["gpu-users"])["groups"]["gpu-users"]["extra_resources"] == {"nvidia.com/gpu": 1}


def test_a_full_gpu_group_does_not_spill_over_into_students(quota_opa):
    books = Books(quota_opa.url)
    for i in range(4):
        assert books.run(books.start(books.spawner(f"g{i}", "", ["gpu-users"], GPU))) == [200]
    both = books.spawner("dual", "", ["gpu-users", "students"], GPU)
    assert books.run(books.start(both)) == [403]
    assert both.policy_decision.messages == [GROUP_FULL]
    assert books.ledger.usage("-", ["students"])["groups"]["students"]["servers"] == 0
    # Without a GPU, students' room is theirs to use.
    cpu_only = books.spawner("dual", "cpu", ["gpu-users", "students"], {"cpu_limit": 1})
    assert books.run(books.start(cpu_only)) == [200]


def test_a_hub_that_cannot_list_its_pods_refuses_with_quotas_on(quota_opa, caplog):
    """In a hub, a decision with quotas counts the pods first; an API server
    that does not answer (here the offline kube config's unroutable address)
    leaves nothing to count them with: 503, never a spawn the quotas did not
    see, and within opa_timeout."""
    from jhpolicy.hub.books import ServerBooks

    books = Books(quota_opa.url, opa_timeout=2.0)
    spawner = books.spawner("ann", "lab", ["gpu-users"], GPU)
    spawner.policy_books = ServerBooks(spawner)  # a hub's: the pods are listed, the reflector is started
    try:
        with caplog.at_level(logging.ERROR):
            assert books.run(books.start(spawner)) == [503]
        failed = type(spawner).reflectors.get(spawner._get_reflector_key("pods"))
        if failed is not None:  # its listing still retrying (a busy machine): wait for it to fail, not for a time
            books.run(asyncio.wait([failed.first_load_future]))
            books.run(asyncio.sleep(0))  # its done-callbacks
        assert spawner.pod_reflector is None  # so the next decision tries again
        with caplog.at_level(logging.ERROR):
            assert books.run(books.start(spawner)) == [503]
    finally:
        books.run(type(spawner)._stop_all_reflectors())  # the class-wide reflector it tried to start
    assert "jhpolicy: refusing spawn of ann:lab: cannot list the hub's pods to count them for quotas" in caplog.text
    assert books.ledger.holdings == {}
