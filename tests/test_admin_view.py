"""What an admin sees of each spawn: the hub log, /hub/metrics, the progress
stream, and a spawner that JupyterHub reuses for the next start.

Real OPA and real PolicyKubeSpawner objects; Kubernetes is the one missing
part (see tests/helpers/spawns.py), and the one test that reaches the API call stops at
the check made just before it.
"""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from traitlets import TraitError
from traitlets.config import Application, Config

from jhpolicy.hub import settings as settings_module
from jhpolicy.hub.errors import UNAVAILABLE_MESSAGE
from jhpolicy.tooling.local_opa import free_port

from .helpers.spawns import LOOP, run_spawn

SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"


def jhpolicy_lines(caplog, level=logging.INFO):
    return [r.getMessage() for r in caplog.records if r.levelno >= level and r.getMessage().startswith("jhpolicy")]


def down_url():
    return f"http://127.0.0.1:{free_port()}"


# --- the hub log ---


def test_unreachable_policy_is_logged_with_the_server_it_refused(caplog):
    url = down_url()
    with caplog.at_level(logging.ERROR):
        r = run_spawn(url, {"cpu_limit": 1}, server="lab")
    assert r.status == 503 and r.message == UNAVAILABLE_MESSAGE
    assert jhpolicy_lines(caplog, logging.ERROR) == [
        f"jhpolicy: refusing spawn of alice:lab: cannot reach OPA at {url}: ConnectError"
    ]


def test_defaults_mode_logs_why_and_tells_the_user(caplog):
    url = down_url()
    c = Config()
    c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    with caplog.at_level(logging.ERROR):
        r = run_spawn(url, {"cpu_limit": 64}, config=c)
    assert r.status == 200 and r.spawner.policy_outcome == "defaults"
    assert r.spawner.cpu_limit is None  # the request was not applied
    assert r.spawner.policy_messages == ["The spawn policy could not be checked: started with the defaults."]
    assert jhpolicy_lines(caplog, logging.ERROR) == [
        f"jhpolicy: cannot reach OPA at {url}: ConnectError; starting alice with the admin's defaults"
    ]


def test_defaults_mode_refuses_defaults_kubernetes_would_refuse(caplog):
    """The admin's default profile asks for more GPUs guaranteed than limited:
    with OPA down, "start with the defaults" is a 400 naming the problem."""
    c = Config()
    c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    c.PolicyKubeSpawner.profile_list = [
        {
            "slug": "broken",
            "display_name": "Broken",
            "default": True,
            "kubespawner_override": {
                "extra_resource_limits": {"example.com/gpu": 1},
                "extra_resource_guarantees": {"example.com/gpu": 2},
            },
        },
        {"slug": "fine", "display_name": "Fine"},
    ]
    r = run_spawn(down_url(), {"profile": "fine"}, config=c)
    assert r.status == 400 and r.spawner.policy_outcome == "invalid"
    assert r.message.startswith("Invalid spawn request: the pod would be refused by Kubernetes: ")
    assert "example.com/gpu" in r.message


def test_decision_log_line_for_a_refusal(opa, caplog):
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, {"image": "evil/miner:1"}, groups=["students"], server="lab")
    assert r.status == 403
    (line,) = [m for m in jhpolicy_lines(caplog) if m.startswith("jhpolicy decision")]
    decision_id = line.split("decision_id=")[1].split()[0]
    assert decision_id in opa.log_text()
    messages = line.split(" messages=")[1]
    assert line == (
        f"jhpolicy decision user=alice requester=user:alice server='lab' decision_id={decision_id} "
        f"allow=False applied={{}} messages={messages}"
    )
    assert "evil/miner:1" in messages and messages.startswith('["')


def test_decision_log_line_lists_applied_values_sorted(opa, caplog):
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, {"image": SAMPLE, "cpu_limit": 1}, groups=["students"])
    assert r.status == 200
    (line,) = [m for m in jhpolicy_lines(caplog) if m.startswith("jhpolicy decision")]
    assert line.split(" applied=")[1].split(" messages=")[0] == (
        '{"cpu_guarantee": 1.0, "cpu_limit": 1.0, "image": "' + SAMPLE + '", '
        '"mem_guarantee": 2147483648, "mem_limit": 4294967296}'
    )


def test_decision_log_lines_can_be_turned_off(opa, caplog):
    c = Config()
    c.PolicyKubeSpawner.policy_log_decisions = False
    with caplog.at_level(logging.INFO):
        r = run_spawn(opa.url, {"cpu_limit": 1}, groups=["students"], config=c)
    assert r.status == 200 and jhpolicy_lines(caplog) == []


