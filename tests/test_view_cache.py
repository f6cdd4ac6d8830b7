"""Allowance views kept for a few seconds (jhpolicy.hub.view_cache).

The cache alone, on a clock the test turns; then a real PolicyKubeSpawner
(offline) against a real OPA behind a pass-through server that counts the
queries: a view shown again for the same input asks OPA once, a change of
usage asks again, a failure is never kept, and a spawn is decided by OPA on
the data of the moment even while the page still shows the kept view.
"""

from __future__ import annotations

import httpx
import pytest
from tornado import web
from traitlets import TraitError
from traitlets.config import Config

from jhpolicy.core import allowance
from jhpolicy.hub import view_cache
from jhpolicy.hub.view_cache import ViewCache
from jhpolicy.tooling.local_opa import LocalOPA
from jhpolicy.tooling.offline import OfflineHub, OfflineUser, make_spawner, pod_to_create

from .helpers.faults import FaultServer
from .helpers.policies import rules_with
from .helpers.spawns import LOOP

IMAGE = "quay.io/jupyterhub/k8s-singleuser-sample:4.1.0"
STUDENTS = {"images": ["**"], "max": {"cpu_limit": 2, "mem_limit": "4G"}, "profiles": ["*"]}
DATA = {"groups": {"students": STUDENTS}, "quotas": {"groups": {"students": {"member": {"servers": 2}}}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the cache alone ---


def test_a_view_is_kept_for_its_seconds_and_no_longer():
    clock = Clock()
    views = ViewCache(clock=clock)
    views.put("k", {"available": True}, 10)
    clock.now += 9.99
    assert views.get("k") == {"available": True}
    clock.now += 0.01
    assert views.get("k") is None
    assert len(views) == 0


def test_zero_seconds_keeps_nothing():
    views = ViewCache(clock=Clock())
    views.put("k", {"available": True}, 0)
    assert views.get("k") is None and len(views) == 0


def test_views_go_in_and_out_as_copies():
    views = ViewCache(clock=Clock())
    view = {"available": True, "candidates": [{"allow": True}]}
    views.put("k", view, 10)
    view["candidates"].append({"allow": False})  # the caller's own, changed after
    taken = views.get("k")
    taken.pop("candidates")  # as the page does with its judgements
    assert views.get("k") == {"available": True, "candidates": [{"allow": True}]}


def test_beyond_its_size_the_least_recently_used_goes():
    views = ViewCache(max_entries=2, clock=Clock())
    views.put("a", {"n": 1}, 10)
    views.put("b", {"n": 2}, 10)
    assert views.get("a") == {"n": 1}  # a is now the most recently used
    views.put("c", {"n": 3}, 10)
    assert views.get("b") is None
    assert views.get("a") == {"n": 1} and views.get("c") == {"n": 3}


def test_the_key_is_the_whole_input_whatever_its_key_order():
    doc = {"user": {"name": "alice", "groups": ["students"]}, "usage": {"user": {"servers": 0}}}
    same = {"usage": {"user": {"servers": 0}}, "user": {"groups": ["students"], "name": "alice"}}
    key = view_cache.key("http://opa", "", "jupyterhub/spawn/allowance_view", doc)
    assert view_cache.key("http://opa", "", "jupyterhub/spawn/allowance_view", same) == key
    for other in (
        view_cache.key("http://opa", "", "jupyterhub/spawn/allowance_view", {**doc, "usage": {"user": {"servers": 1}}}),
        view_cache.key("http://opa", "", "jupyterhub/spawn/allowance_view", {**doc, "user": {"name": "alice", "groups": []}}),
        view_cache.key("http://opa", "", "other/view", doc),
        view_cache.key("http://opa", "another-token", "jupyterhub/spawn/allowance_view", doc),
        view_cache.key("http://other-opa", "", "jupyterhub/spawn/allowance_view", doc),
    ):
        assert other != key


@pytest.mark.parametrize("seconds", [-1, 301])
def test_the_setting_is_bounded(seconds):
    from jhpolicy.hub.settings import PolicySettings

    with pytest.raises(TraitError, match="policy_view_cache_seconds"):
        PolicySettings(policy_view_cache_seconds=seconds)


# --- a real spawner and a real OPA ---


@pytest.fixture(scope="module")
def data_opa(tmp_path_factory):
    """OPA whose data a test may change (PUT), with a counter in front."""
    server = LocalOPA([rules_with(tmp_path_factory.mktemp("view-cache"))]).start()
    counter = FaultServer(server.url).start()
    yield server, counter
    counter.stop()
    server.stop()


@pytest.fixture
def clock(monkeypatch):
    """The hub's views on a clock only the test turns: however slow the
    machine, a view kept for 10 s is not dropped between two steps."""
    turned = Clock()
    monkeypatch.setattr(view_cache.VIEWS, "clock", turned)
    return turned


@pytest.fixture
def opa_now(data_opa, clock):
    server, counter = data_opa
    put_data(server.url, DATA)
    counter.set(None)
    return counter


def put_data(opa_url: str, data: dict) -> None:
    httpx.put(f"{opa_url}/v1/data/jhpolicy", json=data, timeout=10).raise_for_status()


def config(opa_url: str, **traits) -> Config:
    c = Config()
    c.PolicyKubeSpawner.opa_url = opa_url
    c.PolicyKubeSpawner.image = IMAGE
    c.PolicyKubeSpawner.cpu_limit = 0.5
    c.PolicyKubeSpawner.mem_limit = "512M"
    for name, value in traits.items():
        setattr(c.PolicyKubeSpawner, name, value)
    return c


def view_of(opa_url: str, usage=None, **traits) -> dict:
    async def go():
        spawner = make_spawner(config(opa_url, **traits), OfflineUser(name="sam", groups=["students"]), {},
                               hub=OfflineHub(), usage=usage or {})
        return await spawner.allowance_view()

    return LOOP.run_until_complete(go())


def spawn(opa_url: str, body: dict) -> dict | str:
    """The decided pod values, or the refusal's status and message."""
    async def go():
        spawner = make_spawner(config(opa_url), OfflineUser(name="sam", groups=["students"]), body,
                               hub=OfflineHub(), usage={})
        try:
            await pod_to_create(spawner)
        except web.HTTPError as e:
            return f"{e.status_code}: {getattr(e, 'jupyterhub_message', e)}"
        return spawner.policy_pod

    return LOOP.run_until_complete(go())


def test_the_same_view_again_asks_opa_once(opa_now):
    first = view_of(opa_now.url)
    asked = opa_now.requests
    assert view_of(opa_now.url) == first
    assert opa_now.requests == asked
    assert first["available"] and first["max"]["cpu_limit"] == 2


def test_a_server_started_changes_the_input_and_asks_again(opa_now):
    before = view_of(opa_now.url)
    asked = opa_now.requests
    after = view_of(opa_now.url, usage={"user_by_group": {"students": {"servers": 1}}})
    assert opa_now.requests == asked + 1
    [row] = [r for r in after["quotas"] if r["resource"] == "servers"]
    assert (row["in_use"], row["left"]) == (1, 1)
    assert before != after


def test_zero_seconds_asks_opa_for_every_view(opa_now):
    view_of(opa_now.url, policy_view_cache_seconds=0)
    asked = opa_now.requests
    view_of(opa_now.url, policy_view_cache_seconds=0)
    assert opa_now.requests == asked + 1


def shown(source: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("jhpolicy_allowance_views_total", {"source": source}) or 0


def test_a_failure_is_not_kept(opa_now):
    before = {source: shown(source) for source in ("opa", "kept", "unavailable")}
    opa_now.set("http_500", times=1)
    assert view_of(opa_now.url) == allowance.NOT_AVAILABLE
    assert view_of(opa_now.url)["available"] is True
    view_of(opa_now.url)
    assert {source: shown(source) - n for source, n in before.items()} == {"opa": 1, "kept": 1, "unavailable": 1}


def test_a_spawn_is_decided_on_the_data_of_the_moment_while_the_page_shows_the_kept_view(opa_now, data_opa, clock):
    server, _ = data_opa
    assert view_of(opa_now.url)["max"]["cpu_limit"] == 2
    put_data(server.url, {**DATA, "groups": {"students": {**STUDENTS, "max": {"cpu_limit": 1, "mem_limit": "4G"}}}})
    # The page still shows the maximum it was given (for at most its seconds)...
    assert view_of(opa_now.url)["max"]["cpu_limit"] == 2
    # ...and the spawn it offers gets what the policy says now.
    assert spawn(opa_now.url, {"cpu_limit": 2})["cpu_limit"] == 1
    put_data(server.url, {**DATA, "groups": {}})
    assert spawn(opa_now.url, {"cpu_limit": 2}).startswith("403: ")
    clock.now += 10
    assert view_of(opa_now.url)["available"] is False


# --- the spawn page ---


def page_steps(opa_url: str, **traits) -> tuple[str, bool]:
    """A second page for the same user (the first fills the cache): its form,
    and whether it gave up the event loop on the way. JupyterHub awaits
    spawner.get_options_form() in its handler; a coroutine that finishes on
    its first step never let another request run in between."""
    from .e2e.profiles import PROFILE_LIST

    async def go():
        c = config(opa_url, profile_list=PROFILE_LIST, **traits)
        user = OfflineUser(name="sam", groups=["students"])
        await make_spawner(c, user, {}, hub=OfflineHub(), usage={}).get_options_form()
        steps = make_spawner(c, user, {}, hub=OfflineHub(), usage={}).get_options_form()
        try:
            steps.send(None)
        except StopIteration as done:
            return done.value, False
        steps.close()
        return await make_spawner(c, user, {}, hub=OfflineHub(), usage={}).get_options_form(), True

    return LOOP.run_until_complete(go())


def test_a_page_whose_view_is_kept_is_answered_without_giving_up_the_event_loop(opa_now):
    form, waited = page_steps(opa_now.url)
    assert "What you may launch" in form and 'value="medium"' in form
    assert not waited
    # Asking OPA, it waits (for OPA's answer): this is what the check can see.
    form, waited = page_steps(opa_now.url, policy_view_cache_seconds=0)
    assert "What you may launch" in form and waited


@pytest.mark.parametrize("form", ["<p>the admin's own form</p>", lambda spawner: "<p>the admin's own form</p>"])
def test_an_options_form_the_admin_sets_is_the_page(opa_now, form):
    from .e2e.profiles import PROFILE_LIST

    async def go():
        c = config(opa_now.url, profile_list=PROFILE_LIST, options_form=form)
        return await make_spawner(c, OfflineUser(name="sam", groups=["students"]), {}).get_options_form()

    assert LOOP.run_until_complete(go()) == "<p>the admin's own form</p>"
