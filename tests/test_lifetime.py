"""Server lifetimes (jhpolicy.core.lifetime, jhpolicy.culler): the decision's
lifetime checked and kept, the culler's arbiter, and the z2jh culler
service turned into jhpolicy's. The real culler against a real hub is
tests/test_lifetime_e2e.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from traitlets.config import Config

from jhpolicy import culler
from jhpolicy.core import allowance, decision, lifetime, panel
from jhpolicy.core.lifetime import Lifetime, Limit, arbiter
from jhpolicy.tooling.local_opa import LocalOPA

from .helpers.culler import z2jh_culler
from .helpers.policies import policies_with
from .helpers.spawns import run_spawn

GPU_RULE = {"idle": {"seconds": 3600, "from": "servers holding nvidia.com/gpu"},
            "max_age": {"seconds": 28800, "from": "servers holding nvidia.com/gpu"}}


# --- the decision's lifetime: parsed, or the policy is broken ---

def test_a_decided_lifetime_is_parsed_with_the_group_it_is_charged_to():
    d = decision.validate({"allow": True, "charge": "gpu", "lifetime": GPU_RULE}, {"image"}, ["gpu"])
    assert d.lifetime == Lifetime(Limit(3600, "servers holding nvidia.com/gpu"),
                                  Limit(28800, "servers holding nvidia.com/gpu"), group="gpu")
    assert decision.validate({"allow": True}, {"image"}).lifetime is None


@pytest.mark.parametrize("bad, says", [
    ("1h", "lifetime is not an object of idle, max_age"),
    ({"idle": 3600}, "lifetime.idle is not {\"seconds\": n, \"from\": text}"),
    ({"forever": {"seconds": 1, "from": "x"}}, "lifetime is not an object of idle, max_age"),
    ({"idle": {"seconds": 0, "from": "x"}}, "lifetime.idle.seconds is not a whole number"),
    ({"idle": {"seconds": 1.5, "from": "x"}}, "lifetime.idle.seconds is not a whole number"),
    ({"idle": {"seconds": True, "from": "x"}}, "lifetime.idle.seconds is not a whole number"),
    ({"max_age": {"seconds": lifetime.MAX_SECONDS + 1, "from": "x"}}, "lifetime.max_age.seconds is not a whole number"),
    ({"idle": {"seconds": 60, "from": ""}}, "lifetime.idle.from is not a text"),
    ({"idle": {"seconds": 60, "from": "x" * 301}}, "lifetime.idle.from is not a text"),
])
def test_a_malformed_lifetime_is_a_broken_policy(bad, says):
    with pytest.raises(decision.PolicyBroken, match="^decision." + says.replace("(", r"\(")):
        decision.validate({"allow": True, "lifetime": bad}, {"image"})


def test_whole_floats_are_seconds():
    assert Lifetime.parse({"idle": {"seconds": 60.0, "from": "x"}}).idle.seconds == 60


def test_kept_as_json_and_read_back():
    kept = Lifetime.parse(GPU_RULE, "gpu")
    assert kept.to_json() == {**GPU_RULE, "group": "gpu"}
    assert lifetime.saved({lifetime.STATE_KEY: json.loads(json.dumps(kept.to_json()))}) == kept
    assert lifetime.saved({}) is None and lifetime.saved(None) is None
    with pytest.raises(ValueError):
        lifetime.saved({lifetime.STATE_KEY: {"idle": "1h"}})


def test_what_users_are_told():
    assert Lifetime.parse(GPU_RULE).sentence() == (
        "this server stops after 1 h idle (servers holding nvidia.com/gpu), and after 8 h at most (servers holding nvidia.com/gpu)")
    assert Lifetime.parse({"max_age": {"seconds": 5400, "from": "group a"}}).sentence() == "this server stops after 1 h 30 min at most (group a)"
    assert [lifetime.duration(s) for s in (0, 45, 90, 3600, 86400 + 7200 + 60)] == ["0 s", "45 s", "1 min 30 s", "1 h", "1 d 2 h"]


# --- the arbiter, as jupyterhub-idle-culler 2.0 calls it ---

def server(state=None, started_ago: float = 10) -> dict:
    started = datetime.now(timezone.utc) - timedelta(seconds=started_ago)
    model = {"name": "", "full_name": "alice/", "started": started.isoformat().replace("+00:00", "Z")}
    if state is not None:
        model["state"] = state
    return model


def decided(idle=None, max_age=None) -> dict:
    value = {}
    if idle:
        value["idle"] = {"seconds": idle, "from": "group a"}
    if max_age:
        value["max_age"] = {"seconds": max_age, "from": "group a"}
    return {lifetime.STATE_KEY: value}


def idle_for(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_a_server_idle_past_its_decided_timeout_is_culled_and_not_before():
    assert arbiter(inactive=idle_for(61), inactive_limit=3600, server=server(decided(idle=60))) is True
    assert arbiter(inactive=idle_for(59), inactive_limit=30, server=server(decided(idle=60))) is False


def test_a_server_older_than_its_decided_age_is_culled_even_when_active():
    assert arbiter(inactive=idle_for(0), inactive_limit=3600, server=server(decided(max_age=60), started_ago=61)) is True
    assert arbiter(inactive=idle_for(0), inactive_limit=3600, server=server(decided(max_age=60), started_ago=59)) is False


def test_a_server_with_none_decided_follows_the_cullers_timeout(monkeypatch):
    monkeypatch.delenv(lifetime.FALLBACK_MAX_AGE_ENV, raising=False)
    for state in (None, {}, {"pod_name": "jupyter-alice"}):
        assert arbiter(inactive=idle_for(601), inactive_limit=600, server=server(state, started_ago=10**6)) is True
        assert arbiter(inactive=idle_for(599), inactive_limit=600, server=server(state, started_ago=10**6)) is False


def test_a_kind_not_decided_follows_the_culler(monkeypatch):
    monkeypatch.setenv(lifetime.FALLBACK_MAX_AGE_ENV, "100")
    only_idle = server(decided(idle=60), started_ago=101)
    assert arbiter(inactive=idle_for(0), inactive_limit=600, server=only_idle) is True  # cull.maxAge, moved here
    only_age = server(decided(max_age=1000), started_ago=101)
    assert arbiter(inactive=idle_for(601), inactive_limit=600, server=only_age) is True  # the culler's --timeout
    assert arbiter(inactive=idle_for(599), inactive_limit=600, server=only_age) is False


def test_a_decided_age_longer_than_the_charts_max_age_is_kept(monkeypatch):
    monkeypatch.setenv(lifetime.FALLBACK_MAX_AGE_ENV, "100")
    assert arbiter(inactive=idle_for(0), inactive_limit=600, server=server(decided(max_age=1000), started_ago=500)) is False


def test_an_unreadable_saved_lifetime_follows_the_culler(monkeypatch, caplog):
    monkeypatch.delenv(lifetime.FALLBACK_MAX_AGE_ENV, raising=False)
    broken = server({lifetime.STATE_KEY: {"idle": 60}}, started_ago=10**6)
    assert arbiter(inactive=idle_for(61), inactive_limit=600, server=broken) is False
    assert arbiter(inactive=idle_for(601), inactive_limit=600, server=broken) is True
    assert "unreadable saved lifetime" in caplog.text


# --- the z2jh culler service, as jupyterhub_config.py of chart 4.4.0 defines it ---

def z2jh_config(max_age: int = 0) -> Config:
    c = Config()
    service, role = z2jh_culler("python3", "http://localhost:8081/hub/api", timeout=3600, every=600, max_age=max_age)
    c.JupyterHub.services = [service]
    c.JupyterHub.load_roles = [role]
    return c


def test_the_charts_culler_runs_with_the_arbiter_and_reads_state(monkeypatch):
    c = z2jh_config(max_age=86400)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if not p.endswith(".whl")])
    culler.configure(c)
    spec = c.JupyterHub.services[0]
    assert spec["command"] == ["python3", "-m", "jhpolicy.culler", "--url=http://localhost:8081/hub/api", "--timeout=3600",
                               "--cull-every=600", "--concurrency=10"]
    assert spec["environment"] == {lifetime.FALLBACK_MAX_AGE_ENV: "86400"}
    assert c.JupyterHub.load_roles[0]["scopes"] == ["list:users", "read:users:activity", "read:servers", "delete:servers",
                                                    "admin:server_state"]
    culler.configure(c)  # twice changes nothing more
    assert c.JupyterHub.load_roles[0]["scopes"].count("admin:server_state") == 1


def test_wheels_the_hub_imports_from_files_are_the_cullers_too(monkeypatch):
    c = z2jh_config()
    wheels = ["/usr/local/etc/jupyterhub/jhpolicy-wheels/jhpolicy-0.1.0-py3-none-any.whl",
              "/usr/local/etc/jupyterhub/jhpolicy-wheels/jupyterhub_idle_culler-2.0.0-py3-none-any.whl"]
    monkeypatch.setattr("sys.path", wheels + ["/usr/lib/python3.12"])
    culler.configure(c)
    assert c.JupyterHub.services[0]["environment"] == {"PYTHONPATH": ":".join(wheels)}


def test_no_culler_service_nothing_changes():
    empty = Config()
    culler.configure(empty)  # services and roles never set
    assert "services" not in empty.JupyterHub
    c = Config()
    c.JupyterHub.services = [{"name": "harness", "api_token": "x"}]
    c.JupyterHub.load_roles = []
    culler.configure(c)
    assert c.JupyterHub.services == [{"name": "harness", "api_token": "x"}]


def test_an_old_culler_stops_with_why(monkeypatch):
    import jupyterhub_idle_culler

    monkeypatch.setattr(jupyterhub_idle_culler, "__version__", "1.4.0")
    with pytest.raises(SystemExit, match="need jupyterhub-idle-culler 2.0 or newer .*this Python has 1.4.0"):
        culler.main([])


# --- the allowance view and the panel ---

def view(lifetimes) -> dict:
    return {"available": True, "sources": ["group gpu"], "images": [], "images_total": 0, "repositories": [],
            "repositories_total": 0, "max": {}, "extra_resources": {}, "profiles": [], "quotas": [], "lifetimes": lifetimes}


def test_the_panel_says_the_lifetimes():
    shown = allowance.validate(view({"servers": {"idle": {"seconds": 21600, "from": "group gpu"}},
                                     "extra_resources": {"nvidia.com/gpu": GPU_RULE}}))
    html = panel.render(shown)
    assert "<li>Servers stop after 6 h idle (group gpu)</li>" in html
    assert ("<li>Servers with GPUs stop after 1 h idle (servers holding nvidia.com/gpu), "
            "and after 8 h at most (servers holding nvidia.com/gpu)</li>") in html


def test_a_view_without_lifetimes_shows_none():
    shown = allowance.validate(view(None))
    assert shown["lifetimes"] == {"servers": {}, "extra_resources": {}}
    assert "stop after" not in panel.render(shown)


def test_a_view_with_a_malformed_lifetime_is_broken():
    with pytest.raises(allowance.ViewBroken, match="lifetimes: lifetime.idle"):
        allowance.validate(view({"servers": {"idle": 60}}))


# --- through the real spawner and OPA ---

@pytest.fixture(scope="module")
def lifetime_opa(tmp_path_factory):
    def gpu_and_student_lifetimes(jhpolicy: dict) -> None:
        jhpolicy["lifetimes"] = {"extra_resources": {"nvidia.com/gpu": {"idle": "1h", "max_age": "8h"}}}
        jhpolicy["groups"]["students"]["lifetime"] = {"idle": "6h"}

    server = LocalOPA([policies_with(tmp_path_factory.mktemp("lifetime-policies"), gpu_and_student_lifetimes)]).start()
    yield server
    server.stop()


GPU_BODY = {"kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": 1}}}


def test_a_gpu_spawn_keeps_its_lifetime_in_state_and_pod_and_says_it(lifetime_opa):
    result = run_spawn(lifetime_opa.url, GPU_BODY, groups=("gpu-users",))
    assert result.status == 200, result.message
    spawner = result.spawner
    assert spawner.policy_lifetime == Lifetime.parse(GPU_RULE, "gpu-users")
    assert spawner.get_state()[lifetime.STATE_KEY] == {**GPU_RULE, "group": "gpu-users"}
    assert json.loads(result.manifest.metadata.annotations[lifetime.ANNOTATION]) == {**GPU_RULE, "group": "gpu-users"}
    assert spawner.policy_messages[-1] == Lifetime.parse(GPU_RULE).sentence()


def test_a_cpu_spawn_of_the_same_user_is_not_held_to_the_gpu_rule(lifetime_opa):
    result = run_spawn(lifetime_opa.url, {}, groups=("gpu-users", "students"))
    assert result.status == 200, result.message
    assert result.spawner.policy_lifetime.to_json() == {"idle": {"seconds": 21600, "from": "group students"},
                                                        "group": "gpu-users"}


def test_no_lifetime_decided_nothing_kept(lifetime_opa):
    result = run_spawn(lifetime_opa.url, {}, groups=("gpu-users",))
    assert result.status == 200, result.message
    assert result.spawner.policy_lifetime is None
    assert lifetime.STATE_KEY not in result.spawner.get_state()
    assert lifetime.ANNOTATION not in (result.manifest.metadata.annotations or {})


def test_a_restarted_hub_reads_the_lifetime_back_and_a_stop_clears_it(lifetime_opa):
    state = run_spawn(lifetime_opa.url, GPU_BODY, groups=("gpu-users",)).spawner.get_state()
    fresh = run_spawn(lifetime_opa.url, {}, groups=("gpu-users",)).spawner
    fresh.load_state(state)
    assert fresh.policy_lifetime == Lifetime.parse(GPU_RULE, "gpu-users")
    fresh.clear_state()
    assert fresh.policy_lifetime is None and lifetime.STATE_KEY not in fresh.get_state()


def test_a_malformed_property_refuses_the_spawn(lifetime_opa):
    from jhpolicy.tooling.offline import OfflineGroup, OfflineUser

    user = OfflineUser("alice", [OfflineGroup("students", {"jhpolicy_lifetime": "6 hours"})])
    result = run_spawn(lifetime_opa.url, {}, user=user)
    assert result.status == 403
    assert "group students property jhpolicy_lifetime is not an object" in result.message


# --- jhpolicy test: a case may expect the lifetime ---

def test_a_case_expects_a_lifetime_in_the_datas_words():
    from jhpolicy.tooling import cases

    parsed = cases.expectation("cases.yaml:1: gpu", {"outcome": "allowed", "lifetime": {"idle": "1h", "max_age": 28800}})
    assert parsed["lifetime"] == {"idle": 3600, "max_age": 28800}
    assert cases.expectation("w", {"outcome": "allowed", "lifetime": None})["lifetime"] == {}
    for bad, says in ((["1h"], "is null or a mapping"), ({"idle": "1 hour"}, "'1 hour' is not a whole number"),
                      ({"ttl": "1h"}, "is null or a mapping")):
        with pytest.raises(cases.SuiteError, match=says):
            cases.expectation("w", {"outcome": "allowed", "lifetime": bad})
    with pytest.raises(cases.SuiteError, match="expect.lifetime on a denied case"):
        cases.expectation("w", {"outcome": "denied", "lifetime": {"idle": "1h"}})


def test_a_case_whose_lifetime_differs_fails_saying_both():
    from jhpolicy.tooling import cases

    case = cases.Case("gpu", 1, None, {}, None, cases.expectation("w", {"outcome": "allowed", "lifetime": {"idle": "2h"}}))
    report = {"outcome": "allowed", "status": 200, "lifetime": GPU_RULE}
    assert cases.compare(case, report) == ["lifetime: expected idle 2 h, got idle 1 h, max_age 8 h"]
    none = cases.Case("cpu", 1, None, {}, None, cases.expectation("w", {"outcome": "allowed", "lifetime": None}))
    assert cases.compare(none, {"outcome": "allowed", "status": 200, "lifetime": None}) == []
    assert cases.compare(none, report) == ["lifetime: expected none, got idle 1 h, max_age 8 h"]


def test_parse_duration_agrees_with_the_policys():
    assert [lifetime.parse_duration(v) for v in (90, "90s", "90m", "2h", "1d")] == [90, 90, 5400, 7200, 86400]
    for bad in (0, -5, 1.5, "0h", "2 h", "2H", "1h30m", True, None, "1234567s"):
        with pytest.raises(ValueError):
            lifetime.parse_duration(bad)


# --- the admin's ceiling on decided lifetimes (policy_max_lifetime) ---

def test_a_lifetime_above_the_ceiling_is_a_broken_policy():
    ceiling = {"max_age": 28800}
    assert decision.validate({"allow": True, "lifetime": GPU_RULE}, {"image"}, (), ceiling).lifetime.max_age.seconds == 28800
    longer = {"max_age": {"seconds": 28801, "from": "group gpu"}}
    with pytest.raises(decision.PolicyBroken, match=r"decision.lifetime.max_age 28801 s is above policy_max_lifetime \(28800 s\)"):
        decision.validate({"allow": True, "lifetime": longer}, {"image"}, (), ceiling)
    # A kind the ceiling does not name, or one not decided, is not bounded.
    assert decision.validate({"allow": True, "lifetime": {"idle": {"seconds": 10**6, "from": "x"}}}, {"image"}, (), ceiling)


def test_the_ceiling_trait_takes_durations_and_refuses_typos():
    from traitlets import TraitError

    from jhpolicy.spawner import PolicyKubeSpawner

    def check(value):  # the trait's validator, as traitlets calls it
        return PolicyKubeSpawner._check_policy_max_lifetime(None, {"value": value})

    assert check({"max_age": "7d", "idle": 60}) == {"max_age": 604800, "idle": 60}
    for bad, says in (({"maxage": "7d"}, "maxage is not idle or max_age"), ({"idle": "1 week"}, "'1 week' is not")):
        with pytest.raises(TraitError, match=says):
            check(bad)


def test_a_spawn_whose_decision_exceeds_the_ceiling_is_a_503(lifetime_opa):
    config = Config({"PolicyKubeSpawner": {"policy_max_lifetime": {"idle": "30m"}}})
    result = run_spawn(lifetime_opa.url, GPU_BODY, groups=("gpu-users",), config=config)
    assert result.status == 503
    assert result.changed() == {}