def test_apply_user_options_is_named_in_the_log(opa, caplog):
    c = Config()
    c.Spawner.apply_user_options = {"image": "image"}
    with caplog.at_level(logging.ERROR):
        r = run_spawn(opa.url, {}, config=c)
    assert r.status == 503
    assert jhpolicy_lines(caplog, logging.ERROR) == [
        "jhpolicy: refusing spawn of alice: Spawner.apply_user_options is set and applies user input unchecked; "
        "unset it, PolicyKubeSpawner decides user_options itself"
    ]


def test_a_pod_changed_after_the_decision_is_logged_with_what_changed(opa, caplog):
    c = Config()
    c.PolicyKubeSpawner.extra_container_config = {"resources": {"limits": {"cpu": "64"}}}
    with caplog.at_level(logging.ERROR):
        r = run_spawn(opa.url, {"cpu_limit": 1}, groups=["students"], config=c)
    assert r.status == 503
    (line,) = jhpolicy_lines(caplog, logging.ERROR)
    assert line.startswith(
        "jhpolicy: refusing pod for alice: it differs from the policy's decision "
        "(extra_container_config or modify_pod_hook?): "
    )
    assert "cpu" in line.split("?): ")[1]


def test_a_widened_key_the_spawner_refuses_is_a_broken_policy(opa, caplog):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/node_selector_not_a_map"
    c.PolicyKubeSpawner.policy_allowed_keys = {"node_selector"}
    with caplog.at_level(logging.ERROR):
        r = run_spawn(opa.url, {}, config=c)
    assert r.status == 503 and r.changed() == {}
    (line,) = jhpolicy_lines(caplog, logging.ERROR)
    assert line.startswith("jhpolicy: refusing spawn of alice: decided value for node_selector rejected by the spawner: ")


# --- keys in a widened ceiling ---


def test_widened_map_key_from_the_request_merges_into_the_admins(opa):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/allow_as_is"
    c.PolicyKubeSpawner.policy_allowed_keys = {"node_selector", "extra_labels", "image"}
    c.PolicyKubeSpawner.node_selector = {"pool": "user"}
    c.PolicyKubeSpawner.extra_labels = {"team": "a"}
    r = run_spawn(opa.url, {"node_selector": {"disk": "ssd"}}, config=c)
    assert r.status == 200
    assert r.spawner.node_selector == {"pool": "user", "disk": "ssd"}
    assert r.spawner.extra_labels == {"team": "a"}  # neither requested nor decided: as configured
    assert r.spawner.policy_applied == {"node_selector": {"pool": "user", "disk": "ssd"}}
    assert r.manifest.spec.node_selector == {"pool": "user", "disk": "ssd"}


# --- /hub/metrics ---


def decisions_count(outcome):
    return REGISTRY.get_sample_value("jhpolicy_decisions_total", {"outcome": outcome}) or 0.0


@pytest.mark.parametrize(
    "body, groups, failure_mode, outcome",
    [
        ({"image": SAMPLE}, ["students"], "closed", "clamped"),
        ({"cpu_limit": 1, "mem_limit": "1G"}, ["students"], "closed", "allowed"),
        ({"image": "evil/miner:1"}, ["students"], "closed", "denied"),
        ({"cpu_limit": "lots"}, ["students"], "closed", "invalid"),
        ({}, [], "down", "unavailable"),
        ({}, [], "down-defaults", "defaults"),
    ],
)
def test_each_outcome_is_counted_once(opa, body, groups, failure_mode, outcome):
    c = Config()
    url = opa.url
    if failure_mode.startswith("down"):
        url = down_url()
    if failure_mode == "down-defaults":
        c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    counts = {o: decisions_count(o) for o in ("allowed", "clamped", "denied", "invalid", "unavailable", "error", "defaults")}
    observed = REGISTRY.get_sample_value("jhpolicy_decision_duration_seconds_count")
    total = REGISTRY.get_sample_value("jhpolicy_decision_duration_seconds_sum")
    r = run_spawn(url, body, groups=groups, config=c)
    assert r.spawner.policy_outcome == outcome
    after = {o: decisions_count(o) for o in counts}
    assert {o: after[o] - counts[o] for o in counts} == {o: float(o == outcome) for o in counts}
    assert REGISTRY.get_sample_value("jhpolicy_decision_duration_seconds_count") == observed + 1
    spent = REGISTRY.get_sample_value("jhpolicy_decision_duration_seconds_sum") - total
    assert 0 < spent < 60  # one decision's duration, not a clock reading


