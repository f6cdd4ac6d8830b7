"""Token authentication, auth_state handling and request size bounds, with real OPA."""

import json
import logging
import os
import time

import pytest
from traitlets.config import Config

from jhpolicy.hub.errors import UNAVAILABLE_MESSAGE
from jhpolicy.tooling.offline import OfflineUser

from .helpers.opa_server import opa_server
from .helpers.policies import POLICIES, ROOT
from .helpers.spawns import run_spawn

AUTHZ = ROOT / "helm-values" / "opa-authz"
SAMPLE = "jupyterhub/k8s-singleuser-sample:0.8.4"


@pytest.fixture(scope="module")
def token():
    return "hub-" + os.urandom(16).hex()


@pytest.fixture(scope="module")
def opa_with_token_auth(token):
    os.environ["JHPOLICY_OPA_TOKEN"] = token  # what OPA's system.authz reads
    try:
        with opa_server([POLICIES, AUTHZ], ["--authentication=token", "--authorization=basic"]) as server:
            yield server
    finally:
        del os.environ["JHPOLICY_OPA_TOKEN"]


def with_token(value):
    c = Config()
    c.PolicyKubeSpawner.opa_token = value
    return c


def test_hub_with_the_token_gets_decisions(opa_with_token_auth, token, caplog):
    with caplog.at_level(logging.DEBUG):
        r = run_spawn(opa_with_token_auth.url, {"image": SAMPLE}, groups=["students"], config=with_token(token))
    assert r.status == 200 and r.pod["image"] == SAMPLE
    assert token not in caplog.text


@pytest.mark.parametrize("value", ["", "not-the-token-at-all"])
def test_without_the_token_the_spawn_fails_closed(opa_with_token_auth, token, value, caplog):
    with caplog.at_level(logging.DEBUG):
        r = run_spawn(opa_with_token_auth.url, {"image": SAMPLE}, groups=["students"], config=with_token(value))
    assert r.status == 503 and r.message == UNAVAILABLE_MESSAGE
    assert r.changed() == {}
    assert "HTTP 401" in caplog.text
    assert token not in caplog.text


def test_token_from_environment(opa_with_token_auth, token):
    # opa_token defaults to $JHPOLICY_OPA_TOKEN, set by the fixture.
    r = run_spawn(opa_with_token_auth.url, {"image": SAMPLE}, groups=["students"])
    assert r.status == 200


def test_auth_state_not_sent_unless_enabled(opa):
    c = Config()
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/echo_input"
    user = OfflineUser("alice", auth_state={"access_token": "secret-access-token"})
    r = run_spawn(opa.url, {}, config=c, user=user)
    assert "auth_state" not in json.loads(r.message.split(": ", 1)[1])["user"]


def test_auth_state_sent_when_enabled_and_masked_in_decision_logs(opa):
    c = Config()
    c.PolicyKubeSpawner.policy_send_auth_state = True
    user = OfflineUser("dana", auth_state={"access_token": "secret-access-token-42"})
    r = run_spawn(opa.url, {}, config=c, user=user)
    assert r.status == 200
    # It reaches the policy (the echo policy returns its input; another user,
    # because a result that echoes a secret is not masked).
    c.PolicyKubeSpawner.opa_decision_path = "jhpolicy_contract/echo_input"
    erin = OfflineUser("erin", auth_state={"access_token": "erins-token"})
    echoed = run_spawn(opa.url, {}, config=c, user=erin)
    assert json.loads(echoed.message.split(": ", 1)[1])["user"]["auth_state"] == {"access_token": "erins-token"}
    # OPA's decision log shows that it was there and erased it.
    def dana_entries():
        text = opa.log_text()
        complete = text[: text.rfind("\n") + 1]  # OPA may be writing the last line
        entries = [json.loads(line) for line in complete.split("\n") if '"Decision Log"' in line]
        return [e for e in entries if e.get("input", {}).get("user", {}).get("name") == "dana"]

    deadline = time.monotonic() + 10
    while not dana_entries():
        assert time.monotonic() < deadline, "no decision log entry for dana"
        time.sleep(0.05)
    dana = dana_entries()
    assert all("auth_state" not in e["input"]["user"] for e in dana)
    assert all("/input/user/auth_state" in e.get("erased", []) for e in dana)
    assert "secret-access-token-42" not in opa.log_text()


def test_oversized_request_refused_before_opa(spawn):
    big = {"kubespawner_override": {"image": SAMPLE}, "note": "x" * 70_000}
    r = spawn(big, groups=["students"])
    assert r.status == 400
    assert r.message.startswith("Invalid spawn request: user_options is 70")
    assert r.spawner.policy_decision is None  # OPA was not asked


def test_request_just_under_the_limit_is_decided(spawn):
    # The largest request that passes every bound: about 60 KB in 61 keys
    # of 1,000 characters each (bench/decision_overhead.py times it).
    body = {"kubespawner_override": {"image": SAMPLE}} | {f"note{i}": "x" * 1000 for i in range(60)}
    r = spawn(body, groups=["students"])
    assert r.status == 403 and "note0, note1, note10, note11, note12 and 55 more cannot be set" in r.message


def test_the_token_never_reaches_any_log(opa_with_token_auth, token, caplog):
    """Every log record (root logger at DEBUG: jhpolicy, httpx, httpcore,
    traitlets) of succeeding and failing spawns, with the token as a
    Kubernetes Secret file usually gives it (trailing newline)."""
    from jhpolicy.tooling.local_opa import free_port

    down = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.DEBUG):
        ok = run_spawn(opa_with_token_auth.url, {"image": SAMPLE}, groups=["students"], config=with_token(token + "\n"))
        wrong = run_spawn(opa_with_token_auth.url, {"image": SAMPLE}, groups=["students"], config=with_token(token[::-1]))
        unreachable = run_spawn(down, {"image": SAMPLE}, groups=["students"], config=with_token(token))
    assert (ok.status, wrong.status, unreachable.status) == (200, 503, 503)
    records = caplog.records
    assert any(r.name.startswith("httpcore") for r in records), "httpcore's DEBUG records were not captured"
    for record in records:
        text = record.getMessage() + str(record.exc_info or "") + str(record.args or "")
        assert token not in text and token[::-1] not in text, record.name