# --- a spawner JupyterHub starts again ---


def test_a_reused_spawner_keeps_nothing_of_its_last_decision(opa):
    """JupyterHub keeps one Spawner per server across restarts: after a
    clamped start, a malformed request must not leave the old decision's
    messages, values or decided pod behind (the pod check would pass on it)."""
    r = run_spawn(opa.url, {"image": SAMPLE}, groups=["students"])
    spawner = r.spawner
    assert spawner.policy_messages and spawner.policy_applied and spawner.policy_pod and spawner.policy_input
    spawner.user_options = {"cpu_limit": "lots"}
    with pytest.raises(Exception) as caught:
        LOOP.run_until_complete(spawner.load_user_options())
    assert caught.value.status_code == 400
    assert spawner.policy_messages == [] and spawner.policy_applied == {}
    assert spawner.policy_pod is None and spawner.policy_input is None and spawner.policy_decision is None
    with pytest.raises(Exception) as refused:
        spawner.verify_pod(r.manifest)
    assert refused.value.status_code == 503


def test_request_key_bound_is_the_configured_one(opa):
    c = Config()
    c.PolicyKubeSpawner.policy_max_request_keys = 2
    r = run_spawn(opa.url, {"image": SAMPLE, "cpu_limit": 1, "mem_limit": "1G"}, groups=["students"], config=c)
    assert r.status == 400 and r.message == "Invalid spawn request: user_options has 3 keys and list items (nested ones included); at most 2 are accepted"


# --- a refused spawn changes nothing, whatever the profile set ---

OPTION_PROFILES = [
    {"slug": "plain", "display_name": "Plain", "default": True},
    {
        "slug": "tuned",
        "display_name": "Tuned",
        "profile_options": {
            "env": {
                "display_name": "Environment",
                "choices": {
                    "a": {"display_name": "A", "kubespawner_override": {"environment": {"CHOICE": "a"}}},
                    "b": {"display_name": "B"},
                },
            },
            "label": {
                "display_name": "Label",
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Own label",
                    "kubespawner_override": {"extra_labels": {"own": "{value}"}},
                },
            },
        },
    },
]


@pytest.mark.parametrize(
    "body",
    [
        {"profile": "tuned", "env": "a", "label--unlisted-choice": "x"},
        {"profile": "tuned", "env": "b", "label--unlisted-choice": "x"},
        {"env": "a"},  # default profile has no options: "env" is an override
        {"profile": "plain"},
    ],
)
def test_refusal_restores_what_profile_options_set(opa, body):
    c = Config()
    c.PolicyKubeSpawner.profile_list = OPTION_PROFILES
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/echo_input"  # always refuses
    c.PolicyKubeSpawner.environment = {"KEEP": "1"}
    r = run_spawn(opa.url, body, groups=["students"], config=c)
    assert r.status == 403
    assert r.changed() == {}


def test_options_from_a_profile_without_overrides_reach_the_pod(opa):
    c = Config()
    c.PolicyKubeSpawner.profile_list = OPTION_PROFILES
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/allow_as_is"
    r = run_spawn(opa.url, {"profile": "tuned", "env": "a", "label--unlisted-choice": "x"}, config=c)
    assert r.status == 200
    assert r.spawner.environment["CHOICE"] == "a" and r.spawner.extra_labels["own"] == "x"


# --- the spawn page's form ---


def form_config(path):
    import copy

    profiles = copy.deepcopy(OPTION_PROFILES)
    profiles[1]["profile_options"]["label"]["choices"] = {}  # KubeSpawner's form template needs the key
    c = Config()
    c.PolicyKubeSpawner.profile_list = profiles
    c.PolicyKubeSpawner.opa_profiles_path = path
    # The profile list alone: the panel's judgements come from the shipped
    # policy's view (tests/test_offers.py), not from these contract rules.
    c.PolicyKubeSpawner.policy_allowance_panel = False
    return c


def render(opa_url, config):
    from tornado import web

    from jhpolicy.tooling.offline import OfflineUser, make_spawner

    async def go():
        config.PolicyKubeSpawner.opa_url = opa_url
        spawner = make_spawner(config, OfflineUser("alice", groups=["students"]), {})
        try:
            return await spawner.get_options_form()
        except web.HTTPError as e:
            return e

    return LOOP.run_until_complete(go())


def test_form_with_no_profile_for_the_user_says_so(opa):
    error = render(opa.url, form_config("jhpolicy_contract/profiles_none"))
    assert error.status_code == 403
    assert error.jupyterhub_message == "Spawn refused by policy: none of this hub's profiles is available to you"


def test_form_with_a_broken_profile_answer_fails_closed_and_logs_it(opa, caplog):
    with caplog.at_level(logging.ERROR):
        error = render(opa.url, form_config("jhpolicy_contract/profiles_not_a_list"))
    assert error.status_code == 503
    assert jhpolicy_lines(caplog, logging.ERROR) == [
        "jhpolicy: cannot list profiles for alice: jhpolicy_contract/profiles_not_a_list is not a list of slugs: 'small'"
    ]
    caplog.clear()
    c = form_config("jhpolicy_contract/profiles_not_a_list")
    c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    with caplog.at_level(logging.ERROR):
        assert render(opa.url, c) == ""
    assert jhpolicy_lines(caplog, logging.ERROR) == [
        "jhpolicy: jhpolicy_contract/profiles_not_a_list is not a list of slugs: 'small'; no profile form for alice"
    ]


# --- the progress stream and the last check before the API server ---


def test_progress_stream_starts_with_the_policy_messages(opa):
    c = Config()
    c.PolicyKubeSpawner.events_enabled = False
    r = run_spawn(opa.url, {"image": SAMPLE}, groups=["students"], config=c)

    async def events():
        return [e async for e in r.spawner.progress()]

    assert LOOP.run_until_complete(events()) == [
        {"progress": 1, "message": f"Spawn policy: {m}"} for m in r.spawner.policy_messages
    ]
    assert r.spawner.policy_messages


def test_create_pod_request_checks_the_pod_first(opa, caplog):
    r = run_spawn(opa.url, {"cpu_limit": 1}, groups=["students"])
    r.manifest.spec.containers[0].resources.limits["cpu"] = "64"
    with caplog.at_level(logging.ERROR), pytest.raises(Exception) as caught:
        LOOP.run_until_complete(r.spawner._make_create_pod_request(r.manifest, 1))
    assert caught.value.status_code == 503
    assert any("refusing pod for alice" in m for m in jhpolicy_lines(caplog, logging.ERROR))
    r.spawner.policy_pod = None
    with caplog.at_level(logging.ERROR), pytest.raises(Exception) as caught:
        LOOP.run_until_complete(r.spawner._make_create_pod_request(r.manifest, 1))
    assert caught.value.status_code == 503
    assert jhpolicy_lines(caplog, logging.ERROR)[-1] == (
        "jhpolicy: refusing pod for alice: no policy decision was made for it"
    )


# --- the OPA token, checked when the hub starts ---


@pytest.mark.parametrize(
    "token, problem",
    [
        ("abc\ndef", "opa_token contains control characters; it must be a single line with no line breaks"),
        ("abc\x7f", "opa_token contains control characters; it must be a single line with no line breaks"),
        ("äbc", "opa_token must be ASCII (it is sent as an HTTP header)"),
    ],
)
def test_bad_token_stops_the_hub_at_start(monkeypatch, token, problem):
    monkeypatch.setenv("JHPOLICY_OPA_TOKEN", token)
    with pytest.raises(TraitError) as caught:
        settings_module.check_token_at_hub_start()
    assert str(caught.value) == problem
    monkeypatch.setenv("JHPOLICY_OPA_TOKEN", "good")
    app = Application.instance()
    try:
        app.config.PolicyKubeSpawner.opa_token = token
        with pytest.raises(TraitError) as caught:
            settings_module.check_token_at_hub_start()
        assert str(caught.value) == problem
        app.config.PolicyKubeSpawner.opa_token = " fine\n"
        settings_module.check_token_at_hub_start()
    finally:
        Application.clear_instance()


def test_token_whitespace_from_a_secret_file_is_stripped():
    assert settings_module.checked_token("  s3cret\n") == "s3cret"
    assert settings_module.checked_token("") == ""


def test_lowering_only_a_gpu_count_is_counted_as_clamped(opa):
    c = Config()
    c.PolicyKubeSpawner.cpu_limit = 1.0
    c.PolicyKubeSpawner.mem_limit = "1G"
    body = {"image": "nvcr.io/nvidia/pytorch:24.01-py3", "extra_resource_limits": {"nvidia.com/gpu": 4}}
    r = run_spawn(opa.url, body, groups=["gpu-users"], config=c)
    assert r.status == 200 and r.spawner.policy_outcome == "clamped"
    assert r.spawner.policy_messages == ["extra_resource_limits nvidia.com/gpu 4 lowered to 1: the most for group gpu-users"]
    # The input the policy saw still says what was asked for.
    assert r.spawner.policy_input["pod"]["extra_resource_limits"] == {"nvidia.com/gpu": 4}


def test_a_decision_kubernetes_would_refuse_fails_closed(opa, caplog):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/guarantees_above_limits"
    with caplog.at_level(logging.ERROR):
        r = run_spawn(opa.url, {}, config=c)
    assert r.status == 503 and r.changed() == {}
    assert jhpolicy_lines(caplog, logging.ERROR) == [
        "jhpolicy: refusing spawn of alice: decision.overrides: the pod would be refused by Kubernetes: "
        "cpu_guarantee 2.0 is above cpu_limit 1.0; mem_guarantee 2147483648 is above mem_limit 1073741824"
    ]


def test_a_decided_pod_goes_on_to_the_api_server(opa, caplog):
    """Offline, the API server is an unroutable address: the pod passes the
    check and KubeSpawner's request for it is what fails."""
    import aiohttp

    r = run_spawn(opa.url, {"cpu_limit": 1}, groups=["students"])
    with caplog.at_level(logging.INFO), pytest.raises(aiohttp.ClientError):
        LOOP.run_until_complete(r.spawner._make_create_pod_request(r.manifest, 7))
    assert f"Attempting to create pod {r.manifest.metadata.name}, with timeout 7" in caplog.messages


def test_form_input_carries_the_admins_pod(opa):
    c = form_config("jhpolicy_contract/profiles_when_the_pod_is_known")
    c.PolicyKubeSpawner.cpu_limit = 1.0
    form = render(opa.url, c)
    assert 'value="plain"' in form and 'value="tuned"' in form


def test_form_for_a_pod_kubernetes_would_refuse_names_the_problem(opa):
    c = form_config("jupyterhub/spawn/visible_profiles")
    c.PolicyKubeSpawner.extra_resource_guarantees = {"example.com/gpu": 1}
    error = render(opa.url, c)
    assert error.status_code == 400
    assert error.jupyterhub_message == (
        "Invalid spawn request: the pod would be refused by Kubernetes: "
        "extra_resource_guarantees[example.com/gpu] has no limit; Kubernetes needs one equal to it"
    )


def test_defaults_mode_leaves_a_widened_key_as_the_admin_set_it():
    c = Config()
    c.PolicyKubeSpawner.policy_failure_mode = "defaults"
    c.PolicyKubeSpawner.policy_allowed_keys = {"image", "node_selector"}
    c.PolicyKubeSpawner.node_selector = {"pool": "user"}
    r = run_spawn(down_url(), {"node_selector": {"pool": "gpu"}}, config=c)
    assert r.status == 200 and r.spawner.policy_outcome == "defaults"
    assert r.spawner.node_selector == {"pool": "user"}


def test_token_check_at_start_with_nothing_configured(monkeypatch):
    monkeypatch.delenv("JHPOLICY_OPA_TOKEN", raising=False)
    settings_module.check_token_at_hub_start()
    Application.instance()  # a hub whose config has no PolicyKubeSpawner section
    try:
        settings_module.check_token_at_hub_start()
    finally:
        Application.clear_instance()


def test_a_trait_that_cannot_be_restored_is_logged_and_the_refusal_stands(opa, caplog, monkeypatch):
    """Defensive: if putting a profile's value back fails, the admin's log
    names the trait and the caller still gets the policy's answer."""
    from jhpolicy.spawner import PolicyKubeSpawner

    real = PolicyKubeSpawner.set_trait

    def set_trait(self, name, value):
        if name == "cpu_limit" and value is None:
            raise RuntimeError("cannot restore")
        return real(self, name, value)

    monkeypatch.setattr(PolicyKubeSpawner, "set_trait", set_trait)
    c = Config()
    c.PolicyKubeSpawner.profile_list = [
        {"slug": "big", "display_name": "Big", "default": True, "kubespawner_override": {"cpu_limit": 1.5}},
    ]
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/echo_input"  # always refuses
    with caplog.at_level(logging.ERROR):
        r = run_spawn(opa.url, {}, config=c)
    assert r.status == 403
    assert "jhpolicy: could not restore cpu_limit on alice" in jhpolicy_lines(caplog, logging.ERROR)
